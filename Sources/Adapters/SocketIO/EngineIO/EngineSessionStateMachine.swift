/// One Engine.IO session as a state machine value: events in (a poll arrives, a packet is received, a frame
/// is sent, a timer fires, a WebSocket asks to upgrade), actions out (answer the poll, hand frames to the
/// WebSocket writer, close), no I/O, no continuations and no clock of its own: every event carries `now`
/// from the clock its owner was given, so tests drive it with a manual clock. `EngineSession` owns one and
/// performs its actions.
///
/// What it implements, after the reference server (socket.io's `engine.io` 6.x, `socket.ts`, `polling.ts`):
///
/// - **Heartbeat:** a ping is due `pingInterval` after the handshake or the last pong; a session whose pong
///   has not come `pingInterval + pingTimeout` after that is closed ("ping timeout"). The deadline is
///   counted from when the ping was *due*, not from when a timer noticed it, and every client event checks
///   it first: a poll that arrives once the deadline passed gets 400, never the stale ping.
/// - **Long-polling:** one GET at a time, held until frames exist; a send while a GET waits answers that GET
///   at once with what is queued then (at most `maxPacketsPerPoll` frames), as the reference server does, so
///   a CONNECT reply and the events that follow it go out in separate responses when a GET was waiting.
///   A second concurrent GET or POST closes the session (the waiting GET gets `1`) and is refused with 400.
/// - **WebSocket writes:** one batch in flight at a time; frames sent while a batch is being written wait
///   for `writeCompleted()` (the reference server's `writable`/`drain`), so a CONNECT reply written alone
///   is not joined by the `42` emitted right after it.
/// - **Upgrade:** a WebSocket with the sid opens a probe (`upgradeTimeout` to complete); `2probe` is answered
///   `3probe`. A GET waiting then, or arriving before `5`, is held `upgradePollDelay` (node's 100 ms noop
///   check) and then gets `6`, or 400 if `5` came first: a GET that overtook the probe on another connection
///   is refused like any poll after the upgrade. `5` switches to the WebSocket, which then carries what was
///   queued. No noop is ever queued, so none reaches the WebSocket.
///   A WebSocket for a session already upgraded or probing is accepted and closed (the reference server
///   does not refuse the handshake); anything but `2probe` then `5` on the probe ends it, polling goes on.
/// - **Backpressure:** a queue above `coalesceAbove` keeps only the newest frame per coalescing key; above
///   `maxQueuedFrames` or `maxQueuedBytes` after that the session is closed ("client too slow").
/// - **Close:** idempotent; a waiting GET gets `1` (server close) or `6` (the client closed), later polls 400.
struct EngineSessionStateMachine<C: Clock>: Sendable where C.Duration == Duration {
    typealias Transport = EngineSession.Transport

    /// The answer to a GET: a payload, or an Engine.IO error response.
    enum PollResult: Equatable, Sendable {
        case frames([EngineFrame])
        case error(EngineError)
    }

    /// The session closed: the owner answers the waiting GET, ends the WebSocket writer and the probe
    /// WebSocket, then tells the server (once) why.
    struct CloseAction: Equatable, Sendable {
        var reason: String
        /// The waiting GET's answer (`1` or `6`), when one was waiting.
        var completePoll: PollResult?
        /// A WebSocket writer is attached: end it (the WebSocket is then closed).
        var finishWriter: Bool
        /// A probe WebSocket is open: close it.
        var closeProbe: Bool
    }

    enum SendAction: Equatable, Sendable {
        /// Kept in the queue for the next GET or write.
        case queued
        /// Answer the waiting GET with these frames.
        case completePoll([EngineFrame])
        /// Give these frames to the idle WebSocket writer (it is now writing).
        case write([EngineFrame])
        /// The receiver fell too far behind: the session closed.
        case close(CloseAction)
        /// The session was already closed; nothing was queued.
        case dropped
    }

