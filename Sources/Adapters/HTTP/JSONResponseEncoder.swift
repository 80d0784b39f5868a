import Domain
import WireFormat

/// The one JSON encoder of every API response.
///
/// It encodes any `Encodable` (domain values included) with two API rules that `JSONEncoder` cannot apply to
/// types it does not own: every `Timestamp` becomes an ISO-8601 UTC string with milliseconds
/// (`2025-03-14T08:15:30.000Z`), and non-finite doubles become `null`. Keys keep their declaration order;
/// `nil` optionals are omitted.
public enum JSONResponseEncoder {
    /// Encodes `value` to UTF-8 JSON bytes.
    public static func encode(_ value: some Encodable) throws -> [UInt8] {
        let root = Node()
        try Node.encode(value, into: root, codingPath: [])
        var out: [UInt8] = []
        out.reserveCapacity(256)
        root.write(to: &out)
        return out
    }

    /// Encodes `value` to a JSON string.
    public static func encodeString(_ value: some Encodable) throws -> String {
        String(decoding: try encode(value), as: UTF8.self)
    }
}

// MARK: - Tree

/// A mutable JSON tree node; containers hand out references so nested containers can fill them later.
final class Node {
    enum Value {
        case unset
        case null
        case bool(Bool)
        case number(String)
        case string(String)
        case array([Node])
        case object(keys: [String], values: [String: Node])
    }

    var value: Value = .unset

    static func encode<T: Encodable>(_ value: T, into node: Node, codingPath: [any CodingKey]) throws {
        switch value {
        case let timestamp as Timestamp:
            node.value = .string(ISO8601.format(timestamp))
        case let double as Double:
            node.value = double.isFinite ? .number(String(double)) : .null
        case let float as Float:
            node.value = float.isFinite ? .number(String(Double(float))) : .null
        default:
            try value.encode(to: TreeEncoder(node: node, codingPath: codingPath))
        }
    }

    func appendChild() -> Node {
        let child = Node()
        if case .array(var nodes) = value {
            value = .unset
            nodes.append(child)
            value = .array(nodes)
        } else {
            value = .array([child])
        }
        return child
    }

    func child(forKey key: String) -> Node {
        let child = Node()
        if case .object(var keys, var values) = value {
            value = .unset
            if values.updateValue(child, forKey: key) == nil { keys.append(key) }
            value = .object(keys: keys, values: values)
        } else {
            value = .object(keys: [key], values: [key: child])
        }
        return child
    }

    func makeObject() {
        if case .object = value { return }
        value = .object(keys: [], values: [:])
    }

    func makeArray() {
        if case .array = value { return }
        value = .array([])
    }

