public import Application
public import Domain
import Foundation
public import Logging

/// The fleet store on SQLite (spec §5.1 tables `drivers`, `routes`, `planned_visits`, `driver_positions`,
/// `sync_state`), with every rule of `FleetStore`.
///
/// Rows are keyed by `(tenant_id, id)`, so tenants never overwrite each other; `drivers.device_id` is
/// unique across tenants (a violation is `StoreError.duplicate`). `createRoute` and `updateVisit` run in one
/// write transaction each (all or nothing; the compare-and-set reads and writes under the write lock).
/// A snapshot is stored as JSON next to its fix time, and `saveSnapshot` is one upsert whose `WHERE`
/// keeps the newest fix (an equal fix time replaces).
public final class SQLiteFleetStore: FleetStore {
    /// The database this store writes to.
    package let database: SQLiteDatabase

    /// The `fleet.*` migrations.
    package static let migrations: [SQLiteMigration] = [
        SQLiteMigration(
            "fleet",
            1,
            sql: """
                CREATE TABLE drivers (
                    tenant_id TEXT NOT NULL,
                    driver_id TEXT NOT NULL,
                    device_id TEXT NOT NULL UNIQUE,
                    name TEXT NOT NULL,
                    phone TEXT,
                    vehicle_plate TEXT,
                    vehicle_type TEXT NOT NULL,
                    status TEXT NOT NULL,
                    PRIMARY KEY (tenant_id, driver_id)
                ) WITHOUT ROWID;
                CREATE TABLE routes (
                    tenant_id TEXT NOT NULL,
                    route_id TEXT NOT NULL,
                    driver_id TEXT NOT NULL,
                    scheduled_date TEXT NOT NULL,
                    status TEXT NOT NULL,
                    total_stops INTEGER NOT NULL,
                    completed_stops INTEGER NOT NULL,
                    PRIMARY KEY (tenant_id, route_id)
                ) WITHOUT ROWID;
                CREATE INDEX routes_by_date_driver ON routes (tenant_id, scheduled_date, driver_id);
                CREATE TABLE planned_visits (
                    tenant_id TEXT NOT NULL,
                    visit_id TEXT NOT NULL,
                    route_id TEXT NOT NULL,
                    driver_id TEXT NOT NULL,
                    customer_id TEXT NOT NULL,
                    sequence_number INTEGER NOT NULL,
                    visit_type TEXT NOT NULL,
                    scheduled_date TEXT NOT NULL,
                    window_start INTEGER,
                    window_end INTEGER,
                    service_duration_seconds INTEGER NOT NULL,
                    status TEXT NOT NULL,
                    arrived_at INTEGER,
                    started_at INTEGER,
                    departed_at INTEGER,
                    completed_at INTEGER,
                    out_of_sequence INTEGER NOT NULL,
                    has_completion INTEGER NOT NULL,
                    completion_notes TEXT,
                    completion_signed_by TEXT,
                    completion_failure_reason TEXT,
                    PRIMARY KEY (tenant_id, visit_id)
                ) WITHOUT ROWID;
                CREATE INDEX planned_visits_by_route ON planned_visits (tenant_id, route_id, sequence_number);
                CREATE TABLE driver_positions (
                    tenant_id TEXT NOT NULL,
                    driver_id TEXT NOT NULL,
                    fix_time INTEGER NOT NULL,
                    activity TEXT NOT NULL,
                    latitude REAL NOT NULL,
                    longitude REAL NOT NULL,
                    snapshot TEXT NOT NULL,
                    PRIMARY KEY (tenant_id, driver_id)
                ) WITHOUT ROWID;
                CREATE INDEX driver_positions_by_fix_time ON driver_positions (fix_time);
                CREATE TABLE sync_state (
                    table_name TEXT PRIMARY KEY NOT NULL,
                    last_version TEXT,
                    last_synced_at INTEGER,
                    status TEXT NOT NULL
                ) WITHOUT ROWID;
                """
        ),
        SQLiteMigration(
            "fleet",
            2,
            sql: """
                ALTER TABLE sync_state ADD COLUMN last_source_at INTEGER;
                ALTER TABLE sync_state ADD COLUMN events_applied INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE sync_state ADD COLUMN events_failed INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE sync_state ADD COLUMN last_error TEXT;
                ALTER TABLE sync_state ADD COLUMN last_error_at INTEGER;
                """
        ),
    ]

