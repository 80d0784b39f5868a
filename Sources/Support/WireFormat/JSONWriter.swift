package import Domain

/// A minimal streaming JSON writer for the hot payloads (positions), several times faster than
/// `JSONEncoder`. It writes exactly what `JSONPayload` would for the same value, so either side of the bus
/// may use either codec.
package struct JSONBytesWriter {
    package private(set) var bytes: [UInt8] = []
    private var needsComma = false

    package init(capacity: Int = 512) { bytes.reserveCapacity(capacity) }

    package mutating func beginObject() {
        separator()
        bytes.append(UInt8(ascii: "{"))
        needsComma = false
    }
    package mutating func endObject() {
        bytes.append(UInt8(ascii: "}"))
        needsComma = true
    }
    package mutating func beginArray() {
        separator()
        bytes.append(UInt8(ascii: "["))
        needsComma = false
    }
    package mutating func endArray() {
        bytes.append(UInt8(ascii: "]"))
        needsComma = true
    }

    package mutating func key(_ name: StaticString) {
        separator()
        bytes.append(UInt8(ascii: "\""))
        name.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ":")])
        needsComma = false
    }

    /// A key that is not known at compile time (column names, settings keys).
    package mutating func key(_ name: String) {
        string(name)
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    /// A number written exactly as `literal` (already valid JSON number text).
    package mutating func literal(_ literal: String) {
        separator()
        bytes.append(contentsOf: literal.utf8)
        needsComma = true
    }

    /// A value that is already JSON text (a payload encoded elsewhere), written as is.
    package mutating func raw(_ json: [UInt8]) {
        separator()
        bytes.append(contentsOf: json)
        needsComma = true
    }

    /// A null.
    package mutating func null() {
        separator()
        bytes.append(contentsOf: "null".utf8)
        needsComma = true
    }

    /// A parsed value, written back with its keys in document order and numbers as their literal text.
    package mutating func value(_ tree: JSONTree) {
        switch tree {
        case .null: null()
        case .bool(let flag): bool(flag)
        case .number(_, let literal): self.literal(literal)
        case .string(let text): string(text)
        case .array(let elements):
            beginArray()
            for element in elements { value(element) }
            endArray()
        case .object(let members):
            beginObject()
            for (name, member) in members {
                key(name)
                value(member)
            }
            endObject()
        }
    }

    package mutating func string(_ value: String) {
        separator()
        Self.appendString(value, to: &bytes)
        needsComma = true
    }

    /// Appends `value` as a JSON string with the escapes RFC 8259 requires (shared with writers that lay out
    /// their bytes by hand, such as the simulator's Traccar bodies).
    package static func appendString(_ value: String, to bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "\""))
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [0x5C, 0x22])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: bytes.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: bytes.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x09: bytes.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: [
                    0x5C, UInt8(ascii: "u"), 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 0xF)],
                ])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    package mutating func number(_ value: Double) {
        separator()
        if value.isFinite, value == value.rounded(), abs(value) < 1e15 {
            bytes.append(contentsOf: String(Int64(value)).utf8)
        } else if value.isFinite {
            bytes.append(contentsOf: value.description.utf8)
        } else {
            bytes.append(contentsOf: "null".utf8)
        }
        needsComma = true
    }

    package mutating func number(_ value: Int64) {
        separator()
        bytes.append(contentsOf: String(value).utf8)
        needsComma = true
    }

    package mutating func bool(_ value: Bool) {
        separator()
        bytes.append(contentsOf: (value ? "true" : "false").utf8)
        needsComma = true
    }

    // MARK: Keyed helpers; optionals are omitted when nil, as JSONEncoder does.

    package mutating func field(_ name: StaticString, _ value: String) {
        key(name)
        string(value)
    }
    package mutating func field(_ name: StaticString, _ value: Double) {
        key(name)
        number(value)
    }
    package mutating func field(_ name: StaticString, _ value: Int) {
        key(name)
        number(Int64(value))
    }
    package mutating func field(_ name: StaticString, _ value: Bool) {
        key(name)
        bool(value)
    }
    package mutating func field(_ name: StaticString, _ value: Timestamp) {
        key(name)
        number(value.millisecondsSinceEpoch)
    }
    package mutating func field(_ name: StaticString, _ value: String?) { if let value { field(name, value) } }
    package mutating func field(_ name: StaticString, _ value: Double?) { if let value { field(name, value) } }
    package mutating func field(_ name: StaticString, _ value: Bool?) { if let value { field(name, value) } }
    package mutating func field(_ name: StaticString, _ value: Timestamp?) { if let value { field(name, value) } }

    private mutating func separator() {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
    }
}
