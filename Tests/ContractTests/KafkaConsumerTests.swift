import Application
import Domain
import KafkaAdapters
import KafkaMock
import Logging
import Synchronization
import Testing

/// Consumer behaviour beyond the port contract, on a mock cluster: backpressure and dead-lettering.
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
