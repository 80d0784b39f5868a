import Synchronization

/// One Engine.IO connection (spec: a `sid`), on long-polling or WebSocket.
///
/// Outbound frames wait in a bounded queue that the transport drains: the pending polling `GET`, or the
/// WebSocket writer. When a receiver falls behind, frames with the same coalescing key replace each other
/// (latest wins) and, past the hard limit, the session is closed: memory never grows without bound.
public final class EngineSession: Sendable {
    public enum Transport: String, Sendable { case polling, websocket }

    /// The session id (20 characters, URL-safe base64 of 15 random bytes).
    public let id: String
    /// The query parameters of the handshake request.
    public let query: [String: String]
    /// The request headers of the handshake (lower-cased names).
    public let headers: [String: String]

    let limits: EngineServer.Limits
    let state: Mutex<State>
    let onClose: @Sendable (EngineSession, String) -> Void

    struct State {
        var transport: Transport
        var probing = false
        var queue: [EngineFrame] = []
        var queuedBytes = 0
        /// Coalescing runs again only once the queue doubled since the last pass (amortised O(1) per frame).
        var coalesceMark = 0
        /// The transport waiting for frames (a pending GET or the WebSocket writer).
        var waiter: CheckedContinuation<Void, Never>?
        var getPending = false
        var postPending = false
        var closed = false
        /// What a GET still pending when the session closes receives (`1`, or `6` when the client closed).
        var finalPollFrame: EngineFrame?
        var nextPing: ContinuousClock.Instant
        var pongDeadline: ContinuousClock.Instant?
        var upgradeDeadline: ContinuousClock.Instant?
    }

    init(
        id: String,
        transport: Transport,
        query: [String: String],
        headers: [String: String],
        limits: EngineServer.Limits,
        onClose: @escaping @Sendable (EngineSession, String) -> Void
    ) {
        self.id = id
        self.query = query
        self.headers = headers
        self.limits = limits
        self.onClose = onClose
        self.state = Mutex(State(transport: transport, nextPing: .now + limits.pingInterval))
    }

    /// The current transport.
    public var transport: Transport { state.withLock { $0.transport } }

    /// Whether the session is closed.
    public var isClosed: Bool { state.withLock { $0.closed } }

    /// Queues frames for the client, in order. Returns `false` when the session is closed (or was just
    /// closed because the client is too slow).
    @discardableResult
    public func send(_ frames: some Sequence<EngineFrame>) -> Bool {
        var overflow = false
        var closed = false
        let waiter: CheckedContinuation<Void, Never>? = state.withLock { state in
            guard !state.closed else {
                closed = true
                return nil
            }
            for frame in frames {
                state.queue.append(frame)
                state.queuedBytes += frame.byteCount
            }
            if state.queue.count > max(limits.coalesceAbove, state.coalesceMark) {
                Self.coalesce(&state)
                state.coalesceMark = state.queue.count * 2
            }
            overflow = state.queue.count > limits.maxQueuedFrames || state.queuedBytes > limits.maxQueuedBytes
            let waiter = state.waiter
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
        if closed { return false }
        if overflow {
            close(reason: "transport error: client too slow", notifyClient: true)
            return false
        }
        return true
    }

    /// Queues one frame; see `send(_:)`.
    @discardableResult
    public func send(_ frame: EngineFrame) -> Bool { send(CollectionOfOne(frame)) }

    /// Keeps the newest frame of each coalescing key; frames without a key are all kept, in order.
    static func coalesce(_ state: inout State) {
        var seen = Set<String>()
        var kept: [EngineFrame] = []
        kept.reserveCapacity(state.queue.count)
        for frame in state.queue.reversed() {
            if let key = frame.coalesceKey, !seen.insert(key).inserted { continue }
            kept.append(frame)
        }
        kept.reverse()
        state.queue = kept
        state.queuedBytes = kept.reduce(0) { $0 + $1.byteCount }
    }

    /// Waits for frames for `transport`; `nil` once the session is closed (or no longer uses it).
    ///
    /// - Parameter limit: at most this many frames (python-engineio refuses polling payloads of more than 16).
    func nextFrames(for transport: Transport, limit: Int) async -> [EngineFrame]? {
        while true {
            enum Step {
                case frames([EngineFrame])
                case done([EngineFrame]?)
                case wait
            }
            let step: Step = state.withLock { state in
                if state.closed {
                    let final = state.finalPollFrame
                    if transport == .polling { state.finalPollFrame = nil }
                    return .done(transport == .polling ? final.map { [$0] } : nil)
                }
                if state.transport != transport {
                    // Upgraded while this GET was pending: end it cleanly with a noop.
                    return .done(transport == .polling ? [.noop] : nil)
                }
                if !state.queue.isEmpty {
                    let count = min(limit, state.queue.count)
                    let frames = Array(state.queue.prefix(count))
                    state.queue.removeFirst(count)
                    state.queuedBytes -= frames.reduce(0) { $0 + $1.byteCount }
                    if state.queue.isEmpty { state.coalesceMark = 0 }
                    return .frames(frames)
                }
                return .wait
            }
            switch step {
            case .frames(let frames): return frames
            case .done(let frames): return frames
            case .wait:
                await withCheckedContinuation { continuation in
                    let resumeNow = state.withLock { state -> Bool in
                        if state.closed || !state.queue.isEmpty || state.transport != transport { return true }
                        state.waiter = continuation
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            }
        }
    }

    /// Wakes the transport waiting for frames (after a state change it must see).
    func wake() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// Closes the session. A pending polling GET receives `1` (server close) or `6` (the client closed).
    /// Idempotent.
    public func close(reason: String, notifyClient: Bool = true) {
        let waiter: CheckedContinuation<Void, Never>?? = state.withLock { state in
            guard !state.closed else { return .none }
            state.closed = true
            state.finalPollFrame = notifyClient ? .close : .noop
            state.queue.removeAll()
            state.queuedBytes = 0
            let waiter = state.waiter
            state.waiter = nil
            return .some(waiter)
        }
        guard case .some(let pending) = waiter else { return }
        pending?.resume()
        onClose(self, reason)
    }

    /// A pong arrived: the next ping is due a ping interval from now.
    func receivedPong() {
        state.withLock { state in
            state.pongDeadline = nil
            state.nextPing = .now + limits.pingInterval
        }
    }

    /// Called by the server's heartbeat ticker: sends a due ping, or closes on a missed pong.
    func heartbeat(now: ContinuousClock.Instant) {
        enum Action { case none, ping, timeout }
        let action: Action = state.withLock { state in
            guard !state.closed else { return .none }
            if let deadline = state.upgradeDeadline, deadline <= now {
                state.upgradeDeadline = nil
                state.probing = false
            }
            if let deadline = state.pongDeadline {
                return deadline <= now ? .timeout : .none
            }
            if state.nextPing <= now {
                state.pongDeadline = now + limits.pingTimeout
                return .ping
            }
            return .none
        }
        switch action {
        case .none: break
        case .ping: send(.ping)
        case .timeout: close(reason: "ping timeout")
        }
    }
}
