import Application
import WireFormat

/// The `headers` column: a JSON object of strings, keys sorted; no headers is SQL NULL (most messages).
enum HeaderCoding {
    static func encode(_ headers: [String: String]) -> String? {
        guard !headers.isEmpty else { return nil }
        var bytes: [UInt8] = [UInt8(ascii: "{")]
        for (index, name) in headers.keys.sorted().enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            string(name, into: &bytes)
            bytes.append(UInt8(ascii: ":"))
            string(headers[name] ?? "", into: &bytes)
        }
        bytes.append(UInt8(ascii: "}"))
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Decodes a stored header object; a malformed value is `StoreError.invalidData`.
    static func decode(_ text: String?) throws -> [String: String] {
        guard let text, !text.isEmpty else { return [:] }
        let tree: JSONTree
        do {
            tree = try JSONBytesReader.parse(Array(text.utf8))
        } catch {
            throw StoreError.invalidData("message headers: \(error)")
        }
        guard case .object(let members) = tree else { throw StoreError.invalidData("message headers") }
        var headers: [String: String] = [:]
        for (name, value) in members {
            if let string = value.string { headers[name] = string }
        }
        return headers
    }

    private static func string(_ text: String, into bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [0x5C, 0x22])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [0x5C, 0x5C])
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
}
