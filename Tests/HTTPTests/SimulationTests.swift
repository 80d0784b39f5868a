import Application
import ArgumentParser
import Domain
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Synchronization
import Testing

@testable import Benchmarks
@testable import Composition
@testable import Simulation

@Suite("Simulation")
struct SimulationTests {
    /// 2025-03-14T08:00:00Z.
    static let now = Timestamp(millisecondsSinceEpoch: 1_741_939_200_000)
    static let date = CalendarDate(year: 2025, month: 3, day: 14)
    static let day = "20250314"

    static func scenario(drivers: Int = 40, seed: UInt64 = 42) -> DemoScenario {
        DemoScenario.make(drivers: drivers, date: date, now: now, seed: seed)
    }

    /// Runs the simulator at 1 s steps for `seconds`, returning every tick's fixes.
    static func simulate(_ scenario: DemoScenario, seconds: Int) -> [[SimulatedFix]] {
        var simulator = DriverSimulator(scenario: scenario, start: now)
        return (1...seconds).map { simulator.tick(now: now + .seconds($0), interval: .seconds(1)) }
    }

    // MARK: Scenario

    /// The same seed gives the same tenant; another seed a different one.
    @Test func scenarioIsDeterministic() {
        let a = Self.scenario()
        let b = Self.scenario()
        #expect(a.customers.map(\.id) == b.customers.map(\.id))
        #expect(a.customers.map(\.input) == b.customers.map(\.input))
        #expect(a.drivers == b.drivers)
        #expect(a.routes == b.routes)
        #expect(a.streets.map { [$0.from, $0.to] } == b.streets.map { [$0.from, $0.to] })
        #expect(a.plans == b.plans)

        let other = Self.scenario(seed: 7)
        #expect(other.customers.map(\.input) != a.customers.map(\.input))

        // Same seed, same fixes.
        let fa = Self.simulate(a, seconds: 60)
        let fb = Self.simulate(b, seconds: 60)
        #expect(fa == fb)
    }

    /// Ids, counts and ranges as documented.
    @Test func scenarioShape() throws {
        let s = Self.scenario()
        #expect(s.tenantId == "demo")
        #expect(s.drivers.count == 40 && s.routes.count == 40 && s.plans.count == 40)
        #expect(s.drivers.first?.id == "drv-0001" && s.drivers.first?.deviceId == "dev-0001")
        #expect(s.customers.first?.id == "cust-00001")
        #expect(Set(s.customers.map(\.id)).count == s.customers.count)
        #expect(Set(s.drivers.map(\.deviceId)).count == s.drivers.count)
        #expect(!s.streets.isEmpty)
        let perDriver = Double(s.customers.count) / Double(s.drivers.count)
        #expect(perDriver >= 5 && perDriver <= 8)
        #expect(s.drivers.filter { $0.vehicleType == .van }.count > s.drivers.count / 2)
        #expect(Set(s.drivers.compactMap(\.vehicleType)).count >= 3)

        let customers = Dictionary(uniqueKeysWithValues: s.customers.map { ($0.id, $0.input) })
        for (index, route) in s.routes.enumerated() {
            let number = String(format: "%04d", index + 1)
            #expect(route.id?.rawValue == "route-\(Self.day)-\(number)")
            #expect(route.driverId.rawValue == "drv-\(number)")
            #expect(route.scheduledDate == Self.date)
            #expect((5...8).contains(route.visits.count), "route \(number): \(route.visits.count) stops")
            for (k, visit) in route.visits.enumerated() {
                #expect(visit.id?.rawValue == "visit-\(Self.day)-\(number)-\(String(format: "%02d", k + 1))")
                #expect(visit.sequenceNumber == k + 1)
                #expect((120...600).contains(visit.serviceDurationSeconds ?? 0))
                let window = try #require(visit.timeWindow)
                let hours = (window.end - window.start).secondsValue / 3600
                #expect(hours >= 1 && hours <= 2.1, "visit \(visit.id!): window \(hours) h")
                let customer = try #require(customers[visit.customerId])
                #expect((60...120).contains(customer.geofenceRadiusMeters ?? 0))
                #expect(!customer.name.isEmpty && customer.address != nil)
            }
            // The driver starts 150–500 m from its first stop.
            let plan = s.plans[index]
            let start = s.frame.coordinate(plan.start.point)
            let d = Geo.distanceMeters(start, plan.stops[0].location)
            #expect(d >= 149 && d <= 501, "route \(number): start \(d) m from the first stop")
        }
        // Some windows are tight: they end within 10 minutes of the planned arrival or earlier.
        let ends = s.routes.flatMap(\.visits).compactMap(\.timeWindow?.end)
        #expect(ends.contains { $0 < Self.now + .seconds(3600) })
    }

