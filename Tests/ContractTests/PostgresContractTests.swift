import AdapterContracts
import Application
import Domain
import Logging
import PostgresAdapters
import Synchronization
import Testing

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

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

    /// `PostgresHistoryStore` keeps every rule of `HistoryStore`; each rule gets an empty, migrated schema of
    /// its own (`prune` counts across tenants).
    @Test func historyStore() async throws {
        let url = try TestPostgres.requireURL()
        let logger = self.logger
        let admin = try PostgresPool(url: url, options: .init(poolSize: 1), logger: logger)
        let made = Mutex<[(schema: String, pool: PostgresPool)]>([])
        do {
            try await HistoryStoreContract {
                let schema = "t_" + String(UUID().uuidString.lowercased().filter { $0 != "-" })
                try await admin.execute("CREATE SCHEMA \(schema)")
                let options = PostgresOptions(poolSize: 2, schema: schema)
                try await PostgresMigrations.migrateHistory(url: url, options: options, logger: logger)
                let pool = try PostgresPool(url: url, options: options, logger: logger)
                made.withLock { $0.append((schema, pool)) }
                return PostgresHistoryStore(pool: pool)
            }.run()
        } catch {
            for (schema, pool) in made.withLock({ $0 }) {
                await pool.shutdown()
                try? await admin.execute("DROP SCHEMA \(schema) CASCADE")
            }
            await admin.shutdown()
            throw error
        }
        for (schema, pool) in made.withLock({ $0 }) {
            await pool.shutdown()
            try await admin.execute("DROP SCHEMA \(schema) CASCADE")
        }
        await admin.shutdown()
    }

    /// Day partitions are created as days come (and two ahead), by several stores at once without error;
    /// retention drops whole days and trims the day holding the cutoff.
    @Test func historyPartitions() async throws {
        try await withTestSchema { url, options in
            try await PostgresMigrations.migrateHistory(url: url, options: options, logger: logger)
            let pools = try (0..<3).map { _ in try PostgresPool(url: url, options: options, logger: logger) }
            let stores = pools.map { PostgresHistoryStore(pool: $0) }
            let day = Timestamp(millisecondsSinceEpoch: 1_710_460_800_000)  // 2024-03-15T00:00:00Z
            func fix(_ driver: Int, _ hours: Int) -> EnrichedPosition {
                EnrichedPosition(
                    tenantId: "t",
                    driverId: DriverID("d\(driver)"),
                    deviceId: "dev",
                    driverName: "n",
                    fixTime: day + .seconds(3600 * hours),
                    latitude: 52.5,
                    longitude: 13.4,
                    speedKmh: 30,
                    smoothedSpeedKmh: 30,
                    heading: 90,
                    activity: .moving,
                    late: false,
                    completedStops: 0,
                    totalStops: 0,
                    remainingStops: []
                )
            }
            // Three instances append the same three days at once: 3 × 24 × 3 = 216 distinct points.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, store) in stores.enumerated() {
                    group.addTask { try await store.append((0..<72).map { fix(index, $0) }) }
                }
                try await group.waitForAll()
            }
            let layout = try await stores[0].layout()
            // Day partitions, or TimescaleDB's chunks (then created by the extension, none ahead).
            let parts = """
                SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                WHERE i.inhparent = 'enriched_positions'::regclass ORDER BY 1
                """
            let partitions = try await pools[0].rows(parts).map { $0[0] ?? "" }
            if layout == .partitions {
                #expect(
                    partitions == (15...19).map { "enriched_positions_p202403\($0)" },
                    "op: append 3 days, key: one partition per day and two ahead"
                )
            } else {
                #expect(partitions.count == 3, "op: append 3 days, key: three 1-day chunks")
            }
            // Cutoff 2024-03-16T12:00Z: day 15 dropped (24 × 3 rows), 12 hours × 3 drivers of day 16 deleted.
            let removed = try await stores[1].prune(olderThan: day + .seconds(36 * 3600))
            #expect(removed == 72 + 36, "op: prune, key: rows removed")
            let left = try await pools[0].rows("SELECT count(*) FROM enriched_positions")
            #expect(left == [["108"]], "op: prune, key: rows left")
            let afterPrune = try await pools[0].rows(parts).map { $0[0] ?? "" }
            #expect(
                afterPrune.count == partitions.count - 1 && !afterPrune.contains(partitions[0]),
                "op: prune, key: day 15 dropped (\(layout))"
            )
            // A store whose cache still knows the dropped day recreates it on the next append.
            try await stores[2].append([fix(9, 1)])
            let history = try await stores[0].routeHistory(
                driverId: "d9",
                tenantId: "t",
                from: day,
                to: day + .seconds(7200),
                maxPoints: 10
            )
            #expect(history.count == 1, "op: append to a dropped day, key: partition recreated")
            for pool in pools { await pool.shutdown() }
        }
    }

    /// A history schema at version 1 with data moves to version 2 and reads the same statistics: on
    /// TimescaleDB the rollups become continuous aggregates materialized from the existing rows, on plain
    /// PostgreSQL they stay tables. Either way they outlive the raw rows of a pruned day.
    @Test func rollupsAcrossTheUpgradeAndRetention() async throws {
        try await withTestSchema { url, options in
            let pool = try PostgresPool(url: url, options: options, logger: logger)
            try await PostgresMigrations.migrate(pool: pool, PostgresMigrations.history, upTo: 1)
            let store = PostgresHistoryStore(pool: pool)
            let day = Timestamp(millisecondsSinceEpoch: 1_710_460_800_000)  // 2024-03-15T00:00:00Z
            let date = CalendarDate(containing: day)
            try await store.append(
                (0..<10).map { n in
                    EnrichedPosition(
                        tenantId: "t",
                        driverId: "d1",
                        deviceId: "dev",
                        driverName: "n",
                        fixTime: day + .seconds(60 * n),
                        latitude: 52.5,
                        longitude: 13.4,
                        speedKmh: Double(n * 2),
                        smoothedSpeedKmh: 0,
                        heading: 0,
                        activity: .moving,
                        late: false,
                        completedStops: 0,
                        totalStops: 0,
                        remainingStops: []
                    )
                }
            )
            try await store.recordVisitCompletion(
                VisitCompletionRecord(
                    visitId: "v1",
                    tenantId: "t",
                    driverId: "d1",
                    routeId: "r1",
                    customerId: "c1",
                    status: .completed,
                    arrivedAt: day + .seconds(100),
                    closedAt: day + .seconds(400),
                    onTime: true
                )
            )
            try await PostgresMigrations.migrateHistory(url: url, options: options, logger: logger)
            let kinds = try await pool.rows(
                """
                SELECT relname, relkind::text FROM pg_class WHERE relnamespace = current_schema()::regnamespace
                AND relname IN ('driver_daily_stats', 'visit_performance_daily') ORDER BY 1
                """
            )
            let layout = try await store.layout()
            let expectedKind = layout == .partitions ? "r" : "v"
            #expect(
                kinds == [["driver_daily_stats", expectedKind], ["visit_performance_daily", expectedKind]],
                "op: migrate to 2, key: rollups are \(layout == .partitions ? "tables" : "continuous aggregates")"
            )
            func check(_ moment: String) async throws {
                let stats = try await store.driverStats(driverId: "d1", tenantId: "t", from: date, to: date)
                #expect(stats.map(\.positions) == [10], "op: driverStats \(moment), key: positions")
                #expect(stats.map(\.maxSpeedKmh) == [18], "op: driverStats \(moment), key: max speed")
                #expect(stats.map(\.movingPercentage) == [80], "op: driverStats \(moment), key: moving ≥ 3 km/h")
                #expect(stats.map(\.visitsCount) == [1], "op: driverStats \(moment), key: visits")
                let performance = try await store.visitPerformance(tenantId: "t", from: date, to: date)
                #expect(
                    performance.map(\.completed) == [1] && performance.map(\.avgDurationSeconds) == [300],
                    "op: visitPerformance \(moment), key: completed and duration"
                )
            }
            try await check("after the upgrade")
            #expect(try await store.prune(olderThan: day + .seconds(86_400)) == 11, "op: prune, key: the day")
            try await check("after the day was pruned")
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
