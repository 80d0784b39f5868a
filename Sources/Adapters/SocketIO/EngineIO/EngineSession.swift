import Synchronization

/// One Engine.IO connection (spec: a `sid`), on long-polling or WebSocket.
///
/// The protocol lives in `EngineSessionStateMachine`; this class owns one behind a lock, feeds it events with
/// the time of `ContinuousClock`, and performs its actions: it answers the waiting polling `GET`, hands
/// batches to the WebSocket writer, closes the probe WebSocket and tells the server when the session closed.
/// Outbound frames wait in a bounded queue (see the state machine): when a receiver falls behind, frames with
/// the same coalescing key replace each other and, past the hard limit, the session is closed.
public final class EngineSession: Sendable {
    public enum Transport: String, Sendable { case polling, websocket }

    typealias StateMachine = EngineSessionStateMachine<ContinuousClock>

    /// The session id (20 characters, URL-safe base64 of 15 random bytes).
    public let id: String
    /// The query parameters of the handshake request.
    public let query: [String: String]
    /// The request headers of the handshake (lower-cased names).
    public let headers: [String: String]

    let limits: EngineServer.Limits
    private let state: Mutex<State>
    private let onClose: @Sendable (EngineSession, String) -> Void

    fileprivate struct State {
        var machine: StateMachine
        /// The GET waiting for frames.
        var poll: CheckedContinuation<StateMachine.PollResult, Never>?
        /// The WebSocket writer's batches.
        var writer: AsyncStream<[EngineFrame]>.Continuation?
        /// Closes the probe WebSocket.
        var closeProbe: (@Sendable () -> Void)?
    }

    /// What to do once the lock is released, in this order.
    struct Effects: Sendable {
        /// GETs to answer, in order (a refused second GET after the waiting one).
        fileprivate var answers: [(CheckedContinuation<StateMachine.PollResult, Never>, StateMachine.PollResult)] = []
        fileprivate var writer: AsyncStream<[EngineFrame]>.Continuation?
        /// A batch for the writer.
        fileprivate var write: [EngineFrame]?
        /// End the writer (the session closed).
        fileprivate var finishWriter = false
        fileprivate var closeProbe: (@Sendable () -> Void)?
        /// The session closed for this reason: tell the server.
        fileprivate var closed: String?
        /// Fire the timers at this instant (a GET held for the upgrade is answered then, not at the next tick).
        fileprivate var timer: ContinuousClock.Instant?
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
        self.state = Mutex(State(machine: StateMachine(transport: transport, limits: limits, now: .now)))
    }

    /// The current transport (the last one once closed).
    public var transport: Transport { state.withLock { $0.machine.transport } }

    /// Whether the session is closed.
    public var isClosed: Bool { state.withLock { $0.machine.isClosed } }

    /// The frames waiting for a transport, oldest first.
    var queuedFrames: [EngineFrame] { state.withLock { $0.machine.queuedFrames } }

    /// Takes the frames waiting for a transport (tests of sessions without one).
    func takeQueuedFrames() -> [EngineFrame] { state.withLock { $0.machine.takeQueued() } }

    // MARK: Outbound

    /// Queues frames for the client, in order. Returns `false` when the session is closed (or was just
    /// closed because the client is too slow).
    @discardableResult
    public func send(_ frames: some Sequence<EngineFrame>) -> Bool {
        var accepted = true
        let effects = state.withLock { state in
            let action = state.machine.send(frames)
            switch action {
            case .queued: return Effects()
            case .dropped:
                accepted = false
                return Effects()
            case .completePoll(let frames): return state.completePoll(.frames(frames))
            case .write(let frames): return state.write(frames)
            case .close(let close):
                accepted = false
                return state.effects(of: close)
            }
        }
        perform(effects)
        return accepted
    }

    /// Queues one frame; see `send(_:)`.
    @discardableResult
    public func send(_ frame: EngineFrame) -> Bool { send(CollectionOfOne(frame)) }

    /// Closes the session. A pending polling GET receives `1` (server close) or `6` (the client closed).
    /// Idempotent.
    public func close(reason: String, notifyClient: Bool = true) {
        let effects = state.withLock { state in
            state.machine.close(reason: reason, notifyClient: notifyClient).map { state.effects(of: $0) } ?? Effects()
        }
        perform(effects)
    }

