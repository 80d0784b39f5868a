import Application
package import ArgumentParser
import Composition
import Domain
import Logging
import SQLiteAdapters
import Simulation

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
package import Foundation
#endif

/// Throughput of the durable SQLite event bus on a temporary file: publish in batches of 1 (sequential and
/// concurrent, where group commit shares fsyncs), 100 and 1,000 messages, then consume with commits.
package struct BusBench: AsyncParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "bus",
        abstract: "SQLite event bus publish and consume throughput on a temporary file."
    )

    @Option(help: "Messages per batched measurement (batches of 100 and 1,000, and consumption).")
    package var messages: Int = 100_000

    @Option(help: "Messages for the batch-of-1 measurements (each is its own transaction).")
    package var singles: Int = 2_000

    @Option(help: "Concurrent publishers for the concurrent batch-of-1 measurement.")
    package var publishers: Int = 64

    @Option(help: "Value size in bytes (a raw position is about 300).")
    package var payloadBytes: Int = 300

    @Option(help: "Distinct keys (drivers).")
    package var keys: Int = 1_000

    @Flag(help: "fsync only at checkpoints (synchronous=NORMAL: survives kill -9, not power loss).")
    package var processCrashDurability = false

    @Option(help: "Directory of the temporary database file.")
    package var directory: String = ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"

    package func validate() throws {
        guard messages >= 1_000, singles > 0, (1...1024).contains(publishers), payloadBytes >= 0, keys > 0 else {
            throw ValidationError("--messages ≥ 1000, --singles > 0, --publishers 1–1024, --keys > 0")
        }
    }

    package func run() async throws {
        let path = "\(directory)/tracker-bus-bench-\(UUID().uuidString).sqlite"
        defer {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
        let logger = Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() })
        let bus = try await SQLiteEventBus(
            path: path,
            configuration: .init(
                pruneEveryMessages: 0,
                durability: processCrashDurability ? .processCrash : .powerLoss
            ),
            logger: logger
        )
        let payload = [UInt8](repeating: UInt8(ascii: "x"), count: payloadBytes)
        let headers = [MessageHeader.tenantId: "tenant-bench", MessageHeader.eventType: "position"]
        func batch(_ start: Int, _ count: Int) -> [OutgoingMessage] {
            (start..<start + count).map {
                OutgoingMessage(key: "driver-\($0 % keys)", value: payload, headers: headers)
            }
        }
        print(
            "SQLite event bus, \(bus.partitions) partitions, \(payloadBytes)-byte values, "
                + (processCrashDurability ? "synchronous=NORMAL" : "synchronous=FULL (fsync per commit)")
        )

        let topic: Topic = "bench"
        var published = 0
        let clock = ContinuousClock()

        var start = clock.now
        for i in 0..<singles { try await bus.publish(batch(i, 1), to: topic) }
        report("publish, batch of 1, sequential", singles, clock.now - start)
        published += singles

        start = clock.now
        let perPublisher = max(1, singles / publishers)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for p in 0..<publishers {
                group.addTask {
                    for i in 0..<perPublisher { try await bus.publish(batch(p * perPublisher + i, 1), to: topic) }
                }
            }
            try await group.waitForAll()
        }
        report("publish, batch of 1, \(publishers) concurrent publishers", perPublisher * publishers, clock.now - start)
        published += perPublisher * publishers

        for size in [100, 1_000] {
            let rounds = messages / size
            start = clock.now
            for r in 0..<rounds { try await bus.publish(batch(r * size, size), to: topic) }
            report("publish, batch of \(size)", rounds * size, clock.now - start)
            published += rounds * size
        }

        for maxCount in [100, 1_000] {
            let subscription = try await bus.subscribe(topics: [topic], group: "bench-\(maxCount)", startAtEnd: false)
            var consumed = 0
            start = clock.now
            while consumed < published {
                let received = try await subscription.next(maxCount: maxCount)
                if received.isEmpty { break }
                try await subscription.commit(received)
                consumed += received.count
            }
            report("consume + commit, next(maxCount: \(maxCount))", consumed, clock.now - start)
            await subscription.close()
        }
        await bus.close()
    }

    private func report(_ name: String, _ count: Int, _ elapsed: Duration) {
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let rate = Double(count) / max(seconds, 1e-9)
        let padded = name + String(repeating: " ", count: max(1, 52 - name.count))
        print("\(padded) \(Int(rate.rounded())) msgs/s  (\(count) in \(Int((seconds * 1000).rounded())) ms)")
    }
}
