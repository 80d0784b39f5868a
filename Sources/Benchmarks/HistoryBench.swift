import Application
package import ArgumentParser
import Composition
import Domain
import Foundation
import Logging
import SQLiteAdapters
import Simulation

/// SQLite history figures (issue 3): append throughput in batches (goal ≥ 50,000 positions/s) and route
/// playback of one driver-day at 1 Hz downsampled to 2,000 points (goal ≤ 50 ms, median of several runs).
///
/// Runs on a file database in a fresh temporary directory (removed afterwards) with the production settings:
/// WAL, one writer thread, `synchronous=NORMAL` (survives `kill -9`) unless `--durability power-loss` (FULL).
/// Positions are built before the clock starts; what is timed is `SQLiteHistoryStore.append`/`routeHistory`
/// as the pipeline calls them.
package struct HistoryBench: AsyncParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "SQLite history append throughput and route playback latency."
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
        try await appendRun(path: "\(directory)/append.sqlite", durability: mode, logger: logger)
        try await playbackRun(path: "\(directory)/playback.sqlite", durability: mode, logger: logger)
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
    private func appendRun(path: String, durability: SQLiteDatabase.Durability, logger: Logger) async throws {
        let database = try SQLiteDatabase(path: path, durability: durability, logger: logger)
        defer { database.close() }
        let store = try SQLiteHistoryStore(database: database)
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
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        print(
            "append: \(positions.count) positions (\(drivers) drivers × \(seconds) s at 1 Hz), batches of \(batch), "
                + "concurrency \(concurrency): \(format(elapsed.secondsValue, 2)) s → \(Int(rate)) positions/s "
                + "(goal ≥ 50000: \(rate >= 50_000 ? "met" : "NOT met")); file \(size / 1_048_576) MiB"
        )
        // A re-sent batch is a no-op (idempotent on driver and fix time).
        let resend = try await clock.measure { try await store.append(batches[0]) }
        print("append: re-sent batch of \(batches[0].count) ignored in \(format(resend.secondsValue * 1000, 2)) ms")
    }

    /// (b) one driver-day at 1 Hz, read back downsampled to `maxPoints`.
    private func playbackRun(path: String, durability: SQLiteDatabase.Durability, logger: Logger) async throws {
        let database = try SQLiteDatabase(path: path, durability: durability, logger: logger)
        defer { database.close() }
        let store = try SQLiteHistoryStore(database: database)
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
    }

    private func format(_ value: Double, _ decimals: Int) -> String { String(format: "%.\(decimals)f", value) }
}
