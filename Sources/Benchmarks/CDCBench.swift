import Application
package import ArgumentParser
import Composition
import Domain
import Foundation
import KafkaMock
import Logging
import PostgresAdapters

/// `tracker bench cdc`: change data capture figures (issue 13).
///
/// 1. Initial snapshot throughput: `--customers` snapshot rows on `cdc.Customers`, from the first publish until
///    `sync_state` counts them all applied (consumer, read model, cache invalidation, sync state).
/// 2. Change → enrichment latency: `--changes` updates of customers every instance has in its level-1 cache, one
///    at a time; the time from the publish until the change is in the read model, and until every instance's
///    customer directory (what enrichment reads) answers the new version. Goal p99 ≤ 1 s.
///
/// With `--postgres-url` and `--redis-url` (or `TRACKER_POSTGRES_URL`, `TRACKER_REDIS_URL`): `--instances`
/// instances on an in-process Kafka mock cluster, one PostgreSQL schema (created and dropped) and Redis. Without:
/// local mode, one instance on the SQLite event log and SQLite stores in a temporary directory.
package struct CDCBench: AsyncParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "cdc",
        abstract: "Measure initial-snapshot throughput and change → enrichment latency of the CDC consumer."
    )

    @Option(help: "PostgreSQL for the shared read model (default: $TRACKER_POSTGRES_URL; none: local mode).")
    package var postgresUrl: String?

    @Option(help: "Redis for the shared caches (default: $TRACKER_REDIS_URL).")
    package var redisUrl: String?

    @Option(help: "Instances on the production topology.")
    package var instances: Int = 2

    @Option(help: "Customers in the initial snapshot.")
    package var customers: Int = 100_000

    @Option(help: "Updates timed one by one.")
    package var changes: Int = 200

    package func validate() throws {
        guard instances > 0, customers > 0, changes > 0, changes <= customers else {
            throw ValidationError("--instances, --customers and --changes must be positive, --changes ≤ --customers")
        }
    }

    package func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let postgres = postgresUrl ?? environment["TRACKER_POSTGRES_URL"]
        let redis = redisUrl ?? environment["TRACKER_REDIS_URL"]
        let logger = Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() }
        let runId = String(UUID().uuidString.lowercased().filter { $0 != "-" }.prefix(10))
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tracker-cdc-\(runId)").path
        var base = ["LOG_LEVEL": "error", "TRACKER_STALE_SWEEP_SECONDS": "3600"]
        var systems: [RunningSystem] = []
        var cluster: KafkaMockCluster?
        var admin: PostgresPool?
        let topology: String
        if let postgres, let redis {
            let mock = try KafkaMockCluster(brokers: 1)
            cluster = mock
            let pool = try PostgresPool(url: postgres, options: .init(poolSize: 1), logger: logger)
            try await pool.execute("CREATE SCHEMA bench_\(runId)")
            admin = pool
            base["TRACKER_BROKER"] = "kafka"
            base["TRACKER_KAFKA_BROKERS"] = mock.bootstrapServers
            base["TRACKER_KAFKA_PARTITIONS"] = "4"
            base["TRACKER_KAFKA_REPLICATION"] = "1"
            base["TRACKER_STORE"] = "postgres"
            base["TRACKER_POSTGRES_URL"] = postgres
            base["TRACKER_POSTGRES_SCHEMA"] = "bench_\(runId)"
            base["TRACKER_CACHE"] = "redis"
            base["TRACKER_REDIS_URL"] = redis
            topology = "\(instances) instances, Kafka mock cluster + PostgreSQL + Redis"
        } else {
            topology = "local mode, 1 instance (SQLite log and stores)"
        }
        let count = cluster == nil ? 1 : instances
        for index in 0..<count {
            var environment = base
            environment["TRACKER_DATA_DIR"] = "\(directory)/\(index)"
            environment["TRACKER_INSTANCE_ID"] = "bench-\(runId)-\(index)"
            systems.append(
                try await RunningSystem.start(try TrackerConfiguration(environment: environment), logger: logger)
            )
        }
        print("cdc: \(topology); \(customers) customers, \(changes) timed changes")
        do {
            try await measure(systems)
        } catch {
            print("cdc: failed: \(error)")
        }
        for system in systems { try await system.stop() }
        if let admin {
            try await admin.execute("DROP SCHEMA bench_\(runId) CASCADE")
            await admin.shutdown()
        }
        withExtendedLifetime(cluster) {}
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func measure(_ systems: [RunningSystem]) async throws {
        let bus = systems[0].system.adapters.bus
        let fleet = systems[0].system.adapters.fleet
        let tenant = TenantID("bench-cdc")
        func record(_ n: Int, name: String) -> ReferenceRecord {
            .customer(
                Customer(
                    id: CustomerID("bc-\(n)"),
                    tenantId: tenant,
                    name: name,
                    phone: "+49 30 \(100_000 + n)",
                    address: "Street \(n), Berlin",
                    location: Coordinate(
                        latitude: 52.4 + Double(n % 1000) / 5000,
                        longitude: 13.3 + Double(n / 1000) / 5000
                    )
                )
            )
        }
        func now() -> Timestamp { Timestamp(millisecondsSinceEpoch: Int64(Date().timeIntervalSince1970 * 1000)) }
        let applied = { try await fleet.syncStates().first { $0.tableName == "Customers" }?.eventsApplied ?? 0 }

        // 1. Initial snapshot: `r` rows without a change LSN, the last one marked `last`.
        let clock = ContinuousClock()
        let start = clock.now
        var published = 0
        while published < customers {
            let batch = min(1_000, customers - published)
            let messages = (published..<published + batch).map { n in
                let encoded = ChangeEventCodec.encode(
                    record(n, name: "Customer \(n)"),
                    operation: .read,
                    position: .init(
                        commitLSN: "00000001:00000001:0001",
                        changeLSN: nil,
                        eventSerialNo: nil,
                        timestamp: now()
                    )
                )
                var value = encoded.value
                if n == customers - 1 {
                    value.removeLast()
                    value += Array(#","__snapshot":"last"}"#.utf8)
                }
                return OutgoingMessage(key: encoded.key, value: value, headers: ["__op": "r"])
            }
            try await bus.publish(messages, to: .cdc("Customers"))
            published += batch
        }
        let publishedIn = clock.now - start
        var lastReport = clock.now
        while try await applied() < Int64(customers) {
            if clock.now - lastReport >= .seconds(2) {
                print("  snapshot: \(try await applied()) of \(customers) applied")
                lastReport = clock.now
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        let snapshotIn = clock.now - start
        print(
            "snapshot: \(customers) customers published in \(format(publishedIn.secondsValue)) s, all applied in "
                + "\(format(snapshotIn.secondsValue)) s: \(Int(Double(customers) / snapshotIn.secondsValue)) customers/s"
        )

        // 2. Change → every instance's customer directory.
        var toReadModel: [Double] = []
        var toEveryInstance: [Double] = []
        let step = max(1, customers / changes)
        for k in 0..<changes {
            let n = k * step
            let id = CustomerID("bc-\(n)")
            for system in systems { _ = try await system.system.customers.customer(id, tenantId: tenant) }  // level 1
            let name = "Customer \(n) v2"
            let lsn = String(format: "00000002:%08x:0001", k + 1)
            let encoded = ChangeEventCodec.encode(
                record(n, name: name),
                operation: .update,
                position: .init(commitLSN: lsn, changeLSN: lsn, eventSerialNo: 2, timestamp: now())
            )
            let sent = clock.now
            try await bus.publish(
                [OutgoingMessage(key: encoded.key, value: encoded.value, headers: ["__op": "u"])],
                to: .cdc("Customers")
            )
            let reference = systems[0].system.adapters.reference
            var inReadModel: Duration?
            var pending = Set(systems.indices)
            while !pending.isEmpty {
                if clock.now - sent > .seconds(30) { throw ValidationError("change \(k) not visible after 30 s") }
                if inReadModel == nil, try await reference.customer(id, tenantId: tenant)?.name == name {
                    inReadModel = clock.now - sent
                }
                for index in pending
                where try await systems[index].system.customers.customer(id, tenantId: tenant)?.name == name {
                    pending.remove(index)
                }
                if !pending.isEmpty { try await Task.sleep(for: .milliseconds(1)) }
            }
            let everywhere = clock.now - sent
            toReadModel.append((inReadModel ?? everywhere).secondsValue * 1000)
            toEveryInstance.append(everywhere.secondsValue * 1000)
        }
        toReadModel.sort()
        toEveryInstance.sort()
        print(
            "change → read model: p50 \(format(percentile(toReadModel, 0.5))) ms, p99 "
                + "\(format(percentile(toReadModel, 0.99))) ms; → every instance's enrichment cache: p50 "
                + "\(format(percentile(toEveryInstance, 0.5))) ms, p99 \(format(percentile(toEveryInstance, 0.99))) ms, "
                + "max \(format(toEveryInstance.last ?? 0)) ms (goal p99 ≤ 1000 ms)"
        )
    }
}
