import Application
import Domain
import Foundation
import HTTPAdapters
import Hummingbird
import HummingbirdTesting
import Testing
import WireFormat

/// The patterns of `openapi.yaml` are the server's grammars, checked on the same strings: what one accepts, the
/// other accepts (so a client generated from the description, or schemathesis, meets the server's rules).
@Suite("OpenAPI patterns")
struct DescriptionPatternTests {
    /// The `pattern` of component schema `name` (two-space block YAML, single-quoted scalar); for a schema with
    /// several, the first.
    static func pattern(_ name: String) throws -> String {
        let yaml = try #require(OpenAPIDocument.text)
        var inSchema = false
        for line in yaml.split(separator: "\n") {
            if line == "    \(name):" {
                inSchema = true
                continue
            }
            guard inSchema else { continue }
            if line.prefix(while: { $0 == " " }).count <= 4 { break }
            // `pattern: '…'` on its own line or inside a flow mapping; none of the patterns has a quote.
            if let start = line.range(of: "pattern: '"), let end = line[start.upperBound...].firstIndex(of: "'") {
                return String(line[start.upperBound..<end])
            }
        }
        Issue.record("no pattern for \(name)")
        return "(?!)"
    }

    /// JSON Schema's (ECMA-262) reading: a search anywhere in the string, `^`/`$` anchoring at its very start and
    /// end (ICU's `$` would also match before a final line break: `\z` is ECMA's `$`).
    static func matches(_ pattern: String, _ text: String) throws -> Bool {
        let ecma = pattern.hasSuffix("$") ? String(pattern.dropLast()) + "\\z" : pattern
        let regex = try NSRegularExpression(pattern: ecma)
        let range = NSRange(text.startIndex..., in: text)
        return regex.firstMatch(in: text, range: range) != nil
    }

    static func samples(of parts: [[String]], count: Int) -> [String] {
        var generator = SeededGenerator(seed: 16)
        var result: [String] = []
        for _ in 0..<count {
            result.append(parts.map { $0.randomElement(using: &generator) ?? "" }.joined())
        }
        return result
    }

    /// `TimestampText` is `ISO8601.parse`'s grammar: dates of the calendar (leap years included), years 0001–9999,
    /// `T`/`t`/space, 1–9 fractional digits, the zone forms.
    @Test func timestampText() throws {
        let pattern = try Self.pattern("TimestampText")
        let years = [
            "0000", "0001", "0004", "0100", "0400", "1900", "2000", "2024", "2025", "2100", "9999", "+999", "20x5",
        ]
        let monthDays = [
            "01-31", "02-28", "02-29", "02-30", "04-30", "04-31", "12-31", "13-01", "00-10", "06-00", "07-32", "1-01",
        ]
        let separators = ["T", "t", " ", "X", "TT"]
        let times = ["00:00:00", "23:59:59", "24:00:00", "12:60:00", "12:00:60", "9:00:00", "12:00"]
        let fractions = ["", ".5", ",25", ".123456789", ".1234567890", ".", ",", ".1a"]
        let zones = [
            "Z", "z", "+00:00", "-23:59", "+0530", "+05", "+24:00", "+00:60", "+0", "+00:0", "", "Zjunk", "+00:",
        ]
        var samples = Self.samples(
            of: [years, ["-"], monthDays, separators, times, fractions, zones],
            count: 20_000
        )
        samples += ["", "2025-03-14", "1741940130000", "２０２５-03-14T08:15:30Z", "2025-03-14T08:15:30Z\n"]
        for text in samples {
            let server = ISO8601.parse(text) != nil
            #expect(try Self.matches(pattern, text) == server, "\(text): server \(server)")
        }
    }

