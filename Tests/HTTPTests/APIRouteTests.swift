import Domain
import Foundation
import HTTPAdapters
import Hummingbird
import HummingbirdTesting
import ServiceLifecycle
import Testing

@testable import Benchmarks
@testable import Composition
@testable import Simulation

@Suite("REST API routes")
struct APIRouteTests {
    static let route = #"""
        {"id":"r-1","driverId":"van-7","scheduledDate":"2025-03-14","visits":[
          {"id":"v-1","customerId":"c-1","timeWindow":{"start":"2025-03-14T09:00:00+01:00","end":1741946400000}},
          {"id":"v-2","customerId":"c-2","visitType":"pickup","serviceDurationSeconds":600}]}
        """#

    /// Seeds tenant `acme`: driver van-7 (device A), customers c-1 and c-2, route r-1 with visits v-1 and v-2.
    static func seeded<Value: Sendable>(
        _ api: TestAPI = TestAPI(),
        _ body: @Sendable (any TestClientProtocol) async throws -> Value
    ) async throws -> Value {
        let admin = try await api.token(.admin)
        return try await api.test { client in
            let driver = try await client.api(
                .post,
                "/api/drivers",
                token: admin,
                json: #"{"id":"van-7","deviceId":"48241179","name":"Van 7","vehicleType":"van"}"#
            )
            #expect(driver.status == .created, "\(driver.text)")
            for (id, lat) in [("c-1", 52.52), ("c-2", 52.53)] {
                let customer = try await client.api(
                    .put,
                    "/api/customers/\(id)",
                    token: admin,
                    json: #"{"name":"Customer \#(id)","latitude":\#(lat),"longitude":13.4,"geofenceRadiusMeters":80}"#
                )
                #expect(customer.status == .ok, "\(customer.text)")
            }
            let route = try await client.api(.post, "/api/routes", token: admin, json: Self.route)
            #expect(route.status == .created, "\(route.text)")
            return try await body(client)
        }
    }

    /// Every response names the instance that answered (what nginx keeps Socket.IO sessions on), errors too;
    /// without an instance id there is no header.
    @Test func instanceHeader() async throws {
        let name = HTTPFields.Element.Name("X-Tracker-Instance")!
        var api = TestAPI()
        api.services.instanceId = "tracker-7"
        try await api.test { client in
            for (path, status) in [
                ("/health/live", HTTPResponse.Status.ok), ("/api/drivers", .unauthorized), ("/nowhere", .notFound),
            ] {
                let response = try await client.execute(uri: path, method: .get)
                #expect(response.status == status, "\(path)")
                #expect(response.headers[name] == "tracker-7", "\(path)")
            }
        }
        var anonymous = TestAPI()
        anonymous.services.instanceId = nil
        try await anonymous.test { client in
            let response = try await client.execute(uri: "/health/live", method: .get)
            #expect(response.headers[name] == nil)
        }
    }

    @Test func drivers() async throws {
        let api = TestAPI()
        let admin = try await api.token(.admin)
        let viewer = try await api.token(.viewer)
        try await Self.seeded(api) { client in
            let list = try await client.api(.get, "/api/drivers", token: viewer)
            #expect(list.status == .ok)
            #expect(list.array.map { $0["id"] as? String } == ["van-7"])
            #expect(list.array.first?["vehicleType"] as? String == "van")
            #expect(list.array.first?["tenantId"] as? String == "acme")

            let one = try await client.api(.get, "/api/drivers/van-7", token: viewer)
            #expect(one.status == .ok)
            #expect(one.object["deviceId"] as? String == "48241179")

            let created = try await client.api(
                .post,
                "/api/drivers",
                token: admin,
                json: #"{"deviceId":"356307042441013","name":"Truck"}"#
            )
            #expect(created.status == .created)
            let id = try #require(created.object["id"] as? String)
            #expect(created.headers[.location] == "/api/drivers/\(id)")

            // The same device twice is a conflict.
            expectProblem(
                try await client.api(
                    .post,
                    "/api/drivers",
                    token: admin,
                    json: #"{"deviceId":"48241179","name":"Dup"}"#
                ),
                409,
                field: "deviceId"
            )
        }
    }

    /// Routes, visits and their timestamps as ISO-8601 strings.
    @Test func routesAndVisits() async throws {
        let api = TestAPI()
        let dispatcher = try await api.token(.dispatcher)
        let driver = try await api.token(.driver, subject: "van-7")
        try await Self.seeded(api) { client in
            let route = try await client.api(.get, "/api/routes/r-1", token: dispatcher)
            #expect(route.status == .ok, "\(route.text)")
            let visits = try #require(route.object["visits"] as? [[String: Any]])
            #expect(visits.map { $0["id"] as? String } == ["v-1", "v-2"])
            let window = try #require(visits[0]["timeWindow"] as? [String: String])
            #expect(window == ["start": "2025-03-14T08:00:00.000Z", "end": "2025-03-14T10:00:00.000Z"])
            #expect(visits[1]["visitType"] as? String == "pickup")
            #expect((route.object["route"] as? [String: Any])?["totalStops"] as? Int == 2)

            let byDate = try await client.api(.get, "/api/routes?date=2025-03-14&driverId=van-7", token: dispatcher)
            #expect(byDate.array.map { $0["id"] as? String } == ["r-1"])
            let otherDay = try await client.api(.get, "/api/routes?date=2025-03-15", token: dispatcher)
            #expect(otherDay.status == .ok)
            #expect(otherDay.array.isEmpty)
            expectProblem(
                try await client.api(.get, "/api/routes?date=14.03.2025", token: dispatcher),
                422,
                field: "date"
            )

            // The assigned driver walks the visit through its lifecycle.
            let arrived = try await client.api(.post, "/api/visits/v-1/arrive", token: driver)
            #expect(arrived.status == .ok, "\(arrived.text)")
            #expect(arrived.object["status"] as? String == "arrived")
            #expect(arrived.object["arrivedAt"] as? String == "2025-03-14T08:20:00.000Z")
            let started = try await client.api(.post, "/api/visits/v-1/start", token: driver, json: "{}")
            #expect(started.object["status"] as? String == "in_progress")
            let completed = try await client.api(
                .post,
                "/api/visits/v-1/complete",
                token: driver,
                json: #"{"notes":"left at door","signedBy":"J. Doe"}"#
            )
            #expect(completed.status == .ok, "\(completed.text)")
            #expect(completed.object["status"] as? String == "completed")
            #expect((completed.object["completion"] as? [String: String])?["signedBy"] == "J. Doe")
            // Completing again is a retry, answered like the first (the event is re-published, not lost);
            // any other action on a closed visit is an illegal transition.
            let again = try await client.api(.post, "/api/visits/v-1/complete", token: driver)
            #expect(again.status == .ok, "\(again.text)")
            #expect(again.object["status"] as? String == "completed")
            expectProblem(try await client.api(.post, "/api/visits/v-1/start", token: driver), 409)

            let skipped = try await client.api(
                .post,
                "/api/visits/v-2/skip",
                token: dispatcher,
                json: #"{"reason":"closed"}"#
            )
            #expect(skipped.object["status"] as? String == "skipped")
            #expect((skipped.object["completion"] as? [String: String])?["failureReason"] == "closed")
            expectProblem(try await client.api(.post, "/api/visits/v-2/fail", token: dispatcher), 409)
            expectProblem(try await client.api(.post, "/api/visits/nope/start", token: dispatcher), 404)
        }
    }

    @Test func history() async throws {
        let api = TestAPI()
        let viewer = try await api.token(.viewer)
        try await Self.seeded(api) { client in
            let defaults = try await client.api(.get, "/api/drivers/van-7/history", token: viewer)
            #expect(defaults.status == .ok, "\(defaults.text)")
            #expect(defaults.object["from"] as? String == "2025-03-13T08:20:00.000Z")
            #expect(defaults.object["to"] as? String == "2025-03-14T08:20:00.000Z")
            #expect(defaults.object["maxPoints"] as? Int == 2000)
            #expect((defaults.object["points"] as? [Any])?.isEmpty == true)

            let explicit = try await client.api(
                .get,
                "/api/drivers/van-7/history?from=1741910400000&to=2025-03-14T12:00:00%2B01:00&maxPoints=50000",
                token: viewer
            )
            #expect(explicit.status == .ok, "\(explicit.text)")
            #expect(explicit.object["from"] as? String == "2025-03-14T00:00:00.000Z")
            #expect(explicit.object["to"] as? String == "2025-03-14T11:00:00.000Z")
            #expect(explicit.object["maxPoints"] as? Int == 10_000)

            for (query, field) in [
                ("from=yesterday", "from"), ("to=2025-03-14", "to"), ("maxPoints=many", "maxPoints"),
                ("maxPoints=1", "maxPoints"), ("maxPoints=-5", "maxPoints"),
                ("from=2025-03-15T00:00:00Z&to=2025-03-14T00:00:00Z", "from"),
            ] {
                expectProblem(
                    try await client.api(.get, "/api/drivers/van-7/history?\(query)", token: viewer),
                    422,
                    field: field
                )
            }

            let stats = try await client.api(
                .get,
                "/api/drivers/van-7/stats?from=2025-03-01&to=2025-03-14",
                token: viewer
            )
            #expect(stats.status == .ok, "\(stats.text)")
            #expect(stats.array.isEmpty)
            #expect(try await client.api(.get, "/api/drivers/van-7/stats", token: viewer).status == .ok)
            expectProblem(
                try await client.api(.get, "/api/drivers/van-7/stats?from=2025-3-1", token: viewer),
                422,
                field: "from"
            )
            expectProblem(
                try await client.api(
                    .get,
                    "/api/drivers/van-7/stats?from=2025-03-15&to=2025-03-14",
                    token: viewer
                ),
                422
            )
            // No position yet.
            expectProblem(try await client.api(.get, "/api/drivers/van-7/position", token: viewer), 404)
        }
    }

    /// A position posted to the webhook is enriched by the background flows and readable over REST.
    @Test func positionEndToEnd() async throws {
        let api = TestAPI()
        let viewer = try await api.token(.viewer)
        try await Self.seeded(api) { client in
            let background = Task { try await api.system.backgroundService().run() }
            defer { background.cancel() }
            let posted = try await client.webhook("/api/traccar/positions", Fixtures.positionA)
            #expect(posted.object["outcome"] as? String == "accepted")
            var position: TestResponse?
            for _ in 0..<100 {
                let response = try await client.api(.get, "/api/drivers/van-7/position", token: viewer)
                if response.status == .ok {
                    position = response
                    break
                }
                try await Task.sleep(for: .milliseconds(50))
            }
            let found = try #require(position)
            #expect(found.object["fixTime"] as? String == "2025-03-14T08:15:30.000Z")
            #expect(found.object["driverId"] as? String == "van-7")
            let speed = try #require(found.object["speedKmh"] as? Double)
            #expect(abs(speed - 23.758 * 1.852) < 0.001)
        }
    }

    @Test func customers() async throws {
        let api = TestAPI()
        let admin = try await api.token(.admin)
        try await Self.seeded(api) { client in
            let updated = try await client.api(
                .put,
                "/api/customers/c-9",
                token: admin,
                json: #"{"name":"New","latitude":1,"longitude":2}"#
            )
            #expect(updated.status == .ok)
            #expect((updated.object["location"] as? [String: Double]) == ["latitude": 1, "longitude": 2])
            #expect(updated.object["geofenceRadiusMeters"] as? Double == 100)
            expectProblem(
                try await client.api(
                    .put,
                    "/api/customers/c-9",
                    token: admin,
                    json: #"{"name":"New","latitude":91,"longitude":2}"#
                ),
                422,
                field: "latitude"
            )
            let deleted = try await client.api(.delete, "/api/customers/c-9", token: admin)
            #expect(deleted.status == .noContent)
            #expect(deleted.body.readableBytes == 0)
            expectProblem(try await client.api(.delete, "/api/customers/c-9", token: admin), 404)
        }
    }

    /// Authentication failures answer 401 problem+json with `WWW-Authenticate`.
    @Test(arguments: ["none", "empty", "basic", "garbage", "expired", "other key", "webhook secret"])
    func unauthorized(kind: String) async throws {
        let api = TestAPI()
        let principal = Principal(tenantId: "acme", role: .admin, subject: "a")
        let header: String? =
            switch kind {
            case "none": nil
            case "empty": "Bearer "
            case "basic": "Basic YWRtaW46YWRtaW4="
            case "garbage": "Bearer not.a.jwt"
            case "expired":
                "Bearer "
                    + (try await TokenAuthority(secret: TestAPI.jwtSecret, now: { Fixtures.now }).mint(
                        principal: principal,
                        ttl: .seconds(60)
                    ))
            case "other key":
                "Bearer "
                    + (try await TokenAuthority(secret: "other-secret-0123456789-0123456789").mint(
                        principal: principal,
                        ttl: .seconds(60)
                    ))
            default: "Bearer \(TestAPI.webhookSecret)"
            }
        try await api.test { client in
            for (method, path) in [
                (HTTPRequest.Method.get, "/api/drivers"), (.post, "/api/routes"),
                (.get, "/api/drivers/x/history"), (.post, "/api/visits/x/complete"),
                (.delete, "/api/customers/x"),
            ] {
                var headers: HTTPFields = [:]
                if let header { headers[.authorization] = header }
                let response = try await client.execute(uri: path, method: method, headers: headers)
                expectProblem(response, 401)
                #expect(response.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true)
            }
        }
    }

    /// Roles without the right answer 403.
    @Test(
        arguments: [
            (Role.viewer, HTTPRequest.Method.post, "/api/drivers", #"{"deviceId":"1","name":"x"}"#),
            (.driver, .post, "/api/drivers", #"{"deviceId":"1","name":"x"}"#),
            (.viewer, .post, "/api/routes", route),
            (.driver, .put, "/api/customers/c-1", #"{"name":"x","latitude":1,"longitude":1}"#),
            (.viewer, .delete, "/api/customers/c-1", nil),
            (.viewer, .post, "/api/visits/v-1/arrive", nil),
            (.viewer, .post, "/api/visits/v-1/complete", nil),
        ] as [(Role, HTTPRequest.Method, String, String?)]
    )
    func forbidden(role: Role, method: HTTPRequest.Method, path: String, body: String?) async throws {
        let api = TestAPI()
        let token = try await api.token(role, subject: "someone-else")
        try await Self.seeded(api) { client in
            expectProblem(try await client.api(method, path, token: token, json: body), 403)
        }
    }

    /// Another driver's visits and positions are off limits to a driver token.
    @Test func driverSeesOnlyOwn() async throws {
        let api = TestAPI()
        let other = try await api.token(.driver, subject: "someone-else")
        try await Self.seeded(api) { client in
            expectProblem(try await client.api(.post, "/api/visits/v-1/arrive", token: other), 403)
            expectProblem(try await client.api(.get, "/api/drivers/van-7/history", token: other), 403)
        }
    }

    /// Another tenant's ids answer 404, as if they did not exist.
    @Test(
        arguments: [
            (HTTPRequest.Method.get, "/api/drivers/van-7", nil),
            (.get, "/api/drivers/van-7/position", nil),
            (.get, "/api/drivers/van-7/history", nil),
            (.get, "/api/drivers/van-7/stats", nil),
            (.get, "/api/routes/r-1", nil),
            (.post, "/api/visits/v-1/arrive", nil),
            (.post, "/api/visits/v-1/complete", #"{"notes":"x"}"#),
            (.delete, "/api/customers/c-1", nil),
        ] as [(HTTPRequest.Method, String, String?)]
    )
    func crossTenant(method: HTTPRequest.Method, path: String, body: String?) async throws {
        let api = TestAPI()
        let globex = try await api.token(.admin, tenant: "globex")
        try await Self.seeded(api) { client in
            expectProblem(try await client.api(method, path, token: globex, json: body), 404)
            let list = try await client.api(.get, "/api/drivers", token: globex)
            #expect(list.status == .ok)
            #expect(list.array.isEmpty)
            let routes = try await client.api(.get, "/api/routes", token: globex)
            #expect(routes.array.isEmpty)
        }
    }

    /// Malformed or ill-typed bodies answer 400/415/422 problem+json naming the field.
    @Test(
        arguments: [
            ("/api/drivers", "{", 400, nil),
            ("/api/drivers", "", 400, nil),
            ("/api/drivers", "[]", 422, nil),
            ("/api/drivers", #"{"deviceId":"1"}"#, 422, "name"),
            ("/api/drivers", #"{"deviceId":1,"name":"x"}"#, 422, "deviceId"),
            ("/api/drivers", #"{"deviceId":"1","name":"x","vehicleType":"plane"}"#, 422, "vehicleType"),
            ("/api/drivers", #"{"deviceId":"1","name":"  "}"#, 422, "name"),
            ("/api/drivers", #"{"id":"a/b","deviceId":"1","name":"x"}"#, 422, "id"),
            ("/api/routes", #"{"driverId":"van-7","scheduledDate":"2025-02-30","visits":[]}"#, 422, "scheduledDate"),
            ("/api/routes", #"{"driverId":"van-7","scheduledDate":"2025-03-14","visits":[]}"#, 422, "visits"),
            (
                "/api/routes",
                #"{"driverId":"van-7","scheduledDate":"2025-03-14","visits":[{"customerId":"c-1","timeWindow":{"start":"9am","end":1}}]}"#,
                422, "visits[0].timeWindow.start"
            ),
            (
                "/api/routes", #"{"driverId":"van-7","scheduledDate":"2025-03-14","visits":[{"customerId":"nope"}]}"#,
                422,
                "visits[0].customerId"
            ),
            (
                "/api/routes", #"{"driverId":"ghost","scheduledDate":"2025-03-14","visits":[{"customerId":"c-1"}]}"#,
                422,
                "driverId"
            ),
            (
                "/api/routes",
                #"{"driverId":"van-7","scheduledDate":"2025-03-14","visits":[{"customerId":"c-1","sequenceNumber":"one"}]}"#,
                422, "visits[0].sequenceNumber"
            ),
        ] as [(String, String, Int, String?)]
    )
    func badBodies(path: String, body: String, status: Int, field: String?) async throws {
        let api = TestAPI()
        let admin = try await api.token(.admin)
        try await Self.seeded(api) { client in
            expectProblem(try await client.api(.post, path, token: admin, json: body), status, field: field)
        }
    }

    @Test func wrongContentTypeAndOversize() async throws {
        var api = TestAPI()
        api.services.bodyLimit = 256
        let admin = try await api.token(.admin)
        try await api.test { client in
            expectProblem(
                try await client.api(
                    .post,
                    "/api/drivers",
                    token: admin,
                    json: #"{"deviceId":"1","name":"x"}"#,
                    headers: [.contentType: "text/plain"]
                ),
                415
            )
            let huge = #"{"deviceId":"1","name":""# + String(repeating: "x", count: 1000) + #""}"#
            expectProblem(try await client.api(.post, "/api/drivers", token: admin, json: huge), 413)
            expectProblem(try await client.api(.post, "/api/visits/v/complete", token: admin, json: huge), 413)
        }
    }

    /// Unknown routes and wrong methods are problems too.
    @Test func unknownRoutesAndMethods() async throws {
        let api = TestAPI()
        let admin = try await api.token(.admin)
        try await api.test { client in
            expectProblem(try await client.api(.get, "/nope", token: nil), 404)
            expectProblem(try await client.api(.get, "/api/drivers/x/y/z", token: admin), 404)
            expectProblem(try await client.api(.get, "/api/traccar/positions", token: nil), 405)
            let delete = try await client.api(.delete, "/api/drivers", token: admin)
            expectProblem(delete, 405)
            #expect(delete.headers[.allow] == "GET, POST")
            let patch = try await client.api(.patch, "/api/customers/c-1", token: admin)
            expectProblem(patch, 405)
            #expect(patch.headers[.allow] == "DELETE, PUT")
        }
    }

    @Test func operations() async throws {
        var api = TestAPI()
        api.services.metrics = { "# TYPE tracker_up gauge\ntracker_up 1\n" }
        try await api.test { client in
            let live = try await client.api(.get, "/health/live", token: nil)
            #expect(live.status == .ok)
            #expect(live.object["status"] as? String == "ok")
            let ready = try await client.api(.get, "/health/ready", token: nil)
            #expect(ready.status == .ok, "\(ready.text)")
            let metrics = try await client.api(.get, "/metrics", token: nil)
            #expect(metrics.status == .ok)
            #expect(metrics.headers[.contentType]?.hasPrefix("text/plain") == true)
            #expect(metrics.text.contains("tracker_up 1"))
            let openapi = try await client.api(.get, "/openapi.yaml", token: nil)
            #expect(openapi.status == .ok)
            #expect(openapi.text.hasPrefix("openapi: 3.1"))
        }
        api.services.readiness = {
            [
                DependencyCheck("bus", .up, "every consumer runs"),
                DependencyCheck("database", .down, "the fleet store does not answer: unavailable"),
                DependencyCheck("socketio", .down, "the gateway has shut down"),
            ]
        }
        try await api.test { client in
            let ready = try await client.api(.get, "/health/ready", token: nil)
            expectProblem(ready, 503)
            #expect(ready.object["checks"] as? [String] == ["database", "socketio"])
            #expect((ready.object["detail"] as? String)?.contains("database (the fleet store does not answer") == true)
        }
        // A degraded dependency: still ready (200), named under `degraded`, every line with its reason.
        api.services.readiness = {
            [DependencyCheck("database", .up, "answers"), DependencyCheck("cache", .degraded, "reads fall back")]
        }
        try await api.test { client in
            let ready = try await client.api(.get, "/health/ready", token: nil)
            #expect(ready.status == .ok, "\(ready.text)")
            #expect(ready.object["degraded"] as? [String] == ["cache"])
            #expect(ready.object["checks"] as? [String] == ["cache", "database"])
            let dependencies = ready.object["dependencies"] as? [String: [String: String]]
            #expect(dependencies?["cache"] == ["status": "degraded", "reason": "reads fall back"])
            #expect(dependencies?["database"]?["status"] == "up")
        }
    }
}
