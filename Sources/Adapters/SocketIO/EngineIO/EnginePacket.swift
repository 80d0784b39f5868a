import NIOCore

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Engine.IO v4 packet types (`0`…`6` on the wire).
enum EnginePacketType: UInt8 {
    case open = 0x30
    case close, ping, pong, message, upgrade, noop
}

/// One outbound Engine.IO packet, already encoded: the bytes are shared by every session it is sent to.
public struct EngineFrame: Sendable {
    enum Kind: Sendable { case text, binary }

    let kind: Kind
    /// A text packet with its type digit (`4…`); a binary message's raw bytes.
    let payload: ByteBuffer
    /// Frames with the same key replace each other in a congested queue (latest wins).
    let coalesceKey: String?

    init(kind: Kind, payload: ByteBuffer, coalesceKey: String? = nil) {
        self.kind = kind
        self.payload = payload
        self.coalesceKey = coalesceKey
    }

    /// A text packet of `type` with `data`.
    static func packet(
        _ type: EnginePacketType,
        _ data: some Sequence<UInt8> = [UInt8](),
        coalesceKey: String? = nil
    ) -> EngineFrame {
        var buffer = ByteBuffer()
        buffer.writeInteger(type.rawValue)
        buffer.writeBytes(data)
        return EngineFrame(kind: .text, payload: buffer, coalesceKey: coalesceKey)
    }

    /// A `message` packet carrying text.
    public static func message(_ text: some Sequence<UInt8>, coalesceKey: String? = nil) -> EngineFrame {
        packet(.message, text, coalesceKey: coalesceKey)
    }

    /// A `message` packet carrying binary data.
    public static func binary(_ bytes: some Sequence<UInt8>) -> EngineFrame {
        EngineFrame(kind: .binary, payload: ByteBuffer(bytes: Array(bytes)))
    }

    static let noop = EngineFrame.packet(.noop)
    static let close = EngineFrame.packet(.close)
    static let ping = EngineFrame.packet(.ping)

    var byteCount: Int { payload.readableBytes }
}

extension EngineFrame: Equatable {}

/// A `message` received from a client.
public enum EngineMessage: Sendable, Equatable {
    case text(String)
    case binary([UInt8])
}

/// A packet received from a client, decoded.
enum EngineInbound: Equatable, Sendable {
    case close
    case ping(String)
    case pong(String)
    case message(EngineMessage)
    case upgrade
    case noop
}

/// A malformed packet or payload: the session is closed ("parse error").
struct EngineParseError: Error, CustomStringConvertible {
    var description: String
}

enum EngineCodec {
    static let separator: UInt8 = 0x1E

    /// Decodes one text packet (a WebSocket text frame or one element of a polling payload).
    static func decode(text: Substring.UTF8View) throws -> EngineInbound {
        guard let first = text.first else { throw EngineParseError(description: "empty packet") }
        if first == UInt8(ascii: "b") {
            guard let data = Data(base64Encoded: String(Substring(text.dropFirst()))) else {
                throw EngineParseError(description: "invalid base64 payload")
            }
            return .message(.binary(Array(data)))
        }
        let data = String(Substring(text.dropFirst()))
        switch EnginePacketType(rawValue: first) {
        case .close: return .close
        case .ping: return .ping(data)
        case .pong: return .pong(data)
        case .message: return .message(.text(data))
        case .upgrade: return .upgrade
        case .noop: return .noop
        case .open, nil: throw EngineParseError(description: "unknown packet type")
        }
    }

    /// Decodes a polling payload: packets separated by `\x1e`.
    static func decode(payload: String) throws -> [EngineInbound] {
        let parts = payload.utf8.split(separator: separator, omittingEmptySubsequences: false)
        return try parts.map { try decode(text: Substring($0).utf8) }
    }

    /// Encodes frames as one polling payload: text packets as they are, binary as `b<base64>`.
    static func encode(payload frames: some Collection<EngineFrame>) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(frames.reduce(0) { $0 + $1.byteCount + 1 })
        var first = true
        for frame in frames {
            if !first { buffer.writeInteger(separator) }
            first = false
            switch frame.kind {
            case .text:
                buffer.writeImmutableBuffer(frame.payload)
            case .binary:
                buffer.writeInteger(UInt8(ascii: "b"))
                buffer.writeString(Data(frame.payload.readableBytesView).base64EncodedString())
            }
        }
        return buffer
    }
}
