import AdapterSupport
import Testing

@testable import SocketIOAdapters

/// `EngineSessionStateMachine` as transition lists against a manual clock (pingInterval 300 ms, pingTimeout
/// 200 ms, as the official suites' server): each event at an instant, and the action it must produce.
///
/// Every case of the official protocol test suites (socketio/engine.io-protocol `test-suite/`, 24 cases,
/// and socketio/socket.io-protocol `test-suite/`, 32 cases of which 16 repeat the Engine.IO ones on
/// `/socket.io/`), and the test of ours that covers it: here for the session's transitions,
/// `Tests/SystemTests/test_socketio_protocol.py` (`py:`) for the wire against `tracker-dev
/// socketio-conformance` (each parametrized over `/engine.io/` and `/socket.io/` where the suites have both).
///
/// | suite case | ours |
/// |---|---|
/// | handshake, polling: opens a session (keys, values) | py: `test_polling_handshake` |
/// | handshake, polling: invalid `EIO` → 400 | py: `test_polling_bad_eio_is_400_code_5` |
/// | handshake, polling: invalid `transport` → 400 | py: `test_polling_bad_transport_is_400_code_0` |
/// | handshake, polling: POST/PUT handshake → 400 | py: `test_polling_handshake_with_bad_method_is_400_code_2` |
/// | handshake, WebSocket: opens a session | py: `test_websocket_handshake` |
/// | handshake, WebSocket: invalid `EIO` / `transport` | py: `test_websocket_bad_query_is_refused` |
/// | message, polling: one, several, text and binary packets | py: `test_polling_echo` |
/// | message, polling: invalid packet format closes | `invalidPacketClosesTheSession`; py: `test_polling_invalid_body_closes_session` |
/// | message, polling: duplicate poll closes | `duplicatePollClosesTheSession`; py: `test_polling_duplicate_get_closes_session` |
/// | message, WebSocket: text, binary echo | py: `test_websocket_text_echo`, `test_websocket_binary_echo` |
/// | message, WebSocket: invalid packet format closes | `invalidPacketClosesTheSession`; py: `test_websocket_invalid_packet_closes` |
/// | heartbeat, polling: ping/pong ×3 | `pollingHeartbeatRounds`; py: `test_polling_heartbeat` |
/// | heartbeat, polling: ping timeout → 400 | `pollAtThePongDeadlineIsRefused`, `pollAtThePongDeadlineIsRefusedEvenIfNoTimerFired`; py: `test_polling_ping_timeout_closes_session`, `test_polling_ping_timeout_at_the_deadline` |
/// | heartbeat, WebSocket: ping/pong ×3 | `webSocketHeartbeatRounds`; py: `test_websocket_heartbeat` |
/// | heartbeat, WebSocket: ping timeout closes | `webSocketPingTimeoutCloses`; py: `test_websocket_ping_timeout_closes` |
/// | close, polling: POST `1` → waiting GET `6`, then 400 | `clientCloseAnswersTheWaitingPollWithNoop`; py: `test_polling_close` |
/// | close, WebSocket: `1` closes | `webSocketClosePacketCloses`; py: `test_websocket_close` |
/// | upgrade: probe, GET → `6`, `5`, echo on the WebSocket | `upgradeAfterProbeWithAGetMeanwhile`, `waitingPollIsAnsweredWithNoopAfterTheProbe`; py: `test_upgrade_get_after_probe_gets_noop`, `test_upgrade_answers_pending_get_with_noop` |
/// | upgrade: polling after the upgrade → 400, and the first WebSocket frame is the echo (no `6`) | `upgradeWithoutAPendingGetSendsNoNoop`, `getDuringTheProbeIsRefusedOnceUpgraded`, `pollThatOvertookTheProbeIsRefusedOnceUpgraded`; py: `test_polling_after_upgrade_is_400`, `test_upgrade_without_pending_get` |
/// | upgrade: second WebSocket with the sid is accepted, then closed | `secondWebSocketIsAcceptedThenClosed`; py: `test_second_websocket_with_same_sid_is_accepted_then_closed` |
/// | Socket.IO connect: `/`, `/` with auth, `/custom`, `/custom` with auth (`40…` then `42["auth",…]`) | `webSocketWritesOneBatchAtATime`, `waitingPollGetsWhatIsQueuedWhenItIsAnswered`, `WebSocketWriteTests.nextBatchWaitsForTheWriteOfTheFirst`; py: `test_connect_main_namespace`, `test_connect_main_namespace_with_payload`, `test_connect_custom_namespace`, `test_connect_custom_namespace_with_payload` |
/// | Socket.IO connect: unknown namespace → `44/random,{"message":"Invalid namespace"}` | py: `test_connect_unknown_namespace` |
/// | Socket.IO connect: invalid handshake `4abc` closes | py: `test_connect_with_invalid_handshake_closes` |
/// | Socket.IO connect: no handshake closes (connectTimeout) | py: `test_no_connect_within_connect_timeout_closes` |
/// | Socket.IO disconnect: `41` keeps the engine (next frame a ping) | py: `test_disconnect_main_namespace_keeps_engine_open` |
/// | Socket.IO disconnect: `/custom` connect then disconnect, `/` still answers | py: `test_disconnect_custom_namespace` |
/// | Socket.IO message: plain text → `message-back` | py: `test_plain_text_event` |
/// | Socket.IO message: binary attachments | py: `test_binary_event` |
/// | Socket.IO message: ack, binary ack | py: `test_plain_text_event_with_ack`, `test_binary_event_with_ack` |
/// | Socket.IO message: `4abc`, `42{}`, `42abc[…]` close | py: `test_invalid_packet_closes_connection` |
@Suite("Engine.IO session state machine")
struct EngineSessionStateMachineTests {
    typealias Machine = EngineSessionStateMachine<ManualClock>