    enum PollAction: Equatable, Sendable {
        /// Answer this GET now.
        case respond([EngineFrame])
        /// Hold this GET until frames come (or the session closes).
        case wait
        /// Hold this GET, which came during the probe: `timerFired` answers it `6` at `until` unless frames
        /// or the upgrade come first.
        case hold(until: C.Instant)
        case reject(EngineError)
        /// Refuse this GET and close the session.
        case rejectAndClose(EngineError, CloseAction)
    }

    enum PostAction: Equatable, Sendable {
        /// Decode the body and feed its packets to `received(_:now:)`, then call `postFinished()`.
        case accept
        case reject(EngineError)
        case rejectAndClose(EngineError, CloseAction)
    }

    enum ReceiveAction: Equatable, Sendable {
        /// Hand the message to the handler, then go on reading.
        case deliver(EngineMessage)
        /// Nothing to do (pong, noop); go on reading.
        case none
        /// The packet closed the session; stop reading.
        case close(CloseAction)
        /// The session is closed; stop reading.
        case discard
    }

    enum TimerAction: Equatable, Sendable {
        case none
        /// A ping was due: it was sent like any frame.
        case ping(SendAction)
        /// No pong within the deadline.
        case close(CloseAction)
        /// The probe did not complete within `upgradeTimeout`: close the probe WebSocket (polling goes on).
        case abortProbe
        /// A GET held during the probe waited long enough: answer it.
        case completePoll([EngineFrame])
    }

    enum UpgradeRequestAction: Equatable, Sendable {
        /// Complete the WebSocket handshake and run the probe on it.
        case accept
        /// Complete the handshake, then close that WebSocket (already upgraded, or another probe runs).
        case acceptThenClose
        /// Refuse the handshake (HTTP 400); when the refusal found the session timed out, it closed.
        case refuse(CloseAction?)
    }

    /// A packet on the probe WebSocket.
    enum ProbePacket: Equatable, Sendable {
        /// `2probe`
        case probe
        /// `5`
        case upgrade
        case other
    }

    enum ProbeAction: Equatable, Sendable {
        /// Write `3probe` on the probe WebSocket. A GET waiting now is held: `timerFired` answers it `6` at
        /// `holdPollUntil` unless the upgrade comes first.
        case answerProbe(holdPollUntil: C.Instant?)
        /// The session now runs on the probe WebSocket: answer the GET held meanwhile (400), then attach
        /// the WebSocket writer.
        case upgraded(completePoll: PollResult?)
        /// The probe failed or is over: close the probe WebSocket. Polling goes on unless `close` says the
        /// session closed.
        case abort(CloseAction?)
    }

    enum WriterAction: Equatable, Sendable {
        case none
        case write([EngineFrame])
        /// The session is closed: end the writer.
        case finish
    }

    private enum Phase: Equatable, Sendable {
        /// Long-polling, with an upgrade in progress or not.
        case polling(probe: Probe?)
        case websocket(writer: Writer)
        case closed
    }

    private enum Probe: Equatable, Sendable {
        /// A WebSocket with this sid is open; `2probe` is expected before `deadline`.
        case opened(deadline: C.Instant)
        /// `3probe` was sent; `5` is expected before `deadline`.
        case probed(deadline: C.Instant)

        var deadline: C.Instant {
            switch self {
            case .opened(let deadline), .probed(let deadline): deadline
            }
        }
    }

    private enum Writer: Equatable, Sendable {
        /// The WebSocket writer does not run yet: frames are queued.
        case detached
        /// Nothing is being written: the next send goes out at once.
        case idle
        /// A batch is being written: frames are queued until `writeCompleted()`.
        case writing
    }

    private enum Heartbeat: Equatable, Sendable {
        /// The next ping is due at this instant.
        case pingDue(C.Instant)
        /// A ping went out; its pong must come by `deadline` (`pingTimeout` after the ping was due).
        case awaitingPong(deadline: C.Instant)
    }

    private enum Poll: Equatable, Sendable {
        case none
        /// A GET waits for frames.
        case waiting
        /// A GET that arrived during the probe: answered `6` at `noopAt` unless the upgrade completes first.
        case heldForUpgrade(noopAt: C.Instant)
    }

