import Application
import CHiredis
import Domain
import Foundation
public import Logging
public import ServiceLifecycle

/// A Redis reply, decoded from hiredis (`redisReply`) before the reply is freed.
package indirect enum RedisReply: Sendable, Hashable {
    case string([UInt8])
    case integer(Int64)
    case array([RedisReply])
    case status(String)
    case error(String)
    case null

    /// The bytes of a string or status reply.
    package var bytes: [UInt8]? {
        switch self {
        case .string(let bytes): bytes
        case .status(let text): Array(text.utf8)
        default: nil
        }
    }
}

/// Where and how to connect, parsed from a `redis://[user:password@]host[:port][/db]` URL.
package struct RedisEndpoint: Sendable, Hashable {
    package var host: String
    package var port: Int
    package var user: String?
    package var password: String?
    package var database: Int

    /// - Throws: `StoreError.invalidData` naming the part that is wrong (never the password).
    package init(url: String) throws {
        guard url.hasPrefix("redis://") else {
            throw StoreError.invalidData("tracker.redis.url must start with redis:// (rediss:// needs a TLS proxy)")
        }
        var rest = Substring(url.dropFirst("redis://".count))
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = credentials.firstIndex(of: ":") {
                let name = String(credentials[..<colon]).removingPercentEncoding ?? ""
                user = name.isEmpty ? nil : name
                password = String(credentials[credentials.index(after: colon)...]).removingPercentEncoding
            } else {
                password = String(credentials).removingPercentEncoding
            }
        }
        var path = Substring("")
        if let slash = rest.firstIndex(of: "/") {
            path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
        }
        if let colon = rest.lastIndex(of: ":") {
            guard let port = Int(rest[rest.index(after: colon)...]), (1...65535).contains(port) else {
                throw StoreError.invalidData("tracker.redis.url: the port is not a number within 1-65535")
            }
            self.port = port
            rest = rest[..<colon]
        } else {
            port = 6379
        }
        host = rest.isEmpty ? "127.0.0.1" : String(rest)
        if path.isEmpty {
            database = 0
        } else {
            guard let database = Int(path), database >= 0 else {
                throw StoreError.invalidData("tracker.redis.url: the database after / must be a number")
            }
            self.database = database
        }
    }

    /// Host, port and database, for logs (never the credentials).
    package var target: String { "\(host):\(port)/\(database)" }
}

/// One Redis connection owned by one dedicated thread (hiredis's blocking context: no call blocks Swift's
/// cooperative pool). Each call sends its commands pipelined (`redisAppendCommandArgv`, binary-safe) and
/// reads one reply per command.
///
/// - **Failures:** a connection error (refused, timeout, reset) fails the call with `StoreError.unavailable`
///   and drops the connection; the next call reconnects, backing off from 100 ms doubling to 5 s, and calls
///   in between fail fast. A command error (`-ERR …`) is returned as `.error` to the caller.
/// - **Timeouts:** `timeout` on connect and on every read and write.
/// - **Lifecycle:** a `Service`: `run()` pings every 10 s until graceful shutdown, then closes the connection
///   after queued work; `shutdown()` for owners without a service group.
///
/// `@unchecked Sendable`: the queue and flags are guarded by `condition`; the context is touched only by the
/// thread.
public final class RedisClient: Service, @unchecked Sendable {
    private struct Job {
        let commands: [[[UInt8]]]
        let done: (Result<[RedisReply], StoreError>) -> Void
    }

    private let condition = NSCondition()
    private var jobs: [Job] = []
    private var isClosed = false
    private var isRunning = true
    private let endpoint: RedisEndpoint
    private let timeout: Duration
    package let logger: Logger
    /// Host, port and database, for log metadata.
    public var target: String { endpoint.target }

