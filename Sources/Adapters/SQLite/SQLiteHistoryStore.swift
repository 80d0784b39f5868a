import AdapterSupport
public import Application
public import Domain
public import Logging
import Synchronization

/// Position history and visit completions on SQLite, with the daily rollups maintained incrementally in the
/// same transaction as each append or completion (running sums upserted per day), so statistics queries
/// read a handful of rows and never rescan raw points.
///
/// - **Layout:** `history_drivers` maps `(tenant, driver)` to a small integer key (cached in memory once
///   committed); `position_history` is a `WITHOUT ROWID` table clustered on `(driver_key, fix_time)`: one
///   driver's points are stored in time order, so a playback is one range scan, and the primary key makes
///   `(driver, fixTime)` idempotent (`INSERT OR IGNORE`). No secondary index: retention walks the primary
///   key driver by driver.
/// - **Rollups:** `driver_daily_stats` (positions, speed sum, max speed, moving count, visits) and
///   `visit_performance_daily` (total, completed, failed, on time, duration sum and count) per UTC day;
///   only rows actually inserted are counted, so a repeated append or completion changes nothing.
/// - **Downsampling:** as `InMemoryHistoryStore`: more than `maxPoints` points in `from...to` yield the
///   first, the last, and the middle point of each of `maxPoints - 2` equal slices of the points between.
/// - **Retention:** `prune` deletes raw points and completions in batches of `pruneBatchSize` rows per
///   transaction (so the writer is never held for long) and leaves the rollups alone, as TimescaleDB's
///   continuous aggregates keep the statistics of dropped chunks.
public final class SQLiteHistoryStore: HistoryStore {
    /// The database this store writes to.
    package let database: SQLiteDatabase
    /// Rows deleted per transaction by `prune`.
    package let pruneBatchSize: Int
    /// The speed from which a position counts as moving, km/h.
    public static let movingThresholdKmh = 3.0
    /// Committed driver keys by `(tenant, driver)`; a key created by a transaction joins only after COMMIT,
    /// so a rolled-back key is never reused.
    private let driverKeys = Mutex<[TenantKey: Int64]>([:])

    /// The `history.*` migrations.
    package static let migrations: [SQLiteMigration] = [
        SQLiteMigration(
            "history",
            1,
            sql: """
                CREATE TABLE history_drivers (
                    driver_key INTEGER PRIMARY KEY,
                    tenant_id TEXT NOT NULL,
                    driver_id TEXT NOT NULL,
                    UNIQUE (tenant_id, driver_id)
                );
                CREATE TABLE position_history (
                    driver_key INTEGER NOT NULL,
                    fix_time INTEGER NOT NULL,
                    latitude REAL NOT NULL,
                    longitude REAL NOT NULL,
                    speed_kmh REAL NOT NULL,
                    heading REAL NOT NULL,
                    route_id TEXT,
                    visit_id TEXT,
                    PRIMARY KEY (driver_key, fix_time)
                ) WITHOUT ROWID;
                CREATE TABLE visit_completions (
                    tenant_id TEXT NOT NULL,
                    visit_id TEXT NOT NULL,
                    driver_id TEXT NOT NULL,
                    route_id TEXT NOT NULL,
                    customer_id TEXT NOT NULL,
                    status TEXT NOT NULL,
                    arrived_at INTEGER,
                    closed_at INTEGER NOT NULL,
                    on_time INTEGER NOT NULL,
                    PRIMARY KEY (tenant_id, visit_id)
                ) WITHOUT ROWID;
                CREATE INDEX visit_completions_by_closed_at ON visit_completions (closed_at);
                CREATE TABLE driver_daily_stats (
                    driver_key INTEGER NOT NULL,
                    day TEXT NOT NULL,
                    positions INTEGER NOT NULL DEFAULT 0,
                    speed_sum REAL NOT NULL DEFAULT 0,
                    max_speed REAL,
                    moving INTEGER NOT NULL DEFAULT 0,
                    visits INTEGER NOT NULL DEFAULT 0,
                    PRIMARY KEY (driver_key, day)
                ) WITHOUT ROWID;
                CREATE TABLE visit_performance_daily (
                    tenant_id TEXT NOT NULL,
                    day TEXT NOT NULL,
                    total INTEGER NOT NULL DEFAULT 0,
                    completed INTEGER NOT NULL DEFAULT 0,
                    failed INTEGER NOT NULL DEFAULT 0,
                    on_time INTEGER NOT NULL DEFAULT 0,
                    duration_sum REAL NOT NULL DEFAULT 0,
                    durations INTEGER NOT NULL DEFAULT 0,
                    PRIMARY KEY (tenant_id, day)
                ) WITHOUT ROWID;
                """
        )
    ]

