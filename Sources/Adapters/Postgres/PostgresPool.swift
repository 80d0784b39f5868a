import Application
import CLibpq
import Domain
import Foundation
public import Logging
public import ServiceLifecycle

/// A fixed set of libpq connections, each owned by one dedicated thread (every libpq call blocks, so none
/// runs on Swift's cooperative pool). Work is queued and taken by the next free thread.
///
/// - **Connections** are opened lazily, re-opened when libpq reports them broken, with a backoff from
///   100 ms doubling to `maxReconnectBackoff`; while backing off, calls fail fast with
///   `StoreError.unavailable` instead of queueing behind a dead server.
/// - **Session settings:** `application_name`, `statement_timeout`, `TimeZone=UTC`, `DateStyle=ISO` and the
///   optional `search_path`, as connection options (they survive `DISCARD`-free pooling).
/// - **Lifecycle:** a `Service`: `run()` health-checks a connection every `healthCheckInterval` until graceful
///   shutdown, then closes every connection (queued work finishes first). `shutdown()` does the same for
///   owners without a service group (tests, the migrate command).
/// - **Errors:** server errors are mapped to `StoreError` (unique violation → `.duplicate`, connection
///   failures and timeouts → `.unavailable`, data errors → `.invalidData`); messages never carry the URL.
///
/// `@unchecked Sendable`: the queue and flags are guarded by `condition`; each connection is touched only by
/// its thread.
public final class PostgresPool: Service, @unchecked Sendable {
    struct Job {
        let run: (PGConnection?, StoreError?) -> Void
    }

    private let condition = NSCondition()
    private var jobs: [Job] = []
    private var isClosed = false
    private var liveThreads = 0
    private let parameters: [(String, String)]
    private let options: PostgresOptions
    package let logger: Logger
    /// Host and database name, for log metadata (never user or password).
    package let target: String

    /// A pool for `url` (`postgres://` or `postgresql://` URL, or a libpq key=value string).
    ///
    /// - Throws: `StoreError.invalidData` when libpq cannot parse the URL (the URL is not repeated).
    public init(url: String, options: PostgresOptions = PostgresOptions(), logger: Logger) throws {
        precondition(options.poolSize > 0, "poolSize must be positive")
        var error: UnsafeMutablePointer<CChar>?
        guard let parsed = PQconninfoParse(url, &error) else {
            if let error { PQfreemem(error) }
            throw StoreError.invalidData("the PostgreSQL URL cannot be parsed")
        }
        var host = ""
        var database = ""
        var entry = parsed
        while let keyword = entry.pointee.keyword {
            let name = String(cString: keyword)
            if let value = entry.pointee.val {
                if name == "host" || name == "hostaddr", host.isEmpty { host = String(cString: value) }
                if name == "dbname" { database = String(cString: value) }
            }
            entry += 1
        }
        PQconninfoFree(parsed)
        target = "\(host.isEmpty ? "localhost" : host)/\(database)"
        self.options = options
        self.logger = logger
        var sessionOptions =
            "-c statement_timeout=\(max(1, options.statementTimeout.milliseconds)) -c TimeZone=UTC -c DateStyle=ISO"
        if let schema = options.schema { sessionOptions += " -c search_path=\(schema)" }
        parameters = [
            ("dbname", url), ("application_name", options.applicationName), ("options", sessionOptions),
            ("connect_timeout", "\(options.connectTimeoutSeconds)"),
        ]
        startThreads()
    }

    private func startThreads() {
        liveThreads = options.poolSize
        for index in 0..<options.poolSize {
            let thread = Thread { [self] in
                self.serve()
                self.condition.lock()
                self.liveThreads -= 1
                self.condition.broadcast()
                self.condition.unlock()
            }
            thread.name = "postgres-\(index)"
            thread.start()
        }
    }

    // MARK: Running work

