import Application
import Composition
import Domain
import Foundation
import KafkaMock
import Logging
import PostgresAdapters
import Testing

/// Change events end to end, as Debezium writes them to `cdc.<Table>`: through the real consumer into the
/// read model, both customer cache levels of every instance, and `sync_state`, on the production topology
/// (two instances over Kafka — librdkafka's mock cluster —, one PostgreSQL schema, one Redis database) and on
/// local mode (the SQLite event log into SQLite). Each step is checked before the next is sent.
@Suite("Change data capture end to end")
struct ChangeDataCaptureTests {
    typealias Instance = RunningSystem

    enum Topology: String, CaseIterable, CustomTestStringConvertible {
        case kafkaPostgresRedis, localSQLite
        var testDescription: String { rawValue }
    }

    static var enabled: Bool { TestPostgres.enabled && TestRedis.enabled }

    /// `url` with its database number replaced (or added).
    static func redisURL(_ url: String, database: Int) -> String {
        let afterScheme = url.range(of: "://").map(\.upperBound) ?? url.startIndex
        let base = url[afterScheme...].firstIndex(of: "/").map { String(url[..<$0]) } ?? url
        return base + "/\(database)"
    }

    let logger = Logger(label: "cdc-e2e", factory: { _ in SwiftLogNoOpLogHandler() })

    /// Starts the topology's instances; `body` gets them and tears nothing down itself.
    func withInstances(_ topology: Topology, _ body: ([Instance]) async throws -> Void) async throws {
        let tag = String(UUID().uuidString.lowercased().filter { $0 != "-" }.prefix(12))
        let base: [String: String] = [
            "LOG_LEVEL": "error", "TRACKER_STALE_SWEEP_SECONDS": "3600",
        ]
        var instances: [Instance] = []
        var cleanup: [@Sendable () async throws -> Void] = []
        do {
            switch topology {
            case .kafkaPostgresRedis:
                let cluster = try KafkaMockCluster(brokers: 1)
                let url = try TestPostgres.requireURL()
                let admin = try PostgresPool(url: url, options: .init(poolSize: 1), logger: logger)
                try await admin.execute("CREATE SCHEMA cdc_\(tag)")
                cleanup.append {
                    try await admin.execute("DROP SCHEMA cdc_\(tag) CASCADE")
                    await admin.shutdown()
                }
                // Redis database 7: this suite's own keyspace on the shared test server.
                let redis = Self.redisURL(try TestRedis.requireURL(), database: 7)
                for name in ["a", "b"] {
                    var environment = base
                    environment["TRACKER_BROKER"] = "kafka"
                    environment["TRACKER_KAFKA_BROKERS"] = cluster.bootstrapServers
                    environment["TRACKER_KAFKA_PARTITIONS"] = "4"
                    environment["TRACKER_KAFKA_REPLICATION"] = "1"
                    environment["KAFKA_SESSION_TIMEOUT_MS"] = "6000"
                    environment["KAFKA_HEARTBEAT_INTERVAL_MS"] = "200"
                    environment["KAFKA_TOPIC_METADATA_REFRESH_INTERVAL_MS"] = "1000"
                    environment["TRACKER_STORE"] = "postgres"
                    environment["TRACKER_POSTGRES_URL"] = url
                    environment["TRACKER_POSTGRES_SCHEMA"] = "cdc_\(tag)"
                    environment["TRACKER_POSTGRES_POOL_SIZE"] = "2"
                    environment["TRACKER_CACHE"] = "redis"
                    environment["TRACKER_REDIS_URL"] = redis
                    environment["TRACKER_DATA_DIR"] = LocalKind.temporaryPath("cdc-\(name)")
                    environment["TRACKER_INSTANCE_ID"] = "cdc-\(tag)-\(name)"
                    instances.append(
                        try await Instance.start(try TrackerConfiguration(environment: environment), logger: logger)
                    )
                }
                cleanup.append { _ = cluster }
            case .localSQLite:
                var environment = base
                environment["TRACKER_DATA_DIR"] = LocalKind.temporaryPath("cdc-local")
                instances.append(
                    try await Instance.start(try TrackerConfiguration(environment: environment), logger: logger)
                )
            }
            try await body(instances)
        } catch {
            for instance in instances { try? await instance.stop() }
            for step in cleanup { try? await step() }
            throw error
        }
        for instance in instances { try await instance.stop() }
        for step in cleanup { try await step() }
    }

