import Application
import NIOCore
import Synchronization
import Testing
import WireFormat

@testable import SocketIOAdapters

@Suite("Engine.IO and Socket.IO codecs")
struct CodecTests {
    @Test func pollingPayloadRoundTrip() throws {
        let decoded = try EngineCodec.decode(payload: "4hello\u{1e}2\u{1e}bAQIDBA==\u{1e}3probe\u{1e}1")
        #expect(
            decoded == [.message(.text("hello")), .ping(""), .message(.binary([1, 2, 3, 4])), .pong("probe"), .close]
        )
        let encoded = EngineCodec.encode(payload: [.message(Array("hello".utf8)), .binary([1, 2, 3, 4]), .noop])
        #expect(String(buffer: encoded) == "4hello\u{1e}bAQIDBA==\u{1e}6")
    }

    @Test(arguments: ["", "abc", "7", "0{}", "b!!!", "4a\u{1e}"])
    func invalidEnginePayloads(_ payload: String) {
        #expect(throws: EngineParseError.self) { try EngineCodec.decode(payload: payload) }
    }

    @Test func socketPacketsDecode() throws {
        let event = try SocketCodec.decode(#"2/admin,13["bar",1]"#)
        #expect(event.type == .event && event.namespace == "/admin" && event.id == 13)
        #expect(event.data == .array([.string("bar"), .number(1, literal: "1")]))
        let connect = try SocketCodec.decode("0/custom")
        #expect(connect.type == .connect && connect.namespace == "/custom" && connect.data == nil)
        let binary = try SocketCodec.decode(#"52-789["m",{"_placeholder":true,"num":0}]"#)
        #expect(binary.type == .binaryEvent && binary.expectedAttachments == 2 && binary.id == 789)
        let ack = try SocketCodec.decode("312[]")
        #expect(ack.type == .ack && ack.id == 12)
    }

    /// The decoder's validation rules: each of these closes the connection.
    @Test(arguments: [
        "", "7", "abc", "2{}", #"2abc["x"]"#, #"2["connect"]"#, #"2["disconnect"]"#, "2[]", "2[{}]", "1{}",
        "0[]", #"3["x"]"#, "4[1]", #"511-["x"]"#, #"5["x"]"#, "2/admin,[",
    ])
    func invalidSocketPackets(_ text: String) {
        #expect(throws: SocketPacketError.self) { try SocketCodec.decode(text) }
    }

    @Test func encodeMatchesReferenceStrings() {
        #expect(
            String(
                decoding: SocketCodec.encode(.connect, namespace: "/admin", json: Array(#"{"sid":"x"}"#.utf8)),
                as: UTF8.self
            ) == #"0/admin,{"sid":"x"}"#
        )
        #expect(
            String(decoding: SocketCodec.encode(.disconnect, namespace: "/admin", json: nil), as: UTF8.self)
                == "1/admin,"
        )
        #expect(
            String(
                decoding: SocketCodec.encode(
                    .binaryAck,
                    namespace: "/",
                    id: 15,
                    attachments: 1,
                    json: Array(#"["bar"]"#.utf8)
                ),
                as: UTF8.self
            )
                == #"61-15["bar"]"#
        )
        #expect(
            String(
                decoding: SocketCodec.eventArray("hi", [Array("1".utf8), Array(#"{"a":"b"}"#.utf8)]),
                as: UTF8.self
            ) == #"["hi",1,{"a":"b"}]"#
        )
    }
}
