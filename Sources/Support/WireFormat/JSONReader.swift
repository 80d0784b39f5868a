/// A parsed JSON value, for the hand-written decoders of the hot payloads.
package enum JSONTree: Equatable, Sendable {
    case null
    case bool(Bool)
    /// A number: its value, and its literal text so ids and decimals can be kept exactly (`2500.00`).
    case number(Double, literal: String)
    case string(String)
    case array([JSONTree])
    case object(JSONObject)

    package subscript(key: String) -> JSONTree? {
        if case .object(let members) = self { return members[key] }
        return nil
    }

    package var double: Double? {
        if case .number(let v, _) = self { return v }
        return nil
    }
    /// A number's literal text as written in the document.
    package var literal: String? {
        if case .number(_, let text) = self { return text }
        return nil
    }
    package var string: String? {
        if case .string(let v) = self { return v }
        return nil
    }
    package var bool: Bool? {
        if case .bool(let v) = self { return v }
        return nil
    }
    package var array: [JSONTree]? {
        if case .array(let v) = self { return v }
        return nil
    }
    package var int64: Int64? {
        guard case .number(let v, _) = self, v.isFinite, v == v.rounded(), abs(v) < 9.2e18 else { return nil }
        return Int64(v)
    }
}

/// An object's members in document order. Payload objects have a few dozen keys, so a linear scan beats
/// building a hash table for every object parsed. Duplicate keys: the last one wins, as in JSONDecoder.
package struct JSONObject: Equatable, Sequence, Sendable {
    package init() {}

    package var keys: [String] = []
    package var values: [JSONTree] = []

    package subscript(key: String) -> JSONTree? {
        var index = keys.count - 1
        while index >= 0 {
            if keys[index] == key { return values[index] }
            index -= 1
        }
        return nil
    }

    mutating func append(_ key: String, _ value: JSONTree) {
        keys.append(key)
        values.append(value)
    }

    package func makeIterator() -> Zip2Sequence<[String], [JSONTree]>.Iterator {
        zip(keys, values).makeIterator()
    }
}

/// One step of the way from a document's root to a value: a member name or an array index.
package enum JSONPathComponent: Hashable, Sendable {
    case key(String)
    case index(Int)

    /// The dotted form the API's problems use for `field`: `position.attributes.alarm`, `[2].device.uniqueId`,
    /// `visits[0].customerId`; empty for the root.
    package static func render(_ path: [JSONPathComponent]) -> String {
        var result = ""
        for component in path {
            switch component {
            case .key(let key):
                if !result.isEmpty { result += "." }
                result += key
            case .index(let index):
                result += "[\(index)]"
            }
        }
        return result
    }
}

