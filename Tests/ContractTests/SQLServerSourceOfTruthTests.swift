import AdapterContracts
import Application
import Domain
// Full Foundation: JSONSerialization (the fixture's change events) and Thread (the silent listener).
import Foundation
import InMemoryAdapters
import Logging
import PostgresAdapters
import SQLServerAdapters
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The ODBC driver the SQL Server adapter is tested through: psqlODBC (apt `odbc-postgresql`), loaded by path so
/// no `odbcinst.ini` entry is needed. SQL Server itself cannot run here (ADR 0012).
enum TestODBC {
    static var driver: String {
        ProcessInfo.processInfo.environment["TRACKER_TEST_ODBC_DRIVER"]
            ?? "/usr/lib/x86_64-linux-gnu/odbc/psqlodbcw.so"
    }
    static var driverInstalled: Bool { FileManager.default.fileExists(atPath: driver) }
    /// Run the tests that need the driver only when it is installed, or in CI (where they then fail).
    static var enabled: Bool { driverInstalled || TestPostgres.isCI }

    /// A psqlODBC connection string for the PostgreSQL `url` (`postgres://user[:password]@host:port/db`), on
    /// database `database` when given.
    static func connectionString(postgresURL url: String, database: String? = nil) throws -> String {
        let components = try #require(URLComponents(string: url), "TRACKER_TEST_POSTGRES_URL is not a URL")
        let name = database ?? String(components.path.dropFirst())
        return "Driver=\(driver);Server=\(components.host ?? "127.0.0.1");Port=\(components.port ?? 5432);"
            + "Database=\(name);UID=\(components.user ?? "postgres");PWD={\(components.password ?? "")};"
    }

    /// A connection string to `port` on loopback.
    static func connectionString(port: Int) -> String {
        "Driver=\(driver);Server=127.0.0.1;Port=\(port);Database=core;UID=tracker;PWD={s3cret;pwd}"
    }
}

/// `SQLServerSourceOfTruth` through a real ODBC driver (psqlODBC) against the test PostgreSQL, in a scratch
/// database with a `dbo.Customers` table shaped like the production one.
@Suite("SQL Server source of truth over ODBC", .enabled(if: TestPostgres.enabled, "set TRACKER_TEST_POSTGRES_URL"))
struct SQLServerSourceOfTruthTests {
    private let logger = Logger(label: "odbc-tests", factory: { _ in SwiftLogNoOpLogHandler() })

    /// `dbo.Customers` as the SQL Server table (this DDL is also valid T-SQL): integer key, text tenant, exact
    /// decimals for the coordinates.
    static let customersTable = """
        CREATE TABLE dbo.Customers (
            CustomerId BIGINT NOT NULL PRIMARY KEY,
            TenantId VARCHAR(64) NOT NULL,
            Name VARCHAR(200) NULL,
            Phone VARCHAR(50) NULL,
            Address VARCHAR(400) NULL,
            Latitude DECIMAL(9, 6) NULL,
            Longitude DECIMAL(9, 6) NULL,
            GeofenceRadiusMeters DECIMAL(7, 2) NULL,
            CustomerType VARCHAR(30) NULL
        )
        """

    /// A variant with text keys and floating point coordinates.
    static let codedTable = """
        CREATE TABLE dbo.CodedCustomers (
            CustomerId VARCHAR(40) NOT NULL PRIMARY KEY,
            TenantId VARCHAR(64) NOT NULL,
            Name VARCHAR(200) NOT NULL,
            Phone VARCHAR(50) NULL,
            Address VARCHAR(400) NULL,
            Latitude FLOAT NULL,
            Longitude REAL NULL,
            GeofenceRadiusMeters INT NULL,
            CustomerType VARCHAR(30) NULL
        )
        """

