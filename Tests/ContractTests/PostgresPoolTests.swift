import Application
import Logging
import PostgresAdapters
import Testing

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The PostgreSQL server of the tests: `TRACKER_TEST_POSTGRES_URL` (scripts/test starts one with
/// scripts/test-postgres). Missing: the tests fail when `CI` is set, and are skipped visibly otherwise.
enum TestPostgres {
    static var url: String? { ProcessInfo.processInfo.environment["TRACKER_TEST_POSTGRES_URL"] }
    static var isCI: Bool { ProcessInfo.processInfo.environment["CI"] != nil }
    /// Run the tests when the URL is set, or in CI (where they then fail).
    static var enabled: Bool { url != nil || isCI }

    static func requireURL() throws -> String {
        try #require(url, "TRACKER_TEST_POSTGRES_URL is not set (CI must run scripts/test, which starts PostgreSQL)")
    }
}

@Suite("PostgreSQL pool", .enabled(if: TestPostgres.enabled, "set TRACKER_TEST_POSTGRES_URL"))
struct PostgresPoolTests {
    private let logger = Logger(label: "postgres-tests", factory: { _ in SwiftLogNoOpLogHandler() })

    /// A pool answers `SELECT 1`, runs bound queries, and closes on shutdown (later calls: `.closed`).
    @Test func healthQueryAndShutdown() async throws {
        let pool = try PostgresPool(url: try TestPostgres.requireURL(), options: .init(poolSize: 2), logger: logger)
        try await pool.checkHealth()
        let rows = try await pool.rows("SELECT $1::int + 1, current_setting('application_name')", ["41"])
        #expect(rows == [["42", "tracker"]], "op: bound query, key: result and application_name")
        await pool.shutdown()
        await #expect(throws: StoreError.closed()) { try await pool.checkHealth() }
    }

    /// A unique violation is `.duplicate`; an unreachable server is `.unavailable`, and the URL's password
    /// never appears in the error.
    @Test func errorMapping() async throws {
        let pool = try PostgresPool(url: try TestPostgres.requireURL(), options: .init(poolSize: 1), logger: logger)
        try await pool.execute("CREATE TEMP TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)")
        await #expect(throws: StoreError.duplicate()) { try await pool.execute("INSERT INTO t VALUES (1)") }
        await pool.shutdown()

        let dead = try PostgresPool(
            url: "postgres://u:s3cret@127.0.0.1:1/db",
            options: .init(poolSize: 1, connectTimeoutSeconds: 2),
            logger: logger
        )
        do {
            try await dead.checkHealth()
            Issue.record("op: connect to a closed port, key: expected .unavailable")
        } catch let error as StoreError {
            #expect(error.code == .unavailable, "op: connect to a closed port, key: unavailable")
            #expect(!error.debugDescription.contains("s3cret"), "op: connect error, key: no password")
        }
        await dead.shutdown()
    }
}
