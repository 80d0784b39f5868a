public import Application
import Domain
import Testing

/// The rules every `FleetStore` adapter keeps, as one reusable suite.
///
/// ```swift
/// @Test func fleetStore() async throws {
///     try await FleetStoreContract { try await PostgresFleetStore(client: client) }.run()
/// }
/// ```
///
/// `make` is called once per rule. Ids and tenants are unique per run, so a shared database works; the
/// stale-snapshot and sync-state rules only look at the run's own tenants and tables.
public struct FleetStoreContract: Sendable {
    private let make: @Sendable () async throws -> any FleetStore

    /// Creates the suite for stores built by `make`.
    public init(make: @escaping @Sendable () async throws -> any FleetStore) {
        self.make = make
    }

    /// Runs every rule, recording a Swift Testing issue per violation.
    public func run() async throws {
        await runRules(
            "FleetStore",
            [
                ("driversReadBack", driversReadBack),
                ("driverByDeviceAcrossTenants", driverByDeviceAcrossTenants),
                ("saveDriverReplaces", saveDriverReplaces),
                ("duplicateDeviceRejected", duplicateDeviceRejected),
                ("deviceChangeReleasesOldDevice", deviceChangeReleasesOldDevice),
                ("createRouteReadBack", createRouteReadBack),
                ("routesFilteredAndOrdered", routesFilteredAndOrdered),
                ("createRouteDuplicateRoute", createRouteDuplicateRoute),
                ("createRouteIsAtomic", createRouteIsAtomic),
                ("updateVisitCompareAndSet", updateVisitCompareAndSet),
                ("updateVisitNotFound", updateVisitNotFound),
                ("snapshotNewestWins", snapshotNewestWins),
                ("batchSnapshotsNewestWins", batchSnapshotsNewestWins),
                ("staleSnapshots", staleSnapshots),
                ("syncStates", syncStates),
            ]
        )
    }
}

// MARK: - Fixtures

private struct Fixtures {
    let tag = RunTag()
    var tenantA: TenantID { TenantID("tenant-\(tag)-a") }
    var tenantB: TenantID { TenantID("tenant-\(tag)-b") }
    let date1 = CalendarDate(year: 2024, month: 3, day: 15)
    let date2 = CalendarDate(year: 2024, month: 3, day: 16)

    func driverID(_ n: Int) -> DriverID { DriverID("drv-\(tag)-\(n)") }
    func deviceID(_ name: String) -> DeviceID { DeviceID("dev-\(tag)-\(name)") }
    func routeID(_ n: Int) -> RouteID { RouteID("route-\(tag)-\(n)") }
    func visitID(_ n: Int) -> VisitID { VisitID("visit-\(tag)-\(n)") }

    func driver(_ n: Int, tenant: TenantID, device: String, name: String? = nil) -> Driver {
        Driver(id: driverID(n), tenantId: tenant, deviceId: deviceID(device), name: name ?? "Driver \(n)")
    }

    /// Drivers 1 and 2 of tenant A, driver 3 of tenant B.
    var drivers: [Driver] {
        [
            driver(1, tenant: tenantA, device: "1"), driver(2, tenant: tenantA, device: "2"),
            driver(3, tenant: tenantB, device: "3"),
        ]
    }

    /// Lookups by id and tenant: present, another tenant's (absent) and unknown (absent).
    var driverLookups: [(id: DriverID, tenant: TenantID, expected: Driver?)] {
        let all = drivers
        return [
            (driverID(1), tenantA, all[0]),
            (driverID(2), tenantA, all[1]),
            (driverID(3), tenantB, all[2]),
            (driverID(3), tenantA, nil),
            (driverID(1), tenantB, nil),
            (DriverID("absent-\(tag)"), tenantA, nil),
        ]
    }

    func route(_ n: Int, tenant: TenantID, driver: Int, date: CalendarDate) -> Route {
        Route(id: routeID(n), tenantId: tenant, driverId: driverID(driver), scheduledDate: date)
    }

