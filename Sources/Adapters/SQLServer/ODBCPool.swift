import Application
import Foundation
import Logging
import Synchronization

/// A fixed set of ODBC connections, each owned by one dedicated thread: every ODBC call blocks, so none runs on
/// Swift's cooperative pool. Work is queued and taken by the next free thread.
///
/// - **Connections** are opened lazily (login timeout from the options) and dropped when the driver reports them
///   broken (SQLSTATE 08xxx, or `SQL_ATTR_CONNECTION_DEAD`); a call that finds its pooled connection broken is
///   run once more on a new one, since a server restart or failover otherwise costs one failed call per thread.
/// - **Deadline:** the caller gives up after `timeout` (`StoreError.unavailable`) even when a driver ignores its
///   own timeouts; the thread finishes the call in the background and skips work whose caller already gave up.
///
/// `@unchecked Sendable`: the queue and flags are guarded by `condition`; each connection is touched only by its
/// thread.
final class ODBCPool: @unchecked Sendable {
    /// The caller stopped waiting (the `callTimeout` passed).
    struct DeadlineExceeded: Error {}

    private struct Job {
        let isAbandoned: @Sendable () -> Bool
        let run: (ODBCConnection) throws -> Void
        let fail: (any Error) -> Void
    }

    private let condition = NSCondition()
    private var jobs: [Job] = []
    private var isClosed = false
    private var liveThreads = 0
    private let connectionString: String
    private let loginTimeoutSeconds: Int
    private let logger: Logger
    /// Server and database, for log metadata (never user or password).
    let target: String

    init(connectionString: String, size: Int, loginTimeoutSeconds: Int, logger: Logger) {
        precondition(size > 0, "the pool size must be positive")
        self.connectionString = connectionString
        self.loginTimeoutSeconds = loginTimeoutSeconds
        self.logger = logger
        target = ODBCConnectionString.target(connectionString)
        liveThreads = size
        for index in 0..<size {
            let thread = Thread { [self] in
                self.serve()
                self.condition.lock()
                self.liveThreads -= 1
                self.condition.broadcast()
                self.condition.unlock()
            }
            thread.name = "odbc-\(index)"
            thread.start()
        }
    }

    /// Runs `body` on a pool thread with a connection and returns its result, or throws: `ODBCError`,
    /// `DeadlineExceeded` after `timeout`, `StoreError.closed` after `shutdown()`.
    func withConnection<T: Sendable>(
        timeout: Duration,
        _ body: @escaping @Sendable (ODBCConnection) throws -> T
    ) async throws -> T {
        let completion = Completion<T>()
        let timer = Task {
            try? await Task.sleep(for: timeout)
            if !Task.isCancelled { completion.resume(.failure(DeadlineExceeded())) }
        }
        defer { timer.cancel() }
        let job = Job(
            isAbandoned: { completion.isDone },
            run: { connection in
                let value = try body(connection)
                completion.resume(.success(value))
            },
            fail: { completion.resume(.failure($0)) }
        )
        if !enqueue(job) { completion.resume(.failure(StoreError.closed("the SQL Server pool is closed"))) }
        return try await withCheckedThrowingContinuation { completion.arm($0) }
    }

    /// Queues `job` for the next free thread; false once the pool is closed.
    private func enqueue(_ job: Job) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !isClosed else { return false }
        jobs.append(job)
        condition.signal()
        return true
    }

    // MARK: Threads

    private func take() -> Job? {
        condition.lock()
        defer { condition.unlock() }
        while jobs.isEmpty {
            if isClosed { return nil }
            condition.wait()
        }
        return jobs.removeFirst()
    }

    private func serve() {
        var connection: ODBCConnection?
        while let job = take() {
            if job.isAbandoned() { continue }
            var retried = false
            while true {
                let reused = connection != nil
                let current: ODBCConnection
                if let connection {
                    current = connection
                } else {
                    do {
                        current = try ODBCConnection(
                            connectionString: connectionString,
                            loginTimeoutSeconds: loginTimeoutSeconds
                        )
                        connection = current
                        logger.debug("connected to SQL Server", metadata: ["sqlserver.target": "\(target)"])
                    } catch {
                        logger.debug(
                            "SQL Server connection failed",
                            metadata: ["sqlserver.target": "\(target)", "sqlserver.error": "\(error.sqlState)"]
                        )
                        job.fail(error)
                        break
                    }
                }
                do {
                    try job.run(current)
                } catch let error as ODBCError {
                    if error.isConnectionFailure || current.isDead {
                        logger.debug(
                            "dropping a broken SQL Server connection",
                            metadata: ["sqlserver.target": "\(target)", "sqlserver.error": "\(error.sqlState)"]
                        )
                        connection = nil
                        if reused, !retried, !job.isAbandoned() {
                            retried = true
                            continue
                        }
                    }
                    job.fail(error)
                } catch {
                    job.fail(error)
                }
                break
            }
        }
        connection = nil
    }

    // MARK: Lifecycle

    /// Stops accepting work, lets queued work finish and closes every connection. Idempotent.
    func shutdown() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let thread = Thread { [self] in
                self.condition.lock()
                self.isClosed = true
                self.condition.broadcast()
                while self.liveThreads > 0 { self.condition.wait() }
                self.condition.unlock()
                continuation.resume()
            }
            thread.name = "odbc-close"
            thread.start()
        }
    }
}

/// A result delivered once, by whichever comes first: the pool thread or the deadline. It may arrive before the
/// caller started waiting (it is then kept until `arm`).
private final class Completion<T: Sendable>: Sendable {
    private enum State {
        case pending(Result<T, any Error>?)
        case armed(CheckedContinuation<T, any Error>)
        case done
    }

    private let state = Mutex<State>(.pending(nil))

    var isDone: Bool {
        state.withLock {
            switch $0 {
            case .done: true
            case .pending(let result): result != nil
            case .armed: false
            }
        }
    }

    func resume(_ result: Result<T, any Error>) {
        let continuation: CheckedContinuation<T, any Error>? = state.withLock { state in
            switch state {
            case .pending(nil):
                state = .pending(result)
                return nil
            case .armed(let continuation):
                state = .done
                return continuation
            case .pending, .done:
                return nil
            }
        }
        continuation?.resume(with: result)
    }

    func arm(_ continuation: CheckedContinuation<T, any Error>) {
        let ready: Result<T, any Error>? = state.withLock { state in
            guard case .pending(let result) = state else { preconditionFailure("Invalid state: armed twice") }
            if let result {
                state = .done
                return result
            }
            state = .armed(continuation)
            return nil
        }
        if let ready { continuation.resume(with: ready) }
    }
}
