import Application
import CSQLite3

/// Checks that a database file belongs to this application and version, then applies pending migrations.
///
/// Identity: `PRAGMA application_id` is `applicationID` ("DTRC"); `PRAGMA user_version` is the version of
/// the *layout of the bookkeeping itself* (`formatVersion`: the `schema_migrations` table); what each
/// adapter's tables look like is tracked per namespace in `schema_migrations(namespace, version, applied_at)`.
///
/// Every check runs before the first write, so a foreign, corrupt or newer file is never modified:
/// - not a SQLite file or corrupt header → `SQLiteOpenError.notADatabase`;
/// - another `application_id`, or no application id but tables of someone else → `.foreignDatabase`;
/// - `user_version` above `formatVersion`, or a namespace applied beyond the newest migration this build
///   knows → `.newerVersion`.
package enum Migrator {
    /// `PRAGMA application_id` of tracker databases: "DTRC" in ASCII.
    package static let applicationID: Int32 = 0x4454_5243
    /// `PRAGMA user_version` this build writes and understands.
    package static let formatVersion: Int32 = 1

    private static func fileName(_ path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? path
    }

    /// Reads the header of the file behind `connection` and refuses files that are not ours. Writes nothing.
    static func inspect(_ connection: SQLiteConnection, path: String) throws {
        let name = fileName(path)
        let applicationID: Int64
        let userVersion: Int64
        let objectCount: Int64
        do {
            applicationID = try connection.queryFirst("PRAGMA application_id")?.int64(0) ?? 0
            userVersion = try connection.queryFirst("PRAGMA user_version")?.int64(0) ?? 0
            objectCount =
                try connection.queryFirst(
                    "SELECT count(*) FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%'"
                )?.int64(0) ?? 0
        } catch let error as StoreError where error.code == .invalidData {
            throw SQLiteOpenError(
                .notADatabase,
                path: path,
                message: "\(name) is not a tracker database or is corrupt (\(error.detail)); "
                    + "move it away or restore a backup, or point --data-dir elsewhere"
            )
        } catch let error as StoreError {
            throw SQLiteOpenError(.cannotOpen, path: path, message: "cannot read \(name): \(error.detail)")
        }
        if applicationID != 0, applicationID != Int64(Self.applicationID) {
            throw SQLiteOpenError(
                .foreignDatabase,
                path: path,
                message: "\(name) is a SQLite database of another application (application_id "
                    + "0x\(String(UInt32(truncatingIfNeeded: applicationID), radix: 16))); "
                    + "tracker will not touch it: point --data-dir elsewhere"
            )
        }
        if applicationID == 0, objectCount > 0 {
            throw SQLiteOpenError(
                .foreignDatabase,
                path: path,
                message: "\(name) is a SQLite database not created by tracker (it has other tables); "
                    + "tracker will not touch it: point --data-dir elsewhere"
            )
        }
        if userVersion > Int64(Self.formatVersion) {
            throw SQLiteOpenError(
                .newerVersion,
                path: path,
                message: "\(name) was written by a newer version of tracker (format \(userVersion), "
                    + "this build knows \(Self.formatVersion)); upgrade tracker or restore a backup"
            )
        }
    }

    /// Stamps a new file as ours and creates `schema_migrations`. No-op on a file already stamped.
    static func prepare(_ connection: SQLiteConnection) throws {
        let stamped = try connection.queryFirst("PRAGMA application_id")?.int64(0) == Int64(Self.applicationID)
        let hasTable =
            try connection.queryFirst(
                "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations'"
            ) != nil
        guard !stamped || !hasTable else { return }
        try connection.execute("BEGIN IMMEDIATE")
        do {
            try connection.execute(
                """
                PRAGMA application_id = \(Self.applicationID);
                PRAGMA user_version = \(Self.formatVersion);
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    namespace TEXT NOT NULL,
                    version INTEGER NOT NULL,
                    applied_at INTEGER NOT NULL,
                    PRIMARY KEY (namespace, version)
                ) WITHOUT ROWID;
                COMMIT;
                """
            )
        } catch {
            if connection.isInTransaction { try? connection.execute("ROLLBACK") }
            throw error
        }
    }

    /// The highest applied version of each namespace.
    static func appliedVersions(_ connection: SQLiteConnection) throws -> [String: Int] {
        var result: [String: Int] = [:]
        for row in try connection.query("SELECT namespace, max(version) FROM schema_migrations GROUP BY namespace") {
            result[row.text(0) ?? ""] = row.int(1) ?? 0
        }
        return result
    }

    /// Refuses a file with a namespace newer than this build, then applies the missing migrations in one
    /// transaction (all or none), in (namespace, version) order. Returns the ids applied.
    @discardableResult
    static func migrate(
        _ connection: SQLiteConnection,
        _ migrations: [SQLiteMigration],
        path: String
    ) throws
        -> [String]
    {
        var known: [String: Int] = [:]
        var seen: Set<String> = []
        for migration in migrations {
            precondition(seen.insert(migration.id).inserted, "migration \(migration.id) is declared twice")
            known[migration.namespace] = max(known[migration.namespace] ?? 0, migration.version)
        }
        let applied = try appliedVersions(connection)
        for (namespace, newest) in known.sorted(by: { $0.key < $1.key }) {
            if let stored = applied[namespace], stored > newest {
                throw SQLiteOpenError(
                    .newerVersion,
                    path: path,
                    message: "\(fileName(path)) was written by a newer version of tracker (schema "
                        + "\(namespace).\(stored), this build knows \(namespace).\(newest)); "
                        + "upgrade tracker or restore a backup"
                )
            }
        }
        let done = Set(
            try connection.query("SELECT namespace, version FROM schema_migrations").map {
                "\($0.text(0) ?? "").\($0.int(1) ?? 0)"
            }
        )
        let missing = migrations.filter { !done.contains($0.id) }
            .sorted { ($0.namespace, $0.version) < ($1.namespace, $1.version) }
        guard !missing.isEmpty else { return [] }
        let ownTransaction = !connection.isInTransaction
        if ownTransaction { try connection.execute("BEGIN IMMEDIATE") }
        do {
            // Re-read under the write lock: another process may have migrated meanwhile.
            let doneNow = Set(
                try connection.query("SELECT namespace, version FROM schema_migrations").map {
                    "\($0.text(0) ?? "").\($0.int(1) ?? 0)"
                }
            )
            var appliedIds: [String] = []
            for migration in missing where !doneNow.contains(migration.id) {
                try migration.apply(connection)
                try connection.run(
                    """
                    INSERT INTO schema_migrations (namespace, version, applied_at)
                    VALUES (?, ?, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))
                    """,
                    [.text(migration.namespace), .integer(Int64(migration.version))]
                )
                appliedIds.append(migration.id)
            }
            if ownTransaction { try connection.execute("COMMIT") }
            return appliedIds
        } catch {
            if ownTransaction, connection.isInTransaction { try? connection.execute("ROLLBACK") }
            throw error
        }
    }
}
