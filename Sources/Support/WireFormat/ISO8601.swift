public import Domain

/// A small ISO-8601 / RFC 3339 parser and formatter for the timestamps the API reads and writes.
///
/// Parsing accepts what Traccar 5.12–6.14 (Jackson `StdDateFormat`) and API clients send:
/// `2025-03-14T08:15:30.000+00:00`, `…+0000`, `…+00`, `…Z`, with or without fractional seconds
/// (1–9 digits, truncated to milliseconds), years 0001–9999. A zone designator is required. It works on UTF-8
/// bytes without Foundation and without allocating. `openapi.yaml`'s `TimestampText` pattern is this grammar.
///
/// Formatting always writes UTC with milliseconds: `2025-03-14T08:15:30.000Z`.
public enum ISO8601 {
    /// Parses an ISO-8601 timestamp with a zone designator; nil when `text` is not one.
    public static func parse(_ text: some StringProtocol) -> Timestamp? {
        var text = String(text)
        return text.withUTF8 { parse(bytes: $0) }
    }

    /// Parses an ISO-8601 timestamp from UTF-8 bytes; nil when they are not one.
    public static func parse(bytes b: UnsafeBufferPointer<UInt8>) -> Timestamp? {
        // Shortest accepted form: YYYY-MM-DDTHH:MM:SSZ (20 bytes).
        guard b.count >= 20, b.count <= 64 else { return nil }
        guard let year = digits(b, 0, 4), b[4] == 0x2D,
            let month = digits(b, 5, 2), b[7] == 0x2D,
            let day = digits(b, 8, 2),
            b[10] == UInt8(ascii: "T") || b[10] == UInt8(ascii: "t") || b[10] == UInt8(ascii: " "),
            let hour = digits(b, 11, 2), b[13] == 0x3A,
            let minute = digits(b, 14, 2), b[16] == 0x3A,
            let second = digits(b, 17, 2)
        else { return nil }
        guard year >= 1, (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year),
            hour <= 23, minute <= 59, second <= 59
        else { return nil }

        var i = 19
        var millis = 0
        if b[i] == UInt8(ascii: ".") || b[i] == UInt8(ascii: ",") {
            i += 1
            let start = i
            while i < b.count, let d = digit(b[i]) {
                if i - start < 3 { millis = millis * 10 + d }
                i += 1
            }
            let count = i - start
            guard count >= 1, count <= 9 else { return nil }
            if count == 1 { millis *= 100 } else if count == 2 { millis *= 10 }
        }
        guard i < b.count else { return nil }  // zone designator required

        var offsetSeconds = 0
        switch b[i] {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            i += 1
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            let sign = b[i] == UInt8(ascii: "-") ? -1 : 1
            i += 1
            guard let oh = digits(b, i, 2) else { return nil }
            i += 2
            var om = 0
            if i < b.count {
                if b[i] == 0x3A { i += 1 }
                guard let m = digits(b, i, 2) else { return nil }
                om = m
                i += 2
            }
            guard oh <= 23, om <= 59 else { return nil }
            offsetSeconds = sign * (oh * 3600 + om * 60)
        default:
            return nil
        }
        guard i == b.count else { return nil }

        let days = daysFromCivil(year: year, month: month, day: day)
        let seconds = days * 86_400 + Int64(hour * 3600 + minute * 60 + second - offsetSeconds)
        return Timestamp(millisecondsSinceEpoch: seconds * 1000 + Int64(millis))
    }

    /// Formats `timestamp` as UTC with milliseconds: `2025-03-14T08:15:30.000Z`.
    public static func format(_ timestamp: Timestamp) -> String {
        let ms = timestamp.millisecondsSinceEpoch
        var days = ms / 86_400_000
        var rest = ms % 86_400_000
        if rest < 0 {
            rest += 86_400_000
            days -= 1
        }
        let date = CalendarDate(containing: Timestamp(millisecondsSinceEpoch: days * 86_400_000))
        let hour = Int(rest / 3_600_000)
        let minute = Int(rest / 60_000 % 60)
        let second = Int(rest / 1000 % 60)
        let milli = Int(rest % 1000)
        guard (0...9999).contains(date.year) else {
            return "\(date)T\(pad(hour, 2)):\(pad(minute, 2)):\(pad(second, 2)).\(pad(milli, 3))Z"
        }
        return String(unsafeUninitializedCapacity: 24) { buffer in
            func put(_ value: Int, _ width: Int, at offset: Int) {
                var v = value
                for k in stride(from: offset + width - 1, through: offset, by: -1) {
                    buffer[k] = UInt8(ascii: "0") + UInt8(v % 10)
                    v /= 10
                }
            }
            put(date.year, 4, at: 0)
            buffer[4] = 0x2D
            put(date.month, 2, at: 5)
            buffer[7] = 0x2D
            put(date.day, 2, at: 8)
            buffer[10] = UInt8(ascii: "T")
            put(hour, 2, at: 11)
            buffer[13] = 0x3A
            put(minute, 2, at: 14)
            buffer[16] = 0x3A
            put(second, 2, at: 17)
            buffer[19] = UInt8(ascii: ".")
            put(milli, 3, at: 20)
            buffer[23] = UInt8(ascii: "Z")
            return 24
        }
    }

    /// The epoch milliseconds the API accepts: the instants of years 0001–9999 in UTC
    /// (0001-01-01T00:00:00.000Z … 9999-12-31T23:59:59.999Z), so that no arithmetic on them overflows.
    public static let epochMillisRange: ClosedRange<Int64> = -62_135_596_800_000...253_402_300_799_999

    /// Parses a query value that is either an ISO-8601 timestamp or epoch milliseconds (`-?[0-9]+` within
    /// `epochMillisRange`).
    public static func parseTimestampOrEpochMillis(_ text: some StringProtocol) -> Timestamp? {
        var body = Substring(text)
        if body.hasPrefix("-") { body = body.dropFirst() }
        guard !body.isEmpty, body.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return parse(text) }
        guard body.utf8.count <= 19, let ms = Int64(text), epochMillisRange.contains(ms) else { return nil }
        return Timestamp(millisecondsSinceEpoch: ms)
    }

    // MARK: Helpers

    @inline(__always)
    private static func digit(_ byte: UInt8) -> Int? {
        byte >= 0x30 && byte <= 0x39 ? Int(byte &- 0x30) : nil
    }

    @inline(__always)
    private static func digits(_ b: UnsafeBufferPointer<UInt8>, _ offset: Int, _ count: Int) -> Int? {
        guard offset + count <= b.count else { return nil }
        var value = 0
        for k in offset..<(offset + count) {
            guard let d = digit(b[k]) else { return nil }
            value = value * 10 + d
        }
        return value
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Howard Hinnant's days_from_civil: days since 1970-01-01 of a proleptic Gregorian date.
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let m = Int64(month)
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + Int64(day) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let s = String(value)
        return String(repeating: "0", count: max(0, width - s.count)) + s
    }
}
