import Application
import Domain
import Foundation
import HTTPAdapters
import Testing

@Suite("JSON response encoding")
struct JSONResponseEncoderTests {
    /// Timestamps anywhere in a domain value become ISO-8601 strings; nil optionals are omitted.
    @Test func domainValue() throws {
        let fix = Timestamp(millisecondsSinceEpoch: 1_741_940_130_482)
        let visit = PlannedVisit(
            id: "v1",
            tenantId: "acme",
            routeId: "r1",
            driverId: "d1",
            customerId: "c1",
            sequenceNumber: 1,
            scheduledDate: CalendarDate(year: 2025, month: 3, day: 14),
            timeWindow: TimeWindow(start: fix, end: fix + .seconds(3600)),
            status: .inProgress,
            arrivedAt: fix
        )
        let json = try JSONResponseEncoder.encodeString(visit)
        #expect(json.contains(#""arrivedAt":"2025-03-14T08:15:30.482Z""#))
        #expect(json.contains(#""timeWindow":{"start":"2025-03-14T08:15:30.482Z","end":"2025-03-14T09:15:30.482Z"}"#))
        #expect(json.contains(#""scheduledDate":"2025-03-14""#))
        #expect(json.contains(#""status":"in_progress""#))
        #expect(!json.contains("completedAt"))
        #expect(json.hasPrefix(#"{"id":"v1","tenantId":"acme""#))
    }

    /// Output is valid JSON: strings escaped, non-finite numbers null, arrays and nesting intact.
    @Test func validJSON() throws {
        struct Sample: Encodable {
            var text = "quote \" backslash \\ newline \n tab \t bell \u{7} ünïcödé 🚚"
            var numbers: [Double] = [1.5, .nan, .infinity, -0.0, 1e-7]
            var ints: [Int64] = [Int64.min, 0, Int64.max]
            var flag = true
            var nested: [String: [Timestamp]] = ["t": [Timestamp(millisecondsSinceEpoch: 0)]]
            var optional: String? = nil
        }
        let bytes = try JSONResponseEncoder.encode(Sample())
        let object = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        #expect(object["text"] as? String == Sample().text)
        let numbers = try #require(object["numbers"] as? [Any])
        #expect(numbers.count == 5)
        #expect(numbers[1] is NSNull)
        #expect(numbers[2] is NSNull)
        #expect((object["nested"] as? [String: [String]])?["t"] == ["1970-01-01T00:00:00.000Z"])
        #expect(object["optional"] == nil)
        #expect(object["flag"] as? Bool == true)
    }
}
