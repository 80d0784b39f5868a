import Domain
import HTTPAdapters
import Testing
import WireFormat

@Suite("ISO-8601")
struct ISO8601Tests {
    static let fix: Int64 = 1_741_940_130_000  // 2025-03-14T08:15:30Z

    /// Every form Traccar (Jackson, old and new) and API clients send parses to the same instant.
    @Test(arguments: [
        ("2025-03-14T08:15:30.000+00:00", fix),
        ("2025-03-14T08:15:30.000+0000", fix),
        ("2025-03-14T08:15:30.000Z", fix),
        ("2025-03-14T08:15:30Z", fix),
        ("2025-03-14T08:15:30+00:00", fix),
        ("2025-03-14T08:15:30+00", fix),
        ("2025-03-14t08:15:30z", fix),
        ("2025-03-14 08:15:30Z", fix),
        ("2025-03-14T08:15:30.482+00:00", fix + 482),
        ("2025-03-14T08:15:30.4+00:00", fix + 400),
        ("2025-03-14T08:15:30.48Z", fix + 480),
        ("2025-03-14T08:15:30.123456789Z", fix + 123),
        ("2025-03-14T10:15:30.000+02:00", fix),
        ("2025-03-14T03:15:30-0500", fix),
        ("2025-03-14T13:45:30+05:30", fix),
        ("1970-01-01T00:00:00Z", 0),
        ("1969-12-31T23:59:59.999Z", -1),
        ("2024-02-29T00:00:00Z", 1_709_164_800_000),
    ])
    func parses(text: String, millis: Int64) {
        #expect(ISO8601.parse(text) == Timestamp(millisecondsSinceEpoch: millis))
    }

    /// Malformed, zone-less or impossible timestamps are refused rather than guessed.
    @Test(arguments: [
        "", "2025-03-14", "2025-03-14T08:15:30", "2025-03-14T08:15:30.000", "2025-13-14T08:15:30Z",
        "2025-02-29T08:15:30Z", "2025-03-32T08:15:30Z", "2025-03-14T24:00:00Z", "2025-03-14T08:60:00Z",
        "2025-03-14T08:15:61Z", "2025-03-14T08:15:30.Z", "2025-03-14T08:15:30.0000000000Z", "2025-03-14T08:15:30+0",
        "2025-03-14T08:15:30+00:0", "2025-03-14T08:15:30+25:00", "2025-03-14T08:15:30Zjunk", "20250314T081530Z",
        "2025-03-14X08:15:30Z", "NaN", "1741940130000", "２０２５-03-14T08:15:30Z",
    ])
    func rejects(text: String) {
        #expect(ISO8601.parse(text) == nil)
    }

    /// Responses always carry UTC with milliseconds.
    @Test(arguments: [
        (fix, "2025-03-14T08:15:30.000Z"),
        (fix + 7, "2025-03-14T08:15:30.007Z"),
        (0, "1970-01-01T00:00:00.000Z"),
        (-1, "1969-12-31T23:59:59.999Z"),
        (253_402_300_799_999, "9999-12-31T23:59:59.999Z"),
    ])
    func formats(millis: Int64, text: String) {
        #expect(ISO8601.format(Timestamp(millisecondsSinceEpoch: millis)) == text)
    }

    /// format ∘ parse is the identity over a wide range.
    @Test func roundTrips() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let millis = Int64.random(in: -2_208_988_800_000...4_102_444_800_000, using: &generator)
            let t = Timestamp(millisecondsSinceEpoch: millis)
            #expect(ISO8601.parse(ISO8601.format(t)) == t)
        }
    }

    /// Query values accept epoch milliseconds too.
    @Test func epochMillisOrISO() {
        #expect(ISO8601.parseTimestampOrEpochMillis("1741940130000") == Timestamp(millisecondsSinceEpoch: Self.fix))
        #expect(
            ISO8601.parseTimestampOrEpochMillis("2025-03-14T08:15:30Z")
                == Timestamp(millisecondsSinceEpoch: Self.fix)
        )
        #expect(ISO8601.parseTimestampOrEpochMillis("-5") == Timestamp(millisecondsSinceEpoch: -5))
        #expect(ISO8601.parseTimestampOrEpochMillis("12ab") == nil)
        #expect(ISO8601.parseTimestampOrEpochMillis("99999999999999999999999") == nil)
    }
}
