import Application
import Domain

/// Text encodings of domain values for bound parameters, and the SQL that reads them back.
enum PG {
    /// `2024-03-15 00:00:00.123+00`: exact to the millisecond (timestamptz keeps microseconds).
    static func timeText(_ timestamp: Timestamp) -> String {
        let millis = timestamp.millisecondsSinceEpoch
        let date = CalendarDate(containing: timestamp)
        let ofDay = millis - date.startOfDay.millisecondsSinceEpoch
        let hours = ofDay / 3_600_000
        let minutes = ofDay / 60_000 % 60
        let seconds = ofDay / 1000 % 60
        let fraction = ofDay % 1000
        return "\(date) \(pad(hours, 2)):\(pad(minutes, 2)):\(pad(seconds, 2)).\(pad(fraction, 3))+00"
    }

    static func time(_ timestamp: Timestamp?) -> String? { timestamp.map { timeText($0) } }

    private static func pad(_ value: Int64, _ width: Int) -> String {
        let text = String(value)
        return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
    }

    static func double(_ value: Double?) -> String? { value.map { "\($0)" } }
    static func int(_ value: Int) -> String { "\(value)" }
    static func bool(_ value: Bool?) -> String? { value.map { $0 ? "t" : "f" } }

    /// SQL reading a timestamptz column as milliseconds since the epoch.
    static func millis(_ column: String) -> String { "(extract(epoch from \(column)) * 1000)::int8" }

    /// The timestamp of milliseconds read with `millis`.
    static func timestamp(_ millis: Int64?) -> Timestamp? { millis.map { Timestamp(millisecondsSinceEpoch: $0) } }

    /// A date read from a `date` column (`DateStyle=ISO`).
    static func date(_ text: String?) throws -> CalendarDate {
        guard let text, let date = CalendarDate(text) else {
            throw StoreError.invalidData("bad date \(text ?? "NULL")")
        }
        return date
    }
}

/// Decodes a stored enum raw value, or throws `StoreError.invalidData`.
func decodeRaw<E: RawRepresentable>(_ type: E.Type, _ raw: String?) throws -> E where E.RawValue == String {
    guard let raw, let value = E(rawValue: raw) else {
        throw StoreError.invalidData("unknown \(E.self) \(raw ?? "NULL")")
    }
    return value
}

/// PostgreSQL array literals for bound parameters (`$1::text[]`), so a batch of any size is one statement
/// with a fixed number of parameters.
enum PGArray {
    /// `{"a","b\"c",NULL}`: every element quoted, `"` and `\` escaped, `nil` as `NULL`.
    static func text(_ values: [String?]) -> String {
        var out = "{"
        out.reserveCapacity(values.count * 16)
        for (index, value) in values.enumerated() {
            if index > 0 { out.append(",") }
            guard let value else {
                out.append("NULL")
                continue
            }
            out.append("\"")
            for character in value.unicodeScalars {
                if character == "\"" || character == "\\" { out.append("\\") }
                out.unicodeScalars.append(character)
            }
            out.append("\"")
        }
        out.append("}")
        return out
    }

    /// `{1.5,2,NULL}`; a non-finite value is `NULL` (the validator never lets one through).
    static func numbers(_ values: [Double?]) -> String {
        var out = "{"
        out.reserveCapacity(values.count * 12)
        for (index, value) in values.enumerated() {
            if index > 0 { out.append(",") }
            if let value, value.isFinite { out.append("\(value)") } else { out.append("NULL") }
        }
        out.append("}")
        return out
    }
}

extension PGArray {
    /// `{1,2,3}`.
    static func integers(_ values: [Int]) -> String {
        "{" + values.map(String.init).joined(separator: ",") + "}"
    }
}

extension CalendarDate {
    /// The date `days` later (earlier when negative).
    func adding(days: Int) -> CalendarDate {
        CalendarDate(
            containing: Timestamp(millisecondsSinceEpoch: startOfDay.millisecondsSinceEpoch + Int64(days) * 86_400_000)
        )
    }
}