    /// Runs `body` with a scratch database holding `dbo.Customers` and `dbo.CodedCustomers` and the fixture rows,
    /// a libpq pool on it (for checks) and a psqlODBC connection string to it; drops the database afterwards.
    private func withScratchDatabase(
        _ body: (_ database: PostgresPool, _ connectionString: String) async throws -> Void
    ) async throws {
        let url = try TestPostgres.requireURL()
        let admin = try PostgresPool(url: url, options: .init(poolSize: 1), logger: logger)
        let name = "odbc_" + String(UUID().uuidString.lowercased().filter { $0 != "-" })
        try await admin.execute("CREATE DATABASE \(name)")
        var components = try #require(URLComponents(string: url))
        components.path = "/\(name)"
        let database = try PostgresPool(
            url: try #require(components.string),
            options: .init(poolSize: 1),
            logger: logger
        )
        do {
            try await database.execute("CREATE SCHEMA dbo")
            try await database.execute(Self.customersTable)
            try await database.execute(Self.codedTable)
            let insert = """
                INSERT INTO dbo.Customers (CustomerId, TenantId, Name, Phone, Address, Latitude, Longitude,
                    GeofenceRadiusMeters, CustomerType) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                """
            for row in Fixture.rows {
                _ = try await database.rows(insert, row)
            }
            let insertCoded = """
                INSERT INTO dbo.CodedCustomers (CustomerId, TenantId, Name, Phone, Address, Latitude, Longitude,
                    GeofenceRadiusMeters, CustomerType) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                """
            for row in Fixture.codedRows {
                _ = try await database.rows(insertCoded, row)
            }
            try await body(database, try TestODBC.connectionString(postgresURL: url, database: name))
        } catch {
            await database.shutdown()
            try? await admin.execute("DROP DATABASE \(name) WITH (FORCE)")
            await admin.shutdown()
            throw error
        }
        await database.shutdown()
        try await admin.execute("DROP DATABASE \(name) WITH (FORCE)")
        await admin.shutdown()
    }

    private func source(
        _ connectionString: String,
        _ options: SQLServerOptions = .init(poolSize: 2, timeout: .seconds(2))
    ) throws -> SQLServerSourceOfTruth {
        try SQLServerSourceOfTruth(connectionString: connectionString, options: options, logger: logger)
    }

    /// The read-only rules of `SourceOfTruthContract`: writes are refused with `.unavailable`.
    @Test func contract() async throws {
        try await withScratchDatabase { _, connectionString in
            let source = try source(connectionString)
            try await SourceOfTruthContract(capabilities: .init(isWritable: false)) {
                (source, InMemoryEventBus())
            }.run()
            await source.shutdown()
        }
    }

    /// Lookups by key and tenant: found rows map as `ChangeEventCodec` maps their change event; another tenant's
    /// or an absent key is nil; NULL columns take the codec's defaults; numbers keep every digit.
    @Test func lookups() async throws {
        try await withScratchDatabase { _, connectionString in
            let source = try source(connectionString)
            for (id, tenant) in [("1001", "tenant-a"), ("1002", "tenant-a"), ("9007199254740993", "tenant-b")] {
                let found = try await source.customer(CustomerID(id), tenantId: TenantID(tenant))
                let expected = try Fixture.decodedChangeEvent(id)
                #expect(found == expected, "op: customer(_:tenantId:), key: \(id) as the codec decodes its event")
            }
            let first = try #require(try await source.customer("1001", tenantId: "tenant-a"))
            #expect(first.name == "Café Zürich – 東京", "op: customer, key: 1001 name (UTF-16 round trip)")
            #expect(first.address == "1 \"Main\" St\nSuite 2", "op: customer, key: 1001 address")
            #expect(first.location == Coordinate(latitude: 45.501689, longitude: -73.567256), "op: customer, key: 1001")
            #expect(first.geofenceRadiusMeters == 75.5, "op: customer, key: 1001 radius")

            let nulls = try #require(try await source.customer("1002", tenantId: "tenant-a"))
            #expect(
                nulls
                    == Customer(
                        id: "1002",
                        tenantId: "tenant-a",
                        name: "",
                        location: Coordinate(latitude: 0, longitude: 0),
                        geofenceRadiusMeters: Customer.defaultGeofenceRadiusMeters
                    ),
                "op: customer, key: 1002 NULL columns take the codec's defaults"
            )

            let big = try #require(try await source.customer("9007199254740993", tenantId: "tenant-b"))
            #expect(big.id.rawValue == "9007199254740993", "op: customer, key: 2^53 + 1 keeps every digit")
            #expect(
                big.location.latitude == 12.345678 && big.geofenceRadiusMeters == 0.01,
                "op: customer, key: decimals"
            )