    /// A client for `url` (`redis://user:password@host:6379/0`).
    ///
    /// - Throws: `StoreError.invalidData` when the URL cannot be parsed (the URL is not repeated).
    public init(url: String, timeout: Duration = .seconds(2), logger: Logger) throws {
        endpoint = try RedisEndpoint(url: url)
        self.timeout = timeout
        self.logger = logger
        let thread = Thread { [self] in self.serve() }
        thread.name = "redis"
        thread.start()
    }

    /// Sends `commands` in one pipeline and returns one reply per command, in order.
    package func pipeline(_ commands: [[[UInt8]]]) async throws -> [RedisReply] {
        guard !commands.isEmpty else { return [] }
        let result = await withCheckedContinuation {
            (continuation: CheckedContinuation<Result<[RedisReply], StoreError>, Never>) in
            condition.lock()
            if isClosed {
                condition.unlock()
                continuation.resume(returning: .failure(.closed("the Redis client is closed")))
                return
            }
            jobs.append(Job(commands: commands) { continuation.resume(returning: $0) })
            condition.signal()
            condition.unlock()
        }
        return try result.get()
    }

    /// Sends one command given as strings.
    package func command(_ parts: String...) async throws -> RedisReply {
        try await pipeline([parts.map { Array($0.utf8) }])[0]
    }

    /// Checks that the server answers `PING`; throws `StoreError.unavailable` otherwise (readiness).
    public func checkHealth() async throws {
        let reply = try await command("PING")
        guard reply == .status("PONG") else { throw StoreError.unavailable("Redis answered PING with \(reply)") }
    }

    // MARK: Thread

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
        var context: UnsafeMutablePointer<redisContext>?
        var backoff = Duration.milliseconds(100)
        var nextAttempt = ContinuousClock.now
        var lastFailure: StoreError = .unavailable("Redis not connected yet")
        // One warning when Redis becomes unreachable and one line when it is back, not one per call.
        var reachable = true
        func lost(_ error: StoreError) {
            if reachable {
                logger.warning(
                    "Redis unreachable; callers fall back (caches to the stores)",
                    metadata: ["redis.target": "\(target)", "error": "\(error.detail)"]
                )
            }
            reachable = false
        }
        while let job = take() {
            if context == nil {
                if ContinuousClock.now < nextAttempt {
                    job.done(.failure(lastFailure))
                    continue
                }
                do {
                    context = try Hiredis.connect(endpoint, timeout: timeout)
                    backoff = .milliseconds(100)
                    if !reachable { logger.info("Redis reachable again", metadata: ["redis.target": "\(target)"]) }
                    reachable = true
                } catch {
                    lastFailure = error
                    nextAttempt = ContinuousClock.now + backoff
                    backoff = min(backoff * 2, .seconds(5))
                    lost(error)
                    job.done(.failure(error))
                    continue
                }
            }
            guard let live = context else { continue }
            do {
                job.done(.success(try Hiredis.send(job.commands, on: live)))
            } catch {
                redisFree(live)
                context = nil
                let failure = error as? StoreError ?? .unavailable("Redis: \(error)")
                lastFailure = failure
                lost(failure)
                job.done(.failure(failure))
            }
        }
        if let context { redisFree(context) }
        condition.lock()
        isRunning = false
        condition.broadcast()
        condition.unlock()
    }

    // MARK: Lifecycle

    /// Pings every 10 s (a broken connection is replaced on the next call) until graceful shutdown, then
    /// closes the connection.
    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await checkHealth()
            } catch {
                logger.debug("Redis health check failed", metadata: ["redis.target": "\(target)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(10)) }
        }
        await shutdown()
    }

    /// Stops accepting work, lets queued work finish and closes the connection. Idempotent.
    public func shutdown() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let thread = Thread { [self] in
                self.condition.lock()
                self.isClosed = true
                self.condition.broadcast()
                while self.isRunning { self.condition.wait() }
                self.condition.unlock()
                continuation.resume()
            }
            thread.name = "redis-close"
            thread.start()
        }
    }
}
