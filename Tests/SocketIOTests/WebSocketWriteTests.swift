import Logging
import NIOCore
import NIOEmbedded
import NIOWebSocket
import Testing

@testable import SocketIOAdapters

/// The WebSocket writer's wiring: a batch goes out in one flush, and the session hands over the next batch
/// only when the write completed (engine.io's write callback), so the CONNECT reply and the event emitted
/// right after it are separate TCP writes (official Socket.IO suite, "connect" cases).
@Suite("Engine.IO WebSocket writes")
struct WebSocketWriteTests {
    final class NoHandler: EngineHandler {
        func engineOpened(_ session: EngineSession) async {}
        func engine(_ session: EngineSession, received message: EngineMessage) async {}
        func engineClosed(_ session: EngineSession, reason: String) {}
    }

    func texts(_ channel: EmbeddedChannel) throws -> [String] {
        var texts: [String] = []
        while let frame = try channel.readOutbound(as: WebSocketFrame.self) {
            texts.append(String(buffer: frame.unmaskedData))
        }
        return texts
    }

    @Test func nextBatchWaitsForTheWriteOfTheFirst() async throws {
        let server = EngineServer(handler: NoHandler(), logger: Logger(label: "test"))
        let session = server.open(transport: .websocket, query: [:], headers: [:])
        let channel = EmbeddedChannel()
        let writer = WebSocketFrameWriter(channel: channel)
        let batches = session.attachWebSocketWriter()
        var iterator = batches.makeAsyncIterator()

        #expect(session.send(.message(Array(#"0{"sid":"a"}"#.utf8))))
        #expect(session.send(.message(Array(#"2["auth",{}]"#.utf8))))
        let first = try #require(await iterator.next())
        #expect(first.count == 1)
        // The event waits in the session's queue while the reply is being written.
        #expect(session.queuedFrames.count == 1)

        writer.write(first, then: session)
        #expect(try texts(channel) == [#"40{"sid":"a"}"#])
        // The write completed: the event is the next batch, written on its own.
        let second = try #require(await iterator.next())
        #expect(session.queuedFrames.isEmpty)
        writer.write(second, then: session)
        #expect(try texts(channel) == [#"42["auth",{}]"#])

        session.close(reason: "test")
        #expect(await iterator.next() == nil)
        _ = try channel.finish()
    }
}