    /// A store on `database`, applying the `fleet.*` migrations if needed.
    ///
    /// - Throws: `SQLiteOpenError` when the file has a newer fleet schema; `StoreError` when migrating fails.
    package init(database: SQLiteDatabase) throws {
        self.database = database
        try database.migrate(Self.migrations)
    }

    /// A store on its own database file at `path` (`:memory:` for a private in-memory database).
    ///
    /// - Throws: `SQLiteOpenError` when the file is not a tracker database or was written by a newer
    ///   version (the file is left untouched).
    public convenience init(path: String, logger: Logger) throws {
        try self.init(database: SQLiteDatabase(path: path, migrations: Self.migrations, logger: logger))
    }

    // MARK: Drivers

    private static let driverColumns =
        "tenant_id, driver_id, device_id, name, phone, vehicle_plate, vehicle_type, status"

    /// Inserts or replaces a driver; a changed device id releases the old one.
    ///
    /// - Throws: `StoreError.duplicate` when another driver (of any tenant) has the device id.
    public func saveDriver(_ driver: Driver) async throws {
        try await database.write { db in
            try db.run(
                """
                INSERT INTO drivers (\(Self.driverColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (tenant_id, driver_id) DO UPDATE SET device_id = excluded.device_id,
                    name = excluded.name, phone = excluded.phone, vehicle_plate = excluded.vehicle_plate,
                    vehicle_type = excluded.vehicle_type, status = excluded.status
                """,
                [
                    .text(driver.tenantId.rawValue), .text(driver.id.rawValue), .text(driver.deviceId.rawValue),
                    .text(driver.name), .text(driver.phone), .text(driver.vehiclePlate),
                    .text(driver.vehicleType.rawValue), .text(driver.status.rawValue),
                ]
            )
        }
    }

    /// The driver `id` of `tenantId`, if any.
    public func driver(_ id: DriverID, tenantId: TenantID) async throws -> Driver? {
        try await database.read { db in
            try db.queryFirst(
                "SELECT \(Self.driverColumns) FROM drivers WHERE tenant_id = ? AND driver_id = ?",
                [.text(tenantId.rawValue), .text(id.rawValue)]
            ).map(Self.driver(from:))
        }
    }

    /// The driver carrying `deviceId`, whatever its tenant.
    public func driver(deviceId: DeviceID) async throws -> Driver? {
        try await database.read { db in
            try db.queryFirst(
                "SELECT \(Self.driverColumns) FROM drivers WHERE device_id = ?",
                [.text(deviceId.rawValue)]
            ).map(Self.driver(from:))
        }
    }

    /// A tenant's drivers ordered by id.
    public func drivers(tenantId: TenantID) async throws -> [Driver] {
        try await database.read { db in
            try db.query(
                "SELECT \(Self.driverColumns) FROM drivers WHERE tenant_id = ? ORDER BY driver_id",
                [.text(tenantId.rawValue)]
            ).map(Self.driver(from:))
        }
    }

    private static func driver(from row: SQLiteRow) throws -> Driver {
        Driver(
            id: DriverID(row.text(1) ?? ""),
            tenantId: TenantID(row.text(0) ?? ""),
            deviceId: DeviceID(row.text(2) ?? ""),
            name: row.text(3) ?? "",
            phone: row.text(4),
            vehiclePlate: row.text(5),
            vehicleType: try decode(VehicleType.self, row.text(6)),
            status: try decode(DriverStatus.self, row.text(7))
        )
    }