    func visit(_ n: Int, route: Route, sequence: Int, status: VisitStatus = .pending) -> PlannedVisit {
        PlannedVisit(
            id: visitID(n),
            tenantId: route.tenantId,
            routeId: route.id,
            driverId: route.driverId,
            customerId: CustomerID("cust-\(tag)-\(n)"),
            sequenceNumber: sequence,
            scheduledDate: route.scheduledDate,
            status: status
        )
    }

    func snapshot(
        tenant: TenantID,
        driver: Int,
        at seconds: Double,
        activity: DriverActivity = .moving,
        speed: Double = 30
    ) -> DriverSnapshot {
        DriverSnapshot(
            position: position(
                tenant: tenant,
                driver: driverID(driver),
                at: instant(seconds),
                speed: speed,
                activity: activity
            )
        )
    }
}

// MARK: - Rules

extension FleetStoreContract {
    /// Saved drivers read back by id within their tenant only; `drivers(tenantId:)` is ordered by id.
    private func driversReadBack() async throws {
        let store = try await make()
        let f = Fixtures()
        for driver in f.drivers.reversed() { try await store.saveDriver(driver) }
        for (id, tenant, expected) in f.driverLookups {
            #expect(
                try await store.driver(id, tenantId: tenant) == expected,
                "op: driver(_:tenantId:), key: \(id)@\(tenant)"
            )
        }
        #expect(
            try await store.drivers(tenantId: f.tenantA) == Array(f.drivers[0...1]),
            "op: drivers(tenantId:), key: \(f.tenantA)"
        )
        #expect(
            try await store.drivers(tenantId: f.tenantB) == [f.drivers[2]],
            "op: drivers(tenantId:), key: \(f.tenantB)"
        )
        #expect(
            try await store.drivers(tenantId: TenantID("absent-\(f.tag)")).isEmpty,
            "op: drivers(tenantId:), key: absent tenant"
        )
    }

    /// `driver(deviceId:)` finds the driver whatever its tenant.
    private func driverByDeviceAcrossTenants() async throws {
        let store = try await make()
        let f = Fixtures()
        for driver in f.drivers { try await store.saveDriver(driver) }
        for driver in f.drivers {
            #expect(
                try await store.driver(deviceId: driver.deviceId) == driver,
                "op: driver(deviceId:), key: \(driver.deviceId)"
            )
        }
        #expect(try await store.driver(deviceId: f.deviceID("absent")) == nil, "op: driver(deviceId:), key: absent")
    }

    /// Saving a driver again replaces it.
    private func saveDriverReplaces() async throws {
        let store = try await make()
        let f = Fixtures()
        try await store.saveDriver(f.driver(1, tenant: f.tenantA, device: "1"))
        var renamed = f.driver(1, tenant: f.tenantA, device: "1", name: "Renamed")
        renamed.vehicleType = .truck
        renamed.status = .inactive
        try await store.saveDriver(renamed)
        #expect(
            try await store.driver(renamed.id, tenantId: f.tenantA) == renamed,
            "op: saveDriver replace, key: \(renamed.id)"
        )
        #expect(try await store.drivers(tenantId: f.tenantA) == [renamed], "op: saveDriver replace, key: one row")
        #expect(try await store.driver(deviceId: renamed.deviceId) == renamed, "op: saveDriver replace, key: device")
    }

    /// Another driver with the same device id, in the same or another tenant, is a duplicate and not written.
    private func duplicateDeviceRejected() async throws {
        let store = try await make()
        let f = Fixtures()
        let owner = f.driver(1, tenant: f.tenantA, device: "shared")
        try await store.saveDriver(owner)
        let duplicates = [
            f.driver(2, tenant: f.tenantA, device: "shared"), f.driver(3, tenant: f.tenantB, device: "shared"),
        ]
        for duplicate in duplicates {
            await expectStoreError(.duplicate, "op: saveDriver, key: \(duplicate.id) with taken device") {
                try await store.saveDriver(duplicate)
            }
            #expect(
                try await store.driver(duplicate.id, tenantId: duplicate.tenantId) == nil,
                "op: saveDriver duplicate not written, key: \(duplicate.id)"
            )
        }
        #expect(
            try await store.driver(deviceId: owner.deviceId) == owner,
            "op: driver(deviceId:), key: still the owner"
        )
    }

    /// A driver moving to a new device releases the old one for others.
    private func deviceChangeReleasesOldDevice() async throws {
        let store = try await make()
        let f = Fixtures()
        try await store.saveDriver(f.driver(1, tenant: f.tenantA, device: "old"))
        let moved = f.driver(1, tenant: f.tenantA, device: "new")
        try await store.saveDriver(moved)
        #expect(
            try await store.driver(deviceId: f.deviceID("old")) == nil,
            "op: driver(deviceId:), key: released device"
        )
        #expect(try await store.driver(deviceId: f.deviceID("new")) == moved, "op: driver(deviceId:), key: new device")
        let taker = f.driver(2, tenant: f.tenantA, device: "old")
        try await store.saveDriver(taker)
        #expect(try await store.driver(deviceId: f.deviceID("old")) == taker, "op: saveDriver, key: reused device")
    }

    /// A created route and its visits read back in the route's tenant only, visits by sequence number.
    private func createRouteReadBack() async throws {
        let store = try await make()
        let f = Fixtures()
        let route = f.route(1, tenant: f.tenantA, driver: 1, date: f.date1)
        let visits = [
            f.visit(1, route: route, sequence: 3), f.visit(2, route: route, sequence: 1),
            f.visit(3, route: route, sequence: 2),
        ]
        try await store.createRoute(route, visits: visits)

        let stored = try await store.route(route.id, tenantId: f.tenantA)
        #expect(
            stored?.id == route.id && stored?.driverId == route.driverId
                && stored?.scheduledDate == route.scheduledDate,
            "op: route(_:tenantId:), key: \(route.id)"
        )
        #expect(
            try await store.route(route.id, tenantId: f.tenantB) == nil,
            "op: route(_:tenantId:), key: other tenant"
        )
        #expect(try await store.route(f.routeID(99), tenantId: f.tenantA) == nil, "op: route(_:tenantId:), key: absent")
        #expect(
            try await store.visits(routeId: route.id, tenantId: f.tenantA) == [visits[1], visits[2], visits[0]],
            "op: visits(routeId:tenantId:), key: ordered by sequence"
        )
        #expect(
            try await store.visits(routeId: route.id, tenantId: f.tenantB).isEmpty,
            "op: visits(routeId:tenantId:), key: other tenant"
        )
        for visit in visits {
            #expect(
                try await store.visit(visit.id, tenantId: f.tenantA) == visit,
                "op: visit(_:tenantId:), key: \(visit.id)"
            )
            #expect(
                try await store.visit(visit.id, tenantId: f.tenantB) == nil,
                "op: visit(_:tenantId:), key: \(visit.id)@other"
            )
        }
        #expect(try await store.visit(f.visitID(99), tenantId: f.tenantA) == nil, "op: visit(_:tenantId:), key: absent")
    }

    /// `routes` filters by date and driver and orders by id.
    private func routesFilteredAndOrdered() async throws {
        let store = try await make()
        let f = Fixtures()
        let routes = [
            f.route(2, tenant: f.tenantA, driver: 1, date: f.date1),
            f.route(1, tenant: f.tenantA, driver: 2, date: f.date1),
            f.route(3, tenant: f.tenantA, driver: 1, date: f.date2),
            f.route(4, tenant: f.tenantB, driver: 3, date: f.date1),
        ]
        for route in routes { try await store.createRoute(route, visits: []) }
        let cases: [(TenantID, CalendarDate?, DriverID?, [RouteID])] = [
            (f.tenantA, nil, nil, [f.routeID(1), f.routeID(2), f.routeID(3)]),
            (f.tenantA, f.date1, nil, [f.routeID(1), f.routeID(2)]),
            (f.tenantA, nil, f.driverID(1), [f.routeID(2), f.routeID(3)]),
            (f.tenantA, f.date1, f.driverID(1), [f.routeID(2)]),
            (f.tenantA, CalendarDate(year: 2024, month: 3, day: 17), nil, []),
            (f.tenantB, nil, nil, [f.routeID(4)]),
            (f.tenantB, nil, f.driverID(1), []),
        ]
        for (tenant, date, driver, expected) in cases {
            let ids = try await store.routes(tenantId: tenant, date: date, driverId: driver).map(\.id)
            #expect(
                ids == expected,
                "op: routes, key: \(tenant) date \(date?.description ?? "any") driver \(driver?.description ?? "any")"
            )
        }
    }

    /// Creating a route whose id exists is a duplicate; the new visits are not written.
    private func createRouteDuplicateRoute() async throws {
        let store = try await make()
        let f = Fixtures()
        let route = f.route(1, tenant: f.tenantA, driver: 1, date: f.date1)
        try await store.createRoute(route, visits: [f.visit(1, route: route, sequence: 1)])
        await expectStoreError(.duplicate, "op: createRoute, key: existing route \(route.id)") {
            try await store.createRoute(route, visits: [f.visit(2, route: route, sequence: 2)])
        }
        #expect(
            try await store.visit(f.visitID(2), tenantId: f.tenantA) == nil,
            "op: createRoute duplicate, key: visit not written"
        )
        #expect(
            try await store.visits(routeId: route.id, tenantId: f.tenantA).map(\.id) == [f.visitID(1)],
            "op: createRoute duplicate, key: visits unchanged"
        )
    }

    /// A visit id that exists (or repeats in the batch) makes `createRoute` a duplicate that writes nothing.
    private func createRouteIsAtomic() async throws {
        let store = try await make()
        let f = Fixtures()
        let first = f.route(1, tenant: f.tenantA, driver: 1, date: f.date1)
        try await store.createRoute(first, visits: [f.visit(1, route: first, sequence: 1)])

        let second = f.route(2, tenant: f.tenantA, driver: 1, date: f.date1)
        await expectStoreError(.duplicate, "op: createRoute, key: existing visit id") {
            try await store.createRoute(
                second,
                visits: [
                    f.visit(5, route: second, sequence: 1),
                    f.visit(1, route: second, sequence: 2),
                ]
            )
        }
        #expect(
            try await store.route(second.id, tenantId: f.tenantA) == nil,
            "op: createRoute atomic, key: route not written"
        )
        #expect(
            try await store.visit(f.visitID(5), tenantId: f.tenantA) == nil,
            "op: createRoute atomic, key: visit not written"
        )
        #expect(
            try await store.visit(f.visitID(1), tenantId: f.tenantA)?.routeId == first.id,
            "op: createRoute atomic, key: existing visit untouched"
        )

        let third = f.route(3, tenant: f.tenantA, driver: 1, date: f.date1)
        await expectStoreError(.duplicate, "op: createRoute, key: visit id repeated in batch") {
            try await store.createRoute(
                third,
                visits: [
                    f.visit(6, route: third, sequence: 1),
                    f.visit(6, route: third, sequence: 2),
                ]
            )
        }
        #expect(
            try await store.route(third.id, tenantId: f.tenantA) == nil,
            "op: createRoute atomic, key: route 3 not written"
        )
        #expect(
            try await store.visit(f.visitID(6), tenantId: f.tenantA) == nil,
            "op: createRoute atomic, key: visit 6 not written"
        )
    }

    /// `updateVisit` writes only over the expected status, else `.conflict`; each write stores and returns the
    /// route recomputed from its visits (`Route.recomputed(from:)`).
    private func updateVisitCompareAndSet() async throws {
        let store = try await make()
        let f = Fixtures()
        let route = f.route(1, tenant: f.tenantA, driver: 1, date: f.date1)
        var visits = [
            f.visit(1, route: route, sequence: 1), f.visit(2, route: route, sequence: 2),
            f.visit(3, route: route, sequence: 3),
        ]
        try await store.createRoute(route, visits: visits)

        let steps: [(index: Int, from: VisitStatus, to: VisitStatus)] = [
            (0, .pending, .arrived), (0, .arrived, .inProgress), (0, .inProgress, .completed),
            (1, .pending, .failed), (2, .pending, .cancelled),
        ]
        for (index, from, to) in steps {
            var next = visits[index]
            next.status = to
            next.arrivedAt = to == .arrived ? instant(Double(index)) : next.arrivedAt
            let returned = try await store.updateVisit(next, expectedStatus: from)
            visits[index] = next
            let expected = route.recomputed(from: visits)
            let key = "\(next.id) \(from.rawValue)→\(to.rawValue)"
            #expect(
                returned.totalStops == expected.totalStops && returned.completedStops == expected.completedStops
                    && returned.status == expected.status,
                "op: updateVisit returns recomputed route, key: \(key)"
            )
            let stored = try await store.route(route.id, tenantId: f.tenantA)
            #expect(
                stored?.totalStops == expected.totalStops && stored?.completedStops == expected.completedStops
                    && stored?.status == expected.status,
                "op: updateVisit stores recomputed route, key: \(key)"
            )
            #expect(
                try await store.visit(next.id, tenantId: f.tenantA) == next,
                "op: updateVisit writes visit, key: \(key)"
            )
        }

        var stale = visits[0]
        stale.status = .skipped
        await expectStoreError(.conflict, "op: updateVisit, key: stale expected status") {
            try await store.updateVisit(stale, expectedStatus: .pending)
        }
        #expect(
            try await store.visit(stale.id, tenantId: f.tenantA)?.status == .completed,
            "op: updateVisit conflict, key: visit unchanged"
        )
        let afterConflict = try await store.route(route.id, tenantId: f.tenantA)
        #expect(
            afterConflict?.completedStops == route.recomputed(from: visits).completedStops,
            "op: updateVisit conflict, key: route unchanged"
        )
    }

    /// Updating an absent visit, or another tenant's, is `.notFound`.
    private func updateVisitNotFound() async throws {
        let store = try await make()
        let f = Fixtures()
        let route = f.route(1, tenant: f.tenantA, driver: 1, date: f.date1)
        let visit = f.visit(1, route: route, sequence: 1)
        try await store.createRoute(route, visits: [visit])

        var absent = f.visit(99, route: route, sequence: 9)
        absent.status = .arrived
        await expectStoreError(.notFound, "op: updateVisit, key: absent visit") {
            try await store.updateVisit(absent, expectedStatus: .pending)
        }
        var foreign = visit
        foreign.tenantId = f.tenantB
        foreign.status = .arrived
        await expectStoreError(.notFound, "op: updateVisit, key: other tenant's visit") {
            try await store.updateVisit(foreign, expectedStatus: .pending)
        }
        #expect(
            try await store.visit(visit.id, tenantId: f.tenantA) == visit,
            "op: updateVisit notFound, key: visit unchanged"
        )
    }

    /// An older snapshot never replaces a newer one; reads stay in the tenant.
    private func snapshotNewestWins() async throws {
        let store = try await make()
        let f = Fixtures()
        let newer = f.snapshot(tenant: f.tenantA, driver: 1, at: 100, activity: .moving)
        try await store.saveSnapshot(newer)
        try await store.saveSnapshot(f.snapshot(tenant: f.tenantA, driver: 1, at: 50, activity: .stopped))
        #expect(
            try await store.snapshot(driverId: f.driverID(1), tenantId: f.tenantA) == newer,
            "op: saveSnapshot older ignored, key: \(f.driverID(1))"
        )
        let newest = f.snapshot(tenant: f.tenantA, driver: 1, at: 200, activity: .stopped)
        try await store.saveSnapshot(newest)
        #expect(
            try await store.snapshot(driverId: f.driverID(1), tenantId: f.tenantA) == newest,
            "op: saveSnapshot newer replaces, key: \(f.driverID(1))"
        )

        let other = f.snapshot(tenant: f.tenantA, driver: 2, at: 10)
        let foreign = f.snapshot(tenant: f.tenantB, driver: 3, at: 10)
        try await store.saveSnapshot(other)
        try await store.saveSnapshot(foreign)
        #expect(
            try await store.snapshot(driverId: f.driverID(1), tenantId: f.tenantB) == nil,
            "op: snapshot(driverId:tenantId:), key: other tenant"
        )
        #expect(
            try await store.snapshot(driverId: f.driverID(9), tenantId: f.tenantA) == nil,
            "op: snapshot(driverId:tenantId:), key: absent"
        )
        let tenantSnapshots = try await store.snapshots(tenantId: f.tenantA).sorted { $0.driverId < $1.driverId }
        #expect(tenantSnapshots == [newest, other], "op: snapshots(tenantId:), key: \(f.tenantA)")
        #expect(
            try await store.snapshots(tenantId: f.tenantB) == [foreign],
            "op: snapshots(tenantId:), key: \(f.tenantB)"
        )
    }

    /// `saveSnapshots` keeps `saveSnapshot`'s rule per driver, and the newest of a driver within one call wins.
    private func batchSnapshotsNewestWins() async throws {
        let store = try await make()
        let f = Fixtures()
        let stored = f.snapshot(tenant: f.tenantA, driver: 1, at: 100, activity: .moving)
        try await store.saveSnapshot(stored)
        let batch = [
            f.snapshot(tenant: f.tenantA, driver: 1, at: 50, activity: .stopped),  // older than stored: ignored
            f.snapshot(tenant: f.tenantA, driver: 2, at: 30, activity: .stopped),
            f.snapshot(tenant: f.tenantA, driver: 2, at: 40, activity: .moving),  // newest of driver 2 in the call
            f.snapshot(tenant: f.tenantA, driver: 2, at: 35, activity: .stopped),
            f.snapshot(tenant: f.tenantB, driver: 3, at: 10),
        ]
        try await store.saveSnapshots(batch)
        #expect(
            try await store.snapshot(driverId: f.driverID(1), tenantId: f.tenantA) == stored,
            "op: saveSnapshots older ignored, key: \(f.driverID(1))"
        )
        #expect(
            try await store.snapshot(driverId: f.driverID(2), tenantId: f.tenantA) == batch[2],
            "op: saveSnapshots newest in the call wins, key: \(f.driverID(2))"
        )
        #expect(
            try await store.snapshot(driverId: f.driverID(3), tenantId: f.tenantB) == batch[4],
            "op: saveSnapshots, key: other tenant \(f.driverID(3))"
        )
        try await store.saveSnapshots([])
    }

    /// `staleSnapshots(before:)` returns every tenant's snapshots older than the cutoff, except offline ones.
    private func staleSnapshots() async throws {
        let store = try await make()
        let f = Fixtures()
        let staleA = f.snapshot(tenant: f.tenantA, driver: 1, at: 100, activity: .moving)
        let offline = f.snapshot(tenant: f.tenantA, driver: 2, at: 100, activity: .offline)
        let staleB = f.snapshot(tenant: f.tenantB, driver: 3, at: 100, activity: .atCustomer)
        let fresh = f.snapshot(tenant: f.tenantA, driver: 4, at: 1000, activity: .stopped)
        for snapshot in [staleA, offline, staleB, fresh] { try await store.saveSnapshot(snapshot) }
        let ours: Set<TenantID> = [f.tenantA, f.tenantB]
        let stale = try await store.staleSnapshots(before: instant(500)).filter { ours.contains($0.tenantId) }
        #expect(Set(stale) == [staleA, staleB], "op: staleSnapshots(before:), key: cutoff 500s")
        #expect(stale.count == 2, "op: staleSnapshots(before:), key: no repeats")
    }

    /// Sync progress merges atomically per table: counters add up (also from concurrent writers), the newest
    /// version and source time win whatever the order, a failure sets `failing` until the next applied batch,
    /// and `markLagging` is a compare-and-set on the last event time.
    private func syncStates() async throws {
        let store = try await make()
        let f = Fixtures()
        let customers = "Customers-\(f.tag)"
        let orders = "Orders-\(f.tag)"
        let newer = "0000002b:00000c28:0005|0000002b:00000c28:0003|00000000000000000001"
        let older = "0000002a:00000ff0:0001|0000002a:00000ff0:0001|00000000000000000001"
        try await store.recordSync(
            SyncProgress(tableName: customers, applied: 3, lastVersion: nil, snapshot: true, at: instant(1))
        )
        var state = try await store.syncStates().first { $0.tableName == customers }
        #expect(state?.status == .syncing, "op: recordSync, key: snapshot reads are syncing")
        #expect(state?.eventsApplied == 3, "op: recordSync, key: counts applied events")
        try await store.recordSync(
            SyncProgress(
                tableName: customers,
                applied: 2,
                lastVersion: newer,
                sourceTimestamp: instant(5),
                at: instant(6)
            )
        )
        try await store.recordSync(
            SyncProgress(tableName: customers, lastVersion: older, sourceTimestamp: instant(2), at: instant(7))
        )
        state = try await store.syncStates().first { $0.tableName == customers }
        #expect(
            state
                == SyncState(
                    tableName: customers,
                    lastVersion: newer,
                    lastSyncedAt: instant(7),
                    lastSourceAt: instant(5),
                    eventsApplied: 5,
                    status: .healthy
                ),
            "op: recordSync, key: counters add, newest version and source time win"
        )

        try await store.recordSync(SyncProgress(tableName: orders, failure: "bad TenantId", at: instant(8)))
        var ordersState = try await store.syncStates().first { $0.tableName == orders }
        #expect(ordersState?.status == .failing, "op: recordSync, key: failure is failing")
        #expect(ordersState?.eventsFailed == 1 && ordersState?.lastError == "bad TenantId", "op: recordSync")
        #expect(ordersState?.lastErrorAt == instant(8) && ordersState?.lastSyncedAt == nil, "op: recordSync")
        #expect(
            try await !store.markLagging(tableName: orders, lastSyncedAt: instant(8)),
            "op: markLagging, key: a failing table stays failing"
        )
        try await store.recordSync(SyncProgress(tableName: orders, applied: 1, at: instant(9)))
        ordersState = try await store.syncStates().first { $0.tableName == orders }
        #expect(ordersState?.status == .healthy, "op: recordSync, key: an applied batch after a failure")
        #expect(ordersState?.lastError == "bad TenantId", "op: recordSync, key: the last error is kept")

        #expect(
            try await !store.markLagging(tableName: customers, lastSyncedAt: instant(6)),
            "op: markLagging, key: not when a newer event was taken"
        )
        #expect(try await store.markLagging(tableName: customers, lastSyncedAt: instant(7)), "op: markLagging")
        state = try await store.syncStates().first { $0.tableName == customers }
        #expect(state?.status == .lagging, "op: markLagging")
        try await store.recordSync(SyncProgress(tableName: customers, applied: 1, at: instant(10)))
        state = try await store.syncStates().first { $0.tableName == customers }
        #expect(state?.status == .healthy, "op: recordSync, key: a new event ends lagging")

        // Concurrent writers (instances consuming different partitions) add up.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for n in 0..<20 {
                group.addTask {
                    try await store.recordSync(
                        SyncProgress(tableName: customers, applied: 1, at: instant(Double(11 + n)))
                    )
                }
            }
            try await group.waitForAll()
        }
        state = try await store.syncStates().first { $0.tableName == customers }
        #expect(state?.eventsApplied == 26, "op: recordSync, key: concurrent progress adds up")
        let both = try await store.syncStates().filter { $0.tableName == customers || $0.tableName == orders }
        #expect(both.map(\.tableName) == [customers, orders], "op: syncStates, key: one per table, by name")
    }
}
