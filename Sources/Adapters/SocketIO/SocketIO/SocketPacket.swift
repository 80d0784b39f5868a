import Application
package import WireFormat

/// Socket.IO v5 packet types.
package enum SocketPacketType: UInt8, Sendable {
    case connect = 0
    case disconnect, event, ack, connectError, binaryEvent, binaryAck
}

/// One Socket.IO packet: `<type>[<attachments>-][<namespace>,][<ack id>][JSON]`, plus its binary
/// attachments (sent as the following Engine.IO binary messages).
package struct SocketPacket: Sendable, Equatable {
    package var type: SocketPacketType
    package var namespace: String
    package var id: Int?
    package var data: JSONTree?
    /// Binary attachments, referenced from `data` by `{"_placeholder":true,"num":n}`.
    package var attachments: [[UInt8]]
    /// Attachments announced by the header and still expected (decoding only).
    var expectedAttachments: Int

    package init(
        type: SocketPacketType,
        namespace: String = "/",
        id: Int? = nil,
        data: JSONTree? = nil,
        attachments: [[UInt8]] = []
    ) {
        self.type = type
        self.namespace = namespace
        self.id = id
        self.data = data
        self.attachments = attachments
        self.expectedAttachments = attachments.count
    }
}

/// A packet that breaks the Socket.IO v5 rules; the connection is closed.
package struct SocketPacketError: Error, CustomStringConvertible {
    package var description: String
    init(_ description: String) { self.description = description }
}

package enum SocketCodec {
    /// The most attachments a packet may announce.
    static let maxAttachments = 10
    /// Event names a client may not use.
    static let reservedEvents: Set<String> = [
        "connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener",
    ]

    /// Decodes the text of one packet and checks the decoder's validation rules.
    package static func decode(_ text: String) throws -> SocketPacket {
        let bytes = Array(text.utf8)
        var index = 0
        guard let first = bytes.first, (0x30...0x36).contains(first),
            let type = SocketPacketType(rawValue: first - 0x30)
        else { throw SocketPacketError("unknown packet type") }
        index = 1
        var packet = SocketPacket(type: type)
        if type == .binaryEvent || type == .binaryAck {
            let start = index
            while index < bytes.count, (0x30...0x39).contains(bytes[index]) { index += 1 }
            guard index > start, index < bytes.count, bytes[index] == UInt8(ascii: "-"), index - start <= 3,
                let count = Int(String(decoding: bytes[start..<index], as: UTF8.self)),
                count <= maxAttachments
            else { throw SocketPacketError("illegal attachments") }
            packet.expectedAttachments = count
            index += 1
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "/") {
            let start = index
            while index < bytes.count, bytes[index] != UInt8(ascii: ",") { index += 1 }
            packet.namespace = String(decoding: bytes[start..<index], as: UTF8.self)
            if index < bytes.count { index += 1 }  // the comma
        }
        if index < bytes.count, (0x30...0x39).contains(bytes[index]) {
            let start = index
            while index < bytes.count, (0x30...0x39).contains(bytes[index]) { index += 1 }
            guard index - start <= 15, let id = Int(String(decoding: bytes[start..<index], as: UTF8.self)) else {
                throw SocketPacketError("invalid ack id")
            }
            packet.id = id
        }
        if index < bytes.count {
            do {
                packet.data = try JSONBytesReader.parse(Array(bytes[index...]))
            } catch {
                throw SocketPacketError("invalid payload")
            }
        }
        guard isValid(packet) else { throw SocketPacketError("invalid payload for packet type \(type)") }
        if let data = packet.data, !placeholdersValid(data, attachments: packet.expectedAttachments) {
            throw SocketPacketError("illegal attachments")
        }
        return packet
    }

    /// Every `{"_placeholder":true,"num":n}` refers to an announced attachment (0 ≤ n < attachments).
    static func placeholdersValid(_ tree: JSONTree, attachments: Int) -> Bool {
        switch tree {
        case .array(let elements):
            return elements.allSatisfy { placeholdersValid($0, attachments: attachments) }
        case .object(let members):
            if members["_placeholder"] == .bool(true) {
                guard let num = members["num"]?.int64 else { return false }
                return num >= 0 && num < attachments
            }
            return members.values.allSatisfy { placeholdersValid($0, attachments: attachments) }
        default:
            return true
        }
    }

    static func isValid(_ packet: SocketPacket) -> Bool {
        switch packet.type {
        case .connect:
            if case .object = packet.data { return true }
            return packet.data == nil
        case .disconnect:
            return packet.data == nil
        case .connectError:
            switch packet.data {
            case .string, .object: return true
            default: return false
            }
        case .event, .binaryEvent:
            guard case .array(let elements) = packet.data, let name = elements.first else { return false }
            switch name {
            case .number: return true
            case .string(let event): return !reservedEvents.contains(event)
            default: return false
            }
        case .ack, .binaryAck:
            guard case .array = packet.data else { return false }
            return packet.id != nil
        }
    }

    /// Encodes the header and JSON of a packet (attachments are sent separately).
    package static func encode(
        _ type: SocketPacketType,
        namespace: String = "/",
        id: Int? = nil,
        attachments: Int = 0,
        json: [UInt8]?
    ) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity((json?.count ?? 0) + namespace.utf8.count + 16)
        bytes.append(0x30 + type.rawValue)
        if type == .binaryEvent || type == .binaryAck {
            bytes.append(contentsOf: String(attachments).utf8)
            bytes.append(UInt8(ascii: "-"))
        }
        if namespace != "/" {
            bytes.append(contentsOf: namespace.utf8)
            bytes.append(UInt8(ascii: ","))
        }
        if let id { bytes.append(contentsOf: String(id).utf8) }
        if let json { bytes.append(contentsOf: json) }
        return bytes
    }

    /// `["event", <args...>]` where each argument is JSON text.
    package static func eventArray(_ event: String, _ args: [[UInt8]]) -> [UInt8] {
        var bytes: [UInt8] = [UInt8(ascii: "[")]
        JSONBytesWriter.appendString(event, to: &bytes)
        for arg in args {
            bytes.append(UInt8(ascii: ","))
            bytes.append(contentsOf: arg)
        }
        bytes.append(UInt8(ascii: "]"))
        return bytes
    }

    /// A JSON value as text.
    package static func json(_ tree: JSONTree) -> [UInt8] {
        var writer = JSONBytesWriter()
        writer.value(tree)
        return writer.bytes
    }
}