    /// Every pair of customers on one route is at least 300 m apart.
    @Test(arguments: [1, 40, 500])
    func routeCustomersAreSpreadOut(drivers: Int) {
        let s = Self.scenario(drivers: drivers)
        let locations = Dictionary(
            uniqueKeysWithValues: s.customers.map {
                ($0.id, Coordinate(latitude: $0.input.latitude, longitude: $0.input.longitude))
            }
        )
        var closest = Double.infinity
        for route in s.routes {
            let points = route.visits.map { locations[$0.customerId]! }
            for i in points.indices {
                for j in points.indices where j > i { closest = min(closest, Geo.distanceMeters(points[i], points[j])) }
            }
        }
        #expect(closest >= 300, "closest pair \(closest) m")
    }

    // MARK: Simulator

    /// Every driver dwells ≥ 30 s inside its first customer's radius within 5 simulated minutes.
    @Test func firstStopDwellWithinFiveMinutes() {
        let s = Self.scenario()
        let ticks = Self.simulate(s, seconds: 300)
        for (index, plan) in s.plans.enumerated() {
            let stop = plan.stops[0]
            var since: Timestamp?
            var longest: Duration = .zero
            for fixes in ticks {
                let fix = fixes[index]
                if Geo.distanceMeters(fix.coordinate, stop.location) <= stop.radiusMeters {
                    let start = since ?? fix.fixTime
                    since = start
                    longest = max(longest, fix.fixTime - start)
                } else {
                    since = nil
                }
            }
            #expect(longest >= .seconds(30), "driver \(plan.driverId): longest dwell \(longest)")
        }
    }

    /// The domain's geofence detector, fed the simulated fixes, arrives at and departs from every stop in sequence,
    /// and the driver ends parked at its depot.
    @Test func geofenceDetectorSeesEveryStopInSequence() {
        let s = Self.scenario(drivers: 15)
        let detector = GeofenceDetector()
        var phases = [GeofencePhase](repeating: .outside, count: s.plans.count)
        var open = s.plans.map { $0.stops }
        var arrivals = [[VisitID]](repeating: [], count: s.plans.count)
        var simulator = DriverSimulator(scenario: s, start: Self.now)
        for second in 1...7200 {
            let fixes = simulator.tick(now: Self.now + .seconds(second), interval: .seconds(1))
            for (i, fix) in fixes.enumerated() {
                let candidates = open[i].map {
                    GeofenceCandidate(
                        visitId: $0.visitId,
                        customerId: $0.customerId,
                        center: $0.location,
                        radiusMeters: $0.radiusMeters
                    )
                }
                let (phase, transition) = detector.step(
                    phase: phases[i],
                    position: fix.coordinate,
                    at: fix.fixTime,
                    candidates: candidates
                )
                phases[i] = phase
                switch transition {
                case .arrived(let visit): arrivals[i].append(visit)
                case .departed(let visit): open[i].removeAll { $0.visitId == visit }
                case nil: break
                }
            }
        }
        for (i, plan) in s.plans.enumerated() {
            #expect(arrivals[i] == plan.stops.map(\.visitId), "driver \(plan.driverId) arrived \(arrivals[i])")
            #expect(open[i].isEmpty, "driver \(plan.driverId) never departed \(open[i].map(\.visitId))")
        }
        #expect(simulator.parkedCount == s.plans.count)
        let last = simulator.tick(now: Self.now + .seconds(7201), interval: .seconds(1))
        #expect(last.allSatisfy { !$0.ignition && !$0.motion && $0.speedKnots == 0 })
    }

