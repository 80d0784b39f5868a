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