    let limits: EngineServer.Limits
    private var phase: Phase
    private var heartbeat: Heartbeat
    private var poll: Poll = .none
    private var postPending = false
    private var queue: [EngineFrame] = []
    private var queuedBytes = 0
    /// Coalescing runs again only once the queue doubled since the last pass (amortised O(1) per frame).
    private var coalesceMark = 0

    /// A session that completed its handshake on `transport` at `now`.
    init(transport: Transport, limits: EngineServer.Limits, now: C.Instant) {
        self.limits = limits
        self.transport = transport
        self.phase = transport == .polling ? .polling(probe: nil) : .websocket(writer: .detached)
        self.heartbeat = .pingDue(now.advanced(by: limits.pingInterval))
    }

    // MARK: Reading the state

    /// The transport in use (the last one once closed).
    private(set) var transport: Transport

    var isClosed: Bool { phase == .closed }

    /// Whether a probe WebSocket is open (an upgrade is in progress).
    var isProbing: Bool {
        if case .polling(.some) = phase { return true }
        return false
    }

    /// The frames waiting for a GET or the WebSocket writer, oldest first.
    var queuedFrames: [EngineFrame] { queue }

    /// The earliest instant at which `timerFired(now:)` has something to do; `nil` once closed.
    var nextDeadline: C.Instant? {
        guard phase != .closed else { return nil }
        var deadline: C.Instant
        switch heartbeat {
        case .pingDue(let due): deadline = due
        case .awaitingPong(let pongDeadline): deadline = pongDeadline
        }
        if case .polling(let probe?) = phase { deadline = min(deadline, probe.deadline) }
        if case .heldForUpgrade(let noopAt) = poll { deadline = min(deadline, noopAt) }
        return deadline
    }

    // MARK: Outbound frames

    /// Frames for the client, in order.
    mutating func send(_ frames: some Sequence<EngineFrame>) -> SendAction {
        switch phase {
        case .closed:
            return .dropped
        case .polling:
            enqueue(frames)
            if poll != .none, !queue.isEmpty {
                // A GET is waiting: it is answered now with what is queued now (node: `transport.writable`).
                poll = .none
                return .completePoll(dequeue(limit: limits.maxPacketsPerPoll))
            }
        case .websocket(writer: .idle):
            enqueue(frames)
            guard !queue.isEmpty else { return .queued }
            phase = .websocket(writer: .writing)
            return .write(dequeue(limit: .max))
        case .websocket(writer: .detached), .websocket(writer: .writing):
            enqueue(frames)
        }
        if queue.count > max(limits.coalesceAbove, coalesceMark) {
            coalesce()
            coalesceMark = queue.count * 2
        }
        if queue.count > limits.maxQueuedFrames || queuedBytes > limits.maxQueuedBytes {
            return .close(close(reason: "transport error: client too slow", notifyClient: true)!)
        }
        return .queued
    }

    /// Takes every queued frame (tests read what a session without a transport would have sent).
    mutating func takeQueued() -> [EngineFrame] {
        dequeue(limit: .max)
    }

    // MARK: Long-polling

    /// A GET with this session's sid.
    mutating func pollRequested(now: C.Instant) -> PollAction {
        if let close = expire(now: now) { return .rejectAndClose(.unknownSid, close) }
        switch phase {
        case .closed:
            return .reject(.unknownSid)
        case .websocket:
            // Upgraded: polling with this sid is a transport mismatch.
            return .reject(.badRequest)
        case .polling(let probe):
            guard poll == .none else {
                // A second concurrent GET: protocol error; the waiting GET receives `1`.
                return .rejectAndClose(.badRequest, close(reason: "overlapping poll", notifyClient: true)!)
            }
            if !queue.isEmpty { return .respond(dequeue(limit: limits.maxPacketsPerPoll)) }
            if case .probed = probe {
                let noopAt = now.advanced(by: limits.upgradePollDelay)
                poll = .heldForUpgrade(noopAt: noopAt)
                return .hold(until: noopAt)
            }
            poll = .waiting
            return .wait
        }
    }

