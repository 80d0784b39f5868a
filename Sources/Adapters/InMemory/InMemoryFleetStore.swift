public import Application
public import Domain

/// The fleet store kept in the process's memory, with every rule of `FleetStore`.
///
/// Rows are namespaced by tenant: a driver, route or visit is identified by its tenant and id, so one
/// tenant can never overwrite another tenant's row by reusing an id. Device ids are unique across tenants.
/// Each method runs in one actor turn, which makes every write atomic (`createRoute` included) and visible
/// to every later read.
public actor InMemoryFleetStore: FleetStore {
    private var drivers: [TenantID: [DriverID: Driver]] = [:]
    /// Which driver carries each device, across tenants.
    private var driversByDevice: [DeviceID: TenantKey<Driver>] = [:]
    private var routes: [TenantID: [RouteID: Route]] = [:]
    /// Route ids per driver: enrichment asks for a driver's routes on every position.
    private var routesByDriver: [TenantKey<Driver>: [RouteID]] = [:]
    private var visits: [TenantID: [VisitID: PlannedVisit]] = [:]
    private var visitsByRoute: [TenantKey<Route>: Set<VisitID>] = [:]
    private var snapshots: [TenantID: [DriverID: DriverSnapshot]] = [:]
    private var syncStatesByTable: [String: SyncState] = [:]

    /// Creates an empty store.
    public init() {}

    // MARK: Drivers

    /// Inserts or replaces a driver; a changed device id releases the old one.
    ///
    /// - Throws: `StoreError.duplicate` when another driver (of any tenant) has the device id.
    public func saveDriver(_ driver: Driver) async throws {
        let key = TenantKey<Driver>(tenantId: driver.tenantId, id: driver.id.rawValue)
        if let owner = driversByDevice[driver.deviceId], owner != key {
            throw StoreError.duplicate("device \(driver.deviceId) belongs to another driver")
        }
        if let previous = drivers[driver.tenantId]?[driver.id], previous.deviceId != driver.deviceId {
            driversByDevice[previous.deviceId] = nil
        }
        drivers[driver.tenantId, default: [:]][driver.id] = driver
        driversByDevice[driver.deviceId] = key
    }

    /// The driver `id` of `tenantId`, if any.
    public func driver(_ id: DriverID, tenantId: TenantID) async throws -> Driver? {
        drivers[tenantId]?[id]
    }

    /// The driver carrying `deviceId`, whatever its tenant.
    public func driver(deviceId: DeviceID) async throws -> Driver? {
        guard let key = driversByDevice[deviceId] else { return nil }
        return drivers[key.tenantId]?[DriverID(key.id)]
    }

    /// A tenant's drivers ordered by id.
    public func drivers(tenantId: TenantID) async throws -> [Driver] {
        (drivers[tenantId] ?? [:]).values.sorted { $0.id < $1.id }
    }

    // MARK: Routes and visits

    /// Writes the route and all its visits, or nothing. The stored route's counters and status are derived
    /// from the visits (`Route.recomputed(from:)`).
    ///
    /// - Throws: `StoreError.duplicate` when the route, or one of the visit ids (stored or repeated in
    ///   `visits`), exists.
    public func createRoute(_ route: Route, visits newVisits: [PlannedVisit]) async throws {
        if routes[route.tenantId]?[route.id] != nil {
            throw StoreError.duplicate("route \(route.id) exists")
        }
        var seen: Set<TenantKey<PlannedVisit>> = []
        for visit in newVisits {
            let key = TenantKey<PlannedVisit>(tenantId: visit.tenantId, id: visit.id.rawValue)
            if visits[visit.tenantId]?[visit.id] != nil || !seen.insert(key).inserted {
                throw StoreError.duplicate("visit \(visit.id) exists")
            }
        }
        routes[route.tenantId, default: [:]][route.id] = route.recomputed(from: newVisits)
        routesByDriver[TenantKey<Driver>(tenantId: route.tenantId, id: route.driverId.rawValue), default: []]
            .append(route.id)
        let routeKey = TenantKey<Route>(tenantId: route.tenantId, id: route.id.rawValue)
        visitsByRoute[routeKey] = visitsByRoute[routeKey] ?? []
        for visit in newVisits {
            visits[visit.tenantId, default: [:]][visit.id] = visit
            visitsByRoute[TenantKey<Route>(tenantId: visit.tenantId, id: visit.routeId.rawValue), default: []]
                .insert(visit.id)
        }
    }

    /// The route `id` of `tenantId`, if any.
    public func route(_ id: RouteID, tenantId: TenantID) async throws -> Route? {
        routes[tenantId]?[id]
    }

    /// A tenant's routes, optionally only those scheduled on `date` and of `driverId`, ordered by id.
    public func routes(tenantId: TenantID, date: CalendarDate?, driverId: DriverID?) async throws -> [Route] {
        if let driverId {
            let ids = routesByDriver[TenantKey<Driver>(tenantId: tenantId, id: driverId.rawValue)] ?? []
            return ids.compactMap { routes[tenantId]?[$0] }
                .filter { route in date.map { route.scheduledDate == $0 } ?? true }
                .sorted { $0.id < $1.id }
        }
        return (routes[tenantId] ?? [:]).values
            .filter { route in
                (date.map { route.scheduledDate == $0 } ?? true) && (driverId.map { route.driverId == $0 } ?? true)
            }
            .sorted { $0.id < $1.id }
    }

    /// A route's visits ordered by sequence number (then id).
    public func visits(routeId: RouteID, tenantId: TenantID) async throws -> [PlannedVisit] {
        routeVisits(TenantKey<Route>(tenantId: tenantId, id: routeId.rawValue))
    }

    /// The visit `id` of `tenantId`, if any.
    public func visit(_ id: VisitID, tenantId: TenantID) async throws -> PlannedVisit? {
        visits[tenantId]?[id]
    }

    /// Replaces the visit if its stored status is `expectedStatus` and stores its route with recomputed
    /// counters, in one step.
    ///
    /// - Throws: `StoreError.notFound` when the visit is absent; `.conflict` when its stored status differs
    ///   from `expectedStatus`; `.invalidData` when `visit.routeId` names another route than the stored one.
    @discardableResult
    public func updateVisit(_ visit: PlannedVisit, expectedStatus: VisitStatus) async throws -> Route {
        guard let stored = visits[visit.tenantId]?[visit.id] else {
            throw StoreError.notFound("visit \(visit.id)")
        }
        guard stored.status == expectedStatus else {
            throw StoreError.conflict("visit \(visit.id) is \(stored.status.rawValue), not \(expectedStatus.rawValue)")
        }
        guard visit.routeId == stored.routeId else {
            throw StoreError.invalidData("visit \(visit.id) cannot move to another route")
        }
        guard let route = routes[visit.tenantId]?[visit.routeId] else {
            throw StoreError.notFound("route \(visit.routeId)")
        }
        visits[visit.tenantId, default: [:]][visit.id] = visit
        let updated = route.recomputed(
            from: routeVisits(
                TenantKey<Route>(
                    tenantId: visit.tenantId,
                    id: visit.routeId.rawValue
                )
            )
        )
        routes[visit.tenantId, default: [:]][visit.routeId] = updated
        return updated
    }

    private func routeVisits(_ route: TenantKey<Route>) -> [PlannedVisit] {
        let tenantVisits = visits[route.tenantId] ?? [:]
        return (visitsByRoute[route] ?? []).compactMap { tenantVisits[$0] }
            .sorted { ($0.sequenceNumber, $0.id) < ($1.sequenceNumber, $1.id) }
    }

    // MARK: Snapshots

    /// Stores the snapshot unless the stored one has a newer fix time (an equal fix time replaces it).
    public func saveSnapshot(_ snapshot: DriverSnapshot) async throws {
        if let stored = snapshots[snapshot.tenantId]?[snapshot.driverId],
            stored.position.fixTime > snapshot.position.fixTime
        {
            return
        }
        snapshots[snapshot.tenantId, default: [:]][snapshot.driverId] = snapshot
    }

    /// The latest snapshot of a driver, if any.
    public func snapshot(driverId: DriverID, tenantId: TenantID) async throws -> DriverSnapshot? {
        snapshots[tenantId]?[driverId]
    }

    /// The latest snapshot of every driver of the tenant, ordered by driver id.
    public func snapshots(tenantId: TenantID) async throws -> [DriverSnapshot] {
        (snapshots[tenantId] ?? [:]).values.sorted { $0.driverId < $1.driverId }
    }

    /// Snapshots of every tenant whose fix is older than `before` and whose activity is not offline,
    /// ordered by tenant, then driver.
    public func staleSnapshots(before: Timestamp) async throws -> [DriverSnapshot] {
        snapshots.values.flatMap(\.values)
            .filter { $0.position.fixTime < before && $0.position.activity != .offline }
            .sorted { ($0.tenantId, $0.driverId) < ($1.tenantId, $1.driverId) }
    }

    // MARK: Sync state

    public func recordSync(_ progress: SyncProgress) async throws {
        let table = progress.tableName
        syncStatesByTable[table] = (syncStatesByTable[table] ?? SyncState(tableName: table)).merging(progress)
    }

    public func markLagging(tableName: String, lastSyncedAt: Timestamp) async throws -> Bool {
        guard var state = syncStatesByTable[tableName], state.lastSyncedAt == lastSyncedAt,
            state.status == .healthy || state.status == .syncing
        else { return false }
        state.status = .lagging
        syncStatesByTable[tableName] = state
        return true
    }

    /// Every table's sync state, ordered by table name.
    public func syncStates() async throws -> [SyncState] {
        syncStatesByTable.values.sorted { $0.tableName < $1.tableName }
    }
}

/// A row identity inside one tenant.
struct TenantKey<Entity>: Hashable, Sendable {
    var tenantId: TenantID
    var id: String
}
