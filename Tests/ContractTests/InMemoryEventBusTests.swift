import AdapterSupport
import Application
import Domain
import InMemoryAdapters
import Testing

@Suite("InMemoryEventBus")
struct InMemoryEventBusTests {
    /// Keys that land on each of `partitions` partitions, one per partition.
    private func keyPerPartition(_ partitions: Int) -> [Int: String] {
        var keys: [Int: String] = [:]
        var n = 0
        while keys.count < partitions {
            let key = "key-\(n)"
            let partition = Partitioner.partition(forKey: key, partitions: partitions)
            if keys[partition] == nil { keys[partition] = key }
            n += 1
        }
        return keys
    }

    private func drain(_ subscription: InMemoryEventSubscription, count: Int) async throws -> [BusMessage] {
        var received: [BusMessage] = []
        while received.count < count {
            let batch = try await subscription.next(maxCount: count - received.count)
            if batch.isEmpty { break }
            received += batch
        }
        return received
    }

    /// 20 simulated seconds at 1,000 messages/s with a committing consumer never retain more than the limit.
    @Test func memoryStaysBoundedWhenConsumersCommit() async throws {
        let clock = ManualWallClock(Timestamp(millisecondsSinceEpoch: 1_710_460_800_000))
        let bus = InMemoryEventBus(partitions: 8, maxMessagesPerTopic: 1_000, clock: clock)
        let topic: Topic = "load"
        let consumer = try bus.join(topics: [topic], group: "enrichment", startAtEnd: false)
        var peak = 0
        var lastSeq: [String: Int] = [:]
        var inOrder = true
        for tick in 0..<200 {
            clock.advance(by: .milliseconds(100))
            let batch = (0..<100).map { n in
                OutgoingMessage(key: "driver-\(n % 37)", value: Array(String(tick * 100 + n).utf8))
            }
            try await bus.publish(batch, to: topic)
            peak = max(peak, bus.retainedMessageCount(in: topic))
            let received = try await drain(consumer, count: 100)
            #expect(received.count == 100)
            for message in received {
                let seq = Int(String(decoding: message.value ?? [], as: UTF8.self)) ?? -1
                if seq <= lastSeq[message.key, default: -1] { inOrder = false }
                lastSeq[message.key] = seq
            }
            try await consumer.commit(received)
        }
        #expect(peak <= 1_100, "retained at most the limit plus one publish")
        #expect(bus.retainedMessageCount(in: topic) <= 1_000)
        #expect(inOrder, "per-key order kept through trimming")
        await consumer.close()
    }

    /// A group that never commits cannot make the bus grow past the limit; it continues from the earliest
    /// retained message.
    @Test func memoryStaysBoundedWithStalledGroup() async throws {
        let bus = InMemoryEventBus(partitions: 4, maxMessagesPerTopic: 500)
        let topic: Topic = "stalled"
        let stalled = try bus.join(topics: [topic], group: "stalled", startAtEnd: false)
        for round in 0..<50 {
            try await bus.publish(
                (0..<100).map { OutgoingMessage(key: "k\($0 % 10)", value: Array("\(round * 100 + $0)".utf8)) },
                to: topic
            )
            #expect(bus.retainedMessageCount(in: topic) <= 500)
        }
        let received = try await drain(stalled, count: 500)
        #expect(received.count == 500)
        let values = received.compactMap { Int(String(decoding: $0.value ?? [], as: UTF8.self)) }
        #expect(values.min() ?? 0 >= 4_500, "only the newest messages are retained")
        await stalled.close()
    }