            #expect(try await source.customer("1001", tenantId: "tenant-b") == nil, "op: customer, key: other tenant")
            #expect(try await source.customer("4242", tenantId: "tenant-a") == nil, "op: customer, key: absent")
            #expect(try await source.customer("01001", tenantId: "tenant-a") == nil, "op: customer, key: not canonical")
            #expect(try await source.customer("", tenantId: "tenant-a") == nil, "op: customer, key: empty id")
            #expect(source.isCircuitClosed, "op: lookups, key: answers keep the circuit closed")
            await source.shutdown()
        }
    }

    /// Values with quotes are bound, never spliced: they match nothing, change nothing, and the next lookups work.
    @Test func injectionAttempts() async throws {
        try await withScratchDatabase { database, connectionString in
            let source = try source(connectionString)
            let attempts: [(String, String)] = [
                ("1001' OR '1'='1", "tenant-a"),
                ("1001", "tenant-a' OR '1'='1"),
                ("1001", "x'; DROP TABLE dbo.Customers; --"),
                ("1001; DELETE FROM dbo.Customers", "tenant-a"),
            ]
            for (id, tenant) in attempts {
                #expect(
                    try await source.customer(CustomerID(id), tenantId: TenantID(tenant)) == nil,
                    "op: customer, key: \(id) / \(tenant)"
                )
            }
            let coded = try self.source(
                connectionString,
                .init(poolSize: 1, timeout: .seconds(2), table: "dbo.CodedCustomers")
            )
            for id in ["c-1' OR 'x'='x", "c-1'--", "c-1\"; SELECT 1; --", "o'brien"] {
                #expect(
                    try await coded.customer(CustomerID(id), tenantId: "tenant-a") == nil,
                    "op: customer, key: \(id)"
                )
            }
            let quoted = try #require(try await coded.customer("O'Brien", tenantId: "tenant-a"))
            #expect(quoted.name == "O'Brien; DROP TABLE dbo.Customers; --", "op: customer, key: a quote in the key")
            #expect(try await database.rows("SELECT count(*) FROM dbo.Customers") == [["3"]], "op: count, key: intact")
            #expect(try await source.customer("1001", tenantId: "tenant-a") != nil, "op: customer, key: still works")
            await coded.shutdown()
            await source.shutdown()
        }
    }

    /// Text keys compare as text; FLOAT reads back the exact double, REAL as Debezium writes a float.
    @Test func textKeysAndFloatingPoint() async throws {
        try await withScratchDatabase { _, connectionString in
            let source = try source(
                connectionString,
                .init(poolSize: 1, timeout: .seconds(2), table: "dbo.CodedCustomers")
            )
            let customer = try #require(try await source.customer("c-1", tenantId: "tenant-a"))
            #expect(customer.location.latitude == 0.1 + 0.2, "op: customer, key: FLOAT 0.30000000000000004")
            #expect(customer.location.longitude == 45.50169, "op: customer, key: REAL 45.50169")
            #expect(customer.geofenceRadiusMeters == 250, "op: customer, key: INT radius")
            #expect(
                try await source.customer("C-1", tenantId: "tenant-a") == nil,
                "op: customer, key: case (PostgreSQL)"
            )
            let long = String(repeating: "x", count: 41)
            #expect(
                try await source.customer(CustomerID(long), tenantId: "tenant-a") == nil,
                "op: customer, key: too long"
            )
            await source.shutdown()
        }
    }

    /// A query running past the timeout is cancelled by the driver: `.unavailable` within about the timeout,
    /// counted by the breaker; a missing table is an answer (`.unavailable`, not counted).
    @Test func queryTimeoutAndSQLErrors() async throws {
        try await withScratchDatabase { database, connectionString in
            try await database.execute(
                """
                CREATE VIEW dbo.SlowCustomers AS
                SELECT c.* FROM dbo.Customers c CROSS JOIN (SELECT pg_sleep(5) AS slept) s
                """
            )
            let slow = try source(
                connectionString,
                .init(poolSize: 1, timeout: .seconds(1), table: "dbo.SlowCustomers", failureThreshold: 1)
            )
            let clock = ContinuousClock()
            let start = clock.now
            let failure = await storeError { try await slow.customer("1001", tenantId: "tenant-a") }
            let elapsed = clock.now - start
            print("ODBC query timeout: a 5 s query failed after \(elapsed) (timeout 1 s): \(failure?.detail ?? "-")")
            #expect(failure?.code == .unavailable, "op: slow customer, key: timeout is .unavailable")
            #expect(failure?.detail.contains("timed out") == true, "op: slow customer, key: \(failure?.detail ?? "")")
            #expect(elapsed < .milliseconds(2500), "op: slow customer, key: cancelled by the query timeout")
            #expect(!slow.isCircuitClosed, "op: slow customer, key: a timeout counts for the breaker")
            await slow.shutdown()

            let missing = try source(connectionString, .init(poolSize: 1, table: "dbo.Nope", failureThreshold: 1))
            let error = await storeError { try await missing.customer("1001", tenantId: "tenant-a") }
            #expect(error?.code == .unavailable, "op: missing table, key: .unavailable")
            #expect(missing.isCircuitClosed, "op: missing table, key: an SQL error is an answer, not an outage")
            await missing.shutdown()
        }
    }

    /// A pooled connection the server dropped is replaced: the lookup after `pg_terminate_backend` succeeds (on a
    /// new connection, as the adapter's debug log says).
    @Test func reconnectsAfterABrokenConnection() async throws {
        try await withScratchDatabase { database, connectionString in
            let log = RecordingLog()
            let source = try SQLServerSourceOfTruth(
                connectionString: connectionString,
                options: .init(poolSize: 1, timeout: .seconds(2)),
                logger: log.logger
            )
            #expect(try await source.customer("1001", tenantId: "tenant-a") != nil, "op: customer, key: before")
            let killed = try await database.rows(
                """
                SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                WHERE datname = current_database() AND pid <> pg_backend_pid()
                """
            )
            #expect(killed.count == 1, "op: terminate, key: the adapter's connection")
            #expect(try await source.customer("1001", tenantId: "tenant-a") != nil, "op: customer, key: after")
            #expect(source.isCircuitClosed, "op: reconnect, key: circuit stays closed")
            let messages = log.lines.filter { $0.contains("SQL Server connection") || $0.contains("connected to") }
            #expect(
                messages.count == 3 && messages[1].hasPrefix("dropping a broken SQL Server connection"),
                "op: reconnect, key: connect, drop, connect: \(messages)"
            )
            await source.shutdown()
            await #expect(throws: StoreError.closed()) { try await source.customer("1001", tenantId: "tenant-a") }
        }
    }

    /// Lookup latency through psqlODBC on loopback (figures printed; a loose bound only).
    @Test func lookupLatency() async throws {
        try await withScratchDatabase { _, connectionString in
            let source = try source(connectionString)
            _ = try await source.customer("1001", tenantId: "tenant-a")
            let clock = ContinuousClock()
            var samples: [Duration] = []
            for index in 0..<500 {
                let start = clock.now
                _ = try await source.customer(index.isMultiple(of: 2) ? "1001" : "4242", tenantId: "tenant-a")
                samples.append(clock.now - start)
            }
            samples.sort()
            let p50 = samples[samples.count / 2]
            let p99 = samples[samples.count * 99 / 100]
            print(
                "ODBC lookup latency (psqlODBC, loopback, 500 sequential lookups): p50 \(p50), p99 \(p99), max \(samples.last!)"
            )
            #expect(p50 < .milliseconds(50), "op: lookup, key: p50 \(p50)")
            await source.shutdown()
        }
    }
}