    static let limits = EngineServer.Limits(
        pingInterval: .milliseconds(300),
        pingTimeout: .milliseconds(200),
        upgradeTimeout: .milliseconds(10_000),
        upgradePollDelay: .milliseconds(100),
        maxPacketsPerPoll: 16
    )

    static func at(_ milliseconds: Int) -> ManualClock.Instant { ManualClock.at(milliseconds: milliseconds) }

    static func text(_ text: String) -> EngineFrame { .message(Array(text.utf8)) }

    /// A session opened at 0 ms.
    static func machine(_ transport: EngineSession.Transport) -> Machine {
        Machine(transport: transport, limits: limits, now: at(0))
    }

    /// A WebSocket session whose writer runs and is idle.
    static func webSocket() -> Machine {
        var machine = machine(.websocket)
        #expect(machine.writerAttached() == .none)
        return machine
    }

    static func closeAction(
        _ reason: String,
        poll: Machine.PollResult? = nil,
        writer: Bool = false,
        probe: Bool = false
    ) -> Machine.CloseAction {
        Machine.CloseAction(reason: reason, completePoll: poll, finishWriter: writer, closeProbe: probe)
    }

    // MARK: Heartbeat

    /// Suite "heartbeat, HTTP long-polling, sends ping/pong packets": a waiting GET gets `2` when the ping is
    /// due, the pong (a POST) schedules the next one a ping interval later, three rounds.
    @Test func pollingHeartbeatRounds() {
        var machine = Self.machine(.polling)
        var now = 0
        for _ in 0..<3 {
            #expect(machine.pollRequested(now: Self.at(now + 1)) == .wait)
            #expect(machine.timerFired(now: Self.at(now + 299)) == .none)
            #expect(machine.timerFired(now: Self.at(now + 300)) == .ping(.completePoll([.ping])))
            #expect(machine.timerFired(now: Self.at(now + 300)) == .none)
            #expect(machine.postRequested(now: Self.at(now + 305)) == .accept)
            #expect(machine.received(.pong(""), now: Self.at(now + 305)) == .none)
            machine.postFinished()
            now += 305
        }
        #expect(!machine.isClosed)
    }