    /// Speeds stay within 0–50 km/h, typical cruising is realistic, drivers sometimes stop at red lights, and
    /// batteries drain (some start low).
    @Test func speedsAndSignalsAreRealistic() {
        let s = Self.scenario()
        let ticks = Self.simulate(s, seconds: 1200)
        let all = ticks.flatMap { $0 }
        #expect(all.allSatisfy { $0.speedKmh >= 0 && $0.speedKmh <= 50.01 })
        let moving = all.filter(\.motion).map(\.speedKmh).sorted()
        #expect(!moving.isEmpty)
        let median = moving[moving.count / 2]
        #expect(median >= 20 && median <= 45, "median moving speed \(median) km/h")
        #expect(moving.filter { $0 >= 25 }.count > moving.count / 2)
        // Stopped with the engine on: red lights (dwelling at a customer turns the ignition off).
        #expect(all.contains { $0.ignition && !$0.motion })
        #expect(all.contains { !$0.ignition && !$0.motion })
        #expect(all.allSatisfy { (0...360).contains($0.course) && (1...100).contains($0.batteryLevel) })
        for i in s.plans.indices {
            #expect(ticks.last![i].batteryLevel <= ticks.first![i].batteryLevel)
            #expect(ticks.last![i].totalDistanceMeters > 1000)
        }
        #expect(ticks.first!.contains { $0.batteryLevel < 25 }, "a few drivers start low on battery")
        // Fix-to-fix steps never exceed what 50 km/h plus a GPS outlier explains.
        for i in s.plans.indices {
            for (a, b) in zip(ticks, ticks.dropFirst()) {
                #expect(Geo.distanceMeters(a[i].coordinate, b[i].coordinate) < 14 + 2 * 45)
            }
        }
    }

    // MARK: Webhook body

    static let positionKeys = [
        "id", "attributes", "deviceId", "protocol", "serverTime", "deviceTime", "fixTime", "valid", "latitude",
        "longitude", "altitude", "speed", "course", "address", "accuracy", "network", "geofenceIds",
    ]
    static let deviceKeys = [
        "id", "attributes", "groupId", "calendarId", "name", "uniqueId", "status", "lastUpdate", "positionId",
        "phone", "model", "contact", "category", "disabled", "expirationTime",
    ]

    static let fix = SimulatedFix(
        deviceId: "dev-0007",
        fixTime: Timestamp(millisecondsSinceEpoch: 1_741_940_130_000),
        latitude: 52.520008,
        longitude: 13.404954,
        altitude: 38,
        speedKnots: 23.758,
        course: 271,
        batteryLevel: 87,
        ignition: true,
        motion: true,
        distanceMeters: 41.24,
        totalDistanceMeters: 15234.56
    )