    /// A POST with this session's sid.
    mutating func postRequested(now: C.Instant) -> PostAction {
        if let close = expire(now: now) { return .rejectAndClose(.unknownSid, close) }
        switch phase {
        case .closed:
            return .reject(.unknownSid)
        case .websocket:
            return .reject(.badRequest)
        case .polling:
            guard !postPending else {
                return .rejectAndClose(.badRequest, close(reason: "overlapping post", notifyClient: true)!)
            }
            postPending = true
            return .accept
        }
    }

    /// The accepted POST was handled (its packets fed to `received`, or it failed).
    mutating func postFinished() {
        postPending = false
    }

    // MARK: Inbound packets

    /// A packet from the client on the session's transport (a POST body or the WebSocket).
    mutating func received(_ packet: EngineInbound, now: C.Instant) -> ReceiveAction {
        guard phase != .closed else { return .discard }
        if let close = expire(now: now) { return .close(close) }
        switch packet {
        case .message(let message):
            return .deliver(message)
        case .pong:
            // The next ping is due a ping interval from now (node: `schedulePing()` on pong).
            heartbeat = .pingDue(now.advanced(by: limits.pingInterval))
            return .none
        case .noop:
            return .none
        case .close:
            return .close(close(reason: "transport close", notifyClient: false)!)
        case .ping:
            // Engine.IO v4: the server pings; a client ping is an error.
            return .close(close(reason: "invalid heartbeat direction", notifyClient: true)!)
        case .upgrade:
            return .close(close(reason: "unexpected upgrade packet", notifyClient: true)!)
        }
    }

    /// A packet or payload that does not parse ("parse error").
    mutating func protocolError(reason: String) -> CloseAction? {
        close(reason: reason, notifyClient: true)
    }

    // MARK: Timers

    /// Call at `nextDeadline` (or on a regular tick), repeatedly until it answers `.none`.
    mutating func timerFired(now: C.Instant) -> TimerAction {
        if let close = expire(now: now) { return .close(close) }
        if phase == .closed { return .none }
        if case .pingDue(let due) = heartbeat, due <= now {
            heartbeat = .awaitingPong(deadline: due.advanced(by: limits.pingTimeout))
            return .ping(send(CollectionOfOne(EngineFrame.ping)))
        }
        if case .polling(let probe?) = phase, probe.deadline <= now {
            abandonProbe()
            return .abortProbe
        }
        if case .heldForUpgrade(let noopAt) = poll, noopAt <= now {
            poll = .none
            return .completePoll([.noop])
        }
        return .none
    }

    // MARK: Upgrade

    /// A WebSocket handshake with this session's sid.
    mutating func upgradeRequested(now: C.Instant) -> UpgradeRequestAction {
        if let close = expire(now: now) { return .refuse(close) }
        switch phase {
        case .closed:
            return .refuse(nil)
        case .websocket, .polling(probe: .some):
            return .acceptThenClose
        case .polling(probe: nil):
            phase = .polling(probe: .opened(deadline: now.advanced(by: limits.upgradeTimeout)))
            return .accept
        }
    }

    /// A packet on the probe WebSocket.
    mutating func probeReceived(_ packet: ProbePacket, now: C.Instant) -> ProbeAction {
        guard case .polling(let probe?) = phase else { return .abort(nil) }
        if let close = expire(now: now) { return .abort(close) }
        switch (probe, packet) {
        case (.opened(let deadline), .probe):
            phase = .polling(probe: .probed(deadline: deadline))
            guard poll != .none else { return .answerProbe(holdPollUntil: nil) }
            // The waiting GET ends with a noop soon, so the client can pause polling and send `5`; if the `5`
            // comes first (the GET overtook the probe), it is refused as a poll after the upgrade.
            let noopAt = now.advanced(by: limits.upgradePollDelay)
            poll = .heldForUpgrade(noopAt: noopAt)
            return .answerProbe(holdPollUntil: noopAt)
        case (.probed, .upgrade):
            // A GET still held asked for polling, which this session no longer uses: 400, as after the upgrade.
            let held: PollResult? = poll == .none ? nil : .error(.badRequest)
            poll = .none
            phase = .websocket(writer: .detached)
            transport = .websocket
            return .upgraded(completePoll: held)
        default:
            abandonProbe()
            return .abort(nil)
        }
    }