    /// Runs `body` on a pool thread with a connection; server errors become `StoreError`s.
    func withConnection<T: Sendable>(
        _ body: @escaping @Sendable (PGConnection) throws -> T
    ) async throws
        -> T
    {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let job = Job { connection, failure in
                guard let connection else {
                    continuation.resume(throwing: failure ?? StoreError.unavailable("no connection"))
                    return
                }
                do {
                    continuation.resume(returning: try body(connection))
                } catch let error as PGError {
                    continuation.resume(throwing: error.storeError)
                } catch {
                    continuation.resume(throwing: error)
                }
            }
            condition.lock()
            if isClosed {
                condition.unlock()
                continuation.resume(throwing: StoreError.closed("the PostgreSQL pool is closed"))
                return
            }
            jobs.append(job)
            condition.signal()
            condition.unlock()
        }
    }

    /// Runs `body` in one transaction (READ COMMITTED); commits when it returns, rolls back when it throws.
    /// A serialization failure or deadlock retries the whole body (up to 3 attempts), so `body` must only
    /// touch the database.
    func transaction<T: Sendable>(_ body: @escaping @Sendable (PGConnection) throws -> T) async throws -> T {
        try await withConnection { connection in
            var attempt = 1
            while true {
                do {
                    try connection.execute("BEGIN")
                    let value = try body(connection)
                    try connection.execute("COMMIT")
                    return value
                } catch {
                    if connection.isOK, connection.isInTransaction { try? connection.execute("ROLLBACK") }
                    if let error = error as? PGError, error.isRetryable, attempt < 3, connection.isOK {
                        attempt += 1
                        continue
                    }
                    throw error
                }
            }
        }
    }

    /// Runs SQL without parameters (tests, maintenance).
    package func execute(_ sql: String) async throws {
        try await withConnection { connection in try connection.execute(sql) }
    }

    /// Runs one query with text parameters and returns its rows as text (tests, maintenance).
    package func rows(_ sql: String, _ parameters: [String?] = []) async throws -> [[String?]] {
        try await withConnection { connection in
            let result = try connection.query(sql, parameters)
            return (0..<result.rowCount).map { row in (0..<result.columnCount).map { result.text(row, $0) } }
        }
    }

    /// Checks that a connection answers `SELECT 1`; throws `StoreError.unavailable` otherwise (readiness).
    public func checkHealth() async throws {
        try await withConnection { connection in _ = try connection.query("SELECT 1") }
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
        var connection: PGConnection?
        var backoff = Duration.milliseconds(100)
        var nextAttempt = ContinuousClock.now
        var lastFailure: StoreError?
        while let job = take() {
            if let current = connection, !current.isOK {
                logger.debug("dropping a broken PostgreSQL connection", metadata: ["postgres.target": "\(target)"])
                connection = nil
            }
            if connection == nil {
                if ContinuousClock.now < nextAttempt {
                    job.run(nil, lastFailure ?? .unavailable("PostgreSQL reconnect backing off"))
                    continue
                }
                do {
                    connection = try PGConnection(parameters: parameters)
                    backoff = .milliseconds(100)
                    logger.debug("connected to PostgreSQL", metadata: ["postgres.target": "\(target)"])
                } catch {
                    let failure = error as? StoreError ?? .unavailable("cannot connect to PostgreSQL")
                    lastFailure = failure
                    nextAttempt = ContinuousClock.now + backoff
                    backoff = min(backoff * 2, options.maxReconnectBackoff)
                    logger.debug(
                        "PostgreSQL connection failed",
                        metadata: ["postgres.target": "\(target)", "postgres.error": "\(failure.detail)"]
                    )
                    job.run(nil, failure)
                    continue
                }
            }
            job.run(connection, nil)
            if let current = connection, !current.isOK { connection = nil }
        }
        connection = nil
    }

    // MARK: Lifecycle

    /// Health-checks until graceful shutdown, then closes every connection.
    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await checkHealth()
            } catch {
                logger.debug("PostgreSQL health check failed", metadata: ["postgres.target": "\(target)"])
            }
            let interval = options.healthCheckInterval
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
        await shutdown()
    }

    /// Stops accepting work, lets queued work finish and closes every connection. Idempotent.
    public func shutdown() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let thread = Thread { [self] in
                self.condition.lock()
                self.isClosed = true
                self.condition.broadcast()
                while self.liveThreads > 0 { self.condition.wait() }
                self.condition.unlock()
                continuation.resume()
            }
            thread.name = "postgres-close"
            thread.start()
        }
    }
}
