import AdapterContracts
import Application
import Domain
import Logging
import PostgresAdapters
import Testing

/// The store contracts against a real PostgreSQL 15, each test in its own schema.
@Suite("Postgres store contracts", .enabled(if: TestPostgres.enabled, "set TRACKER_TEST_POSTGRES_URL"))
struct PostgresContractTests {
    private let logger = Logger(label: "postgres-tests", factory: { _ in SwiftLogNoOpLogHandler() })

    /// `PostgresFleetStore` keeps every rule of `FleetStore` (one shared, migrated schema: ids are unique per run).
    @Test func fleetStore() async throws {
        try await withTestSchema { url, options in
            try await PostgresMigrations.migrateFleet(url: url, options: options, logger: logger)
            let pool = try PostgresPool(url: url, options: options, logger: logger)
            try await FleetStoreContract { PostgresFleetStore(pool: pool) }.run()
            await pool.shutdown()
        }
    }

    /// `PostgresReferenceStore` keeps every rule of `ReferenceStore`.
    @Test func referenceStore() async throws {
        try await withTestSchema { url, options in
            try await PostgresMigrations.migrateFleet(url: url, options: options, logger: logger)
            let pool = try PostgresPool(url: url, options: options, logger: logger)
            try await ReferenceStoreContract { PostgresReferenceStore(pool: pool) }.run()
            await pool.shutdown()
        }
    }

    /// Two stores on separate pools race to move one visit from pending: exactly one wins, the other gets
    /// `.conflict`, and the route counters match the winner.
    @Test func compareAndSetAcrossPools() async throws {
        try await withTestSchema { url, options in
            try await PostgresMigrations.migrateFleet(url: url, options: options, logger: logger)
            let pools = try (0..<2).map { _ in try PostgresPool(url: url, options: options, logger: logger) }
            let stores = pools.map { PostgresFleetStore(pool: $0) }
            let tenant = TenantID("t")
            let day = CalendarDate(year: 2024, month: 3, day: 15)
            let route = Route(
                id: RouteID("r"),
                tenantId: tenant,
                driverId: DriverID("d"),
                scheduledDate: day,
                status: .planned,
                totalStops: 0,
                completedStops: 0
            )
            let visit = PlannedVisit(
                id: VisitID("v"),
                tenantId: tenant,
                routeId: route.id,
                driverId: route.driverId,
                customerId: CustomerID("c"),
                sequenceNumber: 1,
                visitType: .delivery,
                scheduledDate: day,
                timeWindow: nil,
                serviceDurationSeconds: 60,
                status: .pending
            )
            try await stores[0].createRoute(route, visits: [visit])
            for round in 0..<20 {
                var racing = visit
                racing.id = VisitID("v\(round)")
                try await stores[0].createRoute(
                    Route(
                        id: RouteID("r\(round)"),
                        tenantId: tenant,
                        driverId: route.driverId,
                        scheduledDate: day,
                        status: .planned,
                        totalStops: 0,
                        completedStops: 0
                    ),
                    visits: [
                        {
                            var v = racing
                            v.routeId = RouteID("r\(round)")
                            return v
                        }()
                    ]
                )
                let contested = racing
                let outcomes = await withTaskGroup(of: StoreError.Code?.self) { group in
                    for (index, store) in stores.enumerated() {
                        group.addTask {
                            var next = contested
                            next.routeId = RouteID("r\(round)")
                            next.status = index == 0 ? .arrived : .skipped
                            do {
                                try await store.updateVisit(next, expectedStatus: .pending)
                                return nil
                            } catch let error as StoreError {
                                return error.code
                            } catch {
                                return .unavailable
                            }
                        }
                    }
                    var codes: [StoreError.Code?] = []
                    for await code in group { codes.append(code) }
                    return codes
                }
                #expect(outcomes.filter { $0 == nil }.count == 1, "op: race round \(round), key: one winner")
                #expect(outcomes.filter { $0 == .conflict }.count == 1, "op: race round \(round), key: one conflict")
            }
            for pool in pools { await pool.shutdown() }
        }
    }
}
