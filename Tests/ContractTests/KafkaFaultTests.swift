import Application
import KafkaAdapters
import KafkaMock
import Synchronization
import Testing

/// Faults injected into a 3-broker mock cluster while messages stream through a `KafkaEventBus`: a broker
/// going down, partition leaders moving, produce and commit requests failing. Each test has its own cluster.
///
/// Invariants: every message whose `publish` returned is consumed (none lost), and the consumer keeps going
/// without being restarted.
@Suite("Kafka faults (mock cluster)")
struct KafkaFaultTests {
    /// What a streaming run saw.
    final class Ledger: Sendable {
        let confirmed = Mutex<Set<Int>>([])
        let consumed = Mutex<[Int]>([])
        let failedPublishes = Mutex<Int>(0)
    }

    static let topic = "fault.stream"
    static let partitions = 4

    private static func sequence(_ message: BusMessage) -> Int? {
        guard let value = message.value else { return nil }
        return Int(String(decoding: value, as: UTF8.self).split(separator: "#").last ?? "")
    }

    /// Publishes `batches` batches of 20 while one subscription consumes and commits; runs `fault` after a
    /// third of the batches, then waits until every confirmed message was consumed (or 60 s).
    private func stream(
        cluster: KafkaMockCluster,
        batches: Int = 60,
        fault: @Sendable () async throws -> Void
    ) async throws -> Ledger {
        try cluster.createTopic(Self.topic, partitions: Self.partitions, replicationFactor: 3)
        let bus = try KafkaTestCluster.makeBus(cluster)
        let ledger = Ledger()
        let subscription = try await bus.subscribe(topics: [Topic(Self.topic)], group: "fault-group", startAtEnd: false)
        let consumer = Task {
            while !Task.isCancelled {
                let batch = try await subscription.next(maxCount: 200)
                if batch.isEmpty { return }
                ledger.consumed.withLock { $0 += batch.compactMap(Self.sequence) }
                try? await subscription.commit(batch)
            }
        }
        for batch in 0..<batches {
            if batch == batches / 3 { try await fault() }
            let messages = (0..<20).map { i in
                let seq = batch * 20 + i
                return OutgoingMessage(
                    key: "key-\(seq % 16)",
                    value: Array("key-\(seq % 16)#\(seq)".utf8),
                    headers: [MessageHeader.tenantId: "fault"]
                )
            }
            do {
                try await bus.publish(messages, to: Topic(Self.topic))
                ledger.confirmed.withLock {
                    $0.formUnion(
                        messages.compactMap {
                            Int(String(decoding: $0.value!, as: UTF8.self).split(separator: "#").last!)
                        }
                    )
                }
            } catch {
                ledger.failedPublishes.withLock { $0 += 1 }
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(60)
        while clock.now < deadline {
            let missing = ledger.confirmed.withLock { confirmed in
                ledger.consumed.withLock { confirmed.subtracting($0).count }
            }
            if missing == 0 { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        consumer.cancel()
        await subscription.close()
        _ = await consumer.result
        return ledger
    }

    private func expectNothingLost(_ ledger: Ledger, batches: Int = 60, _ fault: String) {
        let confirmed = ledger.confirmed.withLock { $0 }
        let consumed = Set(ledger.consumed.withLock { $0 })
        let lost = confirmed.subtracting(consumed)
        #expect(
            lost.isEmpty,
            "\(fault): \(lost.count) confirmed messages never consumed, e.g. \(lost.sorted().prefix(5))"
        )
        #expect(confirmed.count > batches * 20 / 2, "\(fault): only \(confirmed.count) messages confirmed")
        // The consumer resumed: messages published after the fault (the last batches) were consumed.
        #expect(
            consumed.contains(batches * 20 - 1) || !confirmed.contains(batches * 20 - 1),
            "\(fault): the last message was confirmed but the consumer did not get there"
        )
    }

    /// A broker goes down mid-stream for 3 s (its partitions and possibly the group coordinator vanish) and
    /// comes back: publishes wait and succeed, the consumer carries on.
    @Test func brokerDownMidStream() async throws {
        let cluster = try KafkaMockCluster(brokers: 3)
        let ledger = try await stream(cluster: cluster) {
            try cluster.setBrokerDown(1)
            try await Task.sleep(for: .seconds(3))
            try cluster.setBrokerUp(1)
        }
        expectNothingLost(ledger, "broker 1 down for 3 s")
    }

    /// Every partition's leader moves to another broker mid-stream: clients follow through metadata.
    @Test func leaderChange() async throws {
        let cluster = try KafkaMockCluster(brokers: 3)
        let ledger = try await stream(cluster: cluster) {
            for partition in 0..<Self.partitions {
                try cluster.setPartitionLeader(topic: Self.topic, partition: partition, broker: 3 - partition % 2)
            }
        }
        expectNothingLost(ledger, "leaders moved")
    }

    /// Produce requests fail with retriable errors and a dropped connection: the idempotent producer retries
    /// without losing or duplicating a message.
    @Test func injectedProduceErrors() async throws {
        let cluster = try KafkaMockCluster(brokers: 3)
        let ledger = try await stream(cluster: cluster) {
            cluster.pushRequestErrors(
                .produce,
                errors: [
                    .notLeaderForPartition, .notEnoughReplicas, .requestTimedOut, .transport,
                    .notEnoughReplicasAfterAppend, .notEnoughReplicas,
                ]
            )
        }
        expectNothingLost(ledger, "produce errors")
        #expect(ledger.failedPublishes.withLock { $0 } == 0, "retriable produce errors surfaced to publish")
        let consumed = ledger.consumed.withLock { $0 }
        #expect(
            Set(consumed).count == consumed.count || consumed.count - Set(consumed).count < 20,
            "idempotent producer: \(consumed.count - Set(consumed).count) duplicates"
        )
    }

    /// Offset commits fail a few times: `commit` retries, and a new member resumes after the commit rather
    /// than from the start (nothing lost, nothing committed twice lost).
    @Test func injectedCommitErrors() async throws {
        let cluster = try KafkaMockCluster(brokers: 3)
        let topic = Topic("fault.commit")
        try cluster.createTopic(topic.name, partitions: 1, replicationFactor: 3)
        let bus = try KafkaTestCluster.makeBus(cluster)
        let messages = (0..<20).map { OutgoingMessage(key: "k", value: Array("k#\($0)".utf8)) }
        try await bus.publish(messages, to: topic)
        let first = try await bus.subscribe(topics: [topic], group: "commit-group", startAtEnd: false)
        var received: [BusMessage] = []
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(20)
        while received.count < 10, clock.now < deadline {
            received += try await first.next(maxCount: 10 - received.count)
        }
        #expect(received.compactMap(Self.sequence) == Array(0..<10))
        cluster.pushRequestErrors(
            .offsetCommit,
            errors: [.requestTimedOut, .notCoordinator, .coordinatorLoadInProgress]
        )
        try await first.commit(received)
        await first.close()
        let second = try await bus.subscribe(topics: [topic], group: "commit-group", startAtEnd: false)
        var again: [BusMessage] = []
        while again.count < 10, clock.now < deadline + .seconds(20) {
            again += try await second.next(maxCount: 10 - again.count)
        }
        #expect(again.compactMap(Self.sequence) == Array(10..<20), "resumes after the commit that met errors")
        await second.close()
    }
}
