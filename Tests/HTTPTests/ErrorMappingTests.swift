import Application
import Domain
import HTTPAdapters
import Hummingbird
import HummingbirdTesting
import Testing

@testable import Benchmarks
@testable import Composition
@testable import Simulation

/// A fleet store whose every call fails with `error`.
private struct FailingFleetStore: FleetStore {
    let error: any Error & Sendable

    func saveDriver(_ driver: Driver) async throws { throw error }
    func driver(_ id: DriverID, tenantId: TenantID) async throws -> Driver? { throw error }
    func driver(deviceId: DeviceID) async throws -> Driver? { throw error }
    func drivers(tenantId: TenantID) async throws -> [Driver] { throw error }
    func createRoute(_ route: Route, visits: [PlannedVisit]) async throws { throw error }
    func route(_ id: RouteID, tenantId: TenantID) async throws -> Route? { throw error }
    func routes(tenantId: TenantID, date: CalendarDate?, driverId: DriverID?) async throws -> [Route] { throw error }
    func visits(routeId: RouteID, tenantId: TenantID) async throws -> [PlannedVisit] { throw error }
    func visit(_ id: VisitID, tenantId: TenantID) async throws -> PlannedVisit? { throw error }
    func updateVisit(_ visit: PlannedVisit, expectedStatus: VisitStatus) async throws -> Route { throw error }
    func saveSnapshot(_ snapshot: DriverSnapshot) async throws { throw error }
    func snapshot(driverId: DriverID, tenantId: TenantID) async throws -> DriverSnapshot? { throw error }
    func snapshots(tenantId: TenantID) async throws -> [DriverSnapshot] { throw error }
    func staleSnapshots(before: Timestamp) async throws -> [DriverSnapshot] { throw error }
    func recordSync(_ progress: SyncProgress) async throws { throw error }
    func markLagging(tableName: String, lastSyncedAt: Timestamp) async throws -> Bool { throw error }
    func syncStates() async throws -> [SyncState] { throw error }
}

private struct Kaboom: Error, CustomStringConvertible {
    var description: String { "SELECT secret FROM internals" }
}

@Suite("Error mapping")
struct ErrorMappingTests {
    /// Store outages answer 503 (with Retry-After), unexpected errors 500 with a generic detail: never internals.
    @Test(arguments: [
        ("unavailable", 503), ("closed", 503), ("duplicate", 500), ("kaboom", 500),
    ])
    func storeFailures(kind: String, status: Int) async throws {
        let error: any Error & Sendable =
            switch kind {
            case "unavailable": StoreError.unavailable("postgres down at 10.0.0.7")
            case "closed": StoreError.closed()
            case "duplicate": StoreError.duplicate("row 7")
            default: Kaboom()
            }
        var api = TestAPI()
        api.services.drivers = DriverManagement(fleet: FailingFleetStore(error: error))
        api.services.ingest = IngestTraccar(
            fleet: FailingFleetStore(error: error),
            bus: api.system.adapters.bus,
            clock: api.clock,
            logger: api.system.logger
        )
        let admin = try await api.token(.admin)
        try await api.test { client in
            for response in [
                try await client.api(.get, "/api/drivers", token: admin),
                try await client.api(.post, "/api/drivers", token: admin, json: #"{"deviceId":"1","name":"x"}"#),
                try await client.webhook("/api/traccar/positions", Fixtures.positionA),
            ] {
                expectProblem(response, status)
                let detail = response.object["detail"] as? String ?? ""
                #expect(!detail.contains("10.0.0.7") && !detail.contains("SELECT") && !detail.contains("row 7"))
                if status == 503 { #expect(response.headers[.retryAfter] != nil) }
                if status == 500 { #expect(detail.contains("request id")) }
            }
        }
    }

    /// Every use-case error code has its status.
    @Test(arguments: [
        (UseCaseError.Code.invalid, 422), (.forbidden, 403), (.notFound, 404), (.conflict, 409), (.unsupported, 501),
        (.unavailable, 503),
    ])
    func useCaseCodes(code: UseCaseError.Code, status: Int) async throws {
        // A route added after `makeRouter` gets the same middleware, so it shows the mapping in isolation.
        let router = makeRouter(services: TestAPI().services)
        router.get("/throw") { _, _ -> String in throw UseCaseError(code, "because", field: "f") }
        try await Application(router: router).test(.router) { client in
            let response = try await client.execute(uri: "/throw", method: .get)
            expectProblem(response, status, field: "f")
            #expect(response.object["detail"] as? String == "because")
        }
    }
}