    /// A store on `database`, applying the `history.*` migrations if needed.
    package init(database: SQLiteDatabase, pruneBatchSize: Int = 10_000) throws {
        precondition(pruneBatchSize > 0, "pruneBatchSize must be positive")
        self.database = database
        self.pruneBatchSize = pruneBatchSize
        try database.migrate(Self.migrations)
    }

    /// A store on its own database file at `path` (`:memory:` for a private in-memory database).
    ///
    /// - Throws: `SQLiteOpenError` when the file is not a tracker database or was written by a newer
    ///   version (the file is left untouched).
    public convenience init(path: String, logger: Logger) throws {
        try self.init(database: SQLiteDatabase(path: path, migrations: Self.migrations, logger: logger))
    }

    // MARK: Append

    /// The running sums of one driver-day gathered from one batch.
    private struct DayDelta {
        var positions = 0
        var speedSum = 0.0
        var maxSpeed = -Double.infinity
        var moving = 0
    }

    private struct DayKey: Hashable {
        var driverKey: Int64
        var day: String
    }

    /// The key of `(tenant, driver)`, created on first use; `created` tells whether this call inserted it.
    /// Runs in a write transaction.
    private static func driverKey(
        tenantId: String,
        driverId: String,
        _ db: SQLiteConnection
    ) throws
        -> (key: Int64, created: Bool)
    {
        let existing = try db.withStatement(
            "SELECT driver_key FROM history_drivers WHERE tenant_id = ? AND driver_id = ?"
        ) { statement -> Int64? in
            try statement.bind(tenantId, at: 1)
            try statement.bind(driverId, at: 2)
            return try statement.step() ? statement.int64(at: 0) : nil
        }
        if let existing { return (existing, false) }
        try db.withStatement("INSERT INTO history_drivers (tenant_id, driver_id) VALUES (?, ?)") { statement in
            try statement.bind(tenantId, at: 1)
            try statement.bind(driverId, at: 2)
            try statement.step()
        }
        return (db.lastInsertRowID, true)
    }

    /// The key of `(tenant, driver)` if it has history. Read-only.
    private static func existingDriverKey(
        tenantId: TenantID,
        driverId: DriverID,
        _ db: SQLiteConnection
    ) throws
        -> Int64?
    {
        try db.queryFirst(
            "SELECT driver_key FROM history_drivers WHERE tenant_id = ? AND driver_id = ?",
            [.text(tenantId.rawValue), .text(driverId.rawValue)]
        )?.int64(0)
    }