/// A small recursive-descent JSON parser (RFC 8259), several times faster than `JSONDecoder` for our
/// payloads. Depth is limited so hostile input cannot exhaust the stack.
///
/// Strings must be valid UTF-8 (RFC 8259 §8.1): a string or member name with an ill-formed byte sequence is an
/// `invalidUTF8` error naming where it is, never silently repaired to U+FFFD.
package struct JSONBytesReader {
    package struct SyntaxError: Error, CustomStringConvertible {
        package enum Kind: Hashable, Sendable {
            /// Not JSON: a syntax error, a number that is not a number, too deep a nesting.
            case syntax
            /// A string (or member name) whose bytes are not well-formed UTF-8.
            case invalidUTF8
        }

        package var offset: Int
        package var reason: String
        package var kind: Kind = .syntax
        /// Where the error is, from the root: for `invalidUTF8`, the value holding the string (the object, for a
        /// member name).
        package var path: [JSONPathComponent] = []
        package var description: String { "invalid JSON at byte \(offset): \(reason)" }
    }

    static let maxDepth = 64

    package static func parse(_ bytes: [UInt8]) throws -> JSONTree {
        try bytes.withUnsafeBufferPointer { buffer in
            var reader = JSONBytesReader(buffer: buffer)
            reader.skipWhitespace()
            let value = try reader.value(depth: 0)
            reader.skipWhitespace()
            guard reader.index == buffer.count else { throw reader.error("trailing characters") }
            return value
        }
    }

    private let buffer: UnsafeBufferPointer<UInt8>
    private var index = 0

    private init(buffer: UnsafeBufferPointer<UInt8>) { self.buffer = buffer }

    private func error(_ reason: String) -> SyntaxError { SyntaxError(offset: index, reason: reason) }

    private mutating func skipWhitespace() {
        while index < buffer.count,
            buffer[index] == 0x20 || buffer[index] == 0x0A || buffer[index] == 0x0D
                || buffer[index] == 0x09
        { index += 1 }
    }

    private mutating func value(depth: Int) throws -> JSONTree {
        guard depth < Self.maxDepth else { throw error("nested too deeply") }
        guard index < buffer.count else { throw error("unexpected end") }
        switch buffer[index] {
        case UInt8(ascii: "{"): return try object(depth: depth)
        case UInt8(ascii: "["): return try array(depth: depth)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"):
            try literal("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try literal("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try literal("null")
            return .null
        default:
            let start = index
            let value = try number()
            let literal = String(decoding: UnsafeBufferPointer(rebasing: buffer[start..<index]), as: UTF8.self)
            return .number(value, literal: literal)
        }
    }

    private mutating func literal(_ text: StaticString) throws {
        let count = text.utf8CodeUnitCount
        guard index + count <= buffer.count else { throw error("unexpected end") }
        for i in 0..<count where buffer[index + i] != text.utf8Start[i] { throw error("invalid literal") }
        index += count
    }

    private mutating func object(depth: Int) throws -> JSONTree {
        index += 1
        var members = JSONObject()
        skipWhitespace()
        if index < buffer.count, buffer[index] == UInt8(ascii: "}") {
            index += 1
            return .object(members)
        }
        while true {
            skipWhitespace()
            guard index < buffer.count, buffer[index] == UInt8(ascii: "\"") else { throw error("expected a key") }
            let key: String
            do {
                key = try string()
            } catch var error as SyntaxError where error.kind == .invalidUTF8 {
                error.reason = "a member name is not valid UTF-8"
                throw error
            }
            skipWhitespace()
            guard index < buffer.count, buffer[index] == UInt8(ascii: ":") else { throw error("expected ':'") }
            index += 1
            skipWhitespace()
            do {
                members.append(key, try value(depth: depth + 1))
            } catch var error as SyntaxError {
                error.path.insert(.key(key), at: 0)
                throw error
            }
            skipWhitespace()
            guard index < buffer.count else { throw error("unexpected end") }
            if buffer[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            if buffer[index] == UInt8(ascii: "}") {
                index += 1
                return .object(members)
            }
            throw error("expected ',' or '}'")
        }
    }

    private mutating func array(depth: Int) throws -> JSONTree {
        index += 1
        var elements: [JSONTree] = []
        skipWhitespace()
        if index < buffer.count, buffer[index] == UInt8(ascii: "]") {
            index += 1
            return .array(elements)
        }
        while true {
            skipWhitespace()
            do {
                elements.append(try value(depth: depth + 1))
            } catch var error as SyntaxError {
                error.path.insert(.index(elements.count), at: 0)
                throw error
            }
            skipWhitespace()
            guard index < buffer.count else { throw error("unexpected end") }
            if buffer[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            if buffer[index] == UInt8(ascii: "]") {
                index += 1
                return .array(elements)
            }
            throw error("expected ',' or ']'")
        }
    }

    private mutating func string() throws -> String {
        index += 1
        let start = index
        var ascii = true
        while index < buffer.count {
            let byte = buffer[index]
            if byte == UInt8(ascii: "\"") {
                let bytes = UnsafeBufferPointer(rebasing: buffer[start..<index])
                if ascii {
                    index += 1
                    return String(decoding: bytes, as: UTF8.self)
                }
                guard let text = String(validating: bytes, as: UTF8.self) else { throw invalidUTF8(at: start) }
                index += 1
                return text
            }
            if byte == UInt8(ascii: "\\") { return try escapedString(from: start) }
            if byte < 0x20 { throw error("control character in string") }
            if byte >= 0x80 { ascii = false }
            index += 1
        }
        throw error("unterminated string")
    }

    /// A string whose raw bytes (escapes aside) are not well-formed UTF-8; `start` is its first byte.
    private func invalidUTF8(at start: Int) -> SyntaxError {
        SyntaxError(offset: start - 1, reason: "not valid UTF-8", kind: .invalidUTF8)
    }

    private mutating func escapedString(from start: Int) throws -> String {
        var out = Array(UnsafeBufferPointer(rebasing: buffer[start..<index]))
        while index < buffer.count {
            let byte = buffer[index]
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                // Escapes only add well-formed sequences, so this fails exactly when the raw bytes are ill-formed.
                guard let text = String(validating: out, as: UTF8.self) else { throw invalidUTF8(at: start) }
                return text
            case UInt8(ascii: "\\"):
                guard index < buffer.count else { throw error("unterminated escape") }
                let escape = buffer[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(escape)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800..<0xDC00).contains(scalar) {
                        guard index + 1 < buffer.count, buffer[index] == UInt8(ascii: "\\"),
                            buffer[index + 1] == UInt8(ascii: "u")
                        else { throw error("lone surrogate") }
                        index += 2
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw error("invalid surrogate pair") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let unicode = Unicode.Scalar(scalar) else { throw error("invalid code point") }
                    out.append(contentsOf: Array(String(Character(unicode)).utf8))
                default: throw error("invalid escape")
                }
            default:
                if byte < 0x20 { throw error("control character in string") }
                out.append(byte)
            }
        }
        throw error("unterminated string")
    }

    private mutating func hex4() throws -> UInt32 {
        guard index + 4 <= buffer.count else { throw error("short \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let b = buffer[index]
            index += 1
            let digit: UInt32
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(b - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(b - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(b - UInt8(ascii: "A") + 10)
            default: throw error("invalid hex digit")
            }
            value = value << 4 | digit
        }
        return value
    }

    private mutating func number() throws -> Double {
        let start = index
        var integer: Int64 = 0
        var negative = false
        var simple = true
        if index < buffer.count, buffer[index] == UInt8(ascii: "-") {
            negative = true
            index += 1
        }
        let digitsStart = index
        while index < buffer.count, buffer[index] >= 0x30, buffer[index] <= 0x39 {
            if index - digitsStart < 18 {
                integer = integer * 10 + Int64(buffer[index] - 0x30)
            } else {
                simple = false
            }
            index += 1
        }
        guard index > digitsStart else { throw error("expected a value") }
        if buffer[digitsStart] == 0x30, index - digitsStart > 1 { throw error("leading zero") }
        if index < buffer.count, buffer[index] == UInt8(ascii: ".") {
            simple = false
            index += 1
            let fraction = index
            while index < buffer.count, buffer[index] >= 0x30, buffer[index] <= 0x39 { index += 1 }
            guard index > fraction else { throw error("expected digits after '.'") }
        }
        if index < buffer.count, buffer[index] == UInt8(ascii: "e") || buffer[index] == UInt8(ascii: "E") {
            simple = false
            index += 1
            if index < buffer.count, buffer[index] == UInt8(ascii: "+") || buffer[index] == UInt8(ascii: "-") {
                index += 1
            }
            let exponent = index
            while index < buffer.count, buffer[index] >= 0x30, buffer[index] <= 0x39 { index += 1 }
            guard index > exponent else { throw error("expected exponent digits") }
        }
        if simple { return Double(negative ? -integer : integer) }
        let text = String(decoding: UnsafeBufferPointer(rebasing: buffer[start..<index]), as: UTF8.self)
        guard let value = Double(text) else { throw error("invalid number") }
        return value
    }
}
