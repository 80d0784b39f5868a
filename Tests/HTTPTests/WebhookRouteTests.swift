import Domain
import Foundation
import HTTPAdapters
import Hummingbird
import HummingbirdTesting
import Testing

@Suite("Traccar webhook routes")
struct WebhookRouteTests {
    /// Registers the example devices as drivers of tenant `acme`.
    static func withDrivers<Value: Sendable>(
        _ api: TestAPI = TestAPI(),
        _ body: @Sendable (any TestClientProtocol) async throws -> Value
    ) async throws -> Value {
        let admin = try await api.token(.admin)
        return try await api.test { client in
            for (id, device) in [("van-7", Fixtures.deviceA), ("truck-204", Fixtures.deviceB)] {
                let created = try await client.api(
                    .post,
                    "/api/drivers",
                    token: admin,
                    json: #"{"id":"\#(id)","deviceId":"\#(device)","name":"\#(id)"}"#
                )
                #expect(created.status == .created, "\(created.text)")
            }
            return try await body(client)
        }
    }

    /// The reference bodies (and their date and version variants) are accepted for mapped devices.
    @Test(arguments: [
        ("A (5.12–6.9, outdated)", Fixtures.positionA, "van-7"),
        ("B (6.10+, no outdated)", Fixtures.positionB, "truck-204"),
        ("A with +0000 dates", Fixtures.positionA.replacingOccurrences(of: "+00:00", with: "+0000"), "van-7"),
        ("A with Z dates", Fixtures.positionA.replacingOccurrences(of: "+00:00", with: "Z"), "van-7"),
        ("A without fractions", Fixtures.positionA.replacingOccurrences(of: ".000+00:00", with: "+00:00"), "van-7"),
        ("A without outdated", Fixtures.positionA.replacingOccurrences(of: #""outdated":false,"#, with: ""), "van-7"),
    ])
    func acceptsPositions(name: String, body: String, driver: String) async throws {
        try await Self.withDrivers { client in
            let response = try await client.webhook("/api/traccar/positions", body)
            #expect(response.status == .ok, "\(name): \(response.text)")
            #expect(response.object["outcome"] as? String == "accepted")
            #expect(response.object["driverId"] as? String == driver)
        }
    }

    @Test(arguments: [
        ("geofenceEnter", Fixtures.geofenceEnter), ("deviceOnline", Fixtures.deviceOnline),
        ("deviceOverspeed", Fixtures.overspeed), ("alarm", Fixtures.alarm),
    ])
    func acceptsEvents(name: String, body: String) async throws {
        try await Self.withDrivers { client in
            let response = try await client.webhook("/api/traccar/events", body)
            #expect(response.status == .ok, "\(name): \(response.text)")
            #expect(response.object["outcome"] as? String == "accepted")
        }
    }

    /// Unknown devices are acknowledged (2xx) so Traccar stops retrying, and the body says so.
    @Test func unmappedDevice() async throws {
        try await TestAPI().test { client in
            let position = try await client.webhook("/api/traccar/positions", Fixtures.positionA)
            #expect(position.status == .ok)
            #expect(position.object["outcome"] as? String == "unmapped")
            #expect((position.object["detail"] as? String)?.contains("48241179") == true)
            let event = try await client.webhook("/api/traccar/events", Fixtures.deviceOnline)
            #expect(event.status == .ok)
            #expect(event.object["outcome"] as? String == "unmapped")
        }
    }

    /// A batch answers per body.
    @Test func batch() async throws {
        try await Self.withDrivers { client in
            let unknown = Fixtures.positionA.replacingOccurrences(of: "48241179", with: "999")
            let invalid = Fixtures.positionA(replacing: "latitude", with: "95")
            let batch = "[\(Fixtures.positionA),\(Fixtures.positionB),\(unknown),\(invalid)]"
            let response = try await client.webhook("/api/traccar/positions", batch)
            #expect(response.status == .ok, "\(response.text)")
            #expect(response.object["accepted"] as? Int == 2)
            #expect(response.object["unmapped"] as? Int == 1)
            #expect(response.object["invalid"] as? Int == 1)
            let results = try #require(response.object["results"] as? [[String: Any]])
            #expect(results.map { $0["outcome"] as? String } == ["accepted", "accepted", "unmapped", "invalid"])
            #expect(results[3]["field"] as? String == "[3].position.latitude")
        }
    }

    /// Bad input answers 4xx problem+json, never 5xx, whether the device is mapped or not.
    @Test(
        arguments: [
            ("malformed JSON", #"{"position":"#, 400, nil),
            ("empty body", "", 400, nil),
            ("bare NaN", Fixtures.positionA(replacing: "latitude", with: "NaN"), 400, nil),
            (
                "1e999 (overflows a double)", Fixtures.positionA(replacing: "latitude", with: "1e999"), 422,
                "position.latitude"
            ),
            ("\"NaN\"", Fixtures.positionA(replacing: "latitude", with: "\"NaN\""), 422, "position.latitude"),
            (
                "latitude as string", Fixtures.positionA(replacing: "latitude", with: "\"52.5\""), 422,
                "position.latitude"
            ),
            ("longitude as bool", Fixtures.positionA(replacing: "longitude", with: "true"), 422, "position.longitude"),
            ("uniqueId as number", Fixtures.positionA(replacing: "uniqueId", with: "48241179"), 422, "device.uniqueId"),
            ("position as array", Fixtures.positionA(replacing: "position", with: "[]"), 422, "position"),
            (
                "no device", #"{"position":{"fixTime":"2025-03-14T08:15:30Z","latitude":1,"longitude":2}}"#, 422,
                "device"
            ),
            ("body is a string", "\"hello\"", 422, nil),
            ("latitude 90.5", Fixtures.positionA(replacing: "latitude", with: "90.5"), 422, "position.latitude"),
            ("latitude -91", Fixtures.positionA(replacing: "latitude", with: "-91"), 422, "position.latitude"),
            ("longitude 180.01", Fixtures.positionA(replacing: "longitude", with: "180.01"), 422, "position.longitude"),
            ("longitude -1e308", Fixtures.positionA(replacing: "longitude", with: "-1e308"), 422, "position.longitude"),
            ("negative speed", Fixtures.positionA(replacing: "speed", with: "-1"), 422, "position.speed"),
            (
                "battery 150", Fixtures.positionA(replacing: "batteryLevel", with: "150"), 422,
                "position.attributes.batteryLevel"
            ),
            (
                "fix 10 min in the future",
                Fixtures.positionA(replacing: "fixTime", with: "\"2025-03-14T08:30:00.000+00:00\""),
                422, "position.fixTime"
            ),
            (
                "fix time without zone", Fixtures.positionA(replacing: "fixTime", with: "\"2025-03-14T08:15:30\""), 422,
                "position.fixTime"
            ),
            (
                "fix time 13th month", Fixtures.positionA(replacing: "fixTime", with: "\"2025-13-14T08:15:30Z\""), 422,
                "position.fixTime"
            ),
            ("empty batch", "[]", 422, nil),
        ] as [(String, String, Int, String?)]
    )
    func rejectsPositions(name: String, body: String, status: Int, field: String?) async throws {
        // Mapped devices.
        try await Self.withDrivers { client in
            expectProblem(try await client.webhook("/api/traccar/positions", body), status, field: field)
        }
        // Unmapped devices get the same answer.
        try await TestAPI().test { client in
            expectProblem(try await client.webhook("/api/traccar/positions", body), status, field: field)
        }
    }

    @Test(
        arguments: [
            ("malformed", "{", 400, nil),
            (
                "no type", #"{"event":{"eventTime":"2025-03-14T08:15:30Z"},"device":{"uniqueId":"48241179"}}"#, 422,
                "event.type"
            ),
            (
                "position out of range",
                Fixtures.geofenceEnter.replacingOccurrences(of: #""latitude":48.137154"#, with: #""latitude":480"#),
                422,
                "position.latitude"
            ),
        ] as [(String, String, Int, String?)]
    )
    func rejectsEvents(name: String, body: String, status: Int, field: String?) async throws {
        try await Self.withDrivers { client in
            expectProblem(try await client.webhook("/api/traccar/events", body), status, field: field)
        }
    }

    /// Missing or wrong webhook secrets answer 401 with `WWW-Authenticate`, before the body is read.
    @Test(arguments: [nil, "wrong", "", TestAPI.jwtSecret] as [String?])
    func rejectsSecret(secret: String?) async throws {
        try await TestAPI().test { client in
            for path in ["/api/traccar/positions", "/api/traccar/events"] {
                let response = try await client.webhook(path, Fixtures.positionA, secret: secret)
                expectProblem(response, 401)
                #expect(response.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true)
            }
        }
    }

    /// A JWT is not a webhook secret.
    @Test func jwtIsNotWebhookSecret() async throws {
        let api = TestAPI()
        let token = try await api.token(.admin)
        try await api.test { client in
            expectProblem(try await client.webhook("/api/traccar/positions", Fixtures.positionA, secret: token), 401)
        }
    }

    /// Truncated and corrupted bodies never crash the server nor answer 5xx.
    @Test func fuzzedBodies() async throws {
        var generator = SystemRandomNumberGenerator()
        let source = Array(Fixtures.geofenceEnter.utf8)
        var bodies: [[UInt8]] = stride(from: 0, to: source.count, by: 7).map { Array(source[..<$0]) }
        let alphabet = Array(#"{}[]":,.-+eE0123456789 truefalsnul\"#.utf8) + [0x00, 0xFF, 0xC3]
        for _ in 0..<300 {
            var body = source
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                let index = Int.random(in: 0..<body.count, using: &generator)
                body[index] = alphabet.randomElement(using: &generator) ?? 0
            }
            bodies.append(body)
        }
        let cases = bodies
        try await Self.withDrivers { client in
            for body in cases {
                for path in ["/api/traccar/positions", "/api/traccar/events"] {
                    let response = try await client.execute(
                        uri: path,
                        method: .post,
                        headers: [.authorization: "Bearer \(TestAPI.webhookSecret)"],
                        body: ByteBuffer(bytes: body)
                    )
                    #expect(response.status.code < 500, "\(String(decoding: body, as: UTF8.self))")
                    if response.status.code >= 400 {
                        #expect(response.headers[.contentType] == "application/problem+json")
                    }
                }
            }
        }
    }

    /// Bodies over the limit answer 413, with or without a Content-Length.
    @Test func oversizeBody() async throws {
        var api = TestAPI()
        api.services.bodyLimit = 1024
        try await api.test { client in
            let padding = String(repeating: " ", count: 2048)
            expectProblem(try await client.webhook("/api/traccar/positions", Fixtures.positionA + padding), 413)
            expectProblem(try await client.webhook("/api/traccar/events", Fixtures.geofenceEnter + padding), 413)
        }
        // Default limit: 1 MiB.
        try await TestAPI().test { client in
            let big = "[" + Array(repeating: Fixtures.positionA, count: 1_500).joined(separator: ",") + "]"
            #expect(big.utf8.count > 1 << 20)
            expectProblem(try await client.webhook("/api/traccar/positions", big), 413)
        }
    }
}