    /// Appends positions in one transaction; a `(driverId, fixTime)` already stored is skipped and not
    /// counted again in the rollups.
    public func append(_ positions: [EnrichedPosition]) async throws {
        guard !positions.isEmpty else { return }
        let cached = driverKeys.withLock { cache in
            var known: [TenantKey: Int64] = [:]
            for position in positions {
                let key = TenantKey(tenant: position.tenantId.rawValue, driver: position.driverId.rawValue)
                if let value = cache[key] { known[key] = value }
            }
            return known
        }
        let resolved = try await database.write { (db: SQLiteConnection) throws -> [TenantKey: Int64] in
            var keys = cached
            var deltas: [DayKey: DayDelta] = [:]
            var lastDay: (millis: Int64, start: Int64, text: String)?
            try db.withStatement(
                """
                INSERT OR IGNORE INTO position_history
                    (driver_key, fix_time, latitude, longitude, speed_kmh, heading, route_id, visit_id)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """
            ) { insert in
                for position in positions {
                    let tenantKey = TenantKey(tenant: position.tenantId.rawValue, driver: position.driverId.rawValue)
                    let driverKey: Int64
                    if let known = keys[tenantKey] {
                        driverKey = known
                    } else {
                        driverKey = try Self.driverKey(
                            tenantId: tenantKey.tenant,
                            driverId: tenantKey.driver,
                            db
                        ).key
                        keys[tenantKey] = driverKey
                    }
                    let millis = position.fixTime.millisecondsSinceEpoch
                    insert.reset()
                    try insert.bind(driverKey, at: 1)
                    try insert.bind(millis, at: 2)
                    try insert.bind(position.latitude, at: 3)
                    try insert.bind(position.longitude, at: 4)
                    try insert.bind(position.speedKmh, at: 5)
                    try insert.bind(position.heading, at: 6)
                    try insert.bind(position.routeId?.rawValue, at: 7)
                    try insert.bind(position.currentVisitId?.rawValue, at: 8)
                    try insert.step()
                    guard db.changes == 1 else { continue }
                    // Day of the fix, cached: consecutive fixes almost always fall on the same day.
                    let day: String
                    if let cached = lastDay, millis >= cached.start, millis < cached.start + 86_400_000 {
                        day = cached.text
                    } else {
                        let date = CalendarDate(containing: position.fixTime)
                        day = date.description
                        lastDay = (millis, date.startOfDay.millisecondsSinceEpoch, day)
                    }
                    let speed = position.speedKmh
                    var delta = deltas[DayKey(driverKey: driverKey, day: day)] ?? DayDelta()
                    delta.positions += 1
                    delta.speedSum += speed
                    delta.maxSpeed = max(delta.maxSpeed, speed)
                    if speed >= Self.movingThresholdKmh { delta.moving += 1 }
                    deltas[DayKey(driverKey: driverKey, day: day)] = delta
                }
            }
            guard !deltas.isEmpty else { return keys }
            try db.withStatement(
                """
                INSERT INTO driver_daily_stats (driver_key, day, positions, speed_sum, max_speed, moving)
                VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (driver_key, day) DO UPDATE SET
                    positions = positions + excluded.positions,
                    speed_sum = speed_sum + excluded.speed_sum,
                    max_speed = CASE WHEN max_speed IS NULL OR excluded.max_speed > max_speed
                                THEN excluded.max_speed ELSE max_speed END,
                    moving = moving + excluded.moving
                """
            ) { upsert in
                for (key, delta) in deltas {
                    upsert.reset()
                    try upsert.bind(key.driverKey, at: 1)
                    try upsert.bind(key.day, at: 2)
                    try upsert.bind(delta.positions, at: 3)
                    try upsert.bind(delta.speedSum, at: 4)
                    try upsert.bind(delta.maxSpeed, at: 5)
                    try upsert.bind(delta.moving, at: 6)
                    try upsert.step()
                }
            }
            return keys
        }
        driverKeys.withLock { cache in cache.merge(resolved) { old, _ in old } }
    }

    private struct TenantKey: Hashable, Sendable {
        var tenant: String
        var driver: String
    }

    // MARK: Playback

    /// The driver's points in `from...to`, ordered by fix time, downsampled to at most `maxPoints`.
    ///
    /// Counts the range on the primary key, then walks it once, decoding only the points kept.
    public func routeHistory(
        driverId: DriverID,
        tenantId: TenantID,
        from: Timestamp,
        to: Timestamp,
        maxPoints: Int
    ) async throws -> [HistoryPoint] {
        guard maxPoints > 0, from <= to else { return [] }
        return try await database.read { (db: SQLiteConnection) throws -> [HistoryPoint] in
            guard let driverKey = try Self.existingDriverKey(tenantId: tenantId, driverId: driverId, db) else {
                return []
            }
            let bounds: [SQLiteValue] = [
                .integer(driverKey), .integer(from.millisecondsSinceEpoch), .integer(to.millisecondsSinceEpoch),
            ]
            let count =
                try db.queryFirst(
                    "SELECT count(*) FROM position_history WHERE driver_key = ? AND fix_time BETWEEN ? AND ?",
                    bounds
                )?.int(0) ?? 0
            guard count > 0 else { return [] }
            let picks = HistoryDownsampling.pickedIndices(count: count, maxPoints: maxPoints)
            var result: [HistoryPoint] = []
            result.reserveCapacity(picks.count)
            try db.withStatement(
                """
                SELECT fix_time, latitude, longitude, speed_kmh, heading, route_id, visit_id
                FROM position_history WHERE driver_key = ? AND fix_time BETWEEN ? AND ? ORDER BY fix_time
                """
            ) { (select: SQLiteStatement) throws -> Void in
                try select.bind(bounds)
                var index = 0
                var next = 0
                while next < picks.count, try select.step() {
                    if index == picks[next] {
                        result.append(
                            HistoryPoint(
                                fixTime: Timestamp(millisecondsSinceEpoch: select.int64(at: 0)),
                                latitude: select.double(at: 1),
                                longitude: select.double(at: 2),
                                speedKmh: select.double(at: 3),
                                heading: select.double(at: 4),
                                routeId: select.optionalText(at: 5).map { RouteID($0) },
                                visitId: select.optionalText(at: 6).map { VisitID($0) }
                            )
                        )
                        next += 1
                    }
                    index += 1
                }
            }
            return result
        }
    }

