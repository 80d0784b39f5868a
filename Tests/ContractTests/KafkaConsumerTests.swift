import Application
import Composition
import Domain
import KafkaAdapters
import KafkaMock
import Logging
import Synchronization
import Testing

/// Consumer behaviour beyond the port contract, on a mock cluster: backpressure, dead-lettering, consumer lag.
@Suite("Kafka consumer (mock cluster)")
struct KafkaConsumerTests {
    static let silent = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    /// With a 50-message buffer, a slow reader makes the subscription pause its partitions and resume them
    /// as it reads: all 1,000 messages arrive, once each, in order.
    @Test func backpressurePausesAndResumes() async throws {
        let cluster = try KafkaMockCluster(brokers: 3)
        let bus = try KafkaEventBus(
            configuration: KafkaConfiguration(
                bootstrapServers: cluster.bootstrapServers,
                partitions: 4,
                replicationFactor: 3,
                properties: KafkaTestCluster.properties,
                maxBufferedMessages: 50
            ),
            logger: Self.silent
        )
        let topic = Topic("backpressure")
        try await bus.publish(
            (0..<1000).map { OutgoingMessage(key: "one-key", value: Array("one-key#\($0)".utf8)) },
            to: topic
        )
        let subscription = try await bus.subscribe(topics: [topic], group: "slow-reader", startAtEnd: false)
        try await Task.sleep(for: .seconds(1))  // the buffer fills and the partition is paused
        #expect((subscription as? KafkaEventSubscription)?.isPaused == true, "paused with a full buffer")
        var received: [Int] = []
        let deadline = ContinuousClock.now + .seconds(30)
        while received.count < 1000, ContinuousClock.now < deadline {
            let batch = try await subscription.next(maxCount: 20)
            received += batch.compactMap {
                Int(String(decoding: $0.value ?? [], as: UTF8.self).split(separator: "#").last ?? "")
            }
            try await subscription.commit(batch)
        }
        let resumeDeadline = ContinuousClock.now + .seconds(2)
        while (subscription as? KafkaEventSubscription)?.isPaused == true, ContinuousClock.now < resumeDeadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect((subscription as? KafkaEventSubscription)?.isPaused == false, "resumed once drained")
        await subscription.close()
        #expect(received == Array(0..<1000), "received \(received.count), in order: \(received == received.sorted())")
    }

    /// `tracker_kafka_consumer_lag{group,topic}` counts what this member has not committed, received or not:
    /// 30 published, 10 taken without a commit, then 10 committed, then all; 0 once everything is committed.
    @Test func consumerLagCountsWhatIsNotCommitted() async throws {
        PrometheusExport.bootstrapOnce()
        let cluster = try KafkaMockCluster(brokers: 3)
        let bus = try KafkaTestCluster.makeBus(cluster)
        let topic = Topic("lagging")
        try await bus.publish(
            (0..<30).map { OutgoingMessage(key: "k\($0 % 3)", value: Array("\($0)".utf8)) },
            to: topic
        )
        let subscription = try await bus.subscribe(topics: [topic], group: "lag-reader", startAtEnd: false)
        func lag() -> Int? {
            let prefix = #"tracker_kafka_consumer_lag{group="lag-reader",topic="lagging"} "#
            let line = PrometheusExport.render().split(separator: "\n").first { $0.hasPrefix(prefix) }
            return line.flatMap { Double($0.dropFirst(prefix.count)) }.map { Int($0) }
        }
        func waitForLag(_ expected: Int) async throws -> Int? {
            let deadline = ContinuousClock.now + .seconds(10)
            while lag() != expected, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(100)) }
            return lag()
        }
        var taken: [BusMessage] = []
        let deadline = ContinuousClock.now + .seconds(20)
        while taken.count < 30, ContinuousClock.now < deadline { taken += try await subscription.next(maxCount: 30) }
        #expect(taken.count == 30)
        #expect(try await waitForLag(30) == 30, "everything received, nothing committed")
        // Offsets per partition: committing the first 10 received commits them (and nothing else).
        try await subscription.commit(Array(taken.prefix(10)))
        #expect(try await waitForLag(20) == 20, "10 committed")
        try await subscription.commit(taken)
        #expect(try await waitForLag(0) == 0, "caught up")
        await subscription.close()
    }

    /// A message that keeps failing goes to `<topic>.dlq` with why and where it came from; the loop goes on.
    @Test func poisonMessageIsDeadLettered() async throws {
        let cluster = try KafkaMockCluster(brokers: 3)
        let bus = try KafkaTestCluster.makeBus(cluster)
        let topic = Topic("with-poison")
        try await bus.publish(
            ["good-1", "poison", "good-2"].map { OutgoingMessage(key: $0, value: Array($0.utf8)) },
            to: topic
        )
        let handled = Mutex<[String]>([])
        let loop = ConsumerLoop(
            bus: bus,
            configuration: .init(topics: [topic], group: "poison-group", maxAttempts: 2, retryDelay: .milliseconds(10)),
            logger: Self.silent
        ) { batch in
            if batch.contains(where: { $0.key == "poison" }) { throw StoreError(.conflict, detail: "always fails") }
            handled.withLock { $0 += batch.map(\.key) }
        }
        let running = Task { try await loop.run() }
        let dlq = try await bus.subscribe(topics: [topic.deadLetter], group: "dlq-reader", startAtEnd: false)
        var parked: [BusMessage] = []
        let deadline = ContinuousClock.now + .seconds(30)
        while parked.isEmpty, ContinuousClock.now < deadline { parked += try await dlq.next(maxCount: 10) }
        while handled.withLock({ $0.count }) < 2, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        running.cancel()
        await dlq.close()
        #expect(parked.map(\.key) == ["poison"])
        let headers = parked.first?.headers ?? [:]
        #expect(headers[MessageHeader.dlqSourceTopic] == topic.name)
        #expect(headers[MessageHeader.dlqSourcePartition] != nil && headers[MessageHeader.dlqSourceOffset] != nil)
        #expect(
            headers[MessageHeader.dlqReason]?.contains("conflict") == true,
            "reason: \(headers[MessageHeader.dlqReason] ?? "none")"
        )
        #expect(Set(handled.withLock { $0 }) == ["good-1", "good-2"], "consumption continued past the poison message")
    }
}
