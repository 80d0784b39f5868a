import Logging
import NIOCore
import Synchronization
import Testing

@testable import SocketIOAdapters

@Suite("Engine.IO session queue")
struct SessionQueueTests {
    final class NoHandler: EngineHandler {
        func engineOpened(_ session: EngineSession) async {}
        func engine(_ session: EngineSession, received message: EngineMessage) async {}
        func engineClosed(_ session: EngineSession, reason: String) {}
    }

    func makeSession(coalesceAbove: Int = 4, maxFrames: Int = 20, maxBytes: Int = 1 << 20) -> EngineSession {
        let limits = EngineServer.Limits(
            coalesceAbove: coalesceAbove,
            maxQueuedFrames: maxFrames,
            maxQueuedBytes: maxBytes
        )
        let server = EngineServer(limits: limits, handler: NoHandler(), logger: Logger(label: "test"))
        return server.open(transport: .websocket, query: [:], headers: [:])
    }

    func queued(_ session: EngineSession) -> [String] {
        session.queuedFrames.map { String(buffer: $0.payload) }
    }

    /// A congested receiver keeps the newest frame of each key and every frame without a key, in order.
    @Test func congestedQueueCoalescesLatestPerKey() {
        let session = makeSession()
        for n in 0..<3 {
            for driver in ["a", "b"] {
                session.send(.message(Array("\(driver)\(n)".utf8), coalesceKey: driver))
            }
            session.send(.message(Array("event\(n)".utf8)))
        }
        #expect(queued(session) == ["4event0", "4event1", "4a2", "4b2", "4event2"])
        #expect(!session.isClosed)
    }

    /// Past the hard limit, after coalescing, the client is disconnected: memory stays bounded.
    @Test func stalledReceiverIsDisconnectedPastTheLimit() {
        let session = makeSession(maxFrames: 20)
        var accepted = 0
        for n in 0..<100 where session.send(.message(Array("event\(n)".utf8))) { accepted += 1 }
        #expect(session.isClosed)
        #expect(accepted == 20)
        #expect(queued(session).isEmpty)
    }

    @Test func byteLimitAlsoDisconnects() {
        let session = makeSession(maxFrames: 1_000, maxBytes: 10_000)
        let big = [UInt8](repeating: 0x61, count: 4_000)
        #expect(session.send(.message(big)))
        #expect(session.send(.message(big)))
        #expect(!session.send(.message(big)))
        #expect(session.isClosed)
    }

    /// Positions coalesced per driver never exceed one per driver however long the client stalls.
    @Test func positionsStayBoundedPerDriver() {
        let session = makeSession(coalesceAbove: 64, maxFrames: 1_000)
        for second in 0..<600 {
            for driver in 0..<50 {
                session.send(.message(Array("d\(driver)-\(second)".utf8), coalesceKey: "d\(driver)"))
            }
        }
        #expect(!session.isClosed)
        #expect(queued(session).count <= 128)
        #expect(queued(session).suffix(50) == (0..<50).map { "4d\($0)-599" })
    }
}
