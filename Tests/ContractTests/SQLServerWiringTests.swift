import Application
import Composition
import Domain
import Logging
import SQLServerAdapters
import Testing

/// `tracker.source=sqlserver` in the composition root: the keys it reads, and what it refuses before opening
/// anything.
@Suite("SQL Server wiring")
struct SQLServerWiringTests {
    private let logger = Logger(label: "odbc-tests", factory: { _ in SwiftLogNoOpLogHandler() })
    private let odbc = "Driver={ODBC Driver 18 for SQL Server};Server=tcp:sql,1433;Database=Core;UID=t;PWD={p;w}"

    private func configuration(_ environment: [String: String]) throws -> TrackerConfiguration {
        try TrackerConfiguration(environment: environment)
    }

    /// Only Kafka carries Debezium's change events: the local and memory buses are refused with the reason.
    @Test(arguments: ["local", "memory"])
    func needsKafka(_ broker: String) throws {
        let plan = try configuration(["TRACKER_SOURCE": "sqlserver", "TRACKER_BROKER": broker]).plan
        let refusal = try #require(plan.refusal, "op: plan, key: sqlserver on the \(broker) bus")
        #expect(refusal.hasPrefix("tracker.source=sqlserver needs tracker.broker=kafka"), "op: plan, key: \(refusal)")
        #expect(!refusal.contains("\n"), "op: plan, key: one line")
        #expect(
            try configuration(["TRACKER_SOURCE": "sqlserver", "TRACKER_BROKER": "kafka"]).plan.refusal == nil,
            "op: plan, key: sqlserver with kafka"
        )
    }

    /// Without a connection string, start-up fails naming the key (before the bus or a store is opened).
    @Test func missingConnectionStringNamesTheKey() async throws {
        let configuration = try configuration(["TRACKER_SOURCE": "sqlserver", "TRACKER_BROKER": "kafka"])
        #expect(configuration.sqlserver.connectionString == nil, "op: settings, key: no TRACKER_SQLSERVER_ODBC")
        do {
            _ = try await TrackerSystem.build(configuration: configuration, logger: logger)
            Issue.record("op: build, key: expected a StartupFailure")
        } catch let failure as StartupFailure {
            #expect(
                failure.message.hasPrefix(
                    "tracker.source=sqlserver needs tracker.sqlserver.odbc (TRACKER_SQLSERVER_ODBC)"
                ),
                "op: build, key: \(failure.message)"
            )
        }
    }

    /// The keys and their defaults; an unsafe table name is refused; the source connects lazily, so wiring it
    /// against an unreachable server succeeds (the read model answers first).
    @Test func settingsAndLazyWiring() async throws {
        let defaults = try configuration(["TRACKER_SQLSERVER_ODBC": odbc]).sqlserver
        #expect(defaults.connectionString == odbc, "op: settings, key: TRACKER_SQLSERVER_ODBC")
        #expect(defaults.poolSize == 2 && defaults.timeout == .seconds(2), "op: settings, key: defaults")
        #expect(defaults.table == "dbo.Customers", "op: settings, key: default table")
        #expect(SQLServerWiring.refusal(defaults) == nil, "op: refusal, key: complete settings")

        let tuned = try configuration([
            "TRACKER_SQLSERVER_ODBC": odbc, "TRACKER_SQLSERVER_POOL_SIZE": "4", "TRACKER_SQLSERVER_TIMEOUT_MS": "1500",
            "TRACKER_SQLSERVER_TABLE": "Core.dbo.Customers",
        ]).sqlserver
        #expect(tuned.poolSize == 4 && tuned.timeout == .milliseconds(1500), "op: settings, key: pool and timeout")
        #expect(SQLServerWiring.refusal(tuned) == nil, "op: refusal, key: three-part table name")

        let unsafe = try configuration([
            "TRACKER_SQLSERVER_ODBC": odbc, "TRACKER_SQLSERVER_TABLE": "dbo.Customers; DROP TABLE x",
        ]).sqlserver
        #expect(
            SQLServerWiring.refusal(unsafe)?.hasPrefix("tracker.sqlserver.table must be") == true,
            "op: refusal, key: unsafe table name"
        )

        let wired = try SQLServerWiring.source(defaults, logger: logger)
        #expect(!wired.source.isWritable, "op: source, key: read-only")
        let customer = Customer(id: "1", tenantId: "t", name: "n", location: Coordinate(latitude: 0, longitude: 0))
        await #expect(throws: StoreError.unavailable()) { try await wired.source.upsert(.customer(customer)) }
        await (wired.source as? SQLServerSourceOfTruth)?.shutdown()
    }
}
