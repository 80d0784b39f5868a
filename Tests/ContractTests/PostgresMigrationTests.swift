import Application
import Logging
import PostgresAdapters
import Testing

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A fresh schema per test (so tests run in parallel), dropped after it, passed or failed.
func withTestSchema(_ body: (String, PostgresOptions) async throws -> Void) async throws {
    let url = try TestPostgres.requireURL()
    let logger = Logger(label: "postgres-tests", factory: { _ in SwiftLogNoOpLogHandler() })
    let admin = try PostgresPool(url: url, options: .init(poolSize: 1), logger: logger)
    let schema = "t_" + String(UUID().uuidString.lowercased().filter { $0 != "-" })
    try await admin.execute("CREATE SCHEMA \(schema)")
    do {
        try await body(url, PostgresOptions(poolSize: 2, schema: schema))
    } catch {
        try? await admin.execute("DROP SCHEMA \(schema) CASCADE")
        await admin.shutdown()
        throw error
    }
    try await admin.execute("DROP SCHEMA \(schema) CASCADE")
    await admin.shutdown()
}

@Suite("PostgreSQL migrations", .enabled(if: TestPostgres.enabled, "set TRACKER_TEST_POSTGRES_URL"))
struct PostgresMigrationTests {
    private let logger = Logger(label: "postgres-tests", factory: { _ in SwiftLogNoOpLogHandler() })

    private func versions(_ url: String, _ options: PostgresOptions) async throws -> [[String?]] {
        let pool = try PostgresPool(url: url, options: options, logger: logger)
        defer { Task { await pool.shutdown() } }
        return try await pool.rows("SELECT component, version FROM schema_migrations ORDER BY 1, 2")
    }

    /// From an empty schema every step is applied once; running again changes nothing.
    @Test func fromEmpty() async throws {
        try await withTestSchema { url, options in
            try await PostgresMigrations.migrateFleet(url: url, options: options, logger: logger)
            try await PostgresMigrations.migrateFleet(url: url, options: options, logger: logger)
            #expect(
                try await versions(url, options) == [["fleet", "1"], ["fleet", "2"], ["fleet", "3"]],
                "op: migrate, key: versions"
            )
        }
    }

    /// A database at version 1 with data moves to version 2 and keeps its rows.
    @Test func fromPreviousVersion() async throws {
        try await withTestSchema { url, options in
            let pool = try PostgresPool(url: url, options: options, logger: logger)
            try await PostgresMigrations.migrate(pool: pool, PostgresMigrations.fleet, upTo: 1)
            try await pool.execute(
                "INSERT INTO drivers VALUES ('t', 'd1', 'dev1', 'Ann', NULL, NULL, 'van', 'active')"
            )
            await #expect(throws: StoreError.self) { try await pool.execute("SELECT 1 FROM customers_cache") }
            try await PostgresMigrations.migrate(pool: pool, PostgresMigrations.fleet)
            #expect(try await pool.rows("SELECT name FROM drivers") == [["Ann"]], "op: migrate 1→2, key: rows kept")
            #expect(
                try await pool.rows("SELECT count(*) FROM customers_cache") == [["0"]],
                "op: migrate 1→2, key: new table"
            )
            await pool.shutdown()
        }
    }

    /// Three instances starting at once: each step applied exactly once, no error.
    @Test func threeConcurrentMigrators() async throws {
        try await withTestSchema { url, options in
            let logger = self.logger
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<3 {
                    group.addTask {
                        try await PostgresMigrations.migrateFleet(url: url, options: options, logger: logger)
                    }
                }
                try await group.waitForAll()
            }
            #expect(
                try await versions(url, options) == [["fleet", "1"], ["fleet", "2"], ["fleet", "3"]],
                "op: 3 migrators, key: once each"
            )
        }
    }

    /// A database whose schema is newer than the binary is refused and left untouched.
    @Test func refusesNewerDatabase() async throws {
        try await withTestSchema { url, options in
            try await PostgresMigrations.migrateFleet(url: url, options: options, logger: logger)
            let pool = try PostgresPool(url: url, options: options, logger: logger)
            try await pool.execute("INSERT INTO schema_migrations (component, version) VALUES ('fleet', 99)")
            await pool.shutdown()
            await #expect(
                throws: PostgresSchemaTooNew(
                    component: "fleet",
                    databaseVersion: 99,
                    binaryVersion: PostgresMigrations.fleet.count
                )
            ) {
                try await PostgresMigrations.migrateFleet(url: url, options: options, logger: logger)
            }
        }
    }
}