    /// The probe WebSocket closed (or failed) before the upgrade completed; polling goes on.
    mutating func probeEnded() {
        guard case .polling(.some) = phase else { return }
        abandonProbe()
    }

    // MARK: WebSocket writer

    /// The WebSocket writer runs: what is queued goes out.
    mutating func writerAttached() -> WriterAction {
        switch phase {
        case .closed, .polling:
            return .finish
        case .websocket:
            guard !queue.isEmpty else {
                phase = .websocket(writer: .idle)
                return .none
            }
            phase = .websocket(writer: .writing)
            return .write(dequeue(limit: .max))
        }
    }

    /// The batch given to the writer was written: the next one, if frames came meanwhile.
    mutating func writeCompleted() -> WriterAction {
        guard case .websocket = phase else { return .finish }
        return writerAttached()
    }

    // MARK: Close

    /// Closes the session; `nil` when it was already closed. A waiting GET receives `1` when the client is
    /// to be told (server close), `6` when the client closed.
    mutating func close(reason: String, notifyClient: Bool) -> CloseAction? {
        let finishWriter: Bool
        let closeProbe: Bool
        switch phase {
        case .closed:
            return nil
        case .polling(let probe):
            finishWriter = false
            closeProbe = probe != nil
        case .websocket(let writer):
            finishWriter = writer != .detached
            closeProbe = false
        }
        let completePoll: PollResult? = poll == .none ? nil : .frames([notifyClient ? .close : .noop])
        phase = .closed
        poll = .none
        queue.removeAll()
        queuedBytes = 0
        coalesceMark = 0
        return CloseAction(
            reason: reason,
            completePoll: completePoll,
            finishWriter: finishWriter,
            closeProbe: closeProbe
        )
    }

    // MARK: Helpers

    /// Closes the session when its pong is overdue: `pingInterval + pingTimeout` after the handshake or the
    /// last pong, whether or not a timer has noticed the ping was due.
    private mutating func expire(now: C.Instant) -> CloseAction? {
        let deadline: C.Instant
        switch heartbeat {
        case .pingDue(let due): deadline = due.advanced(by: limits.pingTimeout)
        case .awaitingPong(let pongDeadline): deadline = pongDeadline
        }
        guard deadline <= now else { return nil }
        return close(reason: "ping timeout", notifyClient: true)
    }

    private mutating func abandonProbe() {
        phase = .polling(probe: nil)
        // A GET held for the upgrade is an ordinary waiting GET again.
        if case .heldForUpgrade = poll { poll = .waiting }
    }

    private mutating func enqueue(_ frames: some Sequence<EngineFrame>) {
        for frame in frames {
            queue.append(frame)
            queuedBytes += frame.byteCount
        }
    }

    private mutating func dequeue(limit: Int) -> [EngineFrame] {
        let count = min(limit, queue.count)
        let frames = Array(queue.prefix(count))
        queue.removeFirst(count)
        queuedBytes -= frames.reduce(0) { $0 + $1.byteCount }
        if queue.isEmpty { coalesceMark = 0 }
        return frames
    }

    /// Keeps the newest frame of each coalescing key; frames without a key are all kept, in order.
    private mutating func coalesce() {
        var seen = Set<String>()
        var kept: [EngineFrame] = []
        kept.reserveCapacity(queue.count)
        for frame in queue.reversed() {
            if let key = frame.coalesceKey, !seen.insert(key).inserted { continue }
            kept.append(frame)
        }
        kept.reverse()
        queue = kept
        queuedBytes = kept.reduce(0) { $0 + $1.byteCount }
    }
}