    /// `QueryTimestamp`'s text is `TimestampText` without the space separator, as the history's `from`/`to` read
    /// it; its integers are the epoch milliseconds of years 0001–9999.
    @Test func queryTimestamp() async throws {
        let pattern = try Self.pattern("QueryTimestamp")
        #expect(try Self.pattern("TimestampText").replacingOccurrences(of: "[Tt ]", with: "[Tt]") == pattern)
        let api = TestAPI()
        let viewer = try await api.token(.viewer)
        let cases: [(String, Bool)] = [
            ("2025-03-14T08:15:30Z", true), ("2025-03-14t08:15:30.5+01:00", true), ("2025-03-14 08:15:30Z", false),
            ("2025-03-14+08:15:30Z", false), ("-62135596800000", true), ("253402300799999", true),
            ("253402300800000", false), ("-62135596800001", false), ("+5", false), ("5.0", false),
        ]
        try await APIRouteTests.seeded(api) { client in
            for (text, accepted) in cases {
                let isInteger = Int64(text).map { ISO8601.epochMillisRange.contains($0) } ?? false
                #expect((try Self.matches(pattern, text) || isInteger && !text.hasPrefix("+")) == accepted, "\(text)")
                var allowed = CharacterSet.alphanumerics
                allowed.insert(charactersIn: "-.:")
                let query = text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
                let response = try await client.api(.get, "/api/drivers/van-7/history?to=\(query)", token: viewer)
                #expect((response.status == .ok) == accepted, "\(text): \(response.text)")
            }
        }
    }

    /// `CalendarDate`'s pattern plus `format: date` is `CalendarDate(_:)`: ASCII digits, years 0001–9999.
    @Test func calendarDate() throws {
        let pattern = try Self.pattern("CalendarDate")
        for text in Self.samples(
            of: [
                ["0000", "0001", "2024", "2025", "9999", "+999", "999", "٢٠٢٥"], ["-"], ["02", "13", "2"], ["-"],
                ["29", "28", "32"],
            ],
            count: 2_000
        ) {
            let server = CalendarDate(text) != nil
            // The pattern leaves the calendar to `format: date`: a date the server refuses for its day or month
            // may match it, one it accepts always does.
            if server { #expect(try Self.matches(pattern, text), "\(text)") }
            if text.hasPrefix("0000") || text.hasPrefix("+") || !text.utf8.allSatisfy({ $0 < 0x80 }) {
                #expect(!server, "\(text)")
                #expect(try !Self.matches(pattern, text), "\(text)")
            }
        }
    }

    /// `Identifier` is `Validation.identifier`.
    @Test func identifier() throws {
        let pattern = try Self.pattern("Identifier")
        let alphabet = ["a", "Z", "0", ".", "/", ":", " ", "~", "!", "-", "\u{7F}", "\u{1F}", "é", "%", "?", "#"]
        var samples = ["", ".", "..", "...", "a.", ".a", "..a", String(repeating: "x", count: 128)]
        samples.append(String(repeating: "x", count: 129))
        for length in 1...4 { samples += Self.samples(of: Array(repeating: alphabet, count: length), count: 1_500) }
        for text in samples {
            let server: Bool
            do {
                try Validation.identifier(text, field: "id")
                server = true
            } catch {
                server = false
            }
            #expect(try Self.matches(pattern, text) == server, "\(text.debugDescription): server \(server)")
        }
    }

    /// `Name` (and `DeviceId`) is "not blank": some character outside Unicode `White_Space`.
    @Test(arguments: ["Name", "DeviceId"])
    func nonBlank(schema: String) throws {
        let pattern = try Self.pattern(schema)
        var scalars = (0..<0x3100).compactMap { Unicode.Scalar(UInt32($0)) }
        scalars += [Unicode.Scalar(0xFEFF)!, Unicode.Scalar(0x1F600)!]
        for scalar in scalars {
            for text in [String(scalar), " \(scalar)\t"] {
                #expect(
                    try Self.matches(pattern, text) == !Validation.isBlank(text),
                    "U+\(String(scalar.value, radix: 16))"
                )
            }
        }
    }

    /// A battery level as text (`^[0-9]+(?:\.[0-9]+)?$` in `TraccarPositionShape`) is what `TraccarPayload` reads
    /// as a number; anything else as text is refused.
    @Test func decimalText() throws {
        let pattern = #"^[0-9]+(?:\.[0-9]+)?$"#
        #expect(try #require(OpenAPIDocument.text).contains("pattern: '\(pattern)'"))
        let parts = [["", "0", "87", "100", "-1", "+1", " "], ["", ".", ".5", "e2", "x"], ["", "0", "\n"]]
        for text in Self.samples(of: parts, count: 3_000) {
            let body = Fixtures.positionA(replacing: "batteryLevel", with: "\"\(text)\"")
            let decoded = try? TraccarPayload.decodePosition(Array(body.utf8))
            #expect((decoded != nil) == (try Self.matches(pattern, text)), "\(text.debugDescription)")
            if let decoded { #expect(decoded.batteryLevel == Double(text)) }
        }
    }
}

/// SplitMix64: reproducible samples.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE5_E4B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