    /// Suite "heartbeat, HTTP long-polling, closes the session upon ping timeout": the client sleeps
    /// pingInterval + pingTimeout and polls; the ping it never fetched must not answer that poll.
    @Test func pollAtThePongDeadlineIsRefused() {
        var machine = Self.machine(.polling)
        #expect(machine.timerFired(now: Self.at(300)) == .ping(.queued))
        #expect(machine.timerFired(now: Self.at(499)) == .none)
        #expect(
            machine.pollRequested(now: Self.at(500)) == .rejectAndClose(.unknownSid, Self.closeAction("ping timeout"))
        )
        #expect(machine.isClosed)
        #expect(machine.pollRequested(now: Self.at(501)) == .reject(.unknownSid))
    }

    /// One millisecond earlier the session is alive and the poll gets the ping.
    @Test func pollJustBeforeThePongDeadlineGetsThePing() {
        var machine = Self.machine(.polling)
        #expect(machine.timerFired(now: Self.at(320)) == .ping(.queued))
        #expect(machine.pollRequested(now: Self.at(499)) == .respond([.ping]))
        #expect(machine.received(.pong(""), now: Self.at(499)) == .none)
        #expect(machine.timerFired(now: Self.at(798)) == .none)
        #expect(machine.timerFired(now: Self.at(799)) == .ping(.queued))
    }

    /// The deadline is pingInterval + pingTimeout after the handshake even when no timer ran meanwhile (a
    /// late ticker never extends it).
    @Test func pollAtThePongDeadlineIsRefusedEvenIfNoTimerFired() {
        var machine = Self.machine(.polling)
        #expect(
            machine.pollRequested(now: Self.at(500)) == .rejectAndClose(.unknownSid, Self.closeAction("ping timeout"))
        )
    }

    /// A ping noticed late by the timer still has its pong due pingTimeout after it was due.
    @Test func lateTimerDoesNotExtendThePongDeadline() {
        var machine = Self.machine(.polling)
        #expect(machine.timerFired(now: Self.at(340)) == .ping(.queued))
        #expect(machine.nextDeadline == Self.at(500))
        #expect(machine.timerFired(now: Self.at(500)) == .close(Self.closeAction("ping timeout")))
    }

    /// A pong that arrives after the deadline is too late: the session is already over.
    @Test func pongAfterTheDeadlineCloses() {
        var machine = Self.machine(.polling)
        #expect(machine.timerFired(now: Self.at(300)) == .ping(.queued))
        #expect(
            machine.postRequested(now: Self.at(500)) == .rejectAndClose(.unknownSid, Self.closeAction("ping timeout"))
        )
    }

    /// Suite "heartbeat, WebSocket, sends ping/pong packets", three rounds.
    @Test func webSocketHeartbeatRounds() {
        var machine = Self.webSocket()
        var now = 0
        for _ in 0..<3 {
            #expect(machine.timerFired(now: Self.at(now + 300)) == .ping(.write([.ping])))
            #expect(machine.writeCompleted() == .none)
            #expect(machine.received(.pong(""), now: Self.at(now + 302)) == .none)
            now += 302
        }
        #expect(machine.nextDeadline == Self.at(now + 300))
    }

    /// Suite "heartbeat, WebSocket, closes the session upon ping timeout": closed at pingInterval +
    /// pingTimeout, the writer ended (which closes the WebSocket).
    @Test func webSocketPingTimeoutCloses() {
        var machine = Self.webSocket()
        #expect(machine.timerFired(now: Self.at(300)) == .ping(.write([.ping])))
        #expect(machine.writeCompleted() == .none)
        #expect(machine.timerFired(now: Self.at(499)) == .none)
        #expect(machine.timerFired(now: Self.at(500)) == .close(Self.closeAction("ping timeout", writer: true)))
        #expect(machine.timerFired(now: Self.at(501)) == .none)
        #expect(machine.nextDeadline == nil)
    }

    /// A client ping is an invalid heartbeat direction.
    @Test func clientPingCloses() {
        var machine = Self.webSocket()
        #expect(
            machine.received(.ping(""), now: Self.at(10))
                == .close(Self.closeAction("invalid heartbeat direction", writer: true))
        )
        #expect(machine.received(.message(.text("late")), now: Self.at(11)) == .discard)
    }

    // MARK: Long-polling

    /// Suite connect cases over polling: a waiting GET is answered with what is queued when the first frame
    /// comes (the CONNECT reply alone); what follows waits for the next GET.
    @Test func waitingPollGetsWhatIsQueuedWhenItIsAnswered() {
        var machine = Self.machine(.polling)
        #expect(machine.pollRequested(now: Self.at(1)) == .wait)
        #expect(machine.send([Self.text("0{\"sid\":\"a\"}")]) == .completePoll([Self.text("0{\"sid\":\"a\"}")]))
        #expect(machine.send([Self.text("2[\"auth\",{}]")]) == .queued)
        #expect(machine.pollRequested(now: Self.at(2)) == .respond([Self.text("2[\"auth\",{}]")]))
    }

    /// A GET carries at most `maxPacketsPerPoll` packets (python-engineio refuses more than 16).
    @Test func pollCarriesAtMostSixteenPackets() {
        var machine = Self.machine(.polling)
        let frames = (0..<20).map { Self.text("\($0)") }
        #expect(machine.send(frames) == .queued)
        #expect(machine.pollRequested(now: Self.at(1)) == .respond(Array(frames.prefix(16))))
        #expect(machine.pollRequested(now: Self.at(2)) == .respond(Array(frames.suffix(4))))
    }

    /// Suite "closes the session upon duplicate poll requests": the waiting GET gets `1`, the second 400,
    /// the next 400 too.
    @Test func duplicatePollClosesTheSession() {
        var machine = Self.machine(.polling)
        #expect(machine.pollRequested(now: Self.at(1)) == .wait)
        #expect(
            machine.pollRequested(now: Self.at(6))
                == .rejectAndClose(.badRequest, Self.closeAction("overlapping poll", poll: .frames([.close])))
        )
        #expect(machine.pollRequested(now: Self.at(7)) == .reject(.unknownSid))
    }

    /// A second concurrent POST closes the session too.
    @Test func concurrentPostClosesTheSession() {
        var machine = Self.machine(.polling)
        #expect(machine.postRequested(now: Self.at(1)) == .accept)
        #expect(
            machine.postRequested(now: Self.at(2))
                == .rejectAndClose(.badRequest, Self.closeAction("overlapping post"))
        )
        #expect(machine.postRequested(now: Self.at(3)) == .reject(.unknownSid))
    }

    /// Suite "closes the session upon invalid packet format" (polling and WebSocket).
    @Test(arguments: [EngineSession.Transport.polling, .websocket])
    func invalidPacketClosesTheSession(transport: EngineSession.Transport) {
        var machine = transport == .polling ? Self.machine(.polling) : Self.webSocket()
        #expect(
            machine.protocolError(reason: "parse error")
                == Self.closeAction("parse error", writer: transport == .websocket)
        )
        #expect(machine.protocolError(reason: "parse error") == nil)
        #expect(machine.pollRequested(now: Self.at(2)) == .reject(.unknownSid))
    }

    // MARK: Close

    /// Suite "close, HTTP long-polling": POST `1` while a GET waits: the GET gets `6`, the next GET 400.
    @Test func clientCloseAnswersTheWaitingPollWithNoop() {
        var machine = Self.machine(.polling)
        #expect(machine.pollRequested(now: Self.at(1)) == .wait)
        #expect(machine.postRequested(now: Self.at(2)) == .accept)
        #expect(
            machine.received(.close, now: Self.at(2))
                == .close(Self.closeAction("transport close", poll: .frames([.noop])))
        )
        machine.postFinished()
        #expect(machine.pollRequested(now: Self.at(3)) == .reject(.unknownSid))
    }

    /// Suite "close, WebSocket": `1` closes the session and ends the writer.
    @Test func webSocketClosePacketCloses() {
        var machine = Self.webSocket()
        #expect(
            machine.received(.close, now: Self.at(5)) == .close(Self.closeAction("transport close", writer: true))
        )
        #expect(machine.writeCompleted() == .finish)
        #expect(machine.send([Self.text("x")]) == .dropped)
    }

    /// A server close tells a waiting GET `1`; closing again does nothing.
    @Test func serverCloseIsIdempotent() {
        var machine = Self.machine(.polling)
        #expect(machine.pollRequested(now: Self.at(1)) == .wait)
        #expect(
            machine.close(reason: "server shutting down", notifyClient: true)
                == Self.closeAction("server shutting down", poll: .frames([.close]))
        )
        #expect(machine.close(reason: "again", notifyClient: true) == nil)
    }

    // MARK: WebSocket writes

    /// Suite connect cases over WebSocket: the CONNECT reply is written alone; the `42` emitted right after it
    /// waits until that write completed, then goes out as the next batch (the reference server's `drain`).
    @Test func webSocketWritesOneBatchAtATime() {
        var machine = Self.webSocket()
        let reply = Self.text("0{\"sid\":\"a\"}")
        let auth = Self.text("2[\"auth\",{}]")
        #expect(machine.send([reply]) == .write([reply]))
        #expect(machine.send([auth]) == .queued)
        #expect(machine.writeCompleted() == .write([auth]))
        #expect(machine.writeCompleted() == .none)
        #expect(machine.send([auth]) == .write([auth]))
    }

    /// Frames sent before the writer runs wait for it, in order.
    @Test func framesBeforeTheWriterRunsWaitForIt() {
        var machine = Self.machine(.websocket)
        let frames = [Self.text("a"), Self.text("b")]
        #expect(machine.send(frames) == .queued)
        #expect(machine.writerAttached() == .write(frames))
        #expect(machine.writeCompleted() == .none)
    }

    // MARK: Upgrade

    /// Suite "upgrade, successfully upgrades": probe, a GET after `3probe` waits for the upgrade and gets `6`
    /// (the reference server's 100 ms noop check), `5` switches, the WebSocket then carries the echo.
    @Test func upgradeAfterProbeWithAGetMeanwhile() {
        var machine = Self.machine(.polling)
        #expect(machine.upgradeRequested(now: Self.at(10)) == .accept)
        #expect(machine.isProbing)
        #expect(machine.probeReceived(.probe, now: Self.at(11)) == .answerProbe(holdPollUntil: nil))
        #expect(machine.pollRequested(now: Self.at(12)) == .hold(until: Self.at(112)))
        #expect(machine.timerFired(now: Self.at(111)) == .none)
        #expect(machine.timerFired(now: Self.at(112)) == .completePoll([.noop]))
        #expect(machine.probeReceived(.upgrade, now: Self.at(113)) == .upgraded(completePoll: nil))
        #expect(machine.transport == .websocket)
        #expect(machine.writerAttached() == .none)
        #expect(machine.send([Self.text("hello")]) == .write([Self.text("hello")]))
    }

    /// A GET waiting when `2probe` comes is answered `6` after upgradePollDelay (the JS client then pauses
    /// polling and sends `5`), as the reference server's 100 ms check does.
    @Test func waitingPollIsAnsweredWithNoopAfterTheProbe() {
        var machine = Self.machine(.polling)
        #expect(machine.pollRequested(now: Self.at(1)) == .wait)
        #expect(machine.upgradeRequested(now: Self.at(2)) == .accept)
        #expect(machine.probeReceived(.probe, now: Self.at(3)) == .answerProbe(holdPollUntil: Self.at(103)))
        #expect(machine.nextDeadline == Self.at(103))
        #expect(machine.timerFired(now: Self.at(102)) == .none)
        #expect(machine.timerFired(now: Self.at(103)) == .completePoll([.noop]))
        #expect(machine.probeReceived(.upgrade, now: Self.at(110)) == .upgraded(completePoll: nil))
    }

    /// The suite sends `2probe` and `5` and then polls, on another connection: a GET that overtakes even
    /// the `2probe` is held, and refused once the upgrade completes (not answered `6`).
    @Test func pollThatOvertookTheProbeIsRefusedOnceUpgraded() {
        var machine = Self.machine(.polling)
        #expect(machine.upgradeRequested(now: Self.at(1)) == .accept)
        #expect(machine.pollRequested(now: Self.at(2)) == .wait)
        #expect(machine.probeReceived(.probe, now: Self.at(3)) == .answerProbe(holdPollUntil: Self.at(103)))
        #expect(machine.probeReceived(.upgrade, now: Self.at(4)) == .upgraded(completePoll: .error(.badRequest)))
        #expect(machine.timerFired(now: Self.at(103)) == .none)
    }

    /// Suite "ignores HTTP requests with same sid after upgrade" (and python-engineio, which upgrades before
    /// any GET): no GET was pending, so no noop exists, and the first WebSocket frame after `5` is the echo.
    @Test func upgradeWithoutAPendingGetSendsNoNoop() {
        var machine = Self.machine(.polling)
        #expect(machine.upgradeRequested(now: Self.at(1)) == .accept)
        #expect(machine.probeReceived(.probe, now: Self.at(2)) == .answerProbe(holdPollUntil: nil))
        #expect(machine.probeReceived(.upgrade, now: Self.at(2)) == .upgraded(completePoll: nil))
        #expect(machine.queuedFrames.isEmpty)
        #expect(machine.pollRequested(now: Self.at(3)) == .reject(.badRequest))
        #expect(machine.postRequested(now: Self.at(3)) == .reject(.badRequest))
        #expect(machine.writerAttached() == .none)
        #expect(machine.received(.message(.text("hello")), now: Self.at(4)) == .deliver(.text("hello")))
        #expect(machine.send([Self.text("hello")]) == .write([Self.text("hello")]))
    }

    /// The suite sends `2probe` and `5` and polls at once: a GET that overtakes the `5` waits, and once the
    /// upgrade completes it is refused like any poll after the upgrade.
    @Test func getDuringTheProbeIsRefusedOnceUpgraded() {
        var machine = Self.machine(.polling)
        #expect(machine.upgradeRequested(now: Self.at(1)) == .accept)
        #expect(machine.probeReceived(.probe, now: Self.at(2)) == .answerProbe(holdPollUntil: nil))
        #expect(machine.pollRequested(now: Self.at(3)) == .hold(until: Self.at(103)))
        #expect(machine.probeReceived(.upgrade, now: Self.at(4)) == .upgraded(completePoll: .error(.badRequest)))
    }

    /// Suite "ignores WebSocket connection with same sid after upgrade": the handshake is accepted and the
    /// WebSocket closed (also while a probe runs); a closed session refuses it.
    @Test func secondWebSocketIsAcceptedThenClosed() {
        var machine = Self.machine(.polling)
        #expect(machine.upgradeRequested(now: Self.at(1)) == .accept)
        #expect(machine.upgradeRequested(now: Self.at(2)) == .acceptThenClose)
        #expect(machine.probeReceived(.probe, now: Self.at(3)) == .answerProbe(holdPollUntil: nil))
        #expect(machine.probeReceived(.upgrade, now: Self.at(4)) == .upgraded(completePoll: nil))
        #expect(machine.upgradeRequested(now: Self.at(5)) == .acceptThenClose)
        #expect(machine.transport == .websocket)
        _ = machine.close(reason: "test", notifyClient: true)
        #expect(machine.upgradeRequested(now: Self.at(6)) == .refuse(nil))
    }

    /// Frames produced while polling is paused for the probe go out on the WebSocket after `5`, in order.
    @Test func framesQueuedDuringTheProbeGoOverTheWebSocket() {
        var machine = Self.machine(.polling)
        #expect(machine.upgradeRequested(now: Self.at(1)) == .accept)
        #expect(machine.probeReceived(.probe, now: Self.at(2)) == .answerProbe(holdPollUntil: nil))
        #expect(machine.send([Self.text("one"), Self.text("two")]) == .queued)
        #expect(machine.probeReceived(.upgrade, now: Self.at(3)) == .upgraded(completePoll: nil))
        #expect(machine.writerAttached() == .write([Self.text("one"), Self.text("two")]))
    }

    /// A probe WebSocket whose first packet is not `2probe` (or whose second is not `5`) is closed; polling
    /// goes on, and a GET held for the upgrade waits on as a normal GET.
    @Test func otherPacketOnTheProbeAbortsIt() {
        var machine = Self.machine(.polling)
        #expect(machine.upgradeRequested(now: Self.at(1)) == .accept)
        #expect(machine.probeReceived(.other, now: Self.at(2)) == .abort(nil))
        #expect(!machine.isProbing)
        #expect(machine.upgradeRequested(now: Self.at(3)) == .accept)
        #expect(machine.probeReceived(.probe, now: Self.at(4)) == .answerProbe(holdPollUntil: nil))
        #expect(machine.pollRequested(now: Self.at(5)) == .hold(until: Self.at(105)))
        #expect(machine.probeReceived(.other, now: Self.at(6)) == .abort(nil))
        #expect(machine.timerFired(now: Self.at(200)) == .none)
        #expect(machine.send([Self.text("still polling")]) == .completePoll([Self.text("still polling")]))
    }

    /// No `5` within upgradeTimeout: the probe is closed, polling goes on.
    @Test func probeTimesOut() {
        var machine = Self.machine(.polling)
        #expect(machine.upgradeRequested(now: Self.at(0)) == .accept)
        #expect(machine.probeReceived(.probe, now: Self.at(1)) == .answerProbe(holdPollUntil: nil))
        var now = 0
        while now < 9_900 {
            // Keep the heartbeat alive over polling meanwhile.
            now += 300
            #expect(machine.timerFired(now: Self.at(now)) == .ping(.queued))
            #expect(machine.pollRequested(now: Self.at(now)) == .respond([.ping]))
            #expect(machine.received(.pong(""), now: Self.at(now)) == .none)
        }
        #expect(machine.timerFired(now: Self.at(10_000)) == .abortProbe)
        #expect(!machine.isProbing)
        #expect(machine.probeReceived(.upgrade, now: Self.at(10_001)) == .abort(nil))
        #expect(machine.transport == .polling)
    }

    /// Closing the session during a probe closes the probe WebSocket too.
    @Test func closeDuringTheProbeClosesTheProbe() {
        var machine = Self.machine(.polling)
        #expect(machine.upgradeRequested(now: Self.at(1)) == .accept)
        #expect(machine.received(.close, now: Self.at(2)) == .close(Self.closeAction("transport close", probe: true)))
    }
}