    /// Three members split eight partitions 3/3/2; when one leaves, the others take its partitions over and
    /// receive what it had not committed; a new member brings the split back to 3/3/2.
    @Test func rebalanceWithThreeMembers() async throws {
        let bus = InMemoryEventBus(partitions: 8)
        let topic: Topic = "rebalance"
        let members = try (0..<3).map { _ in try bus.join(topics: [topic], group: "g", startAtEnd: false) }
        let assigned = members.map { $0.assignedPartitions[topic] ?? [] }
        #expect(assigned.map(\.count).sorted() == [2, 3, 3])
        #expect(Set(assigned.flatMap { $0 }) == Set(0..<8))
        #expect(assigned.flatMap { $0 }.count == 8, "disjoint")

        let keys = keyPerPartition(8)
        try await bus.publish((0..<8).map { OutgoingMessage(key: keys[$0]!, value: Array("p\($0)".utf8)) }, to: topic)
        var received: [[BusMessage]] = []
        for (index, member) in members.enumerated() {
            let messages = try await drain(member, count: assigned[index].count)
            #expect(Set(messages.map(\.partition)) == Set(assigned[index]), "member \(index) gets its partitions")
            received.append(messages)
        }
        try await members[0].commit(received[0])
        try await members[2].commit(received[2])
        await members[1].close()
        #expect(members[1].assignedPartitions.isEmpty)
        let remaining = [members[0], members[2]].map { Set($0.assignedPartitions[topic] ?? []) }
        #expect(remaining.map(\.count) == [4, 4] && remaining[0].union(remaining[1]) == Set(0..<8))
        var redelivered: [BusMessage] = []
        for (index, member) in [members[0], members[2]].enumerated() {
            let taken = remaining[index].intersection(assigned[1])
            redelivered += try await drain(member, count: taken.count)
        }
        #expect(Set(redelivered.map(\.partition)) == Set(assigned[1]), "the leaver's uncommitted messages")
        #expect(Set(redelivered.map(\.offset)) == [0])

        let fourth = try bus.join(topics: [topic], group: "g", startAtEnd: false)
        #expect(
            [members[0], members[2], fourth].map { $0.assignedPartitions[topic]?.count ?? 0 }.sorted() == [2, 3, 3]
        )
        for member in [members[0], members[2], fourth] { await member.close() }
    }

    /// Dropping a subscription without closing it leaves the group.
    @Test func droppedSubscriptionLeaves() async throws {
        let bus = InMemoryEventBus(partitions: 8)
        let topic: Topic = "dropped"
        let keeper = try bus.join(topics: [topic], group: "g", startAtEnd: false)
        do {
            let dropped = try bus.join(topics: [topic], group: "g", startAtEnd: false)
            #expect(dropped.assignedPartitions[topic]?.count == 4)
            #expect(keeper.assignedPartitions[topic]?.count == 4)
        }
        #expect(keeper.assignedPartitions[topic]?.count == 8)
        await keeper.close()
    }

    /// Closing the bus wakes pending `next` calls with `[]` and refuses further use.
    @Test func closingTheBus() async throws {
        let bus = InMemoryEventBus()
        let subscription = try bus.join(topics: ["closing"], group: "g", startAtEnd: false)
        let pending = Task { try await subscription.next(maxCount: 1) }
        try await Task.sleep(for: .milliseconds(20))
        bus.close()
        #expect(try await pending.value == [])
        await #expect(throws: StoreError(.closed)) {
            try await bus.publish([OutgoingMessage(key: "k", value: nil)], to: "closing")
        }
        await #expect(throws: StoreError(.closed)) {
            try await bus.subscribe(topics: ["closing"], group: "g", startAtEnd: false)
        }
        await #expect(throws: StoreError(.closed)) { try await subscription.commit([]) }
    }

    /// Messages carry the clock's time, and committed offsets are visible per partition.
    @Test func timestampsAndCommittedOffsets() async throws {
        let clock = ManualWallClock(Timestamp(millisecondsSinceEpoch: 42_000))
        let bus = InMemoryEventBus(partitions: 2, clock: clock)
        try await bus.publish([OutgoingMessage(key: "k", value: [1])], to: "stamped")
        let subscription = try bus.join(topics: ["stamped"], group: "g", startAtEnd: false)
        let received = try await drain(subscription, count: 1)
        #expect(received.first?.timestamp == Timestamp(millisecondsSinceEpoch: 42_000))
        try await subscription.commit(received)
        let partition = Partitioner.partition(forKey: "k", partitions: 2)
        #expect(bus.committedOffsets(group: "g", topic: "stamped") == [partition: 1])
        await subscription.close()
    }
}