    // MARK: Long-polling

    /// A GET: frames, or the error to answer with.
    func poll() async -> StateMachine.PollResult {
        await withCheckedContinuation { continuation in
            let effects = state.withLock { state -> Effects in
                switch state.machine.pollRequested(now: .now) {
                case .respond(let frames):
                    return Effects(answer: continuation, .frames(frames))
                case .wait:
                    state.poll = continuation
                    return Effects()
                case .hold(let deadline):
                    state.poll = continuation
                    var effects = Effects()
                    effects.timer = deadline
                    return effects
                case .reject(let error):
                    return Effects(answer: continuation, .error(error))
                case .rejectAndClose(let error, let close):
                    // The waiting GET gets its answer first, then this one is refused.
                    var effects = state.effects(of: close)
                    effects.answers.append((continuation, .error(error)))
                    return effects
                }
            }
            perform(effects)
        }
    }

    /// A POST: `nil` when its body may be read (then call `endPost()`), else the error to answer with.
    func beginPost() -> EngineError? {
        var refusal: EngineError?
        let effects = state.withLock { state -> Effects in
            switch state.machine.postRequested(now: .now) {
            case .accept: return Effects()
            case .reject(let error):
                refusal = error
                return Effects()
            case .rejectAndClose(let error, let close):
                refusal = error
                return state.effects(of: close)
            }
        }
        perform(effects)
        return refusal
    }

    func endPost() { state.withLock { $0.machine.postFinished() } }

    // MARK: Inbound

    /// What the transport does after a packet.
    enum Received {
        /// Hand it to the handler, then read on.
        case deliver(EngineMessage)
        case readOn
        case stop
    }

    /// A packet from the client on the session's transport.
    func received(_ packet: EngineInbound) -> Received {
        var result = Received.readOn
        let effects = state.withLock { state -> Effects in
            switch state.machine.received(packet, now: .now) {
            case .deliver(let message):
                result = .deliver(message)
                return Effects()
            case .none:
                return Effects()
            case .close(let close):
                result = .stop
                return state.effects(of: close)
            case .discard:
                result = .stop
                return Effects()
            }
        }
        perform(effects)
        return result
    }

    /// A packet or payload that does not parse: the session closes.
    func protocolError(reason: String) {
        let effects = state.withLock { state in
            state.machine.protocolError(reason: reason).map { state.effects(of: $0) } ?? Effects()
        }
        perform(effects)
    }

    // MARK: Timers

    /// Sends a due ping, closes on a missed pong, ends an overdue probe, answers a GET held for the upgrade.
    func timerFired(now: ContinuousClock.Instant) {
        while true {
            let (effects, done) = state.withLock { state -> (Effects, Bool) in
                switch state.machine.timerFired(now: now) {
                case .none:
                    return (Effects(), true)
                case .ping(let send):
                    switch send {
                    case .queued, .dropped: return (Effects(), false)
                    case .completePoll(let frames): return (state.completePoll(.frames(frames)), false)
                    case .write(let frames): return (state.write(frames), false)
                    case .close(let close): return (state.effects(of: close), false)
                    }
                case .close(let close):
                    return (state.effects(of: close), false)
                case .abortProbe:
                    var effects = Effects()
                    effects.closeProbe = state.closeProbe
                    state.closeProbe = nil
                    return (effects, false)
                case .completePoll(let frames):
                    return (state.completePoll(.frames(frames)), false)
                }
            }
            perform(effects)
            if done { return }
        }
    }

    // MARK: Upgrade

    /// A WebSocket handshake with this sid.
    func upgradeRequested() -> StateMachine.UpgradeRequestAction {
        var action = StateMachine.UpgradeRequestAction.refuse(nil)
        let effects = state.withLock { state -> Effects in
            action = state.machine.upgradeRequested(now: .now)
            if case .refuse(let close?) = action { return state.effects(of: close) }
            return Effects()
        }
        perform(effects)
        return action
    }

    /// Registers how to close the probe WebSocket (on upgrade timeout or session close).
    func probeStarted(close: @escaping @Sendable () -> Void) {
        state.withLock { $0.closeProbe = close }
    }

