/// A value bound to, or read from, SQLite: one case per storage class.
package enum SQLiteValue: Hashable, Sendable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])

    /// `.text(value)`, or `.null` when `value` is nil.
    package static func text(_ value: String?) -> SQLiteValue { value.map { .text($0) } ?? .null }
    /// `.integer(value)`, or `.null` when `value` is nil.
    package static func integer(_ value: Int?) -> SQLiteValue { value.map { .integer(Int64($0)) } ?? .null }
    /// `.integer(value)`, or `.null` when `value` is nil.
    package static func integer(_ value: Int64?) -> SQLiteValue { value.map { .integer($0) } ?? .null }
    /// `.real(value)`, or `.null` when `value` is nil.
    package static func real(_ value: Double?) -> SQLiteValue { value.map { .real($0) } ?? .null }
    /// `1`/`0`, or `.null` when `value` is nil.
    package static func bool(_ value: Bool?) -> SQLiteValue { value.map { .integer($0 ? 1 : 0) } ?? .null }

    /// The value as an integer, converting reals and numeric text as SQLite would; nil for NULL.
    package var int64: Int64? {
        switch self {
        case .null: nil
        case .integer(let v): v
        case .real(let v): Int64(exactly: v.rounded(.towardZero)) ?? Int64(v)
        case .text(let v): Int64(v)
        case .blob: nil
        }
    }

    /// The value as a double; nil for NULL.
    package var double: Double? {
        switch self {
        case .null: nil
        case .integer(let v): Double(v)
        case .real(let v): v
        case .text(let v): Double(v)
        case .blob: nil
        }
    }

    /// The value as text; nil for NULL.
    package var text: String? {
        switch self {
        case .null: nil
        case .integer(let v): String(v)
        case .real(let v): String(v)
        case .text(let v): v
        case .blob(let v): String(decoding: v, as: UTF8.self)
        }
    }

    /// The value as bytes; nil for NULL.
    package var blob: [UInt8]? {
        switch self {
        case .null: nil
        case .blob(let v): v
        case .text(let v): Array(v.utf8)
        case .integer, .real: text.map { Array($0.utf8) }
        }
    }

    /// Whether the value is NULL.
    package var isNull: Bool { if case .null = self { true } else { false } }
}

extension SQLiteValue: ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral, ExpressibleByStringLiteral,
    ExpressibleByNilLiteral
{
    /// An integer literal binds as `.integer`.
    package init(integerLiteral value: Int64) { self = .integer(value) }
    /// A float literal binds as `.real`.
    package init(floatLiteral value: Double) { self = .real(value) }
    /// A string literal binds as `.text`.
    package init(stringLiteral value: String) { self = .text(value) }
    /// `nil` binds as `.null`.
    package init(nilLiteral: ()) { self = .null }
}
