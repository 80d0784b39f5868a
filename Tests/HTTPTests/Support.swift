import AdapterSupport
import Application
import Domain
import Foundation
import HTTPAdapters
import Hummingbird
import HummingbirdTesting
import InMemoryAdapters
import Logging
import Testing

@testable import Benchmarks
@testable import Composition
@testable import Simulation

/// Traccar bodies from traccar-webhook.md §1.4 and §2, verbatim.
enum Fixtures {
    /// A. 5.12–6.9, phone with Traccar Client.
    static let positionA = #"""
        {"position":{"id":0,"attributes":{"batteryLevel":87.0,"distance":41.23987654321,"totalDistance":15234.5612345,"motion":true},"deviceId":12,"protocol":"osmand","serverTime":"2025-03-14T08:15:31.482+00:00","deviceTime":"2025-03-14T08:15:30.000+00:00","fixTime":"2025-03-14T08:15:30.000+00:00","outdated":false,"valid":true,"latitude":52.520008,"longitude":13.404954,"altitude":38.0,"speed":23.758,"course":271.0,"address":null,"accuracy":0.0,"network":null,"geofenceIds":null},"device":{"id":12,"attributes":{},"groupId":0,"calendarId":0,"name":"Van 7 (phone)","uniqueId":"48241179","status":"online","lastUpdate":"2025-03-14T08:14:59.871+00:00","positionId":4710,"phone":null,"model":null,"contact":null,"category":null,"disabled":false,"expirationTime":null}}
        """#

    /// B. 6.10+, Teltonika with ignition, inside geofence 3 (no `outdated`).
    static let positionB = #"""
        {"position":{"id":0,"attributes":{"priority":0,"sat":14,"event":0,"ignition":true,"motion":true,"power":13.812,"battery":4.087,"odometer":152340,"distance":213.8711223,"totalDistance":1523401.27893,"hours":30924000},"deviceId":7,"protocol":"teltonika","serverTime":"2025-03-14T08:15:31.902+00:00","deviceTime":"2025-03-14T08:15:29.000+00:00","fixTime":"2025-03-14T08:15:29.000+00:00","valid":true,"latitude":48.137154,"longitude":11.576124,"altitude":519.0,"speed":27.0,"course":92.0,"address":null,"accuracy":0.0,"network":null,"geofenceIds":[3]},"device":{"id":7,"attributes":{},"groupId":0,"calendarId":0,"name":"Truck MU-TR 204","uniqueId":"356307042441013","status":"online","lastUpdate":"2025-03-14T08:15:00.114+00:00","positionId":918273,"phone":null,"model":null,"contact":null,"category":"truck","disabled":false,"expirationTime":null}}
        """#

    /// `geofenceEnter` (6.10+).
    static let geofenceEnter = #"""
        {"event":{"id":55120,"attributes":{},"deviceId":7,"type":"geofenceEnter","eventTime":"2025-03-14T08:15:29.000+00:00","positionId":918274,"geofenceId":3,"maintenanceId":0},"position":{"id":918274,"attributes":{"sat":14,"ignition":true,"motion":true,"distance":213.8711223,"totalDistance":1523401.27893},"deviceId":7,"protocol":"teltonika","serverTime":"2025-03-14T08:15:31.902+00:00","deviceTime":"2025-03-14T08:15:29.000+00:00","fixTime":"2025-03-14T08:15:29.000+00:00","valid":true,"latitude":48.137154,"longitude":11.576124,"altitude":519.0,"speed":27.0,"course":92.0,"address":null,"accuracy":0.0,"network":null,"geofenceIds":[3]},"device":{"id":7,"attributes":{},"groupId":0,"calendarId":0,"name":"Truck MU-TR 204","uniqueId":"356307042441013","status":"online","lastUpdate":"2025-03-14T08:15:31.902+00:00","positionId":918274,"phone":null,"model":null,"contact":null,"category":"truck","disabled":false,"expirationTime":null},"geofence":{"id":3,"attributes":{},"calendarId":0,"name":"Depot North","description":"Main yard","area":"CIRCLE (48.13710 11.57600, 250)"}}
        """#

    /// `deviceOnline` (no `position`).
    static let deviceOnline = #"""
        {"event":{"id":55121,"attributes":{},"deviceId":12,"type":"deviceOnline","eventTime":"2025-03-14T08:20:02.117+00:00","positionId":0,"geofenceId":0,"maintenanceId":0},"device":{"id":12,"attributes":{},"groupId":0,"calendarId":0,"name":"Van 7 (phone)","uniqueId":"48241179","status":"online","lastUpdate":"2025-03-14T08:15:31.482+00:00","positionId":4711,"phone":null,"model":null,"contact":null,"category":null,"disabled":false,"expirationTime":null}}
        """#

    /// The `deviceOverspeed` and `alarm` event objects of §2, wrapped with device A.
    static let overspeed = #"""
        {"event":{"id":55122,"attributes":{"speed":48.6,"speedLimit":43.2},"deviceId":7,"type":"deviceOverspeed","eventTime":"2025-03-14T08:31:12.000+00:00","positionId":918390,"geofenceId":0,"maintenanceId":0},"device":{"uniqueId":"356307042441013"}}
        """#
    static let alarm = #"""
        {"event":{"id":55123,"attributes":{"alarm":"sos"},"deviceId":7,"type":"alarm","eventTime":"2025-03-14T08:40:00.000+00:00","positionId":918402,"geofenceId":0,"maintenanceId":0},"device":{"uniqueId":"356307042441013"}}
        """#

    static let deviceA = "48241179"
    static let deviceB = "356307042441013"

    /// The system clock of the HTTP tests: a few minutes after the example fixes.
    static let now = Timestamp(millisecondsSinceEpoch: 1_741_940_400_000)  // 2025-03-14T08:20:00Z

    /// Example A with `position` fields replaced (JSON fragments, spliced verbatim).
    static func positionA(replacing field: String, with json: String) -> String {
        replace(field, in: positionA, with: json)
    }

    /// Replaces the first `"field":value` pair's value.
    static func replace(_ field: String, in body: String, with json: String) -> String {
        guard let keyRange = body.range(of: "\"\(field)\":") else { return body }
        var end = keyRange.upperBound
        var depth = 0
        var inString = false
        while end < body.endIndex {
            let c = body[end]
            if inString {
                if c == "\"" { inString = false }
            } else if c == "\"" {
                inString = true
            } else if c == "{" || c == "[" {
                depth += 1
            } else if c == "}" || c == "]" {
                if depth == 0 { break }
                depth -= 1
            } else if c == ",", depth == 0 {
                break
            }
            end = body.index(after: end)
        }
        return body.replacingCharacters(in: keyRange.upperBound..<end, with: json)
    }
}

/// A whole in-memory system behind the real router, with a fixed clock.
struct TestAPI {
    static let webhookSecret = TrackerConfiguration.developmentWebhookSecret
    static let jwtSecret = TrackerConfiguration.developmentJWTSecret

    let system: TrackerSystem
    let clock: ManualWallClock
    var services: HTTPServices
    let tokens: TokenAuthority

    init(bodyLimit: Int? = nil) {
        var environment: [String: String] = [:]
        if let bodyLimit { environment["HTTP_BODY_LIMIT"] = String(bodyLimit) }
        let configuration = TrackerConfiguration.inMemory(environment: environment)
        var logger = Logger(label: "http-tests")
        logger.logLevel = .critical
        clock = ManualWallClock(Fixtures.now)
        system = TrackerSystem.inMemory(configuration: configuration, logger: logger, clock: clock)
        services = system.httpServices()
        tokens = TokenAuthority(secret: Self.jwtSecret)
    }

    /// Runs `body` against the router (no network).
    func test<Value: Sendable>(_ body: @Sendable (any TestClientProtocol) async throws -> Value) async throws -> Value {
        let app = Application(router: makeRouter(services: services))
        return try await app.test(.router, body)
    }

    func token(_ role: Role, tenant: String = "acme", subject: String? = nil) async throws -> String {
        let principal = Principal(tenantId: TenantID(tenant), role: role, subject: subject ?? "\(role)")
        return try await tokens.mint(principal: principal, ttl: .seconds(3600))
    }
}

/// Request helpers.
extension TestClientProtocol {
    func webhook(_ path: String, _ body: String, secret: String? = TestAPI.webhookSecret) async throws -> TestResponse {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let secret { headers[.authorization] = "Bearer \(secret)" }
        return try await execute(uri: path, method: .post, headers: headers, body: ByteBuffer(string: body))
    }

    func api(
        _ method: HTTPRequest.Method,
        _ path: String,
        token: String?,
        json: String? = nil,
        headers extra: HTTPFields = [:]
    ) async throws -> TestResponse {
        var headers = extra
        if let token { headers[.authorization] = "Bearer \(token)" }
        if json != nil, headers[.contentType] == nil { headers[.contentType] = "application/json" }
        return try await execute(uri: path, method: method, headers: headers, body: json.map { ByteBuffer(string: $0) })
    }
}

extension TestResponse {
    var text: String { String(buffer: body) }

    /// The body as a JSON object (empty when it is not one).
    var object: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
    }

    var array: [[String: Any]] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [[String: Any]] ?? []
    }
}

/// Checks that `response` is an RFC 9457 problem with `status`.
func expectProblem(
    _ response: TestResponse,
    _ status: Int,
    field: String? = nil,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(response.status.code == status, "body: \(response.text)", sourceLocation: sourceLocation)
    #expect(response.headers[.contentType] == "application/problem+json", sourceLocation: sourceLocation)
    let problem = response.object
    #expect(problem["status"] as? Int == status, sourceLocation: sourceLocation)
    #expect((problem["type"] as? String)?.hasPrefix("urn:tracker:problem:") == true, sourceLocation: sourceLocation)
    #expect(problem["title"] is String, sourceLocation: sourceLocation)
    #expect((problem["detail"] as? String)?.isEmpty == false, sourceLocation: sourceLocation)
    if let field {
        #expect(problem["field"] as? String == field, "body: \(response.text)", sourceLocation: sourceLocation)
    }
}