    // MARK: Completions

    /// Records a closed visit once per `(tenant, visitId)`, updating both rollups in the same transaction.
    ///
    /// - Throws: `StoreError.invalidData` when the status is not completed, failed or skipped.
    public func recordVisitCompletion(_ record: VisitCompletionRecord) async throws {
        guard [.completed, .failed, .skipped].contains(record.status) else {
            throw StoreError.invalidData("a completion must be completed, failed or skipped")
        }
        let day = CalendarDate(containing: record.closedAt).description
        try await database.write { db in
            try db.run(
                """
                INSERT OR IGNORE INTO visit_completions
                    (tenant_id, visit_id, driver_id, route_id, customer_id, status, arrived_at, closed_at, on_time)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [
                    .text(record.tenantId.rawValue), .text(record.visitId.rawValue), .text(record.driverId.rawValue),
                    .text(record.routeId.rawValue), .text(record.customerId.rawValue), .text(record.status.rawValue),
                    .integer(record.arrivedAt?.millisecondsSinceEpoch),
                    .integer(record.closedAt.millisecondsSinceEpoch),
                    .bool(record.onTime),
                ]
            )
            guard db.changes == 1 else { return }
            let driverKey = try Self.driverKey(
                tenantId: record.tenantId.rawValue,
                driverId: record.driverId.rawValue,
                db
            ).key
            try db.run(
                """
                INSERT INTO driver_daily_stats (driver_key, day, visits) VALUES (?, ?, 1)
                ON CONFLICT (driver_key, day) DO UPDATE SET visits = visits + 1
                """,
                [.integer(driverKey), .text(day)]
            )
            let duration = record.durationSeconds
            try db.run(
                """
                INSERT INTO visit_performance_daily
                    (tenant_id, day, total, completed, failed, on_time, duration_sum, durations)
                VALUES (?, ?, 1, ?, ?, ?, ?, ?)
                ON CONFLICT (tenant_id, day) DO UPDATE SET
                    total = total + 1, completed = completed + excluded.completed, failed = failed + excluded.failed,
                    on_time = on_time + excluded.on_time, duration_sum = duration_sum + excluded.duration_sum,
                    durations = durations + excluded.durations
                """,
                [
                    .text(record.tenantId.rawValue), .text(day),
                    .integer(Int64(record.status == .completed ? 1 : 0)),
                    .integer(Int64(record.status == .failed ? 1 : 0)), .bool(record.onTime),
                    .real(duration ?? 0), .integer(Int64(duration == nil ? 0 : 1)),
                ]
            )
        }
    }

    // MARK: Rollup reads

    /// The driver's daily statistics for the days in `from...to` that have data, ordered by date.
    public func driverStats(
        driverId: DriverID,
        tenantId: TenantID,
        from: CalendarDate,
        to: CalendarDate
    ) async throws -> [DriverDailyStats] {
        try await database.read { (db: SQLiteConnection) throws -> [DriverDailyStats] in
            guard let driverKey = try Self.existingDriverKey(tenantId: tenantId, driverId: driverId, db) else {
                return []
            }
            return try db.query(
                """
                SELECT day, positions, speed_sum, max_speed, moving, visits FROM driver_daily_stats
                WHERE driver_key = ? AND day BETWEEN ? AND ? ORDER BY day
                """,
                [.integer(driverKey), .text(from.description), .text(to.description)]
            ).map { (row: SQLiteRow) throws -> DriverDailyStats in
                guard let date = CalendarDate(row.text(0) ?? "") else {
                    throw StoreError.invalidData("bad rollup day \(row.text(0) ?? "NULL")")
                }
                return DriverDailyStats(
                    driverId: driverId,
                    tenantId: tenantId,
                    date: date,
                    positions: row.int(1) ?? 0,
                    speedSum: row.double(2) ?? 0,
                    maxSpeed: row.double(3) ?? 0,
                    moving: row.int(4) ?? 0,
                    visits: row.int(5) ?? 0
                )
            }
        }
    }

    /// The tenant's daily visit KPIs for the days in `from...to` that have completions, ordered by date.
    public func visitPerformance(
        tenantId: TenantID,
        from: CalendarDate,
        to: CalendarDate
    ) async throws -> [VisitPerformanceDaily] {
        try await database.read { db in
            try db.query(
                """
                SELECT day, total, completed, failed, on_time, duration_sum, durations FROM visit_performance_daily
                WHERE tenant_id = ? AND day BETWEEN ? AND ? ORDER BY day
                """,
                [.text(tenantId.rawValue), .text(from.description), .text(to.description)]
            ).map { (row: SQLiteRow) throws -> VisitPerformanceDaily in
                guard let date = CalendarDate(row.text(0) ?? "") else {
                    throw StoreError.invalidData("bad rollup day \(row.text(0) ?? "NULL")")
                }
                return VisitPerformanceDaily(
                    tenantId: tenantId,
                    date: date,
                    total: row.int(1) ?? 0,
                    completed: row.int(2) ?? 0,
                    failed: row.int(3) ?? 0,
                    onTime: row.int(4) ?? 0,
                    durationSum: row.double(5) ?? 0,
                    durations: row.int(6) ?? 0
                )
            }
        }
    }

    // MARK: Retention

    /// Deletes points with a fix time and completions with a close time before `cutoff`, at most
    /// `pruneBatchSize` rows per transaction; returns how many. The rollups are kept.
    ///
    /// Points are deleted along the primary key, driver by driver (from a cursor on `driver_key`), so no
    /// index on `fix_time` has to be maintained by every append.
    @discardableResult
    public func prune(olderThan cutoff: Timestamp) async throws -> Int {
        let cutoffMillis = cutoff.millisecondsSinceEpoch
        let batch = pruneBatchSize
        var removed = 0
        var cursor: Int64 = -1
        while true {
            let start = cursor
            let (deleted, next) = try await database.write { db -> (Int, Int64?) in
                var budget = batch
                var driverKey = start
                while budget > 0 {
                    guard
                        let key = try db.queryFirst(
                            "SELECT driver_key FROM history_drivers WHERE driver_key > ? ORDER BY driver_key LIMIT 1",
                            [.integer(driverKey)]
                        )?.int64(0)
                    else { return (batch - budget, nil) }
                    try db.run(
                        """
                        DELETE FROM position_history WHERE driver_key = ?1 AND fix_time IN (
                            SELECT fix_time FROM position_history WHERE driver_key = ?1 AND fix_time < ?2
                            ORDER BY fix_time LIMIT ?3)
                        """,
                        [.integer(key), .integer(cutoffMillis), .integer(Int64(budget))]
                    )
                    let changes = db.changes
                    budget -= changes
                    // A driver with rows left is revisited by the next transaction.
                    driverKey = budget == 0 ? key - 1 : key
                }
                return (batch, driverKey)
            }
            removed += deleted
            guard let next else { break }
            cursor = next
        }
        while true {
            let deleted = try await database.write { db in
                try db.run(
                    """
                    DELETE FROM visit_completions WHERE (tenant_id, visit_id) IN (
                        SELECT tenant_id, visit_id FROM visit_completions WHERE closed_at < ?1 LIMIT ?2)
                    """,
                    [.integer(cutoffMillis), .integer(Int64(batch))]
                )
                return db.changes
            }
            removed += deleted
            if deleted < batch { break }
        }
        database.logger.debug("pruned history", metadata: ["history.removed": "\(removed)"])
        return removed
    }
}
