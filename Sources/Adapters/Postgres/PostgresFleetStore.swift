public import Application
public import Domain
import Foundation

/// The fleet store on PostgreSQL (spec §5.1 `drivers`, `routes`, `planned_visits`, `driver_positions`,
/// `sync_state`), shared by every instance, with every rule of `FleetStore`.
///
/// Compare-and-set holds across connections and instances: `updateVisit` is a conditional
/// `UPDATE … WHERE status = $expected` (rows affected tells who won) followed by the route row locked
/// `FOR UPDATE` and its counters, in one transaction. Snapshots are one upsert whose `WHERE` keeps the
/// newest fix. Orderings use `COLLATE "C"` so they match Swift's string order whatever the database locale.
public final class PostgresFleetStore: FleetStore {
    /// The pool this store runs on (not owned: its owner shuts it down).
    package let pool: PostgresPool

    /// A store on `pool`, whose schema must be migrated (`PostgresMigrations.migrateFleet`).
    public init(pool: PostgresPool) { self.pool = pool }

    // MARK: Drivers

    private static let driverColumns = "tenant_id, id, device_id, name, phone, vehicle_plate, vehicle_type, status"

    public func saveDriver(_ driver: Driver) async throws {
        try await pool.withConnection { db in
            _ = try db.prepared(
                "save_driver",
                """
                INSERT INTO drivers (\(Self.driverColumns)) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                ON CONFLICT (tenant_id, id) DO UPDATE SET device_id = excluded.device_id, name = excluded.name,
                    phone = excluded.phone, vehicle_plate = excluded.vehicle_plate,
                    vehicle_type = excluded.vehicle_type, status = excluded.status
                """,
                [
                    driver.tenantId.rawValue, driver.id.rawValue, driver.deviceId.rawValue, driver.name, driver.phone,
                    driver.vehiclePlate, driver.vehicleType.rawValue, driver.status.rawValue,
                ]
            )
        }
    }

    public func driver(_ id: DriverID, tenantId: TenantID) async throws -> Driver? {
        try await drivers("WHERE tenant_id = $1 AND id = $2", [tenantId.rawValue, id.rawValue]).first
    }

    public func driver(deviceId: DeviceID) async throws -> Driver? {
        try await drivers("WHERE device_id = $1", [deviceId.rawValue]).first
    }

    public func drivers(tenantId: TenantID) async throws -> [Driver] {
        try await drivers("WHERE tenant_id = $1 ORDER BY id COLLATE \"C\"", [tenantId.rawValue])
    }

    private func drivers(_ clause: String, _ parameters: [String?]) async throws -> [Driver] {
        try await pool.withConnection { db in
            try db.query("SELECT \(Self.driverColumns) FROM drivers \(clause)", parameters).rows.map { row in
                Driver(
                    id: DriverID(row.text(1) ?? ""),
                    tenantId: TenantID(row.text(0) ?? ""),
                    deviceId: DeviceID(row.text(2) ?? ""),
                    name: row.text(3) ?? "",
                    phone: row.text(4),
                    vehiclePlate: row.text(5),
                    vehicleType: try decodeRaw(VehicleType.self, row.text(6)),
                    status: try decodeRaw(DriverStatus.self, row.text(7))
                )
            }
        }
    }

    // MARK: Routes and visits

    private static let routeColumns = "tenant_id, id, driver_id, scheduled_date, status, total_stops, completed_stops"
    private static let visitColumns = """
        tenant_id, id, route_id, driver_id, customer_id, sequence_number, visit_type, scheduled_date, \
        window_start, window_end, service_duration_seconds, status, arrived_at, started_at, departed_at, \
        completed_at, out_of_sequence, has_completion, completion_notes, completion_signed_by, \
        completion_failure_reason
        """
    private static let visitSelect = """
        tenant_id, id, route_id, driver_id, customer_id, sequence_number, visit_type, scheduled_date, \
        \(PG.millis("window_start")), \(PG.millis("window_end")), service_duration_seconds, status, \
        \(PG.millis("arrived_at")), \(PG.millis("started_at")), \(PG.millis("departed_at")), \
        \(PG.millis("completed_at")), out_of_sequence, has_completion, completion_notes, completion_signed_by, \
        completion_failure_reason
        """