    /// The body has Traccar's shape, key order, units and date format (reference §1.4 example B).
    @Test func webhookBodyMatchesTraccar() throws {
        let bytes = TraccarWebhookBody.encode(Self.fix, deviceNumericId: 7, name: #"Van "7" \ B-DT"#, category: "van")
        let text = String(decoding: bytes, as: UTF8.self)
        let root = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        #expect(Set(root.keys) == ["position", "device"])
        let position = try #require(root["position"] as? [String: Any])
        let device = try #require(root["device"] as? [String: Any])
        #expect(Set(position.keys) == Set(Self.positionKeys))
        #expect(Set(device.keys) == Set(Self.deviceKeys))

        #expect(text.hasPrefix(#"{"position":{"id":0,"attributes":{"batteryLevel":87.0,"ignition":true,"#))
        #expect(text.contains(#""speed":23.758,"course":271.0,"#))
        #expect(text.contains(#""latitude":52.520008,"longitude":13.404954,"altitude":38.0,"#))
        #expect(text.contains(#""fixTime":"2025-03-14T08:15:30.000+00:00""#))
        #expect(text.contains(#""address":null,"accuracy":0.0,"network":null,"geofenceIds":null},"device":{"id":7,"#))
        #expect(!text.contains("outdated"))

        // Key order: each key appears after the previous one, within its object.
        let positionText = String(text[..<text.range(of: #""device":{"#)!.lowerBound])
        let deviceText = String(text[text.range(of: #""device":{"#)!.upperBound...])
        for (keys, body) in [(Self.positionKeys, positionText), (Self.deviceKeys, deviceText)] {
            var cursor = body.startIndex
            for key in keys {
                let found = try #require(body.range(of: "\"\(key)\":", range: cursor..<body.endIndex), "key \(key)")
                cursor = found.upperBound
            }
        }

        #expect(position["id"] as? Int == 0)
        #expect(position["deviceId"] as? Int == 7)
        #expect(position["protocol"] as? String == "osmand")
        #expect(position["valid"] as? Bool == true)
        #expect(position["address"] is NSNull)
        let attributes = try #require(position["attributes"] as? [String: Any])
        #expect(attributes["batteryLevel"] as? Double == 87)
        #expect(attributes["ignition"] as? Bool == true)
        #expect(attributes["motion"] as? Bool == true)
        #expect(device["name"] as? String == #"Van "7" \ B-DT"#)
        #expect(device["uniqueId"] as? String == "dev-0007")
        #expect(device["category"] as? String == "van")
        #expect(device["status"] as? String == "online")

        let pattern = try Regex(#"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+00:00$"#)
        for date in [position["serverTime"], position["deviceTime"], position["fixTime"], device["lastUpdate"]] {
            let value = try #require(date as? String)
            #expect(value.wholeMatch(of: pattern) != nil, "date \(value)")
        }
        let serverTime = try #require(position["serverTime"] as? String)
        #expect(serverTime > "2025-03-14T08:15:30.000+00:00" && serverTime < "2025-03-14T08:15:31.000+00:00")

        let legacy = String(
            decoding: TraccarWebhookBody.encode(
                Self.fix,
                deviceNumericId: 7,
                name: "x",
                includeOutdated: true
            ),
            as: UTF8.self
        )
        #expect(legacy.contains(#""fixTime":"2025-03-14T08:15:30.000+00:00","outdated":false,"valid":true,"#))
        #expect(legacy.contains(#""category":null,"#))
    }

    /// Dates across the epoch, leap days and millisecond edges.
    @Test(arguments: [
        (Int64(0), "1970-01-01T00:00:00.000+00:00"),
        (Int64(951_782_400_999), "2000-02-29T00:00:00.999+00:00"),
        (Int64(1_741_940_130_482), "2025-03-14T08:15:30.482+00:00"),
        (Int64(-1), "1969-12-31T23:59:59.999+00:00"),
    ])
    func dateFormat(milliseconds: Int64, expected: String) {
        #expect(TraccarWebhookBody.formatDate(Timestamp(millisecondsSinceEpoch: milliseconds)) == expected)
    }

    // MARK: Command line

    @Test(arguments: [
        ("1s", Duration.seconds(1)), ("500ms", .milliseconds(500)), ("2m", .seconds(120)),
        ("1.5s", .milliseconds(1500)),
        ("1h", .seconds(3600)), (" 250MS ", .milliseconds(250)),
    ])
    func parsesDurations(text: String, expected: Duration) {
        #expect(SimulateCommand.parseDuration(text) == expected)
    }

    @Test(arguments: ["", "1", "s", "abc", "-1s", "1x", "1.2.3s", "ms", "1e3s"])
    func rejectsBadDurations(text: String) {
        #expect(SimulateCommand.parseDuration(text) == nil)
    }

    /// Bad arguments give clear validation errors instead of crashes.
    @Test(arguments: [
        ["--url", "http://localhost:8080", "--secret", "s", "--interval", "fast"],
        ["--url", "http://localhost:8080", "--secret", "s", "--duration", "0s"],
        ["--url", "localhost:8080", "--secret", "s"],
        ["--url", "http://localhost:8080", "--secret", "s", "--drivers", "0"],
        ["--url", "http://localhost:8080", "--secret", "s", "--token", "t", "--no-seed"],
        ["--url", "http://localhost:8080", "--secret", ""],
    ])
    func rejectsBadArguments(arguments: [String]) {
        #expect(throws: (any Error).self) { try SimulateCommand.parse(arguments) }
    }

    @Test func acceptsGoodArguments() throws {
        let command = try SimulateCommand.parse([
            "--drivers", "5", "--interval", "500ms", "--url", "http://127.0.0.1:9", "--duration", "2m", "--secret",
            "s3cr3t", "--no-seed", "--seed", "7",
        ])
        #expect(command.drivers == 5 && command.noSeed && command.seed == 7 && command.resolvedSecret == "s3cr3t")
    }

    @Test func progressLine() {
        var stats = WebhookPoster.Stats()
        stats.sent = 59_000
        stats.ok = 59_000
        stats.p50Milliseconds = 3.1
        stats.p99Milliseconds = 12
        #expect(
            SimulationRunner.progressLine(elapsed: .seconds(60), stats: stats)
                == "sim: 60s elapsed, 59,000 sent, 59,000 ok, 0 failed, p50 3.1 ms p99 12.0 ms"
        )
        #expect(SimulationRunner.grouped(1_234_567) == "1,234,567" && SimulationRunner.grouped(12) == "12")
    }

    @Test func latencyHistogram() throws {
        var histogram = LatencyHistogram()
        #expect(histogram.quantile(0.5) == nil)
        for ms in 1...100 { histogram.add(milliseconds: Double(ms)) }
        let p50 = try #require(histogram.quantile(0.5))
        let p99 = try #require(histogram.quantile(0.99))
        #expect(abs(p50 - 50) / 50 < 0.05 && abs(p99 - 99) / 99 < 0.05, "p50 \(p50) p99 \(p99)")
    }

    // MARK: HTTP

    /// What a fake tracker received.
    final class Received: Sendable {
        let requests = Mutex<[(path: String, method: String, authorization: String?, body: String)]>([])
        func add(_ path: String, _ method: String, _ authorization: String?, _ body: String) {
            requests.withLock { $0.append((path, method, authorization, body)) }
        }
        var all: [(path: String, method: String, authorization: String?, body: String)] { requests.withLock { $0 } }
    }

    /// A fake tracker: accepts webhooks with the right secret, and answers the seeding endpoints like production
    /// mode (customers 501) with drivers and routes already present on the second try (409).
    static func fakeTracker(_ received: Received) -> some ApplicationProtocol {
        let router = Router()
        router.post("/api/traccar/positions") { request, context -> HTTPResponse.Status in
            let body = try await request.body.collect(upTo: 1 << 20)
            received.add("/api/traccar/positions", "POST", request.headers[.authorization], String(buffer: body))
            return request.headers[.authorization] == "Bearer s3cr3t" ? .accepted : .unauthorized
        }
        router.put("/api/customers/:id") { request, context -> Response in
            let body = try await request.body.collect(upTo: 1 << 20)
            received.add(request.uri.path, "PUT", request.headers[.authorization], String(buffer: body))
            return Response(
                status: .notImplemented,
                headers: [.contentType: "application/problem+json"],
                body: .init(byteBuffer: ByteBuffer(string: #"{"title":"Not Implemented"}"#))
            )
        }
        for path in ["/api/drivers", "/api/routes"] {
            router.post(RouterPath(path)) { request, context -> HTTPResponse.Status in
                let body = try await request.body.collect(upTo: 1 << 20)
                let text = String(buffer: body)
                let seen = received.all.contains { $0.path == path && $0.body == text }
                received.add(path, "POST", request.headers[.authorization], text)
                return seen ? .conflict : .created
            }
        }
        return Application(router: router)
    }

    /// The runner posts every driver's fix each interval, all accepted, and stops after the duration.
    @Test func runnerPostsToTracker() async throws {
        let received = Received()
        let s = Self.scenario(drivers: 5)
        let result = try await Self.fakeTracker(received).test(.live) { client in
            let runner = SimulationRunner(
                scenario: s,
                configuration: .init(
                    url: "http://127.0.0.1:\(client.port!)/",
                    secret: "s3cr3t",
                    interval: .milliseconds(200),
                    duration: .seconds(1)
                ),
                log: { _ in }
            )
            return await runner.run()
        }
        #expect((3...5).contains(result.ticks))
        #expect(
            result.stats.sent == 5 * result.ticks && result.stats.ok == result.stats.sent && result.stats.failed == 0
        )
        #expect(result.stats.p50Milliseconds != nil)
        let posts = received.all
        #expect(posts.count == result.stats.sent)
        #expect(posts.allSatisfy { $0.authorization == "Bearer s3cr3t" && $0.path == "/api/traccar/positions" })
        #expect(posts.allSatisfy { $0.body.hasPrefix(#"{"position":{"id":0,"#) })
        #expect(Set(posts.map { $0.body.contains(#""uniqueId":"dev-0003""#) }) == [true, false])
    }

    /// Rejections and connection errors are counted, never fatal.
    @Test func posterCountsFailures() async throws {
        let received = Received()
        let body = TraccarWebhookBody.encode(Self.fix, deviceNumericId: 1, name: "x")
        let rejected = try await Self.fakeTracker(received).test(.live) { client in
            let poster = WebhookPoster(baseURL: "http://127.0.0.1:\(client.port!)", secret: "wrong", maxInFlight: 4)
            await poster.post(all: Array(repeating: body, count: 10))
            let stats = poster.stats()
            await poster.shutdown()
            return stats
        }
        #expect(rejected.sent == 10 && rejected.rejected == 10 && rejected.ok == 0)
        #expect(rejected.firstRejection?.hasPrefix("HTTP 401") == true)

        // Port 9 (discard) is closed on test machines: connection refused.
        let poster = WebhookPoster(baseURL: "http://127.0.0.1:9", secret: "s", maxInFlight: 4, timeout: .seconds(2))
        await poster.post(all: Array(repeating: body, count: 6))
        let unreachable = poster.stats()
        await poster.shutdown()
        #expect(unreachable.sent == 6 && unreachable.errors == 6 && unreachable.firstError != nil)
    }

    /// Seeding: 501 for customers is production mode (noted, skipped), 409 means already there; bodies are the
    /// REST shapes (camelCase, ISO-8601 time windows, `YYYY-MM-DD` dates).
    @Test func seedingOverREST() async throws {
        let received = Received()
        let s = Self.scenario(drivers: 3)
        let lines = Mutex<[String]>([])
        let (first, second) = try await Self.fakeTracker(received).test(.live) { client in
            let url = "http://127.0.0.1:\(client.port!)"
            let log: @Sendable (String) -> Void = { line in lines.withLock { $0.append(line) } }
            let first = try await SimulationRunner.seed(via: url, token: "tok", scenario: s, log: log)
            let second = try await SimulationRunner.seed(via: url, token: "tok", scenario: s, log: log)
            return (first, second)
        }
        #expect(first.customersManagedElsewhere && first.customersCreated == 0)
        #expect(first.driversCreated == 3 && first.routesCreated == 3 && first.failures == 0)
        #expect(second.driversExisting == 3 && second.routesExisting == 3 && second.failures == 0)
        #expect(lines.withLock { $0 }.contains { $0.contains("production mode") })

        let requests = received.all
        #expect(requests.allSatisfy { $0.authorization == "Bearer tok" })
        #expect(requests.filter { $0.method == "PUT" }.count == 2)  // one probe per run
        #expect(requests.first { $0.method == "PUT" }?.path == "/api/customers/cust-00001")

        let driver = try #require(requests.first { $0.path == "/api/drivers" })
        let driverJSON = try #require(try JSONSerialization.jsonObject(with: Data(driver.body.utf8)) as? [String: Any])
        #expect(driverJSON["id"] as? String == "drv-0001" && driverJSON["deviceId"] as? String == "dev-0001")
        #expect(driverJSON["vehicleType"] is String)

        let route = try #require(requests.first { $0.path == "/api/routes" })
        let routeJSON = try #require(try JSONSerialization.jsonObject(with: Data(route.body.utf8)) as? [String: Any])
        #expect(routeJSON["scheduledDate"] as? String == "2025-03-14")
        let visits = try #require(routeJSON["visits"] as? [[String: Any]])
        let window = try #require(visits.first?["timeWindow"] as? [String: Any])
        let start = try #require(window["start"] as? String)
        #expect(start.wholeMatch(of: try Regex(#"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z"#)) != nil)
        #expect(visits.first?["customerId"] is String && visits.first?["sequenceNumber"] as? Int == 1)
    }

    /// 401 on the first request stops seeding with a clear message.
    @Test func seedingStopsOnBadToken() async throws {
        let router = Router()
        router.put("/api/customers/:id") { _, _ -> HTTPResponse.Status in .unauthorized }
        let error = try await Application(router: router).test(.live) { client in
            await #expect(throws: SimulationRunner.SeedError.self) {
                try await SimulationRunner.seed(
                    via: "http://127.0.0.1:\(client.port!)",
                    token: "bad",
                    scenario: Self.scenario(drivers: 1),
                    log: { _ in }
                )
            }
        }
        #expect(error?.description.contains("HTTP 401") == true)
        #expect(error?.description.contains("--no-seed") == true)
    }
}
