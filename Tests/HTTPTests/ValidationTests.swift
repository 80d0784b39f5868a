import Application
import Domain
import Foundation
import HTTPAdapters
import Hummingbird
import HummingbirdTesting
import Testing
import WireFormat

/// The edges of input validation (issue 16): what the server refuses, with which status and which `field`, and
/// that it allows what `openapi.yaml` allows.
@Suite("Input validation")
struct ValidationTests {
    /// `text` with the first `marker` replaced by `bytes` (so a body can carry bytes that are not UTF-8).
    static func bytes(_ text: String, replacing marker: String = "@@", with bytes: [UInt8]) -> [UInt8] {
        let source = Array(text.utf8)
        let needle = Array(marker.utf8)
        guard
            let start = (0...(source.count - needle.count)).first(where: {
                Array(source[$0..<$0 + needle.count]) == needle
            })
        else { return source }
        return Array(source[..<start]) + bytes + Array(source[(start + needle.count)...])
    }

    /// Ill-formed UTF-8: a lone continuation byte, a truncated sequence, an overlong `/`, a surrogate, 0xFF.
    static let illFormed: [[UInt8]] = [
        [0x80], [0x73, 0x6F, 0x73, 0xE2, 0x82], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xFF],
    ]

    // MARK: Invalid UTF-8

    /// A webhook string that is not UTF-8 is refused with 400 naming it, never stored as U+FFFD.
    @Test(arguments: [
        ("position.protocol", "/api/traccar/positions", Fixtures.positionA(replacing: "protocol", with: "\"@@\"")),
        (
            "position.attributes.alarm", "/api/traccar/positions",
            Fixtures.positionA(replacing: "motion", with: "true,\"alarm\":\"sos@@\"")
        ),
        ("device.uniqueId", "/api/traccar/positions", Fixtures.positionA(replacing: "uniqueId", with: "\"48@@\"")),
        ("device.name", "/api/traccar/positions", Fixtures.positionA(replacing: "name", with: "\"Van @@\"")),
        (
            "[1].device.uniqueId", "/api/traccar/positions",
            "[\(Fixtures.positionB),\(Fixtures.positionA(replacing: "uniqueId", with: "\"@@\""))]"
        ),
        (
            "event.attributes.alarm", "/api/traccar/events",
            Fixtures.alarm.replacingOccurrences(of: "\"sos\"", with: "\"sos@@\"")
        ),
        (
            "geofence.name", "/api/traccar/events",
            Fixtures.geofenceEnter.replacingOccurrences(of: "Depot North", with: "@@")
        ),
    ])
    func webhookRefusesInvalidUTF8(field: String, path: String, body: String) async throws {
        try await WebhookRouteTests.withDrivers { client in
            for bad in Self.illFormed {
                let response = try await client.execute(
                    uri: path,
                    method: .post,
                    headers: [.authorization: "Bearer \(TestAPI.webhookSecret)", .contentType: "application/json"],
                    body: ByteBuffer(bytes: Self.bytes(body, with: bad))
                )
                expectProblem(response, 400, field: field)
                #expect(response.object["type"] as? String == "urn:tracker:problem:malformed-request")
                #expect((response.object["detail"] as? String)?.contains("UTF-8") == true, "\(response.text)")
            }
        }
    }

    /// An ill-formed member name names the object that holds it.
    @Test func webhookRefusesInvalidUTF8MemberName() async throws {
        try await TestAPI().test { client in
            let body = Self.bytes(Fixtures.positionA(replacing: "motion", with: "true,\"@@\":1"), with: [0xFF])
            let response = try await client.execute(
                uri: "/api/traccar/positions",
                method: .post,
                headers: [.authorization: "Bearer \(TestAPI.webhookSecret)"],
                body: ByteBuffer(bytes: body)
            )
            expectProblem(response, 400, field: "position.attributes")
            #expect((response.object["detail"] as? String)?.contains("member name") == true, "\(response.text)")
        }
    }

    /// Well-formed non-ASCII text (escaped or not) still decodes to itself.
    @Test func webhookKeepsWellFormedText() throws {
        let body = Fixtures.positionA(replacing: "motion", with: #"true,"alarm":"sös \u00e9 😀 \ud83d\ude00""#)
        let report = try TraccarPayload.decodePosition(Array(body.utf8))
        #expect(report.alarm == "sös é 😀 😀")
    }

    /// REST strings that are not UTF-8 are refused with 400 naming the field (no U+FFFD in names, notes, ids).
    @Test(arguments: [
        (HTTPRequest.Method.post, "/api/drivers", #"{"deviceId":"dev-utf8","name":"Van @@"}"#, "name"),
        (.put, "/api/customers/c-7", #"{"name":"C","address":"Rue @@","latitude":1,"longitude":2}"#, "address"),
        (
            .post, "/api/routes",
            #"{"driverId":"van-7","scheduledDate":"2025-03-14","visits":[{"customerId":"c-@@"}]}"#,
            "visits[0].customerId"
        ),
        (.post, "/api/visits/v-1/complete", #"{"notes":"@@"}"#, "notes"),
    ])
    func restRefusesInvalidUTF8(method: HTTPRequest.Method, path: String, body: String, field: String) async throws {
        let api = TestAPI()
        let admin = try await api.token(.admin)
        try await APIRouteTests.seeded(api) { client in
            for bad in Self.illFormed {
                let response = try await client.execute(
                    uri: path,
                    method: method,
                    headers: [.authorization: "Bearer \(admin)", .contentType: "application/json"],
                    body: ByteBuffer(bytes: Self.bytes(body, with: bad))
                )
                expectProblem(response, 400, field: field)
            }
        }
    }

    @Test func devTokenRefusesInvalidUTF8() async throws {
        var api = TestAPI()
        api.services.dashboard.devSignIn = .init(tenantId: "demo", ttl: .seconds(60))
        try await api.test { client in
            let response = try await client.execute(
                uri: "/api/dev/token",
                method: .post,
                headers: [.contentType: "application/json"],
                body: ByteBuffer(bytes: Self.bytes(#"{"subject":"@@"}"#, with: [0xC3]))
            )
            expectProblem(response, 400, field: "subject")
        }
    }

    // MARK: Integers

    /// An integer member given a fraction, a number past Int64, or one outside its range is 422 naming the
    /// field and the range; integral spellings (`3e2`, `300.0`) are integers.
    @Test(
        arguments: [
            ("sequenceNumber", "1.5", "visits[0].sequenceNumber", "from 1 to 2147483647"),
            ("sequenceNumber", "9223372036854775808", "visits[0].sequenceNumber", "from 1 to 2147483647"),
            ("sequenceNumber", "2147483648", "visits[0].sequenceNumber", "from 1 to 2147483647"),
            ("sequenceNumber", "0", "visits[0].sequenceNumber", "from 1 to 2147483647"),
            ("sequenceNumber", "\"one\"", "visits[0].sequenceNumber", "from 1 to 2147483647"),
            ("serviceDurationSeconds", "1.5", "visits[0].serviceDurationSeconds", "from 0 to 86400"),
            ("serviceDurationSeconds", "-9223372036854775809", "visits[0].serviceDurationSeconds", "from 0 to 86400"),
            ("serviceDurationSeconds", "86401", "visits[0].serviceDurationSeconds", "from 0 to 86400"),
            (
                "timeWindow", #"{"start":1741946400000.5,"end":1741946400000}"#, "visits[0].timeWindow.start",
                "from -62135596800000 to 253402300799999"
            ),
            (
                "timeWindow", #"{"start":1741946400000,"end":9223372036854775808}"#, "visits[0].timeWindow.end",
                "from -62135596800000 to 253402300799999"
            ),
        ] as [(String, String, String, String)]
    )
    func integersSayFieldAndRange(member: String, value: String, field: String, range: String) async throws {
        let api = TestAPI()
        let admin = try await api.token(.admin)
        let body =
            #"{"driverId":"van-7","scheduledDate":"2025-03-14","visits":[{"customerId":"c-1","\#(member)":\#(value)}]}"#
        try await APIRouteTests.seeded(api) { client in
            let response = try await client.api(.post, "/api/routes", token: admin, json: body)
            expectProblem(response, 422, field: field)
            let detail = response.object["detail"] as? String ?? ""
            #expect(detail.contains(range), "\(detail)")
            #expect(!detail.contains("not valid JSON"), "\(detail)")
        }
    }

    @Test(arguments: [
        #""sequenceNumber":3e2"#, #""sequenceNumber":300.0"#, #""serviceDurationSeconds":0"#,
        #""serviceDurationSeconds":86400"#, #""timeWindow":{"start":1741946400000,"end":1.7419464e12}"#,
    ])
    func integralNumbersAreIntegers(member: String) async throws {
        let api = TestAPI()
        let admin = try await api.token(.admin)
        let body = #"{"driverId":"van-7","scheduledDate":"2025-03-14","visits":[{"customerId":"c-1",\#(member)}]}"#
        try await APIRouteTests.seeded(api) { client in
            let response = try await client.api(.post, "/api/routes", token: admin, json: body)
            #expect(response.status == .created, "\(response.text)")
        }
    }

    // MARK: null, empty and ill-typed REST input

    /// Members of REST bodies are omitted when they have no value; `null` is refused naming the member.
    @Test(arguments: [
        ("/api/drivers", #"{"deviceId":"d-null","name":"x","phone":null}"#, "phone"),
        ("/api/drivers", #"{"deviceId":"d-null","name":null}"#, "name"),
        ("/api/drivers", #"{"id":null,"deviceId":"d-null","name":"x"}"#, "id"),
        (
            "/api/routes",
            #"{"driverId":"van-7","scheduledDate":"2025-03-14","visits":[{"customerId":"c-1","visitType":null}]}"#,
            "visits[0].visitType"
        ),
        (
            "/api/routes",
            #"{"driverId":"van-7","scheduledDate":"2025-03-14","visits":[{"customerId":"c-1","timeWindow":null}]}"#,
            "visits[0].timeWindow"
        ),
        ("/api/visits/v-1/complete", #"{"notes":null}"#, "notes"),
    ])
    func restRefusesNull(path: String, body: String, field: String) async throws {
        let api = TestAPI()
        let admin = try await api.token(.admin)
        try await APIRouteTests.seeded(api) { client in
            let response = try await client.api(.post, path, token: admin, json: body)
            expectProblem(response, 422, field: field)
            #expect((response.object["detail"] as? String)?.contains("null") == true)
        }
    }

    /// `{"subject": null}` and `{"role": null}` on the development sign-in are refused; an empty subject is the
    /// default one.
    @Test func devTokenBody() async throws {
        var api = TestAPI()
        api.services.dashboard.devSignIn = .init(tenantId: "demo", ttl: .seconds(60))
        try await api.test { client in
            expectProblem(
                try await client.api(.post, "/api/dev/token", token: nil, json: #"{"subject":null}"#),
                422,
                field: "subject"
            )
            expectProblem(
                try await client.api(.post, "/api/dev/token", token: nil, json: #"{"role":null}"#),
                422,
                field: "role"
            )
            expectProblem(
                try await client.api(.post, "/api/dev/token", token: nil, json: #"{"subject":7}"#),
                422,
                field: "subject"
            )
            expectProblem(try await client.api(.post, "/api/dev/token", token: nil, json: "[]"), 422)
            let long = String(repeating: "é", count: 128)
            let ok = try await client.api(.post, "/api/dev/token", token: nil, json: #"{"subject":"\#(long)"}"#)
            #expect(ok.status == .ok, "128 characters (256 bytes) are allowed: \(ok.text)")
            expectProblem(
                try await client.api(.post, "/api/dev/token", token: nil, json: #"{"subject":"\#(long)é"}"#),
                422,
                field: "subject"
            )
            let empty = try await client.api(.post, "/api/dev/token", token: nil, json: #"{"subject":""}"#)
            #expect(empty.object["subject"] as? String == "dev-dispatcher")
        }
    }

    /// An empty query value is refused (omit the parameter for its default), as are values outside the grammar.
    @Test(arguments: [
        ("/api/drivers/van-7/history?to=", "to"), ("/api/drivers/van-7/history?from=", "from"),
        ("/api/drivers/van-7/history?maxPoints=", "maxPoints"), ("/api/drivers/van-7/stats?to=", "to"),
        ("/api/drivers/van-7/stats?from=", "from"), ("/api/routes?date=", "date"),
        ("/api/routes?driverId=", "driverId"),
        ("/api/drivers/van-7/history?to=253402300800000", "to"),
        ("/api/drivers/van-7/history?from=-62135596800001", "from"),
        ("/api/drivers/van-7/history?to=-9223372036854775808", "to"), ("/api/drivers/van-7/history?to=%2B5", "to"),
        ("/api/drivers/van-7/history?maxPoints=1.5", "maxPoints"),
        ("/api/drivers/van-7/history?maxPoints=%2B5", "maxPoints"),
        ("/api/drivers/van-7/history?maxPoints=-99999999999999999999", "maxPoints"),
        ("/api/drivers/van-7/history?to=0000-01-01T00:00:00Z", "to"),
        ("/api/drivers/van-7/history?to=2025-03-14%2008:15:30Z", "to"),
        ("/api/drivers/van-7/history?to=2025-03-14+08:15:30Z", "to"),
        ("/api/drivers/van-7/stats?from=%2B999-01-01", "from"), ("/api/drivers/van-7/stats?from=0000-01-01", "from"),
        ("/api/routes?date=%2B999-01-01", "date"),
    ])
    func refusesQueryValues(path: String, field: String) async throws {
        let api = TestAPI()
        let viewer = try await api.token(.viewer)
        try await APIRouteTests.seeded(api) { client in
            expectProblem(try await client.api(.get, path, token: viewer), 422, field: field)
        }
    }

    /// What the description allows at the edges is accepted: the extreme epoch milliseconds and a `maxPoints` past
    /// Int64 (capped).
    @Test func acceptsQueryEdges() async throws {
        let api = TestAPI()
        let viewer = try await api.token(.viewer)
        try await APIRouteTests.seeded(api) { client in
            let widest = try await client.api(
                .get,
                "/api/drivers/van-7/history?from=-62135596800000&to=253402300799999&maxPoints=99999999999999999999999",
                token: viewer
            )
            #expect(widest.status == .ok, "\(widest.text)")
            #expect(widest.object["from"] as? String == "0001-01-01T00:00:00.000Z")
            #expect(widest.object["to"] as? String == "9999-12-31T23:59:59.999Z")
            #expect(widest.object["maxPoints"] as? Int == 10_000)
            let routes = try await client.api(.get, "/api/routes?date=0001-01-01&driverId=van-7", token: viewer)
            #expect(routes.status == .ok, "\(routes.text)")
        }
    }

    // MARK: Ids, names and device ids

    /// Ids are printable ASCII without `/` or `:`, and neither `.` nor `..`; names and device ids are not blank
    /// (Unicode white space only); device ids are at most 128 characters, whatever their bytes.
    @Test(
        arguments: [
            (#"{"id":".","deviceId":"d-1","name":"x"}"#, 422, "id"),
            (#"{"id":"..","deviceId":"d-1","name":"x"}"#, 422, "id"),
            (#"{"id":"...","deviceId":"d-1","name":"x"}"#, 201, nil),
            (#"{"id":"a.b","deviceId":"d-1","name":"x"}"#, 201, nil),
            (#"{"deviceId":"d-1","name":"\u00a0\u2003\u3000"}"#, 422, "name"),
            (#"{"deviceId":"d-1","name":"\u200b"}"#, 201, nil),
            (#"{"deviceId":" \t","name":"x"}"#, 422, "deviceId"),
            (#"{"deviceId":"","name":"x"}"#, 422, "deviceId"),
            ("{\"deviceId\":\"\(String(repeating: "é", count: 128))\",\"name\":\"x\"}", 201, nil),
            ("{\"deviceId\":\"\(String(repeating: "a", count: 129))\",\"name\":\"x\"}", 422, "deviceId"),
        ] as [(String, Int, String?)]
    )
    func driverIdentity(body: String, status: Int, field: String?) async throws {
        let api = TestAPI()
        let admin = try await api.token(.admin)
        try await api.test { client in
            let response = try await client.api(.post, "/api/drivers", token: admin, json: body)
            if status == 201 {
                #expect(response.status == .created, "\(response.text)")
            } else {
                expectProblem(response, status, field: field)
            }
        }
    }

    /// A webhook device id is held to the same rule as a driver's.
    @Test(
        arguments: [
            ("\"" + String(repeating: "é", count: 128) + "\"", 200, nil),
            ("\"" + String(repeating: "é", count: 129) + "\"", 422, "device.uniqueId"),
            (#"" \u3000""#, 422, "device.uniqueId"),
        ] as [(String, Int, String?)]
    )
    func webhookDeviceId(uniqueId: String, status: Int, field: String?) async throws {
        try await TestAPI().test { client in
            let response = try await client.webhook(
                "/api/traccar/positions",
                Fixtures.positionA(replacing: "uniqueId", with: uniqueId)
            )
            if status == 200 {
                #expect(response.status == .ok, "\(response.text)")
                #expect(response.object["outcome"] as? String == "unmapped")
            } else {
                expectProblem(response, status, field: field)
            }
        }
    }

    // MARK: Traccar attributes

    /// `attributes` is an object (or null); a battery level is a number or a decimal number as text.
    @Test(
        arguments: [
            (Fixtures.positionA(replacing: "attributes", with: "[]"), 422, "position.attributes"),
            (Fixtures.positionA(replacing: "attributes", with: "\"x\""), 422, "position.attributes"),
            (Fixtures.positionA(replacing: "attributes", with: "null"), 200, nil),
            (Fixtures.positionA(replacing: "batteryLevel", with: "true"), 422, "position.attributes.batteryLevel"),
            (Fixtures.positionA(replacing: "batteryLevel", with: "\"full\""), 422, "position.attributes.batteryLevel"),
            (Fixtures.positionA(replacing: "batteryLevel", with: "\"1e2\""), 422, "position.attributes.batteryLevel"),
            (Fixtures.positionA(replacing: "batteryLevel", with: "\"inf\""), 422, "position.attributes.batteryLevel"),
            (Fixtures.positionA(replacing: "batteryLevel", with: "\"87.5\""), 200, nil),
            (Fixtures.positionA(replacing: "batteryLevel", with: "\"0100\""), 200, nil),
            (Fixtures.positionA(replacing: "batteryLevel", with: "\"100.5\""), 422, "position.attributes.batteryLevel"),
            (Fixtures.positionA(replacing: "batteryLevel", with: "null"), 200, nil),
            (Fixtures.positionA(replacing: "motion", with: "\"maybe\""), 200, nil),
            (Fixtures.positionA(replacing: "speed", with: "9.706766386945547e+307"), 200, nil),
            (Fixtures.positionA(replacing: "speed", with: "9.70676638694555e+307"), 422, "position.speed"),
            (
                Fixtures.alarm.replacingOccurrences(of: #""attributes":{"alarm":"sos"}"#, with: #""attributes":7"#),
                422, "event.attributes"
            ),
        ] as [(String, Int, String?)]
    )
    func traccarAttributes(body: String, status: Int, field: String?) async throws {
        let path = body.contains("\"event\"") ? "/api/traccar/events" : "/api/traccar/positions"
        try await TestAPI().test { client in
            let response = try await client.webhook(path, body)
            if status == 200 {
                #expect(response.status == .ok, "\(response.text)")
            } else {
                expectProblem(response, status, field: field)
            }
        }
    }
}
