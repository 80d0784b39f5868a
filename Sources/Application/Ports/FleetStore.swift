public import Domain

/// Drivers, routes, planned visits, the latest snapshot per driver and CDC sync state: the data the
/// tracking service owns (spec §5.1, PostgreSQL in production).
///
/// - **Tenancy:** reads take the tenant and never return another tenant's rows, except `driver(deviceId:)`,
///   which maps a Traccar device to its driver across tenants (device ids are globally unique).
/// - **Identity:** driver, route and visit ids are unique within a tenant; two tenants may use the same id
///   without seeing or overwriting each other's rows.
/// - **Uniqueness:** `saveDriver` throws `.duplicate` when another driver already has the device id;
///   `createRoute` throws `.duplicate` when the route or one of its visit ids exists. `createRoute` stores the
///   route with counters recomputed from its visits.
/// - **Atomicity:** `createRoute` writes the route and all its visits or nothing.
/// - **Compare-and-set:** `updateVisit` writes only if the stored status equals `expectedStatus`,
///   else throws `.conflict` (`.notFound` when absent), so the geofence and the driver's app cannot
///   overwrite each other's transitions. The route's counters are recomputed in the same write.
/// - **Snapshots:** `saveSnapshot` keeps the newest by fix time: an older snapshot never replaces a newer one;
///   one with an equal fix time replaces it (the stale sweep marks a driver offline that way).
///   `snapshots` and `staleSnapshots` are ordered by tenant, then driver id; `syncStates` by table name.
/// - **Sync state:** `recordSync` merges atomically (counters add up, newest version and source time win).
/// - **Durability:** a returned write is visible to all subsequent reads.
public protocol FleetStore: Sendable {
    /// Inserts or replaces a driver.
    func saveDriver(_ driver: Driver) async throws
    func driver(_ id: DriverID, tenantId: TenantID) async throws -> Driver?
    func driver(deviceId: DeviceID) async throws -> Driver?
    /// A tenant's drivers ordered by id.
    func drivers(tenantId: TenantID) async throws -> [Driver]

    func createRoute(_ route: Route, visits: [PlannedVisit]) async throws
    func route(_ id: RouteID, tenantId: TenantID) async throws -> Route?
    /// Routes filtered by date and driver, ordered by id.
    func routes(tenantId: TenantID, date: CalendarDate?, driverId: DriverID?) async throws -> [Route]
    /// A route's visits ordered by sequence number.
    func visits(routeId: RouteID, tenantId: TenantID) async throws -> [PlannedVisit]
    func visit(_ id: VisitID, tenantId: TenantID) async throws -> PlannedVisit?
    /// Replaces a visit if its stored status is `expectedStatus`; returns the route with recomputed counters.
    @discardableResult
    func updateVisit(_ visit: PlannedVisit, expectedStatus: VisitStatus) async throws -> Route

    func saveSnapshot(_ snapshot: DriverSnapshot) async throws
    /// Saves several drivers' snapshots, each with `saveSnapshot`'s rule (an older one never replaces a
    /// newer one); within the call, a driver's newest snapshot wins. A database adapter writes them in one
    /// round trip; the default saves them one by one.
    func saveSnapshots(_ snapshots: [DriverSnapshot]) async throws
    func snapshot(driverId: DriverID, tenantId: TenantID) async throws -> DriverSnapshot?
    /// The latest snapshot of every driver of a tenant that has one.
    func snapshots(tenantId: TenantID) async throws -> [DriverSnapshot]
    /// Snapshots of all tenants whose fix is older than `before` and not yet offline (stale sweep).
    func staleSnapshots(before: Timestamp) async throws -> [DriverSnapshot]

    /// Merges one batch's progress into its table's sync state atomically, with `SyncState.merging`'s rule
    /// (a table without a row starts from `SyncState(tableName:)`), so instances consuming different
    /// partitions of the same table add up rather than overwrite each other.
    func recordSync(_ progress: SyncProgress) async throws
    /// Sets a table's status to `.lagging` if its `lastSyncedAt` is still `lastSyncedAt` and its status is
    /// `healthy` or `syncing` (compare and set: a monitor never hides a newer event or a failure); returns
    /// whether it did.
    func markLagging(tableName: String, lastSyncedAt: Timestamp) async throws -> Bool
    func syncStates() async throws -> [SyncState]
}

extension FleetStore {
    public func saveSnapshots(_ snapshots: [DriverSnapshot]) async throws {
        for snapshot in snapshots { try await saveSnapshot(snapshot) }
    }
}
