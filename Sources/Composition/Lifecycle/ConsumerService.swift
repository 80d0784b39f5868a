package import Application
import Domain
package import Logging
import ServiceLifecycle
import Synchronization

/// One consumer loop as a `Service`: consumes until graceful shutdown, which cancels it (uncommitted messages
/// are delivered again after a restart). An outage (`StoreError.unavailable`/`.closed`) is retried
/// with backoff; any other error ends the service, and with it the process, with the reason in the log.
package struct ConsumerService: Service, CustomStringConvertible {
    package let loop: ConsumerLoop
    package let group: String
    package let logger: Logger
    package var health: ConsumerHealth?

    package var description: String { "consumer \(group)" }

    package func run() async throws {
        // Graceful shutdown cancels the loop: a batch in hand that is interrupted is not committed and is
        // delivered again after the restart (handlers are idempotent).
        try await cancelWhenGracefulShutdown {
            var backoff: Duration = .milliseconds(200)
            while !Task.isCancelled {
                do {
                    health?.attempt(group)
                    try await loop.run()
                    backoff = .milliseconds(200)
                } catch let error as StoreError where error.code == .unavailable || error.code == .closed {
                    if Task.isCancelled { return }
                    health?.paused(group, reason: "\(error.code)")
                    logger.warning(
                        "consumer paused: the bus or a store is unavailable; retrying (nothing is committed)",
                        metadata: [
                            "consumer.group": "\(group)", "error": "\(error)", "retry.ms": "\(backoff.milliseconds)",
                        ]
                    )
                    try? await Task.sleep(for: backoff)
                    backoff = min(backoff * 2, .seconds(5))
                } catch is CancellationError {
                    return
                }
            }
        }
    }
}

/// Whether the consumer loops run, for `/health/ready`: a loop that failed on an outage counts as paused until
/// its next attempt has run for `settle` without failing.
package final class ConsumerHealth: Sendable {
    struct Entry {
        var attemptAt: ContinuousClock.Instant?
        var failedAt: ContinuousClock.Instant?
        var reason = ""
    }

    let settle: Duration
    let entries = Mutex<[String: Entry]>([:])

    package init(settle: Duration = .seconds(3)) { self.settle = settle }

    func attempt(_ group: String) {
        entries.withLock { $0[group, default: Entry()].attemptAt = .now }
    }

    func paused(_ group: String, reason: String) {
        entries.withLock { entries in
            entries[group, default: Entry()].failedAt = .now
            entries[group, default: Entry()].reason = reason
        }
    }

    /// The groups paused now, with the reason each.
    package func pausedGroups() -> [(group: String, reason: String)] {
        let now = ContinuousClock.now
        return entries.withLock { entries in
            entries.compactMap { group, entry in
                guard let failedAt = entry.failedAt else { return nil }
                if let attemptAt = entry.attemptAt, attemptAt > failedAt, now - attemptAt >= settle { return nil }
                return (group, entry.reason)
            }
            .sorted { $0.group < $1.group }
        }
    }
}

/// Work repeated at a fixed interval (first run one interval after start) until graceful shutdown. A failed
/// run is logged and tried again at the next tick (the work is idempotent: stale sweep, retention).
package struct PeriodicService: Service, CustomStringConvertible {
    package let name: String
    package let every: Duration
    package let logger: Logger
    package let work: @Sendable () async throws -> Void

    package var description: String { name }

    package func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try await Task.sleep(for: every)
                do {
                    try await work()
                } catch is CancellationError {
                    return
                } catch {
                    logger.warning("\(name) failed; trying again in \(every)", metadata: ["error": "\(error)"])
                }
            }
        }
    }
}

/// Follows a subscription until graceful shutdown (nothing to drain: it only updates local state).
package struct SubscriptionService: Service, CustomStringConvertible {
    package let name: String
    package let follow: @Sendable () async -> Void

    package var description: String { name }

    package func run() async throws {
        await cancelWhenGracefulShutdown { await follow() }
        // A subscription that ended early waits for the group's shutdown rather than ending the group.
        try? await gracefulShutdown()
    }
}

/// Keeps an adapter open for the life of the group: waits for graceful shutdown, then closes it. Placed
/// before the flows that use the adapter, so the group closes it only after they stopped.
package struct ClosingService: Service, CustomStringConvertible {
    package let name: String
    package let close: @Sendable () async -> Void

    package var description: String { name }

    package func run() async throws {
        try? await gracefulShutdown()
        await close()
    }
}

/// Runs `body` until graceful shutdown (cancelled then), e.g. an adapter's own background loop, then `close`.
package struct BackgroundService: Service, CustomStringConvertible {
    package let name: String
    package let body: @Sendable () async -> Void
    package var close: @Sendable () async -> Void = {}

    package var description: String { name }

    package init(
        name: String,
        body: @escaping @Sendable () async -> Void,
        close: @escaping @Sendable () async -> Void = {}
    ) {
        self.name = name
        self.body = body
        self.close = close
    }

    package func run() async throws {
        await cancelWhenGracefulShutdown { await body() }
        await close()
    }
}
