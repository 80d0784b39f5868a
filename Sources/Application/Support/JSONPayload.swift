#if canImport(FoundationEssentials)
import WireFormat
import FoundationEssentials
#else
import Foundation
#endif

/// The one JSON encoding of bus and push payloads: domain values as their `Codable` form, timestamps as
/// epoch milliseconds, keys sorted so equal values give equal bytes.
public enum JSONPayload {
    /// Encodes a value to JSON bytes. Encoding our own `Codable` value types cannot fail; a failure is a
    /// programming error and is reported as `StoreError.invalidData`.
    public static func encode(_ value: some Encodable) throws -> [UInt8] {
        if let fast = value as? any FastJSONCodable {
            var writer = JSONBytesWriter()
            fast.writeJSON(into: &writer)
            return writer.bytes
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return Array(try encoder.encode(value))
        } catch {
            throw StoreError.invalidData("encoding \(type(of: value)): \(error)")
        }
    }

    /// Decodes JSON bytes, mapping any failure to `StoreError.invalidData` (a poison message).
    public static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]?) throws -> T {
        guard let bytes else { throw StoreError.invalidData("\(T.self): empty message") }
        if let fast = T.self as? any FastJSONCodable.Type {
            let json: JSONTree
            do {
                json = try JSONBytesReader.parse(bytes)
            } catch {
                throw StoreError.invalidData("\(T.self): \(error)")
            }
            guard let value = try fast.init(json: json) as? T else { throw StoreError.invalidData("\(T.self)") }
            return value
        }
        do {
            return try JSONDecoder().decode(T.self, from: Data(bytes))
        } catch {
            throw StoreError.invalidData("\(T.self): \(error)")
        }
    }
}
