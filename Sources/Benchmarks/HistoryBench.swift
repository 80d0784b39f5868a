import Application
package import ArgumentParser
import Composition
import Domain
import Foundation
import Logging
import PostgresAdapters
import SQLiteAdapters
import Simulation

/// History figures, SQLite and (with `--postgres-url` or `TRACKER_POSTGRES_URL`) PostgreSQL in the same run:
/// append throughput in batches (goals: SQLite ≥ 50,000, PostgreSQL ≥ 20,000 positions/s), route playback of
/// one driver-day at 1 Hz downsampled to 2,000 points (goal ≤ 50 ms, median of several runs), the size per
/// million positions, and on PostgreSQL the cost of 1,000 drivers' snapshot upserts (goal: at 1 Hz within
/// 10 % of one core).
///
/// SQLite runs on a file database in a fresh temporary directory (removed afterwards) with the production
/// settings: WAL, one writer thread, `synchronous=NORMAL` (survives `kill -9`) unless `--durability
/// power-loss` (FULL). PostgreSQL runs in a fresh schema (dropped afterwards). Positions are built before the
/// clock starts; what is timed is the stores' `append`/`routeHistory`/`saveSnapshot` as the pipeline calls
/// them.
package struct HistoryBench: AsyncParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "History append throughput and playback latency on SQLite (and PostgreSQL with a URL)."
    )

    @Option(help: "Drivers reporting at 1 Hz in the append run.")
    package var drivers: Int = 1000

    @Option(help: "Simulated seconds of reports in the append run (positions = drivers × seconds).")
    package var seconds: Int = 300

    @Option(help: "Positions per append call.")
    package var batch: Int = 500

    @Option(help: "Concurrent appenders (1 = one batch at a time; more lets the writer group commits).")
    package var concurrency: Int = 1

    @Option(help: "power-loss (synchronous=FULL) or process-crash (synchronous=NORMAL).")
    package var durability: String = "process-crash"

    @Option(help: "Playback runs (the median is reported).")
    package var runs: Int = 9

    @Option(help: "Points per playback answer.")
    package var maxPoints: Int = 2000

    @Option(help: "PostgreSQL to measure too (default: $TRACKER_POSTGRES_URL); a schema is created and dropped.")
    package var postgresUrl: String?

    package func validate() throws {
        guard drivers > 0, seconds > 0, batch > 0, concurrency > 0, runs > 0, maxPoints > 1 else {
            throw ValidationError("--drivers, --seconds, --batch, --concurrency, --runs > 0; --max-points > 1")
        }
        guard ["power-loss", "process-crash"].contains(durability) else {
            throw ValidationError("--durability is power-loss or process-crash")
        }
    }

    package func run() async throws {
        let logger = makeLogger(level: "error")
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("tracker-history-bench-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let mode: SQLiteDatabase.Durability = durability == "power-loss" ? .powerLoss : .processCrash
        print("SQLite history bench (\(durability), temp dir \(directory))")
        try await appendRun(goal: 50_000) {
            let path = "\(directory)/append.sqlite"
            let database = try SQLiteDatabase(path: path, durability: mode, logger: logger)
            return Target(
                store: try SQLiteHistoryStore(database: database),
                size: {
                    // The database and its write-ahead log (not checkpointed yet).
                    [path, path + "-wal"].reduce(0) {
                        $0 + ((try? FileManager.default.attributesOfItem(atPath: $1)[.size] as? Int) ?? 0)
                    }
                },
                close: { database.close() }
            )
        }
        try await playbackRun {
            let database = try SQLiteDatabase(path: "\(directory)/playback.sqlite", durability: mode, logger: logger)
            return Target(store: try SQLiteHistoryStore(database: database), size: { 0 }, close: { database.close() })
        }
        guard let url = postgresUrl ?? ProcessInfo.processInfo.environment["TRACKER_POSTGRES_URL"] else {
            print("PostgreSQL: not measured (pass --postgres-url or set TRACKER_POSTGRES_URL)")
            return
        }
        try await postgresRuns(url: url, logger: logger)
    }

    /// A store under measurement: its size in bytes and how to close it.
    private struct Target {
        var store: any HistoryStore
        var size: () async throws -> Int
        var close: () async -> Void
    }

    /// The same runs on PostgreSQL in a schema of their own, plus snapshot upserts.
    private func postgresRuns(url: String, logger: Logger) async throws {
        let admin = try PostgresPool(url: url, options: .init(poolSize: 1), logger: logger)
        let schema = "bench_\(UUID().uuidString.lowercased().filter { $0 != "-" })"
        try await admin.execute("CREATE SCHEMA \(schema)")
        let version = try await admin.rows("SHOW server_version").first?.first.flatMap { $0 } ?? "?"
        print("PostgreSQL history bench (server \(version), schema \(schema), pool of 4)")
        let options = PostgresOptions(poolSize: 4, statementTimeout: .seconds(120), schema: schema)
        var pools: [PostgresPool] = []
        do {
            try await PostgresMigrations.migrateHistory(url: url, options: options, logger: logger)
            try await PostgresMigrations.migrateFleet(url: url, options: options, logger: logger)
            let pool = try PostgresPool(url: url, options: options, logger: logger)
            pools.append(pool)
            try await appendRun(goal: 20_000) {
                Target(
                    store: PostgresHistoryStore(pool: pool),
                    size: {
                        let rows = try await pool.rows(
                            """
                            SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_inherits i
                            JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'enriched_positions'::regclass
                            """
                        )
                        return Int(rows.first?.first.flatMap { $0 } ?? "0") ?? 0
                    },
                    close: {}
                )
            }
            // On TimescaleDB the rollups are continuous aggregates over the truncated table.
            let rollupTable = try await PostgresHistoryStore(pool: pool).layout() == .partitions
            try await pool.execute("TRUNCATE enriched_positions" + (rollupTable ? ", driver_daily_stats" : ""))
            try await playbackRun { Target(store: PostgresHistoryStore(pool: pool), size: { 0 }, close: {}) }
            try await snapshotRun(store: PostgresFleetStore(pool: pool))
        } catch {
            for pool in pools { await pool.shutdown() }
            try? await admin.execute("DROP SCHEMA \(schema) CASCADE")
            await admin.shutdown()
            throw error
        }
        for pool in pools { await pool.shutdown() }
        try await admin.execute("DROP SCHEMA \(schema) CASCADE")
        await admin.shutdown()
    }

    /// (c) 1,000 drivers' snapshots upserted as enrichment writes them (`saveSnapshots` per consumer batch of
    /// 256) and, for comparison, one by one: the time taken per second of fixes at 1 Hz bounds the CPU both
    /// processes spend on it (the round trips are sequential).
    private func snapshotRun(store: PostgresFleetStore) async throws {
        let clock = ContinuousClock()
        func measure(_ write: ([DriverSnapshot]) async throws -> Void) async throws -> Double {
            var timings: [Double] = []
            for round in 0..<6 {
                let snapshots = (0..<1000).map { DriverSnapshot(position: Self.fix(driver: $0, second: round)) }
                let elapsed = try await clock.measure { try await write(snapshots) }
                if round > 0 { timings.append(elapsed.secondsValue * 1000) }  // the first round inserts
            }
            return timings.sorted()[timings.count / 2]
        }
        let batched = try await measure { snapshots in
            for start in stride(from: 0, to: snapshots.count, by: 256) {
                try await store.saveSnapshots(Array(snapshots[start..<min(start + 256, snapshots.count)]))
            }
        }
        let single = try await measure { snapshots in
            for snapshot in snapshots { try await store.saveSnapshot(snapshot) }
        }
        print(
            "snapshots: 1000 drivers upserted in batches of 256: median \(format(batched, 1)) ms per round "
                + "→ at 1 Hz at most \(format(batched / 10, 1)) % of one core, client and server together "
                + "(goal ≤ 10 %: \(batched <= 100 ? "met" : "NOT met")); one by one: \(format(single, 1)) ms"
        )
    }

    private static let tenant = TenantID("tenant-bench")
    private static let start = Timestamp(millisecondsSinceEpoch: 1_710_460_800_000)

    private static func fix(driver: Int, second: Int) -> EnrichedPosition {
        let angle = Double(second) / 600
        return EnrichedPosition(
            tenantId: tenant,
            driverId: DriverID("drv-\(driver)"),
            deviceId: DeviceID("dev-\(driver)"),
            driverName: "Bench \(driver)",
            fixTime: start + .seconds(second),
            latitude: 45.5 + 0.01 * sin(angle) + Double(driver) * 1e-4,
            longitude: -73.6 + 0.01 * cos(angle),
            speedKmh: Double((second + driver) % 60),
            smoothedSpeedKmh: 30,
            heading: Double(second % 360),
            activity: .moving,
            routeId: RouteID("route-\(driver)")
        )
    }

    /// (a) `drivers` × `seconds` positions in time order, `batch` per append.
    private func appendRun(goal: Int, _ make: () async throws -> Target) async throws {
        let target = try await make()
        let store = target.store
        var positions: [EnrichedPosition] = []
        positions.reserveCapacity(drivers * seconds)
        for second in 0..<seconds {
            for driver in 0..<drivers { positions.append(Self.fix(driver: driver, second: second)) }
        }
        let batches = stride(from: 0, to: positions.count, by: batch).map {
            Array(positions[$0..<min($0 + batch, positions.count)])
        }
        let clock = ContinuousClock()
        let concurrency = concurrency
        let elapsed = try await clock.measure {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for lane in 0..<concurrency {
                    group.addTask {
                        for index in stride(from: lane, to: batches.count, by: concurrency) {
                            try await store.append(batches[index])
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        let rate = Double(positions.count) / elapsed.secondsValue
        let size = try await target.size()
        let perMillion = Double(size) / Double(positions.count) * 1_000_000 / 1_048_576
        print(
            "append: \(positions.count) positions (\(drivers) drivers × \(seconds) s at 1 Hz), batches of \(batch), "
                + "concurrency \(concurrency): \(format(elapsed.secondsValue, 2)) s → \(Int(rate)) positions/s "
                + "(goal ≥ \(goal): \(rate >= Double(goal) ? "met" : "NOT met")); \(size / 1_048_576) MiB on disk, "
                + "\(format(perMillion, 0)) MiB per million positions"
        )
        // A re-sent batch is a no-op (idempotent on driver and fix time).
        let resend = try await clock.measure { try await store.append(batches[0]) }
        print("append: re-sent batch of \(batches[0].count) ignored in \(format(resend.secondsValue * 1000, 2)) ms")
        await target.close()
    }

    /// (b) one driver-day at 1 Hz, read back downsampled to `maxPoints`.
    private func playbackRun(_ make: () async throws -> Target) async throws {
        let target = try await make()
        let store = target.store
        // Neighbours on the same day, so the driver's range is not the whole table.
        for driver in [0, 1, 2] {
            let day = (0..<86_400).map { Self.fix(driver: driver, second: $0) }
            for chunk in stride(from: 0, to: day.count, by: 5000) {
                try await store.append(Array(day[chunk..<min(chunk + 5000, day.count)]))
            }
        }
        let clock = ContinuousClock()
        var timings: [Double] = []
        var count = 0
        let maxPoints = maxPoints
        for _ in 0..<runs {
            var points: [HistoryPoint] = []
            let elapsed = try await clock.measure {
                points = try await store.routeHistory(
                    driverId: DriverID("drv-1"),
                    tenantId: Self.tenant,
                    from: Self.start,
                    to: Self.start + .seconds(86_399),
                    maxPoints: maxPoints
                )
            }
            count = points.count
            timings.append(elapsed.secondsValue * 1000)
        }
        timings.sort()
        let median = timings[timings.count / 2]
        print(
            "playback: 86400 points (1 driver-day at 1 Hz) → \(count) points, \(runs) runs: median "
                + "\(format(median, 1)) ms (min \(format(timings[0], 1)), "
                + "max \(format(timings[timings.count - 1], 1))) "
                + "(goal ≤ 50 ms: \(median <= 50 ? "met" : "NOT met"))"
        )
        await target.close()
    }

    private func format(_ value: Double, _ decimals: Int) -> String { String(format: "%.\(decimals)f", value) }
}