/// The circuit breaker against servers that do not answer: a closed port (refused at once) and a listener that
/// accepts and never speaks (every connect waits for the login timeout). No PostgreSQL needed, only the driver.
@Suite("SQL Server circuit breaker over ODBC", .enabled(if: TestODBC.enabled, "install odbc-postgresql"))
struct SQLServerCircuitBreakerTests {
    private let logger = Logger(label: "odbc-tests", factory: { _ in SwiftLogNoOpLogHandler() })

    enum Server: String, CaseIterable, CustomTestStringConvertible {
        case closedPort, silent
        var testDescription: String { rawValue }
    }

    /// Threshold 3, cool-down 1 s, timeout 2 s (libpq waits at least 2 s): the first three lookups reach the
    /// server and fail within the call timeout; the next ones fail fast (< 50 ms each) without touching it; after the cool-down one probe reaches
    /// it again, and its failure reopens the circuit. The connection string's password is in no error and no
    /// log line (trace level).
    @Test(arguments: Server.allCases)
    func unreachableServer(_ server: Server) async throws {
        let listener = server == .silent ? try SilentListener() : nil
        let port = listener?.port ?? 1
        let options = SQLServerOptions(poolSize: 2, timeout: .seconds(2), failureThreshold: 3, coolDown: .seconds(1))
        let log = RecordingLog()
        let source = try SQLServerSourceOfTruth(
            connectionString: TestODBC.connectionString(port: port),
            options: options,
            logger: log.logger
        )
        let clock = ContinuousClock()
        func lookup() async -> (Duration, StoreError?) {
            let start = clock.now
            let error = await storeError { try await source.customer("1001", tenantId: "tenant-a") }
            return (clock.now - start, error)
        }

        var first: [Duration] = []
        for attempt in 1...3 {
            let (elapsed, error) = await lookup()
            first.append(elapsed)
            #expect(error?.code == .unavailable, "op: lookup \(attempt), key: \(server) is .unavailable")
            #expect(error?.detail.contains("circuit open") == false, "op: lookup \(attempt), key: reached the server")
            #expect(error?.detail.contains("s3cret") == false, "op: lookup \(attempt), key: no password in errors")
            #expect(elapsed < options.callTimeout, "op: lookup \(attempt), key: within the call timeout (\(elapsed))")
        }
        #expect(!source.isCircuitClosed, "op: 3 failures, key: circuit open")
        let attemptsWhenOpened = listener?.accepted

        var fast: [Duration] = []
        for attempt in 1...20 {
            let (elapsed, error) = await lookup()
            fast.append(elapsed)
            #expect(error?.detail.hasPrefix("SQL Server circuit open") == true, "op: open \(attempt), key: fails fast")
            #expect(elapsed < .milliseconds(50), "op: open \(attempt), key: \(elapsed) < 50 ms")
        }
        if let listener {
            #expect(listener.accepted == attemptsWhenOpened, "op: open circuit, key: no connection attempt")
        }

        try await Task.sleep(for: options.coolDown + .milliseconds(50))
        let (probeTime, probeError) = await lookup()
        #expect(probeError?.code == .unavailable, "op: probe, key: fails against \(server)")
        #expect(probeError?.detail.contains("circuit open") == false, "op: probe, key: reached the server")
        if let listener, let attemptsWhenOpened {
            #expect(listener.accepted == attemptsWhenOpened + 1, "op: probe, key: exactly one connection attempt")
        }
        let (afterProbe, reopened) = await lookup()
        #expect(reopened?.detail.hasPrefix("SQL Server circuit open") == true, "op: after the probe, key: open again")

        let total = fast.reduce(Duration.zero, +)
        print(
            "ODBC breaker, \(server): first 3 lookups \(first.map { "\($0)" }.joined(separator: ", ")); "
                + "20 open-circuit lookups max \(fast.max()!), mean \(total / 20); probe \(probeTime); "
                + "after the probe \(afterProbe)"
        )
        listener?.close()
        await source.shutdown()
        #expect(log.lines.contains { $0.hasPrefix("SQL Server circuit opened") }, "op: log, key: circuit opened")
        #expect(!log.lines.contains { $0.contains("s3cret") }, "op: log, key: no password in \(log.lines)")
    }