    private static func visitParameters(_ visit: PlannedVisit) -> [String?] {
        [
            visit.tenantId.rawValue, visit.id.rawValue, visit.routeId.rawValue, visit.driverId.rawValue,
            visit.customerId.rawValue, PG.int(visit.sequenceNumber), visit.visitType.rawValue,
            visit.scheduledDate.description, PG.time(visit.timeWindow?.start), PG.time(visit.timeWindow?.end),
            PG.int(visit.serviceDurationSeconds), visit.status.rawValue, PG.time(visit.arrivedAt),
            PG.time(visit.startedAt), PG.time(visit.departedAt), PG.time(visit.completedAt),
            PG.bool(visit.outOfSequence), PG.bool(visit.completion != nil), visit.completion?.notes,
            visit.completion?.signedBy, visit.completion?.failureReason,
        ]
    }

    private static let visitPlaceholders = (1...21).map { "$\($0)" }.joined(separator: ", ")

    public func createRoute(_ route: Route, visits: [PlannedVisit]) async throws {
        let stored = route.recomputed(from: visits)
        try await pool.transaction { db in
            try db.query(
                "INSERT INTO routes (\(Self.routeColumns)) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                [
                    stored.tenantId.rawValue, stored.id.rawValue, stored.driverId.rawValue,
                    stored.scheduledDate.description, stored.status.rawValue, PG.int(stored.totalStops),
                    PG.int(stored.completedStops),
                ]
            )
            for visit in visits {
                try db.prepared(
                    "insert_visit",
                    "INSERT INTO planned_visits (\(Self.visitColumns)) VALUES (\(Self.visitPlaceholders))",
                    Self.visitParameters(visit)
                )
            }
        }
    }

    public func route(_ id: RouteID, tenantId: TenantID) async throws -> Route? {
        try await pool.withConnection { db in try Self.route(id, tenantId: tenantId, db, lock: false) }
    }

    private static func route(_ id: RouteID, tenantId: TenantID, _ db: PGConnection, lock: Bool) throws -> Route? {
        try db.query(
            "SELECT \(routeColumns) FROM routes WHERE tenant_id = $1 AND id = $2\(lock ? " FOR UPDATE" : "")",
            [tenantId.rawValue, id.rawValue]
        ).rows.first.map(route(from:))
    }

    public func routes(tenantId: TenantID, date: CalendarDate?, driverId: DriverID?) async throws -> [Route] {
        try await pool.withConnection { db in
            try db.query(
                """
                SELECT \(Self.routeColumns) FROM routes WHERE tenant_id = $1
                    AND ($2::date IS NULL OR scheduled_date = $2::date) AND ($3::text IS NULL OR driver_id = $3)
                ORDER BY id COLLATE "C"
                """,
                [tenantId.rawValue, date?.description, driverId?.rawValue]
            ).rows.map(Self.route(from:))
        }
    }

    public func visits(routeId: RouteID, tenantId: TenantID) async throws -> [PlannedVisit] {
        try await pool.withConnection { db in try Self.visits(routeId: routeId, tenantId: tenantId, db) }
    }

    private static func visits(routeId: RouteID, tenantId: TenantID, _ db: PGConnection) throws -> [PlannedVisit] {
        try db.query(
            """
            SELECT \(visitSelect) FROM planned_visits WHERE tenant_id = $1 AND route_id = $2
            ORDER BY sequence_number, id COLLATE "C"
            """,
            [tenantId.rawValue, routeId.rawValue]
        ).rows.map(visit(from:))
    }

    public func visit(_ id: VisitID, tenantId: TenantID) async throws -> PlannedVisit? {
        try await pool.withConnection { db in
            try db.query(
                "SELECT \(Self.visitSelect) FROM planned_visits WHERE tenant_id = $1 AND id = $2",
                [tenantId.rawValue, id.rawValue]
            ).rows.first.map(Self.visit(from:))
        }
    }

    /// Conditional UPDATE on the stored status (wins or loses across instances), then the route's counters,
    /// in one transaction.
    ///
    /// - Throws: `.notFound` when the visit is absent; `.conflict` when its status differs from
    ///   `expectedStatus`; `.invalidData` when `visit.routeId` names another route.
    @discardableResult
    public func updateVisit(_ visit: PlannedVisit, expectedStatus: VisitStatus) async throws -> Route {
        try await pool.transaction { db in
            let assignments = Self.visitColumns.split(separator: ",").enumerated().dropFirst(2)
                .map { "\($0.element.trimmingCharacters(in: .whitespaces)) = $\($0.offset + 1)" }
                .joined(separator: ", ")
            let updated = try db.prepared(
                "cas_visit",
                """
                UPDATE planned_visits SET \(assignments)
                WHERE tenant_id = $1 AND id = $2 AND status = $22 AND route_id = $3
                """,
                Self.visitParameters(visit) + [expectedStatus.rawValue]
            )
            guard updated.affectedRows == 1 else {
                guard
                    let stored = try db.query(
                        "SELECT status, route_id FROM planned_visits WHERE tenant_id = $1 AND id = $2",
                        [visit.tenantId.rawValue, visit.id.rawValue]
                    ).rows.first
                else { throw StoreError.notFound("visit \(visit.id)") }
                if stored.text(0) != expectedStatus.rawValue {
                    throw StoreError.conflict("visit \(visit.id) is \(stored.text(0) ?? ""), not \(expectedStatus)")
                }
                throw StoreError.invalidData("visit \(visit.id) cannot move to another route")
            }
            guard let route = try Self.route(visit.routeId, tenantId: visit.tenantId, db, lock: true) else {
                throw StoreError.notFound("route \(visit.routeId)")
            }
            let recomputed = route.recomputed(
                from: try Self.visits(routeId: visit.routeId, tenantId: visit.tenantId, db)
            )
            try db.query(
                "UPDATE routes SET status = $3, total_stops = $4, completed_stops = $5 WHERE tenant_id = $1 AND id = $2",
                [
                    recomputed.tenantId.rawValue, recomputed.id.rawValue, recomputed.status.rawValue,
                    PG.int(recomputed.totalStops), PG.int(recomputed.completedStops),
                ]
            )
            return recomputed
        }
    }

    private static func route(from row: PGRow) throws -> Route {
        Route(
            id: RouteID(row.text(1) ?? ""),
            tenantId: TenantID(row.text(0) ?? ""),
            driverId: DriverID(row.text(2) ?? ""),
            scheduledDate: try PG.date(row.text(3)),
            status: try decodeRaw(RouteStatus.self, row.text(4)),
            totalStops: row.int(5) ?? 0,
            completedStops: row.int(6) ?? 0
        )
    }

    private static func visit(from row: PGRow) throws -> PlannedVisit {
        func time(_ index: Int) -> Timestamp? { PG.timestamp(row.int64(index)) }
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
            visitType: try decodeRaw(VisitType.self, row.text(6)),
            scheduledDate: try PG.date(row.text(7)),
            timeWindow: window,
            serviceDurationSeconds: row.int(10) ?? 0,
            status: try decodeRaw(VisitStatus.self, row.text(11)),
            arrivedAt: time(12),
            startedAt: time(13),
            departedAt: time(14),
            completedAt: time(15),
            outOfSequence: row.bool(16) ?? false,
            completion: completion
        )
    }

    // MARK: Snapshots

    private static let snapshotColumns = """
        tenant_id, driver_id, device_id, driver_name, fix_time, latitude, longitude, speed, smoothed_speed, \
        heading, battery_level, ignition, activity, current_route_id, current_visit_id, next_visit_id, \
        next_customer_id, next_customer_name, distance_to_next, eta_to_next, late, completed_stops, total_stops, \
        remaining_stops, geofence_phase, geofence_visit_id, geofence_since, active_alerts
        """

    /// The SQL type of each of `snapshotColumns`, for the batched upsert's casts.
    private static let snapshotTypes = [
        "text", "text", "text", "text", "timestamptz", "float8", "float8", "float8", "float8", "float8", "float8",
        "boolean", "text", "text", "text", "text", "text", "text", "float8", "timestamptz", "boolean", "integer",
        "integer", "jsonb", "text", "text", "timestamptz", "text[]",
    ]

    /// `col = excluded.col` for every column but the key, and the newest-wins guard.
    private static let snapshotConflict: String = {
        let updates = snapshotColumns.split(separator: ",").dropFirst(2)
            .map { "\($0.trimmingCharacters(in: .whitespaces)) = excluded.\($0.trimmingCharacters(in: .whitespaces))" }
            .joined(separator: ", ")
        return """
            ON CONFLICT (tenant_id, driver_id) DO UPDATE SET \(updates)
            WHERE excluded.fix_time >= driver_positions.fix_time
            """
    }()

    /// The bound values of one snapshot, in `snapshotColumns` order.
    private static func snapshotParameters(_ snapshot: DriverSnapshot) throws -> [String?] {
        let p = snapshot.position
        let stops = String(decoding: try JSONEncoder().encode(p.remainingStops), as: UTF8.self)
        let (phase, phaseVisit, since): (String, VisitID?, Timestamp?) =
            switch snapshot.geofence {
            case .outside: ("outside", nil, nil)
            case .entering(let visit, let since): ("entering", visit, since)
            case .inside(let visit): ("inside", visit, nil)
            case .leaving(let visit, let since): ("leaving", visit, since)
            }
        let alerts = "{" + snapshot.activeAlerts.map(\.rawValue).sorted().joined(separator: ",") + "}"
        return [
            p.tenantId.rawValue, p.driverId.rawValue, p.deviceId.rawValue, p.driverName, PG.time(p.fixTime),
            PG.double(p.latitude), PG.double(p.longitude), PG.double(p.speedKmh), PG.double(p.smoothedSpeedKmh),
            PG.double(p.heading), PG.double(p.batteryLevel), PG.bool(p.ignition), p.activity.rawValue,
            p.routeId?.rawValue, p.currentVisitId?.rawValue, p.nextVisitId?.rawValue, p.nextCustomerId?.rawValue,
            p.nextCustomerName, PG.double(p.distanceToNextMeters), PG.time(p.etaToNext), PG.bool(p.late),
            PG.int(p.completedStops), PG.int(p.totalStops), stops, phase, phaseVisit?.rawValue, PG.time(since),
            alerts,
        ]
    }

    public func saveSnapshot(_ snapshot: DriverSnapshot) async throws {
        let parameters = try Self.snapshotParameters(snapshot)
        try await pool.withConnection { db in
            _ = try db.prepared(
                "save_snapshot",
                """
                INSERT INTO driver_positions (\(Self.snapshotColumns))
                VALUES (\((1...28).map { "$\($0)" }.joined(separator: ", ")))
                \(Self.snapshotConflict)
                """,
                parameters
            )
        }
    }

    /// One statement for the whole batch: each column travels as one bound text array (`unnest`), cast to its
    /// type; a driver's newest snapshot of the batch is kept (an upsert may touch a row once per statement).
    public func saveSnapshots(_ snapshots: [DriverSnapshot]) async throws {
        var newest: [String: DriverSnapshot] = [:]
        for snapshot in snapshots {
            let key = snapshot.tenantId.rawValue + "\u{0}" + snapshot.driverId.rawValue
            if let kept = newest[key], kept.position.fixTime > snapshot.position.fixTime { continue }
            newest[key] = snapshot
        }
        guard newest.count > 1 else {
            if let only = newest.values.first { try await saveSnapshot(only) }
            return
        }
        let rows = try newest.values.map(Self.snapshotParameters)
        let columns = (0..<Self.snapshotTypes.count).map { column in PGArray.text(rows.map { $0[column] }) }
        let arrays = (1...columns.count).map { "$\($0)::text[]" }.joined(separator: ", ")
        let names = (1...columns.count).map { "c\($0)" }
        let casts = zip(names, Self.snapshotTypes).map { "\($0)::\($1)" }.joined(separator: ", ")
        try await pool.withConnection { db in
            _ = try db.prepared(
                "save_snapshots",
                """
                INSERT INTO driver_positions (\(Self.snapshotColumns))
                SELECT \(casts) FROM unnest(\(arrays)) AS t(\(names.joined(separator: ", ")))
                \(Self.snapshotConflict)
                """,
                columns
            )
        }
    }

    private static let snapshotSelect =
        snapshotColumns
        .replacingOccurrences(of: "fix_time,", with: "\(PG.millis("fix_time")),")
        .replacingOccurrences(of: "eta_to_next,", with: "\(PG.millis("eta_to_next")),")
        .replacingOccurrences(of: "geofence_since,", with: "\(PG.millis("geofence_since")),")

    public func snapshot(driverId: DriverID, tenantId: TenantID) async throws -> DriverSnapshot? {
        try await snapshots("WHERE tenant_id = $1 AND driver_id = $2", [tenantId.rawValue, driverId.rawValue]).first
    }

    public func snapshots(tenantId: TenantID) async throws -> [DriverSnapshot] {
        try await snapshots("WHERE tenant_id = $1 ORDER BY driver_id COLLATE \"C\"", [tenantId.rawValue])
    }

    public func staleSnapshots(before: Timestamp) async throws -> [DriverSnapshot] {
        try await snapshots(
            "WHERE fix_time < $1 AND activity <> 'offline' ORDER BY tenant_id COLLATE \"C\", driver_id COLLATE \"C\"",
            [PG.time(before)]
        )
    }

    private func snapshots(_ clause: String, _ parameters: [String?]) async throws -> [DriverSnapshot] {
        try await pool.withConnection { db in
            try db.query("SELECT \(Self.snapshotSelect) FROM driver_positions \(clause)", parameters).rows
                .map(Self.snapshot(from:))
        }
    }

    private static func snapshot(from row: PGRow) throws -> DriverSnapshot {
        let stops: [StopETA]
        do {
            stops = try JSONDecoder().decode([StopETA].self, from: Data((row.text(23) ?? "[]").utf8))
        } catch {
            throw StoreError.invalidData("cannot decode remaining_stops: \(error)")
        }
        let position = EnrichedPosition(
            tenantId: TenantID(row.text(0) ?? ""),
            driverId: DriverID(row.text(1) ?? ""),
            deviceId: DeviceID(row.text(2) ?? ""),
            driverName: row.text(3) ?? "",
            fixTime: PG.timestamp(row.int64(4)) ?? Timestamp(millisecondsSinceEpoch: 0),
            latitude: row.double(5) ?? 0,
            longitude: row.double(6) ?? 0,
            speedKmh: row.double(7) ?? 0,
            smoothedSpeedKmh: row.double(8) ?? 0,
            heading: row.double(9) ?? 0,
            batteryLevel: row.double(10),
            ignition: row.bool(11),
            activity: try decodeRaw(DriverActivity.self, row.text(12)),
            routeId: row.text(13).map { RouteID($0) },
            currentVisitId: row.text(14).map { VisitID($0) },
            nextVisitId: row.text(15).map { VisitID($0) },
            nextCustomerId: row.text(16).map { CustomerID($0) },
            nextCustomerName: row.text(17),
            distanceToNextMeters: row.double(18),
            etaToNext: PG.timestamp(row.int64(19)),
            late: row.bool(20) ?? false,
            completedStops: row.int(21) ?? 0,
            totalStops: row.int(22) ?? 0,
            remainingStops: stops
        )
        let visit = row.text(25).map { VisitID($0) }
        let since = PG.timestamp(row.int64(26))
        let geofence: GeofencePhase
        switch (row.text(24), visit, since) {
        case ("outside", _, _): geofence = .outside
        case ("entering", let visit?, let since?): geofence = .entering(visitId: visit, since: since)
        case ("inside", let visit?, _): geofence = .inside(visitId: visit)
        case ("leaving", let visit?, let since?): geofence = .leaving(visitId: visit, since: since)
        default: throw StoreError.invalidData("bad geofence phase \(row.text(24) ?? "NULL")")
        }
        let alertText = (row.text(27) ?? "{}").dropFirst().dropLast()
        let alerts = try alertText.split(separator: ",").map { try decodeRaw(AlertKind.self, String($0)) }
        return DriverSnapshot(position: position, geofence: geofence, activeAlerts: Set(alerts))
    }

    // MARK: Sync state

    /// One upsert: the inserted row is a fresh state merged with `progress`, and the conflict branch merges it
    /// into the stored row with the same rule (counters add, newest version in byte order and source time
    /// win), so concurrent instances add up.
    public func recordSync(_ progress: SyncProgress) async throws {
        let row = SyncState(tableName: progress.tableName).merging(progress)
        try await pool.withConnection { db in
            _ = try db.query(
                """
                INSERT INTO sync_state AS s (table_name, last_version, last_synced_at, last_source_at,
                    events_applied, events_failed, last_error, last_error_at, status)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                ON CONFLICT (table_name) DO UPDATE SET
                    events_applied = s.events_applied + excluded.events_applied,
                    events_failed = s.events_failed + excluded.events_failed,
                    last_version = GREATEST(s.last_version COLLATE "C", excluded.last_version COLLATE "C"),
                    last_source_at = GREATEST(s.last_source_at, excluded.last_source_at),
                    last_synced_at = COALESCE(excluded.last_synced_at, s.last_synced_at),
                    last_error = COALESCE(excluded.last_error, s.last_error),
                    last_error_at = COALESCE(excluded.last_error_at, s.last_error_at),
                    status = excluded.status
                """,
                [
                    row.tableName, row.lastVersion, PG.time(row.lastSyncedAt), PG.time(row.lastSourceAt),
                    String(row.eventsApplied), String(row.eventsFailed), row.lastError, PG.time(row.lastErrorAt),
                    row.status.rawValue,
                ]
            )
        }
    }

    public func markLagging(tableName: String, lastSyncedAt: Timestamp) async throws -> Bool {
        try await pool.withConnection { db in
            try db.query(
                """
                UPDATE sync_state SET status = 'lagging'
                WHERE table_name = $1 AND last_synced_at = $2 AND status IN ('healthy', 'syncing')
                """,
                [tableName, PG.time(lastSyncedAt)]
            ).affectedRows > 0
        }
    }

    public func syncStates() async throws -> [SyncState] {
        try await pool.withConnection { db in
            try db.query(
                """
                SELECT table_name, last_version, \(PG.millis("last_synced_at")), \(PG.millis("last_source_at")),
                    events_applied, events_failed, last_error, \(PG.millis("last_error_at")), status
                FROM sync_state ORDER BY table_name COLLATE "C"
                """
            ).rows.map { row in
                SyncState(
                    tableName: row.text(0) ?? "",
                    lastVersion: row.text(1),
                    lastSyncedAt: PG.timestamp(row.int64(2)),
                    lastSourceAt: PG.timestamp(row.int64(3)),
                    eventsApplied: row.int64(4) ?? 0,
                    eventsFailed: row.int64(5) ?? 0,
                    lastError: row.text(6),
                    lastErrorAt: PG.timestamp(row.int64(7)),
                    status: try decodeRaw(SyncState.Status.self, row.text(8))
                )
            }
        }
    }
}