    /// What the probe WebSocket does after a packet.
    enum ProbeStep {
        /// Write `3probe`, then run `effects` (a GET waiting now is answered `6` a little later).
        case answer(Effects)
        /// Run `effects`, then serve the session on this WebSocket.
        case upgraded(Effects)
        case abort
    }

    /// A packet on the probe WebSocket.
    func probeReceived(_ packet: StateMachine.ProbePacket) -> ProbeStep {
        var closed = Effects()
        let step = state.withLock { state -> ProbeStep in
            switch state.machine.probeReceived(packet, now: .now) {
            case .answerProbe(let deadline):
                var effects = Effects()
                effects.timer = deadline
                return .answer(effects)
            case .upgraded(let result):
                state.closeProbe = nil
                return .upgraded(result.map { state.completePoll($0) } ?? Effects())
            case .abort(let close):
                state.closeProbe = nil
                if let close { closed = state.effects(of: close) }
                return .abort
            }
        }
        perform(closed)
        return step
    }

    /// The probe WebSocket ended before the upgrade completed.
    func probeEnded() {
        state.withLock { state in
            state.machine.probeEnded()
            state.closeProbe = nil
        }
    }

    // MARK: WebSocket writer

    /// Starts the WebSocket writer: the batches to write, one at a time (call `writeCompleted()` after each);
    /// the stream ends when the session closes.
    func attachWebSocketWriter() -> AsyncStream<[EngineFrame]> {
        let (stream, continuation) = AsyncStream.makeStream(of: [EngineFrame].self)
        let effects = state.withLock { state -> Effects in
            state.writer = continuation
            return state.effects(of: state.machine.writerAttached())
        }
        perform(effects)
        return stream
    }

    /// The last batch was written.
    func writeCompleted() {
        let effects = state.withLock { state in state.effects(of: state.machine.writeCompleted()) }
        perform(effects)
    }

    // MARK: Effects

    func perform(_ effects: Effects) {
        for (continuation, result) in effects.answers { continuation.resume(returning: result) }
        if let frames = effects.write { effects.writer?.yield(frames) }
        if effects.finishWriter { effects.writer?.finish() }
        effects.closeProbe?()
        if let reason = effects.closed { onClose(self, reason) }
        if let deadline = effects.timer {
            Task { [weak self] in
                try? await Task.sleep(until: deadline, clock: .continuous)
                self?.timerFired(now: .now)
            }
        }
    }
}

extension EngineSession.Effects {
    fileprivate init(
        answer continuation: CheckedContinuation<EngineSession.StateMachine.PollResult, Never>,
        _ result: EngineSession.StateMachine.PollResult
    ) {
        answers = [(continuation, result)]
    }
}

extension EngineSession.State {
    /// Takes the waiting GET to answer it with `result`.
    fileprivate mutating func completePoll(_ result: EngineSession.StateMachine.PollResult) -> EngineSession.Effects {
        guard let continuation = poll else { return EngineSession.Effects() }
        poll = nil
        return EngineSession.Effects(answer: continuation, result)
    }

    /// Hands `frames` to the WebSocket writer.
    fileprivate func write(_ frames: [EngineFrame]) -> EngineSession.Effects {
        var effects = EngineSession.Effects()
        effects.writer = writer
        effects.write = frames
        return effects
    }

    fileprivate mutating func effects(of close: EngineSession.StateMachine.CloseAction) -> EngineSession.Effects {
        var effects = close.completePoll.map { completePoll($0) } ?? EngineSession.Effects()
        if close.finishWriter || writer != nil {
            effects.writer = writer
            effects.finishWriter = true
            writer = nil
        }
        if close.closeProbe {
            effects.closeProbe = closeProbe
            closeProbe = nil
        }
        effects.closed = close.reason
        return effects
    }

    fileprivate mutating func effects(of action: EngineSession.StateMachine.WriterAction) -> EngineSession.Effects {
        switch action {
        case .none:
            return EngineSession.Effects()
        case .write(let frames):
            return write(frames)
        case .finish:
            var effects = EngineSession.Effects()
            effects.writer = writer
            effects.finishWriter = true
            writer = nil
            return effects
        }
    }
}
