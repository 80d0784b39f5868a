import Application
import Domain
import Logging
import SQLiteAdapters
import Testing

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The SQLite wrapper's own rules: files survive reopening, foreign/corrupt/newer files are refused without
/// being modified, migrations are idempotent, writes are transactional, and SQLite errors map to `StoreError`.
@Suite("SQLite database", .temporaryDatabases)
struct SQLiteDatabaseTests {
    private let logger = LocalKind.logger
    private let tenant = TenantID("tenant-sqlite")

    private func bytes(_ path: String) throws -> [UInt8] {
        try #require(FileManager.default.contents(atPath: path).map { [UInt8]($0) }, "read \(path)")
    }

    /// Opens `path` expecting a `SQLiteOpenError` of `kind`; checks that the file's bytes did not change.
    private func expectRefused(
        _ path: String,
        _ kind: SQLiteOpenError.Kind,
        mentioning text: String,
        sourceLocation: SourceLocation = #_sourceLocation,
        open: () throws -> Void
    ) throws {
        let before = try bytes(path)
        do {
            try open()
            Issue.record("op: open, key: \(kind) file accepted", sourceLocation: sourceLocation)
        } catch let error as SQLiteOpenError {
            #expect(error.kind == kind, "op: open, key: error kind", sourceLocation: sourceLocation)
            #expect(
                error.description.contains(text),
                "op: open, key: message '\(error)' mentions \(text)",
                sourceLocation: sourceLocation
            )
        }
        #expect(try bytes(path) == before, "op: open refused, key: file unchanged", sourceLocation: sourceLocation)
    }

    /// Creates a tracker file holding the fleet schema, then lets `tamper` change it through a raw write.
    private func trackerFile(tamper: (@Sendable (SQLiteConnection) throws -> Void)? = nil) async throws -> String {
        let path = LocalKind.temporaryPath("tamper")
        let database = try SQLiteDatabase(path: path, migrations: SQLiteFleetStore.migrations, logger: logger)
        if let tamper { try await database.write { try tamper($0) } }
        database.close()
        return path
    }

    /// Data written through the stores is found after closing and reopening the file.
    @Test func reopenFindsData() async throws {
        let path = LocalKind.temporaryPath("reopen")
        let driver = Driver(id: "drv-1", tenantId: tenant, deviceId: "dev-1", name: "One")
        let fix = EnrichedPosition(
            tenantId: tenant,
            driverId: driver.id,
            deviceId: driver.deviceId,
            driverName: "One",
            fixTime: Timestamp(millisecondsSinceEpoch: 1_710_460_800_000),
            latitude: 45.5,
            longitude: -73.6,
            speedKmh: 12,
            smoothedSpeedKmh: 12,
            heading: 90,
            activity: .moving
        )
        do {
            let database = try SQLiteDatabase(path: path, logger: logger)
            let fleet = try SQLiteFleetStore(database: database)
            let history = try SQLiteHistoryStore(database: database)
            let reference = try SQLiteReferenceStore(database: database)
            try await fleet.saveDriver(driver)
            try await fleet.saveSnapshot(DriverSnapshot(position: fix, geofence: .inside(visitId: "v-1")))
            try await history.append([fix])
            _ = try await reference.apply(
                .upsert(
                    .customer(
                        Customer(
                            id: "c-1",
                            tenantId: tenant,
                            name: "C",
                            location: .init(latitude: 1, longitude: 2),
                            version: "0001"
                        )
                    )
                )
            )
            database.close()
        }
        let database = try SQLiteDatabase(path: path, logger: logger)
        let fleet = try SQLiteFleetStore(database: database)
        let history = try SQLiteHistoryStore(database: database)
        let reference = try SQLiteReferenceStore(database: database)
        #expect(try await fleet.driver(deviceId: "dev-1") == driver, "op: reopen, key: driver")
        #expect(
            try await fleet.snapshot(driverId: driver.id, tenantId: tenant)?.geofence == .inside(visitId: "v-1"),
            "op: reopen, key: snapshot with geofence phase"
        )
        #expect(
            try await history.routeHistory(
                driverId: driver.id,
                tenantId: tenant,
                from: fix.fixTime,
                to: fix.fixTime,
                maxPoints: 10
            ).count == 1,
            "op: reopen, key: history"
        )
        #expect(try await reference.customer("c-1", tenantId: tenant)?.version == "0001", "op: reopen, key: customer")
        let applied = try await database.appliedMigrations()
        #expect(
            applied["fleet"] == SQLiteFleetStore.migrations.count && applied["history"] == 1
                && applied["reference"] == 1,
            "op: reopen, key: migrations"
        )
        database.close()
    }

    /// A file that is not a SQLite database is refused and left as it was.
    @Test func garbageFileRefused() throws {
        let path = LocalKind.temporaryPath("garbage")
        let garbage = (0..<8192).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        #expect(FileManager.default.createFile(atPath: path, contents: Data(garbage)), "op: setup, key: garbage")
        try expectRefused(path, .notADatabase, mentioning: "not a tracker database or is corrupt") {
            _ = try SQLiteFleetStore(path: path, logger: logger)
        }
    }

    /// A tracker file whose header was damaged is refused and left as it was.
    @Test func damagedHeaderRefused() async throws {
        let path = try await trackerFile()
        var content = try bytes(path)
        for index in 0..<16 { content[index] = 0x5A }
        #expect(FileManager.default.createFile(atPath: path, contents: Data(content)), "op: setup, key: damage")
        try expectRefused(path, .notADatabase, mentioning: "corrupt") {
            _ = try SQLiteHistoryStore(path: path, logger: logger)
        }
    }

    /// Another application's SQLite file is refused and left as it was.
    @Test func foreignApplicationRefused() async throws {
        let path = try await trackerFile { try $0.execute("PRAGMA application_id = 1234") }
        try expectRefused(path, .foreignDatabase, mentioning: "another application") {
            _ = try SQLiteDatabase(path: path, logger: logger)
        }
    }

    /// A SQLite file without an application id but with someone else's tables is refused.
    @Test func unstampedDatabaseWithTablesRefused() async throws {
        let path = try await trackerFile {
            try $0.execute("PRAGMA application_id = 0; CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
        }
        try expectRefused(path, .foreignDatabase, mentioning: "not created by tracker") {
            _ = try SQLiteReferenceStore(path: path, logger: logger)
        }
    }

    /// A file in a newer bookkeeping format is refused and left as it was.
    @Test func newerFormatRefused() async throws {
        let path = try await trackerFile { try $0.execute("PRAGMA user_version = 7") }
        try expectRefused(path, .newerVersion, mentioning: "newer version of tracker (format 7, this build knows 1)") {
            _ = try SQLiteFleetStore(path: path, logger: logger)
        }
    }

    /// A file whose fleet schema is newer than this build's is refused and left as it was, whether the store
    /// opens the file itself or joins an open database.
    @Test func newerSchemaRefused() async throws {
        let path = try await trackerFile {
            try $0.run("INSERT INTO schema_migrations (namespace, version, applied_at) VALUES ('fleet', 7, 0)")
        }
        let known = SQLiteFleetStore.migrations.count
        let message = "was written by a newer version of tracker (schema fleet.7, this build knows fleet.\(known))"
        try expectRefused(path, .newerVersion, mentioning: message) {
            _ = try SQLiteFleetStore(path: path, logger: logger)
        }
        try expectRefused(path, .newerVersion, mentioning: "upgrade tracker or restore a backup") {
            let database = try SQLiteDatabase(path: path, logger: logger)
            defer { database.close() }
            _ = try SQLiteFleetStore(database: database)
        }
    }

    /// A fleet.1 file keeps its sync state through fleet.2 (the CDC counters start at zero).
    @Test func syncStateSurvivesTheUpgrade() async throws {
        let path = LocalKind.temporaryPath("upgrade")
        let old = try SQLiteDatabase(path: path, migrations: [SQLiteFleetStore.migrations[0]], logger: logger)
        try await old.write { db in
            try db.run(
                "INSERT INTO sync_state (table_name, last_version, last_synced_at, status) VALUES (?, ?, ?, ?)",
                [.text("Customers"), .text("0000002b:00000c28:0005"), .integer(1_000), .text("healthy")]
            )
        }
        old.close()
        let store = try SQLiteFleetStore(path: path, logger: logger)
        let state = try await store.syncStates()
        #expect(
            state == [
                SyncState(
                    tableName: "Customers",
                    lastVersion: "0000002b:00000c28:0005",
                    lastSyncedAt: Timestamp(millisecondsSinceEpoch: 1_000),
                    status: .healthy
                )
            ],
            "op: upgrade fleet.1 → fleet.2, key: sync state kept"
        )
        store.database.close()
    }

    /// Applying migrations again changes nothing; a new namespace is added beside the others; a failing
    /// migration leaves nothing behind.
    @Test func migrationsAreIdempotent() async throws {
        let path = LocalKind.temporaryPath("migrate")
        let database = try SQLiteDatabase(path: path, migrations: SQLiteFleetStore.migrations, logger: logger)
        try database.migrate(SQLiteFleetStore.migrations)
        _ = try SQLiteFleetStore(database: database)
        let rows = try await database.read { try $0.query("SELECT namespace, version FROM schema_migrations") }
        let fleet = SQLiteFleetStore.migrations.count
        #expect(rows.count == fleet, "op: migrate twice, key: one row per fleet step")

        let extra = [
            SQLiteMigration("extra", 1, sql: "CREATE TABLE extra_one (id INTEGER PRIMARY KEY)"),
            SQLiteMigration("extra", 2, sql: "ALTER TABLE extra_one ADD COLUMN name TEXT"),
        ]
        try database.migrate(extra)
        try database.migrate(extra)
        #expect(
            try await database.appliedMigrations() == ["fleet": fleet, "extra": 2],
            "op: migrate extra, key: versions"
        )

        let broken = [
            SQLiteMigration("broken", 1, sql: "CREATE TABLE broken_one (id INTEGER)"),
            SQLiteMigration("broken", 2, sql: "THIS IS NOT SQL"),
        ]
        #expect(throws: StoreError.self, "op: migrate broken, key: throws") { try database.migrate(broken) }
        #expect(try await database.appliedMigrations()["broken"] == nil, "op: migrate broken, key: not recorded")
        let table = try await database.read {
            try $0.queryFirst("SELECT 1 FROM sqlite_schema WHERE name = 'broken_one'")
        }
        #expect(table == nil, "op: migrate broken, key: rolled back")
        database.close()

        let reopened = try SQLiteDatabase(path: path, migrations: SQLiteFleetStore.migrations + extra, logger: logger)
        #expect(
            try await reopened.appliedMigrations() == ["fleet": fleet, "extra": 2],
            "op: reopen, key: nothing new"
        )
        reopened.close()
    }

    /// Concurrent writes share transactions, but a failing body rolls back alone and the others commit.
    @Test(arguments: ["file", "memory"])
    func writesAreTransactional(_ mode: String) async throws {
        let path = mode == "file" ? LocalKind.temporaryPath("tx") : ":memory:"
        let database = try SQLiteDatabase(path: path, logger: logger)
        try await database.write { try $0.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)") }
        struct Boom: Error {}
        await withTaskGroup(of: Void.self) { group in
            for index in 0..<200 {
                group.addTask {
                    _ = try? await database.write { db in
                        try db.run("INSERT INTO t (id, v) VALUES (?, ?)", [.integer(Int64(index)), "x"])
                        if index % 10 == 0 { throw Boom() }
                    }
                }
            }
        }
        let count = try await database.read { try $0.queryFirst("SELECT count(*) FROM t")?.int(0) }
        #expect(count == 180, "op: concurrent writes, key: failing bodies rolled back alone")
        await #expect(throws: StoreError.duplicate(), "op: insert existing key, key: duplicate") {
            try await database.write { try $0.run("INSERT INTO t (id, v) VALUES (1, 'again')") }
        }
        await #expect(throws: StoreError.invalidData(), "op: bad SQL, key: invalidData") {
            try await database.read { try $0.query("SELECT nope FROM t") }
        }
        database.close()
        await #expect(throws: StoreError.closed(), "op: write after close, key: closed") {
            try await database.write { try $0.execute("SELECT 1") }
        }
    }

    /// `prune` deletes in batches and reports the total; the rollups are untouched.
    @Test func pruneInBatches() async throws {
        let database = try SQLiteDatabase(path: LocalKind.temporaryPath("prune"), logger: logger)
        let history = try SQLiteHistoryStore(database: database, pruneBatchSize: 7)
        let start = Timestamp(millisecondsSinceEpoch: 1_710_460_800_000)
        let fixes = (0..<50).map { second in
            EnrichedPosition(
                tenantId: tenant,
                driverId: "drv-p",
                deviceId: "dev-p",
                driverName: "P",
                fixTime: start + .seconds(second),
                latitude: 1,
                longitude: 2,
                speedKmh: 10,
                smoothedSpeedKmh: 10,
                heading: 0,
                activity: .moving
            )
        }
        try await history.append(fixes)
        try await history.append(fixes)  // idempotent
        #expect(try await history.prune(olderThan: start + .seconds(30)) == 30, "op: prune, key: 30 of 50")
        let left = try await history.routeHistory(
            driverId: "drv-p",
            tenantId: tenant,
            from: start,
            to: start + .seconds(100),
            maxPoints: 100
        )
        #expect(left.count == 20, "op: prune, key: 20 left")
        let day = CalendarDate(containing: start)
        let stats = try await history.driverStats(driverId: "drv-p", tenantId: tenant, from: day, to: day)
        #expect(stats.map(\.positions) == [50], "op: prune, key: rollup kept")
        database.close()
    }
}