    /// 50 lookups at once against a server that never answers, two connections: each returns within the call
    /// timeout (queued ones give up at their deadline instead of waiting behind the connects; 1 s slack for a busy
    /// machine), and lookups after the burst fail fast.
    @Test func burstAgainstASilentServer() async throws {
        let listener = try SilentListener()
        let options = SQLServerOptions(poolSize: 2, timeout: .seconds(2), failureThreshold: 3, coolDown: .seconds(30))
        let source = try SQLServerSourceOfTruth(
            connectionString: TestODBC.connectionString(port: listener.port),
            options: options,
            logger: logger
        )
        let clock = ContinuousClock()
        let start = clock.now
        let outcomes = await withTaskGroup(of: (Duration, StoreError?).self) { group in
            for _ in 0..<50 {
                group.addTask {
                    let error = await storeError { try await source.customer("1001", tenantId: "tenant-a") }
                    return (clock.now - start, error)
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        let slowest = outcomes.map(\.0).max()!
        let fastFailed = outcomes.filter { $0.1?.detail.hasPrefix("SQL Server circuit open") == true }.count
        #expect(outcomes.allSatisfy { $0.1?.code == .unavailable }, "op: burst, key: every lookup .unavailable")
        // Bounded by the per-lookup limit, not one timeout per queued lookup (50 × 2 s); the margin is for a loaded
        // 2-core CI machine, where 50 concurrent lookups took up to 6.2 s.
        #expect(slowest < options.callTimeout * 2, "op: burst, key: slowest \(slowest)")
        let after = clock.now
        let error = await storeError { try await source.customer("1001", tenantId: "tenant-a") }
        let afterBurst = clock.now - after
        #expect(error?.detail.hasPrefix("SQL Server circuit open") == true, "op: after the burst, key: open")
        #expect(afterBurst < .milliseconds(200), "op: after the burst, key: \(afterBurst)")
        print(
            "ODBC breaker, burst of 50 against a silent server: slowest \(slowest), \(fastFailed) failed fast, "
                + "\(listener.accepted) connection attempts; next lookup \(afterBurst)"
        )
        listener.close()
        await source.shutdown()
    }
}

/// Every log line of a logger at trace level, with its metadata, as text.
private final class RecordingLog: Sendable {
    private let recorded = Mutex<[String]>([])

    var lines: [String] { recorded.withLock { $0 } }

    var logger: Logger {
        var logger = Logger(label: "odbc-tests") { _ in Handler(sink: self) }
        logger.logLevel = .trace
        return logger
    }

    private struct Handler: LogHandler {
        let sink: RecordingLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { $1 }
            let line = "\(event.message) \(merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" })"
            sink.recorded.withLock { $0.append(line) }
        }
    }
}

