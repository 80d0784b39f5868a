package import Application
package import ArgumentParser
import Composition
import Configuration
import Domain
import Foundation
import Hummingbird
import KafkaAdapters
import KafkaMock
import Logging
import ServiceLifecycle
import Simulation
import Synchronization

/// `tracker bench kafka`: the Kafka event bus against a Kafka-protocol cluster (an in-process mock cluster
/// unless `--bootstrap` names a real one).
///
/// 1. Produce throughput with delivery confirmation: `publish` returns only after every message's delivery
///    report (`acks=all`, idempotent, lz4), from several concurrent publishers (goal ≥ 50,000 msgs/s).
/// 2. Webhook → `gps.positions.enriched` latency at `--drivers` drivers × 1 Hz through the real server
///    (`tracker serve --broker kafka` in this process, SQLite stores in a temporary directory): for every
///    enriched position the time from the raw position's Kafka timestamp (set when the webhook handler
///    produced it) to its enriched message reaching a consumer, joined by driver and fix time.
package struct KafkaBench: AsyncParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "kafka",
        abstract: "Kafka bus: confirmed produce throughput and webhook → enriched latency."
    )

    @Option(help: "Bootstrap servers of an existing cluster (default: an in-process mock cluster).")
    package var bootstrap: String?

    @Option(help: "Brokers of the mock cluster.")
    package var brokers: Int = 3

    @Option(help: "Messages for the throughput measurement.")
    package var messages: Int = 300_000

    @Option(help: "Messages per publish call.")
    package var batch: Int = 1_000

    @Option(help: "Concurrent publishers.")
    package var publishers: Int = 4

    @Option(help: "Value size in bytes (a raw position is about 300).")
    package var payloadBytes: Int = 300

    @Option(help: "Seconds of the latency measurement at 1 Hz per driver (0 skips it).")
    package var latencySeconds: Int = 30

    @Option(help: "Simulated drivers for the latency measurement.")
    package var drivers: Int = 1_000

    package func validate() throws {
        guard messages >= batch, batch > 0, (1...64).contains(publishers), (1...16).contains(brokers),
            latencySeconds >= 0, (1...20_000).contains(drivers)
        else { throw ValidationError("--messages ≥ --batch > 0, --publishers 1–64, --brokers 1–16, --drivers 1–20000") }
    }

    package func run() async throws {
        let cluster = bootstrap == nil ? try KafkaMockCluster(brokers: brokers) : nil
        let servers = bootstrap ?? cluster!.bootstrapServers
        let partitions = 12
        if let cluster {
            let topics =
                [Topic.positions, .enrichedPositions, .gpsEvents, .visitEvents, .driverEvents]
                + ApplyChangeEvent.topics
            for topic in topics {
                try cluster.createTopic(topic.name, partitions: partitions, replicationFactor: min(3, brokers))
            }
        }
        print(
            "Kafka bench against \(cluster == nil ? "cluster \(servers)" : "in-process mock cluster, \(brokers) brokers")"
                + ", \(partitions) partitions, replication \(min(3, brokers)), acks=all, idempotent, lz4"
        )
        try await produceThroughput(servers: servers, cluster: cluster)
        if latencySeconds > 0 { try await webhookLatency(servers: servers) }
        withExtendedLifetime(cluster) {}
    }

    private func produceThroughput(servers: String, cluster: KafkaMockCluster?) async throws {
        let logger = Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() })
        let bus = try KafkaEventBus(
            configuration: KafkaConfiguration(
                bootstrapServers: servers,
                partitions: 12,
                replicationFactor: min(3, brokers)
            ),
            logger: logger
        )
        let topic = Topic("bench.produce.\(UInt32.random(in: 0...UInt32.max))")
        try cluster?.createTopic(topic.name, partitions: 12, replicationFactor: min(3, brokers))
        let payload = [UInt8](repeating: UInt8(ascii: "x"), count: payloadBytes)
        let headers = [
            MessageHeader.tenantId: "tenant-bench", MessageHeader.eventType: "position",
            MessageHeader.schemaVersion: "1", MessageHeader.contentType: "application/json",
        ]
        let batchSize = batch
        func makeBatch(_ start: Int) -> [OutgoingMessage] {
            (start..<start + batchSize).map {
                OutgoingMessage(key: "driver-\($0 % 1000)", value: payload, headers: headers)
            }
        }
        try await bus.publish(makeBatch(0), to: topic)  // connects, learns the partitions
        let clock = ContinuousClock()

        // Single confirmed publishes: the latency a webhook pays for durability.
        var singles: [Double] = []
        for i in 0..<500 {
            let start = clock.now
            try await bus.publish([OutgoingMessage(key: "driver-\(i)", value: payload, headers: headers)], to: topic)
            singles.append((clock.now - start).secondsValue * 1000)
        }
        singles.sort()
        print(
            "publish 1 message, confirmed:  p50 \(format(percentile(singles, 0.5))) ms, "
                + "p99 \(format(percentile(singles, 0.99))) ms (500 sequential calls)"
        )

        let rounds = messages / batchSize / publishers
        let start = clock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for p in 0..<publishers {
                group.addTask {
                    for r in 0..<rounds { try await bus.publish(makeBatch((p * rounds + r) * batchSize), to: topic) }
                }
            }
            try await group.waitForAll()
        }
        let elapsed = clock.now - start
        let total = rounds * publishers * batchSize
        let rate = Double(total) / max(elapsed.secondsValue, 1e-9)
        print(
            "produce, confirmed:  \(Int(rate.rounded())) msgs/s (\(total) messages of \(payloadBytes) bytes, "
                + "\(publishers) publishers × batches of \(batchSize), \(Int(elapsed.secondsValue * 1000)) ms; goal ≥ 50,000)"
        )
    }

    private func webhookLatency(servers: String) async throws {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("tracker-kafka-bench-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var configuration = try TrackerConfiguration(overrides: [
            "http.port": .init(.int(0), isSecret: false),
            "tracker.broker": .init(.string("kafka"), isSecret: false),
            "tracker.kafka.brokers": .init(.string(servers), isSecret: false),
            "tracker.kafka.replication": .init(.int(min(3, brokers)), isSecret: false),
            "tracker.data.dir": .init(.string(directory), isSecret: false),
            "tracker.instance.id": .init(.string("bench"), isSecret: false),
        ])
        configuration.logLevel = "error"
        var logger = makeLogger(level: "error")
        logger.logLevel = .error
        let runtime = try await TrackerRuntime.start(configuration: configuration, logger: logger)
        let bus = runtime.system.adapters.bus
        let now = runtime.system.adapters.clock.now()
        let scenario = DemoScenario.make(drivers: drivers, date: CalendarDate(containing: now), now: now)
        try await DemoSeeder.seed(scenario, into: runtime.system, logger: logger)
        let port = PortSignal()
        let http = makeHTTPApplication(system: runtime.system) { port.set($0) }
        let samples = LatencySamples()
        let seconds = latencySeconds
        let secret = configuration.secrets.webhook
        let drivers = drivers
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await http.runService() }
            group.addTask { try await runtime.system.backgroundService().run() }
            let tag = UUID().uuidString.prefix(8)
            let rawSubscription = try await bus.subscribe(
                topics: [.positions],
                group: "bench-raw-\(tag)",
                startAtEnd: true
            )
            let enrichedSubscription = try await bus.subscribe(
                topics: [.enrichedPositions],
                group: "bench-enriched-\(tag)",
                startAtEnd: true
            )
            group.addTask {
                while true {
                    let batch = try await rawSubscription.next(maxCount: 1000)
                    if batch.isEmpty { return }
                    samples.raw.withLock { for m in batch { $0[Self.joinKey(m)] = m.timestamp.millisecondsSinceEpoch } }
                }
            }
            group.addTask {
                while true {
                    let batch = try await enrichedSubscription.next(maxCount: 1000)
                    if batch.isEmpty { return }
                    let received = Int64((Date().timeIntervalSince1970 * 1000).rounded())
                    samples.enriched.withLock {
                        for m in batch { $0[Self.joinKey(m)] = (m.timestamp.millisecondsSinceEpoch, received) }
                    }
                }
            }
            let listening = try await port.wait()
            // Let the tracker's own consumer groups settle (first join of a mock group takes ~3 s).
            try await Task.sleep(for: .seconds(5))
            print("webhook → enriched: \(drivers) drivers × 1 Hz for \(seconds) s through the HTTP webhook")
            let result = await SimulationRunner(
                scenario: scenario,
                // Spread over each second, as Traccar forwards positions as they arrive.
                configuration: .init(
                    url: "http://127.0.0.1:\(listening)",
                    secret: secret,
                    duration: .seconds(seconds),
                    progressEvery: .seconds(3600),
                    slices: min(20, drivers)
                ),
                log: { _ in }
            ).run()
            try await Task.sleep(for: .seconds(3))
            await rawSubscription.close()
            await enrichedSubscription.close()
            let (latencies, enrichHop, consumeHop, rawCount, enrichedCount) = samples.raw.withLock { raw in
                samples.enriched.withLock { enriched -> ([Double], [Double], [Double], Int, Int) in
                    var latencies: [Double] = []
                    var enrichHop: [Double] = []
                    var consumeHop: [Double] = []
                    for (key, produced) in raw {
                        guard let (enrichedAt, received) = enriched[key] else { continue }
                        latencies.append(Double(received - produced))
                        enrichHop.append(Double(enrichedAt - produced))
                        consumeHop.append(Double(received - enrichedAt))
                    }
                    return (latencies.sorted(), enrichHop.sorted(), consumeHop.sorted(), raw.count, enriched.count)
                }
            }
            let stats = result.stats
            print(
                "webhooks posted: \(stats.sent), 2xx \(stats.ok), non-2xx \(stats.rejected), errors \(stats.errors); "
                    + "webhook answer p50 \(format(stats.p50Milliseconds ?? 0)) ms p99 \(format(stats.p99Milliseconds ?? 0)) ms"
            )
            print("raw positions seen \(rawCount), enriched seen \(enrichedCount), joined \(latencies.count)")
            print(
                "webhook → gps.positions.enriched latency: p50 \(format(percentile(latencies, 0.5))) ms, "
                    + "p99 \(format(percentile(latencies, 0.99))) ms, max \(format(latencies.last ?? 0)) ms"
            )
            print(
                "  of which raw produced → enriched produced (enrichment consumer): p50 "
                    + "\(format(percentile(enrichHop, 0.5))) ms, p99 \(format(percentile(enrichHop, 0.99))) ms; "
                    + "enriched produced → consumed: p50 \(format(percentile(consumeHop, 0.5))) ms, "
                    + "p99 \(format(percentile(consumeHop, 0.99))) ms"
            )
            group.cancelAll()
        }
    }

    /// Driver id and fix time: the same in a raw position and its enriched form.
    package static func joinKey(_ message: BusMessage) -> String {
        guard let value = message.value else { return message.key }
        let text = String(decoding: value, as: UTF8.self)
        guard let range = text.range(of: "\"fixTime\":") else { return message.key }
        let rest = text[range.upperBound...]
        let end = rest.firstIndex { $0 == "," || $0 == "}" } ?? rest.endIndex
        return message.key + "|" + rest[..<end]
    }
}

/// Kafka timestamps of raw positions and arrival times of enriched ones, by driver and fix time.
private final class LatencySamples: Sendable {
    let raw = Mutex<[String: Int64]>([:])
    /// Enriched message timestamp and arrival time.
    let enriched = Mutex<[String: (Int64, Int64)]>([:])
}