    // MARK: Routes and visits

    private static let routeColumns =
        "tenant_id, route_id, driver_id, scheduled_date, status, total_stops, completed_stops"
    private static let visitColumns = """
        tenant_id, visit_id, route_id, driver_id, customer_id, sequence_number, visit_type, scheduled_date, \
        window_start, window_end, service_duration_seconds, status, arrived_at, started_at, departed_at, \
        completed_at, out_of_sequence, has_completion, completion_notes, completion_signed_by, \
        completion_failure_reason
        """

    /// Writes the route and all its visits in one transaction, or nothing. The stored route's counters and
    /// status are derived from the visits (`Route.recomputed(from:)`).
    ///
    /// - Throws: `StoreError.duplicate` when the route, or one of the visit ids (stored or repeated in
    ///   `visits`), exists.
    public func createRoute(_ route: Route, visits: [PlannedVisit]) async throws {
        let stored = route.recomputed(from: visits)
        try await database.write { db in
            try Self.insertRoute(stored, db)
            for visit in visits { try Self.writeVisit(visit, db, replace: false) }
        }
    }

    private static func insertRoute(_ route: Route, _ db: SQLiteConnection) throws {
        try db.run(
            "INSERT INTO routes (\(routeColumns)) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                .text(route.tenantId.rawValue), .text(route.id.rawValue), .text(route.driverId.rawValue),
                .text(route.scheduledDate.description), .text(route.status.rawValue),
                .integer(Int64(route.totalStops)), .integer(Int64(route.completedStops)),
            ]
        )
    }

    private static func writeVisit(_ visit: PlannedVisit, _ db: SQLiteConnection, replace: Bool) throws {
        try db.run(
            "\(replace ? "REPLACE" : "INSERT") INTO planned_visits (\(visitColumns)) "
                + "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                .text(visit.tenantId.rawValue), .text(visit.id.rawValue), .text(visit.routeId.rawValue),
                .text(visit.driverId.rawValue), .text(visit.customerId.rawValue),
                .integer(Int64(visit.sequenceNumber)), .text(visit.visitType.rawValue),
                .text(visit.scheduledDate.description),
                .integer(visit.timeWindow?.start.millisecondsSinceEpoch),
                .integer(visit.timeWindow?.end.millisecondsSinceEpoch),
                .integer(Int64(visit.serviceDurationSeconds)), .text(visit.status.rawValue),
                .integer(visit.arrivedAt?.millisecondsSinceEpoch), .integer(visit.startedAt?.millisecondsSinceEpoch),
                .integer(visit.departedAt?.millisecondsSinceEpoch),
                .integer(visit.completedAt?.millisecondsSinceEpoch), .bool(visit.outOfSequence),
                .bool(visit.completion != nil), .text(visit.completion?.notes), .text(visit.completion?.signedBy),
                .text(visit.completion?.failureReason),
            ]
        )
    }

    /// The route `id` of `tenantId`, if any.
    public func route(_ id: RouteID, tenantId: TenantID) async throws -> Route? {
        try await database.read { db in
            try Self.route(id, tenantId: tenantId, db)
        }
    }

    private static func route(_ id: RouteID, tenantId: TenantID, _ db: SQLiteConnection) throws -> Route? {
        try db.queryFirst(
            "SELECT \(routeColumns) FROM routes WHERE tenant_id = ? AND route_id = ?",
            [.text(tenantId.rawValue), .text(id.rawValue)]
        ).map(route(from:))
    }

    /// A tenant's routes, optionally only those scheduled on `date` and of `driverId`, ordered by id.
    public func routes(tenantId: TenantID, date: CalendarDate?, driverId: DriverID?) async throws -> [Route] {
        try await database.read { db in
            try db.query(
                """
                SELECT \(Self.routeColumns) FROM routes WHERE tenant_id = ?1
                    AND (?2 IS NULL OR scheduled_date = ?2) AND (?3 IS NULL OR driver_id = ?3)
                ORDER BY route_id
                """,
                [.text(tenantId.rawValue), .text(date?.description), .text(driverId?.rawValue)]
            ).map(Self.route(from:))
        }
    }

    /// A route's visits ordered by sequence number (then id).
    public func visits(routeId: RouteID, tenantId: TenantID) async throws -> [PlannedVisit] {
        try await database.read { db in try Self.visits(routeId: routeId, tenantId: tenantId, db) }
    }

    private static func visits(
        routeId: RouteID,
        tenantId: TenantID,
        _ db: SQLiteConnection
    ) throws
        -> [PlannedVisit]
    {
        try db.query(
            """
            SELECT \(visitColumns) FROM planned_visits WHERE tenant_id = ? AND route_id = ?
            ORDER BY sequence_number, visit_id
            """,
            [.text(tenantId.rawValue), .text(routeId.rawValue)]
        ).map(visit(from:))
    }

    /// The visit `id` of `tenantId`, if any.
    public func visit(_ id: VisitID, tenantId: TenantID) async throws -> PlannedVisit? {
        try await database.read { db in
            try db.queryFirst(
                "SELECT \(Self.visitColumns) FROM planned_visits WHERE tenant_id = ? AND visit_id = ?",
                [.text(tenantId.rawValue), .text(id.rawValue)]
            ).map(Self.visit(from:))
        }
    }

    /// Replaces the visit if its stored status is `expectedStatus` and stores its route with recomputed
    /// counters, in one transaction.
    ///
    /// - Throws: `StoreError.notFound` when the visit is absent; `.conflict` when its stored status differs
    ///   from `expectedStatus`; `.invalidData` when `visit.routeId` names another route than the stored one.
    @discardableResult
    public func updateVisit(_ visit: PlannedVisit, expectedStatus: VisitStatus) async throws -> Route {
        try await database.write { db in
            guard
                let stored = try db.queryFirst(
                    "SELECT status, route_id FROM planned_visits WHERE tenant_id = ? AND visit_id = ?",
                    [.text(visit.tenantId.rawValue), .text(visit.id.rawValue)]
                )
            else { throw StoreError.notFound("visit \(visit.id)") }
            let status = stored.text(0) ?? ""
            guard status == expectedStatus.rawValue else {
                throw StoreError.conflict("visit \(visit.id) is \(status), not \(expectedStatus.rawValue)")
            }
            guard stored.text(1) == visit.routeId.rawValue else {
                throw StoreError.invalidData("visit \(visit.id) cannot move to another route")
            }
            guard let route = try Self.route(visit.routeId, tenantId: visit.tenantId, db) else {
                throw StoreError.notFound("route \(visit.routeId)")
            }
            try Self.writeVisit(visit, db, replace: true)
            let updated = route.recomputed(
                from: try Self.visits(routeId: visit.routeId, tenantId: visit.tenantId, db)
            )
            try db.run(
                """
                UPDATE routes SET status = ?, total_stops = ?, completed_stops = ?
                WHERE tenant_id = ? AND route_id = ?
                """,
                [
                    .text(updated.status.rawValue), .integer(Int64(updated.totalStops)),
                    .integer(Int64(updated.completedStops)), .text(updated.tenantId.rawValue),
                    .text(updated.id.rawValue),
                ]
            )
            return updated
        }
    }

    private static func route(from row: SQLiteRow) throws -> Route {
        guard let date = CalendarDate(row.text(3) ?? "") else {
            throw StoreError.invalidData("bad scheduled_date \(row.text(3) ?? "NULL")")
        }
        return Route(
            id: RouteID(row.text(1) ?? ""),
            tenantId: TenantID(row.text(0) ?? ""),
            driverId: DriverID(row.text(2) ?? ""),
            scheduledDate: date,
            status: try decode(RouteStatus.self, row.text(4)),
            totalStops: row.int(5) ?? 0,
            completedStops: row.int(6) ?? 0
        )
    }

    private static func visit(from row: SQLiteRow) throws -> PlannedVisit {
        guard let date = CalendarDate(row.text(7) ?? "") else {
            throw StoreError.invalidData("bad scheduled_date \(row.text(7) ?? "NULL")")
        }
        func time(_ index: Int) -> Timestamp? { row.int64(index).map { Timestamp(millisecondsSinceEpoch: $0) } }
        var window: TimeWindow?
        if let start = time(8), let end = time(9) { window = TimeWindow(start: start, end: end) }
        let completion =
            row.bool(17) == true
            ? VisitCompletion(notes: row.text(18), signedBy: row.text(19), failureReason: row.text(20)) : nil
        return PlannedVisit(
            id: VisitID(row.text(1) ?? ""),
            tenantId: TenantID(row.text(0) ?? ""),
            routeId: RouteID(row.text(2) ?? ""),
            driverId: DriverID(row.text(3) ?? ""),
            customerId: CustomerID(row.text(4) ?? ""),
            sequenceNumber: row.int(5) ?? 0,
            visitType: try decode(VisitType.self, row.text(6)),
            scheduledDate: date,
            timeWindow: window,
            serviceDurationSeconds: row.int(10) ?? 0,
            status: try decode(VisitStatus.self, row.text(11)),
            arrivedAt: time(12),
            startedAt: time(13),
            departedAt: time(14),
            completedAt: time(15),
            outOfSequence: row.bool(16) ?? false,
            completion: completion
        )
    }

    // MARK: Snapshots

    /// Stores the snapshot unless the stored one has a newer fix time (an equal fix time replaces it).
    public func saveSnapshot(_ snapshot: DriverSnapshot) async throws {
        let json = try Self.encoder.encode(snapshot)
        let text = String(decoding: json, as: UTF8.self)
        try await database.write { db in
            try db.withStatement(
                """
                INSERT INTO driver_positions (tenant_id, driver_id, fix_time, activity, latitude, longitude, snapshot)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (tenant_id, driver_id) DO UPDATE SET fix_time = excluded.fix_time,
                    activity = excluded.activity, latitude = excluded.latitude, longitude = excluded.longitude,
                    snapshot = excluded.snapshot
                WHERE excluded.fix_time >= driver_positions.fix_time
                """
            ) { statement in
                let position = snapshot.position
                try statement.bind(position.tenantId.rawValue, at: 1)
                try statement.bind(position.driverId.rawValue, at: 2)
                try statement.bind(position.fixTime.millisecondsSinceEpoch, at: 3)
                try statement.bind(position.activity.rawValue, at: 4)
                try statement.bind(position.latitude, at: 5)
                try statement.bind(position.longitude, at: 6)
                try statement.bind(text, at: 7)
                try statement.step()
            }
        }
    }

    /// The latest snapshot of a driver, if any.
    public func snapshot(driverId: DriverID, tenantId: TenantID) async throws -> DriverSnapshot? {
        try await database.read { db in
            try db.queryFirst(
                "SELECT snapshot FROM driver_positions WHERE tenant_id = ? AND driver_id = ?",
                [.text(tenantId.rawValue), .text(driverId.rawValue)]
            ).map { try Self.snapshot(from: $0) }
        }
    }

    /// The latest snapshot of every driver of the tenant, ordered by driver id.
    public func snapshots(tenantId: TenantID) async throws -> [DriverSnapshot] {
        try await database.read { db in
            try db.query(
                "SELECT snapshot FROM driver_positions WHERE tenant_id = ? ORDER BY driver_id",
                [.text(tenantId.rawValue)]
            ).map { try Self.snapshot(from: $0) }
        }
    }

    /// Snapshots of every tenant whose fix is older than `before` and whose activity is not offline,
    /// ordered by tenant, then driver.
    public func staleSnapshots(before: Timestamp) async throws -> [DriverSnapshot] {
        try await database.read { db in
            try db.query(
                """
                SELECT snapshot FROM driver_positions WHERE fix_time < ? AND activity != 'offline'
                ORDER BY tenant_id, driver_id
                """,
                [.integer(before.millisecondsSinceEpoch)]
            ).map { try Self.snapshot(from: $0) }
        }
    }

    private static func snapshot(from row: SQLiteRow) throws -> DriverSnapshot {
        do {
            return try JSONDecoder().decode(DriverSnapshot.self, from: Data((row.text(0) ?? "").utf8))
        } catch {
            throw StoreError.invalidData("cannot decode a stored snapshot: \(error)")
        }
    }

    private static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }

    // MARK: Sync state

    private static let syncColumns = """
        table_name, last_version, last_synced_at, last_source_at, events_applied, events_failed, last_error,
        last_error_at, status
        """

    /// Read, merged and written in one write transaction (SQLite has one writer at a time).
    public func recordSync(_ progress: SyncProgress) async throws {
        try await database.write { db in
            let stored = try db.queryFirst(
                "SELECT \(Self.syncColumns) FROM sync_state WHERE table_name = ?",
                [.text(progress.tableName)]
            )
            let state = try stored.map(Self.syncState) ?? SyncState(tableName: progress.tableName)
            let next = state.merging(progress)
            try db.run(
                "REPLACE INTO sync_state (\(Self.syncColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    .text(next.tableName), .text(next.lastVersion), .integer(next.lastSyncedAt?.millisecondsSinceEpoch),
                    .integer(next.lastSourceAt?.millisecondsSinceEpoch), .integer(next.eventsApplied),
                    .integer(next.eventsFailed), .text(next.lastError),
                    .integer(next.lastErrorAt?.millisecondsSinceEpoch),
                    .text(next.status.rawValue),
                ]
            )
        }
    }

    public func markLagging(tableName: String, lastSyncedAt: Timestamp) async throws -> Bool {
        try await database.write { db in
            try db.run(
                """
                UPDATE sync_state SET status = 'lagging'
                WHERE table_name = ? AND last_synced_at = ? AND status IN ('healthy', 'syncing')
                """,
                [.text(tableName), .integer(lastSyncedAt.millisecondsSinceEpoch)]
            )
            return db.changes > 0
        }
    }

    /// Every table's sync state, ordered by table name.
    public func syncStates() async throws -> [SyncState] {
        try await database.read { db in
            try db.query("SELECT \(Self.syncColumns) FROM sync_state ORDER BY table_name").map(Self.syncState)
        }
    }

    private static func syncState(_ row: SQLiteRow) throws -> SyncState {
        SyncState(
            tableName: row.text(0) ?? "",
            lastVersion: row.text(1),
            lastSyncedAt: row.int64(2).map { Timestamp(millisecondsSinceEpoch: $0) },
            lastSourceAt: row.int64(3).map { Timestamp(millisecondsSinceEpoch: $0) },
            eventsApplied: row.int64(4) ?? 0,
            eventsFailed: row.int64(5) ?? 0,
            lastError: row.text(6),
            lastErrorAt: row.int64(7).map { Timestamp(millisecondsSinceEpoch: $0) },
            status: try decode(SyncState.Status.self, row.text(8))
        )
    }
}

/// Decodes a stored enum raw value, or throws `StoreError.invalidData`.
func decode<E: RawRepresentable>(_ type: E.Type, _ raw: String?) throws -> E where E.RawValue == String {
    guard let raw, let value = E(rawValue: raw) else {
        throw StoreError.invalidData("unknown \(E.self) \(raw ?? "NULL")")
    }
    return value
}