/// Runs `body` and returns the `StoreError` it threw (nil when it returned; any other error is recorded).
private func storeError(_ body: () async throws -> Customer?) async -> StoreError? {
    do {
        _ = try await body()
        return nil
    } catch let error as StoreError {
        return error
    } catch {
        Issue.record("unexpected error \(error)")
        return nil
    }
}

/// The fixture rows (as text parameters for libpq) and the change events Debezium would publish for them.
private enum Fixture {
    static let rows: [[String?]] = [
        [
            "1001", "tenant-a", "Café Zürich – 東京", "+1 555 0100", "1 \"Main\" St\nSuite 2", "45.501689", "-73.567256",
            "75.50", "retail",
        ],
        ["1002", "tenant-a", nil, nil, nil, nil, nil, nil, nil],
        ["9007199254740993", "tenant-b", "Big", nil, nil, "12.345678", "-0.000001", "0.01", "wholesale"],
    ]

    static let codedRows: [[String?]] = [
        ["c-1", "tenant-a", "Coded", nil, nil, "0.30000000000000004", "45.50169", "250", nil],
        ["O'Brien", "tenant-a", "O'Brien; DROP TABLE dbo.Customers; --", nil, nil, "1", "2", nil, nil],
    ]

    /// The customer `ChangeEventCodec` decodes from the snapshot event of row `id` of `dbo.Customers`, written
    /// as Debezium writes it (`decimal.handling.mode=string`: decimals as text, BIGINT as a JSON number).
    static func decodedChangeEvent(_ id: String) throws -> Customer? {
        let row = try #require(rows.first { $0[0] == id })
        var value: [String: Any] = [
            "CustomerId": try #require(Int64(id)), "TenantId": row[1]!, "__op": "r", "__deleted": "false",
            "__table": "Customers", "__source_ts_ms": 1_710_460_800_000,
        ]
        let names = ["Name", "Phone", "Address", "Latitude", "Longitude", "GeofenceRadiusMeters", "CustomerType"]
        for (offset, name) in names.enumerated() {
            value[name] = row[offset + 2] ?? NSNull()
        }
        let json = try JSONSerialization.data(withJSONObject: value)
        let change = try ChangeEventCodec.decode(
            topic: .cdc("Customers"),
            key: "{\"CustomerId\":\(id)}",
            value: Array(json)
        )
        guard case .upsert(.customer(let customer)) = change else { return nil }
        return customer
    }
}

/// A TCP listener on loopback that accepts connections and never sends a byte: a server that hangs.
private final class SilentListener: Sendable {
    let port: Int
    private let socket: Int32
    private let state = Mutex<(accepted: [Int32], closed: Bool)>(([], false))

    /// Connections accepted so far.
    var accepted: Int { state.withLock { $0.accepted.count } }

    init() throws {
        let fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0, listen(fd, 16) == 0 else {
            Glibc.close(fd)
            throw POSIXError(.EADDRINUSE)
        }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        socket = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        let thread = Thread { [self] in
            while true {
                let connection = accept(fd, nil, nil)
                guard connection >= 0 else { return }
                let keep = state.withLock { state in
                    if state.closed { return false }
                    state.accepted.append(connection)
                    return true
                }
                if !keep {
                    Glibc.close(connection)
                    return
                }
            }
        }
        thread.start()
    }

    /// Stops listening and closes the accepted connections (a driver still waiting on one sees it end).
    func close() {
        let connections = state.withLock { state in
            state.closed = true
            return state.accepted
        }
        Glibc.shutdown(socket, Int32(SHUT_RDWR))
        Glibc.close(socket)
        for connection in connections { Glibc.close(connection) }
    }
}