    @Test(
        .enabled(if: enabled, "set TRACKER_TEST_POSTGRES_URL and TRACKER_TEST_REDIS_URL"),
        arguments: Topology.allCases
    )
    func changesReachTheReadModelEveryCacheAndSyncState(_ topology: Topology) async throws {
        try await withInstances(topology) { instances in
            let producer = instances[0].system.adapters.bus
            let tenant = TenantID("cdc-tenant")
            let id = CustomerID("cdc-" + String(UUID().uuidString.prefix(8)))
            let source = Feed(bus: producer, tenant: tenant, id: id)

            /// Waits until every instance's read model and customer directory (levels 1 → 2 → read model)
            /// answer `name` (nil: the customer is gone), then returns the Customers sync state.
            func expectEverywhere(_ name: String?, _ step: String) async throws -> SyncState {
                for (index, instance) in instances.enumerated() {
                    try await eventually("\(step): instance \(index) read model") {
                        try await instance.system.adapters.reference.customer(id, tenantId: tenant)?.name == name
                    }
                    try await eventually("\(step): instance \(index) customer directory") {
                        try await instance.system.customers.customer(id, tenantId: tenant)?.name == name
                    }
                }
                return try #require(
                    try await instances[0].system.adapters.fleet.syncStates().first { $0.tableName == "Customers" }
                )
            }

            // Insert, then every instance has it in levels 1 and 2.
            try await source.send(.create, name: "v1", lsn: 0x10)
            var state = try await expectEverywhere("v1", "insert")
            #expect(state.eventsApplied == 1 && state.status == .healthy, "insert: \(state)")
            #expect(state.lastSourceAt != nil)
            for instance in instances {
                #expect(try await instance.system.adapters.customerCache.customer(id, tenantId: tenant)?.name == "v1")
            }

            // Update: levels 1 and 2 dropped on every instance (no instance serves v1 from memory).
            try await source.send(.update, name: "v2", lsn: 0x20)
            state = try await expectEverywhere("v2", "update")
            #expect(state.eventsApplied == 2, "update: \(state)")

            // Redelivered, then an older event after a newer one: nothing changes, nothing counts.
            try await source.send(.update, name: "v2", lsn: 0x20)
            try await source.send(.update, name: "stale", lsn: 0x18)
            // An initial-snapshot read (no change LSN) never overrides a streamed change.
            try await source.send(.read, name: "snapshot", lsn: 0x08, snapshot: "true")
            // An incremental snapshot read carries the streaming position and does update.
            try await source.send(.read, name: "v3", lsn: 0x30, snapshot: "incremental")
            state = try await expectEverywhere("v3", "incremental snapshot")
            #expect(state.eventsApplied == 3, "duplicate, stale and initial snapshot rows do not count: \(state)")
            #expect(state.status == .syncing, "an incremental snapshot is running: \(state)")

            // A column the service does not know (a schema change at the source) is ignored.
            try await source.send(.update, name: "v4", lsn: 0x40, extra: #","LoyaltyTier":"gold""#)
            state = try await expectEverywhere("v4", "unknown column")
            #expect(state.eventsApplied == 4 && state.status == .healthy, "unknown column: \(state)")

            // Delete (rewritten before-image), then its tombstone: gone from the read model and every cache.
            try await source.send(.delete, name: "v4", lsn: 0x50)
            try await producer.publish(
                [OutgoingMessage(key: source.key, value: nil, headers: ["__op": "d"])],
                to: .cdc("Customers")
            )
            state = try await expectEverywhere(nil, "delete")
            #expect(state.eventsApplied == 5, "delete: \(state)")
            #expect(state.lastVersion?.hasPrefix(Feed.lsn(0x50)) == true, "delete: \(state)")

            // A poison event: parked on cdc.Orders.dlq with the reason, Orders failing, the stream goes on.
            try await producer.publish(
                [OutgoingMessage(key: #"{"OrderId":"o-poison"}"#, value: Array(#"{"OrderId":"#.utf8), headers: [:])],
                to: .cdc("Orders")
            )
            try await eventually("poison: Orders failing") {
                try await instances[0].system.adapters.fleet.syncStates()
                    .first { $0.tableName == "Orders" }?.status == .failing
            }
            let report = try await instances.last!.system.syncMonitor.check()
            #expect(report.status == .failing)
            let orders = try #require(report.tables.first { $0.table == "Orders" })
            #expect(orders.state.eventsFailed == 1 && orders.state.lastError?.hasPrefix("invalidData") == true)
            let dead = try await producer.subscribe(
                topics: [Topic("cdc.Orders.dlq")],
                group: "dlq-check",
                startAtEnd: false
            )
            var parked: [BusMessage] = []
            try await eventually("poison: on the dead-letter topic") {
                parked += try await dead.next(maxCount: 10)
                return !parked.isEmpty
            }
            await dead.close()
            #expect(parked.first?.headers[MessageHeader.dlqSourceTopic] == "cdc.Orders")
            try await source.send(.create, name: "after", lsn: 0x60)
            state = try await expectEverywhere("after", "after the poison event")
            #expect(state.eventsApplied == 6)
        }
    }
}

/// Writes Customers change events in Debezium's flattened format for one customer.
struct Feed {
    let bus: any EventBus
    let tenant: TenantID
    let id: CustomerID

    var key: String { ChangeEventCodec.key(for: .customer(id)) }

    /// A fixed-width LSN (`%08x:%08x:%04x`) that sorts as its number.
    static func lsn(_ n: Int) -> String {
        let hex = String(n, radix: 16)
        return "0000002b:" + String(repeating: "0", count: 8 - hex.count) + hex + ":0001"
    }

    func send(
        _ operation: ChangeEventCodec.Operation,
        name: String,
        lsn: Int,
        snapshot: String? = nil,
        extra: String = ""
    ) async throws {
        let customer = Customer(
            id: id,
            tenantId: tenant,
            name: name,
            location: Coordinate(latitude: 52.52, longitude: 13.405)
        )
        let initial = operation == .read && snapshot != "incremental"
        let position = ChangeEventCodec.SourcePosition(
            commitLSN: Self.lsn(lsn),
            changeLSN: initial ? nil : Self.lsn(lsn),
            eventSerialNo: initial ? nil : 1,
            timestamp: Timestamp(millisecondsSinceEpoch: Int64(Date().timeIntervalSince1970 * 1000))
        )
        let encoded = ChangeEventCodec.encode(.customer(customer), operation: operation, position: position)
        // Fields the encoder does not write: the snapshot marker, an unknown column.
        var text = String(decoding: encoded.value.dropLast(), as: UTF8.self)
        if let snapshot { text += #","__snapshot":"\#(snapshot)""# }
        text += extra + "}"
        try await bus.publish(
            [OutgoingMessage(key: encoded.key, value: Array(text.utf8), headers: ["__op": operation.rawValue])],
            to: .cdc("Customers")
        )
    }
}

/// Polls `condition` until it holds, failing after `timeout`.
func eventually(
    _ what: String,
    timeout: Duration = .seconds(20),
    _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(20))
    }
    Issue.record("timed out waiting for \(what)")
    throw CancellationError()
}