    func write(to out: inout [UInt8]) {
        switch value {
        case .unset, .null:
            out.append(contentsOf: "null".utf8)
        case .bool(let b):
            out.append(contentsOf: (b ? "true" : "false").utf8)
        case .number(let text):
            out.append(contentsOf: text.utf8)
        case .string(let s):
            Node.writeString(s, to: &out)
        case .array(let nodes):
            out.append(UInt8(ascii: "["))
            for (i, node) in nodes.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                node.write(to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let keys, let values):
            out.append(UInt8(ascii: "{"))
            var first = true
            for key in keys {
                guard let node = values[key] else { continue }
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                Node.writeString(key, to: &out)
                out.append(UInt8(ascii: ":"))
                node.write(to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// The one JSON string escaper (`WireFormat`), shared with the bus payloads and the simulator.
    static func writeString(_ s: String, to out: inout [UInt8]) {
        JSONBytesWriter.appendString(s, to: &out)
    }
}

// MARK: - Encoder

private struct TreeEncoder: Encoder {
    let node: Node
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        node.makeObject()
        return KeyedEncodingContainer(KeyedContainer<Key>(node: node, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        node.makeArray()
        return UnkeyedContainer(node: node, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        SingleContainer(node: node, codingPath: codingPath)
    }
}

private struct IndexKey: CodingKey {
    var intValue: Int?
    var stringValue: String { "\(intValue ?? 0)" }
    init(_ index: Int) { intValue = index }
    init?(stringValue: String) { nil }
    init?(intValue: Int) { self.intValue = intValue }
}

private struct KeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let node: Node
    let codingPath: [any CodingKey]

    mutating func encodeNil(forKey key: Key) throws { node.child(forKey: key.stringValue).value = .null }
    mutating func encode(_ value: Bool, forKey key: Key) throws {
        node.child(forKey: key.stringValue).value = .bool(value)
    }
    mutating func encode(_ value: String, forKey key: Key) throws {
        node.child(forKey: key.stringValue).value = .string(value)
    }
    mutating func encode(_ value: Int, forKey key: Key) throws {
        node.child(forKey: key.stringValue).value = .number(String(value))
    }
    mutating func encode(_ value: Int64, forKey key: Key) throws {
        node.child(forKey: key.stringValue).value = .number(String(value))
    }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try Node.encode(value, into: node.child(forKey: key.stringValue), codingPath: codingPath + [key])
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type,
        forKey key: Key
    )
        -> KeyedEncodingContainer<NestedKey>
    {
        let child = node.child(forKey: key.stringValue)
        child.makeObject()
        return KeyedEncodingContainer(KeyedContainer<NestedKey>(node: child, codingPath: codingPath + [key]))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let child = node.child(forKey: key.stringValue)
        child.makeArray()
        return UnkeyedContainer(node: child, codingPath: codingPath + [key])
    }

    mutating func superEncoder() -> any Encoder {
        TreeEncoder(node: node.child(forKey: "super"), codingPath: codingPath)
    }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        TreeEncoder(node: node.child(forKey: key.stringValue), codingPath: codingPath + [key])
    }
}

private struct UnkeyedContainer: UnkeyedEncodingContainer {
    let node: Node
    let codingPath: [any CodingKey]
    var count: Int {
        if case .array(let nodes) = node.value { return nodes.count }
        return 0
    }

    mutating func encodeNil() throws { node.appendChild().value = .null }
    mutating func encode(_ value: Bool) throws { node.appendChild().value = .bool(value) }
    mutating func encode(_ value: String) throws { node.appendChild().value = .string(value) }
    mutating func encode(_ value: Int) throws { node.appendChild().value = .number(String(value)) }
    mutating func encode<T: Encodable>(_ value: T) throws {
        let path = codingPath + [IndexKey(count)]
        try Node.encode(value, into: node.appendChild(), codingPath: path)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type
    )
        -> KeyedEncodingContainer<NestedKey>
    {
        let path = codingPath + [IndexKey(count)]
        let child = node.appendChild()
        child.makeObject()
        return KeyedEncodingContainer(KeyedContainer<NestedKey>(node: child, codingPath: path))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let path = codingPath + [IndexKey(count)]
        let child = node.appendChild()
        child.makeArray()
        return UnkeyedContainer(node: child, codingPath: path)
    }

    mutating func superEncoder() -> any Encoder {
        TreeEncoder(node: node.appendChild(), codingPath: codingPath)
    }
}

private struct SingleContainer: SingleValueEncodingContainer {
    let node: Node
    let codingPath: [any CodingKey]

    mutating func encodeNil() throws { node.value = .null }
    mutating func encode(_ value: Bool) throws { node.value = .bool(value) }
    mutating func encode(_ value: String) throws { node.value = .string(value) }
    mutating func encode(_ value: Double) throws { node.value = value.isFinite ? .number(String(value)) : .null }
    mutating func encode(_ value: Float) throws {
        node.value = value.isFinite ? .number(String(Double(value))) : .null
    }
    mutating func encode(_ value: Int) throws { node.value = .number(String(value)) }
    mutating func encode(_ value: Int8) throws { node.value = .number(String(value)) }
    mutating func encode(_ value: Int16) throws { node.value = .number(String(value)) }
    mutating func encode(_ value: Int32) throws { node.value = .number(String(value)) }
    mutating func encode(_ value: Int64) throws { node.value = .number(String(value)) }
    mutating func encode(_ value: UInt) throws { node.value = .number(String(value)) }
    mutating func encode(_ value: UInt8) throws { node.value = .number(String(value)) }
    mutating func encode(_ value: UInt16) throws { node.value = .number(String(value)) }
    mutating func encode(_ value: UInt32) throws { node.value = .number(String(value)) }
    mutating func encode(_ value: UInt64) throws { node.value = .number(String(value)) }
    mutating func encode<T: Encodable>(_ value: T) throws {
        try Node.encode(value, into: node, codingPath: codingPath)
    }
}
