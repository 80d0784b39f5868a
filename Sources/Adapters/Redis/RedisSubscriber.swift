import Application
import CHiredis
import Domain
import Foundation
public import Logging
public import ServiceLifecycle
import Synchronization

/// A Redis pub/sub subscription on a connection and thread of its own (a subscribed connection takes no other
/// command, and waiting for messages blocks).
///
/// - **Delivery:** every message of the subscribed channels is passed to the listeners, in order.
/// - **Reconnect:** a lost connection is replaced, backing off from 100 ms doubling to 5 s, and the channels
///   are subscribed again; listeners then get `.resubscribed`, since messages published meanwhile are lost
///   (pub/sub does not queue).
/// - **Lifecycle:** a `Service`: `run()` waits for graceful shutdown, then closes the connection, which also
///   ends a blocked read; `shutdown()` for owners without a service group.
public final class RedisSubscriber: Service, @unchecked Sendable {
    /// What listeners receive.
    package enum Event: Sendable, Hashable {
        case message(channel: String, payload: [UInt8])
        /// Subscribed again after a lost connection: messages may have been missed.
        case resubscribed
    }

    private struct State {
        var listeners: [UInt64: @Sendable (Event) -> Void] = [:]
        var nextListener: UInt64 = 0
        var closed = false
        /// The socket of the live connection, to interrupt a blocked read on shutdown.
        var fd: Int32 = -1
    }

    private let state = Mutex(State())
    private let endpoint: RedisEndpoint
    private let channels: [String]
    private let timeout: Duration
    private let finished = NSCondition()
    private var isRunning = true
    package let logger: Logger

    /// Subscribes to `channels` of the server at `url` (`redis://user:password@host:6379/0`) from now on.
    ///
    /// - Throws: `StoreError.invalidData` when the URL cannot be parsed (the URL is not repeated).
    public init(url: String, channels: [String], timeout: Duration = .seconds(2), logger: Logger) throws {
        endpoint = try RedisEndpoint(url: url)
        self.channels = channels
        self.timeout = timeout
        self.logger = logger
        let thread = Thread { [self] in self.serve() }
        thread.name = "redis-sub"
        thread.start()
    }

    /// Calls `listener` for every event until the returned token is passed to `removeListener`.
    package func addListener(_ listener: @escaping @Sendable (Event) -> Void) -> UInt64 {
        state.withLock { state in
            state.nextListener += 1
            state.listeners[state.nextListener] = listener
            return state.nextListener
        }
    }

    package func removeListener(_ token: UInt64) {
        _ = state.withLock { $0.listeners.removeValue(forKey: token) }
    }

    /// The events as a stream, ended when the consuming task is cancelled.
    package func events() -> AsyncStream<Event> {
        let (stream, continuation) = AsyncStream<Event>.makeStream(bufferingPolicy: .bufferingNewest(10_000))
        let token = addListener { continuation.yield($0) }
        continuation.onTermination = { [weak self] _ in self?.removeListener(token) }
        return stream
    }

    private func emit(_ event: Event) {
        for listener in state.withLock({ Array($0.listeners.values) }) { listener(event) }
    }

    // MARK: Thread

    private func serve() {
        var backoff = Duration.milliseconds(100)
        var subscribedBefore = false
        while !state.withLock({ $0.closed }) {
            let context: UnsafeMutablePointer<redisContext>
            do {
                context = try Hiredis.connect(endpoint, timeout: timeout)
            } catch {
                logger.debug("Redis subscriber cannot connect", metadata: ["redis.target": "\(endpoint.target)"])
                pause(backoff)
                backoff = min(backoff * 2, .seconds(5))
                continue
            }
            let open = state.withLock { state -> Bool in
                if !state.closed { state.fd = context.pointee.fd }
                return !state.closed
            }
            guard open else {
                redisFree(context)
                break
            }
            // Block on reads from now on: the connection idles until a message comes.
            redisSetTimeout(context, timeval(tv_sec: 0, tv_usec: 0))
            do {
                let subscribe = (["SUBSCRIBE"] + channels).map { Array($0.utf8) }
                let replies = try Hiredis.send([subscribe], on: context)
                guard case .array(let first) = replies[0], first.first?.bytes == Array("subscribe".utf8) else {
                    throw StoreError.unavailable("Redis refused SUBSCRIBE: \(replies[0])")
                }
                // The confirmations of the other channels.
                for _ in channels.dropFirst() { _ = try Hiredis.read(context) }
                backoff = .milliseconds(100)
                if subscribedBefore { emit(.resubscribed) }
                subscribedBefore = true
                while true {
                    guard case .array(let parts) = try Hiredis.read(context), parts.count == 3,
                        parts[0].bytes == Array("message".utf8), let channel = parts[1].bytes,
                        let payload = parts[2].bytes
                    else { continue }
                    emit(.message(channel: String(decoding: channel, as: UTF8.self), payload: payload))
                }
            } catch {
                let closed = state.withLock { state in
                    state.fd = -1
                    return state.closed
                }
                redisFree(context)
                if closed { break }
                logger.debug("Redis subscription lost", metadata: ["redis.target": "\(endpoint.target)"])
                pause(backoff)
                backoff = min(backoff * 2, .seconds(5))
            }
        }
        finished.lock()
        isRunning = false
        finished.broadcast()
        finished.unlock()
    }

    /// Sleeps `duration`, or less when shut down meanwhile.
    private func pause(_ duration: Duration) {
        finished.lock()
        if !state.withLock({ $0.closed }) {
            _ = finished.wait(until: Date(timeIntervalSinceNow: duration.secondsValue))
        }
        finished.unlock()
    }

    // MARK: Lifecycle

    /// Waits for graceful shutdown, then closes the subscription.
    public func run() async throws {
        try? await gracefulShutdown()
        await shutdown()
    }

    /// Closes the connection (ending a blocked read) and waits for the thread to stop. Idempotent.
    public func shutdown() async {
        state.withLock { state in
            state.closed = true
            // Under the lock: the thread clears `fd` under it before freeing the connection, so this socket
            // is still the subscription's.
            if state.fd >= 0 { _ = Foundation.shutdown(state.fd, Int32(SHUT_RDWR)) }
        }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let thread = Thread { [self] in
                finished.lock()
                finished.broadcast()
                while isRunning { finished.wait() }
                finished.unlock()
                continuation.resume()
            }
            thread.name = "redis-sub-close"
            thread.start()
        }
    }
}
