public import Application
import Domain
import Testing

/// The rules every `EventBus` adapter keeps, as one reusable suite: delivery of keys, values, headers and
/// tombstones, stable partitioning (across two bus instances too), per-key order, consumer groups,
/// at-least-once redelivery, commits, `startAtEnd`, and `next` returning `[]` on close and cancellation.
///
/// `make` is called once per rule (twice for partitioning). Topics and groups are unique per run, so a
/// shared broker works. Waits are bounded by `capabilities.deliveryTimeout`; "nothing more arrives" is
/// concluded after `capabilities.quietPeriod`.
public struct EventBusContract: Sendable {
    /// What the adapter under test does differently from the in-memory reference, and its timing.
    public struct Capabilities: Sendable {
        /// The partition count of topics the bus creates. When set, every message must land on
        /// `Partitioner.partition(forKey:partitions:)`; when `1`, the group-split rule cannot expect
        /// both members to receive messages.
        public var partitionsPerTopic: Int?
        /// How long to wait for messages that must arrive.
        public var deliveryTimeout: Duration
        /// How long to wait before concluding that no further message arrives.
        public var quietPeriod: Duration

        /// Declares the adapter's capabilities.
        public init(
            partitionsPerTopic: Int? = nil,
            deliveryTimeout: Duration = .seconds(10),
            quietPeriod: Duration = .milliseconds(300)
        ) {
            self.partitionsPerTopic = partitionsPerTopic
            self.deliveryTimeout = deliveryTimeout
            self.quietPeriod = quietPeriod
        }
    }

    private let capabilities: Capabilities
    private let make: @Sendable () async throws -> any EventBus

    /// Creates the suite for buses built by `make`.
    public init(capabilities: Capabilities = .init(), make: @escaping @Sendable () async throws -> any EventBus) {
        self.capabilities = capabilities
        self.make = make
    }

    /// Runs every rule, recording a Swift Testing issue per violation.
    public func run() async throws {
        await runRules(
            "EventBus",
            [
                ("publishThenConsume", publishThenConsume),
                ("perKeyOrder", perKeyOrder),
                ("stablePartitioning", stablePartitioning),
                ("groupsAreIndependent", groupsAreIndependent),
                ("partitionsSplitWithinGroup", partitionsSplitWithinGroup),
                ("uncommittedRedeliveredAfterClose", uncommittedRedeliveredAfterClose),
                ("uncommittedRedeliveredToLiveMember", uncommittedRedeliveredToLiveMember),
                ("groupResumesAfterCommit", groupResumesAfterCommit),
                ("lowerCommitIgnored", lowerCommitIgnored),
                ("startAtEnd", startAtEnd),
                ("nextReturnsEmptyOnClose", nextReturnsEmptyOnClose),
                ("nextReturnsEmptyOnCancellation", nextReturnsEmptyOnCancellation),
                ("maxCountRespected", maxCountRespected),
                ("severalTopics", severalTopics),
            ]
        )
    }
}

// MARK: - Fixtures

private struct Fixtures {
    let tag = RunTag()

    func topic(_ name: String) -> Topic { Topic("contract.\(tag).\(name)") }
    func group(_ name: String) -> String { "contract-\(tag)-\(name)" }

    /// A message whose value is `key#seq`.
    func message(_ key: String, _ seq: Int, headers: [String: String] = [:]) -> OutgoingMessage {
        OutgoingMessage(key: key, value: Array("\(key)#\(seq)".utf8), headers: headers)
    }

    /// `count` messages with one key, sequence numbers `from..<from + count`.
    func messages(_ key: String, from: Int = 0, count: Int) -> [OutgoingMessage] {
        (from..<from + count).map { message(key, $0) }
    }
}

/// The sequence number of a fixture message.
private func seq(_ message: BusMessage) -> Int? {
    guard let value = message.value, let text = String(validating: value, as: UTF8.self),
        let hash = text.lastIndex(of: "#")
    else { return nil }
    return Int(text[text.index(after: hash)...])
}

/// Where a message is in its topic.
private struct Position: Hashable {
    var topic: Topic
    var partition: Int
    var offset: Int64

    init(_ message: BusMessage) {
        topic = message.topic
        partition = message.partition
        offset = message.offset
    }
}

// MARK: - Receiving

extension EventBusContract {
    /// Receives until `done` holds for everything received, `next` returns `[]`, or the delivery timeout passes.
    private func receive(
        _ subscription: any EventSubscription,
        maxCount: Int = 500,
        until done: ([BusMessage]) -> Bool
    ) async throws -> [BusMessage] {
        let clock = ContinuousClock()
        let deadline = clock.now + capabilities.deliveryTimeout
        var received: [BusMessage] = []
        while !done(received) {
            let remaining = deadline - clock.now
            guard remaining > .zero else { break }
            let batch = try await withDeadline(remaining) { try await subscription.next(maxCount: maxCount) } ?? []
            if batch.isEmpty { break }
            received += batch
        }
        return received
    }

    /// Receives `count` messages (fewer if they do not arrive in time).
    private func receive(_ subscription: any EventSubscription, count: Int) async throws -> [BusMessage] {
        try await receive(subscription, maxCount: count) { $0.count >= count }
    }

    /// Receives whatever arrives until the bus stays quiet for `quietPeriod`.
    private func drain(_ subscription: any EventSubscription) async throws -> [BusMessage] {
        var received: [BusMessage] = []
        while true {
            let batch =
                try await withDeadline(capabilities.quietPeriod) {
                    try await subscription.next(maxCount: 500)
                } ?? []
            if batch.isEmpty { return received }
            received += batch
        }
    }

    /// Receives on several members of a group at once until `total` messages arrived in all, then drains
    /// each member so extra deliveries show up.
    private func collect(_ members: [any EventSubscription], total: Int) async throws -> [[BusMessage]] {
        let clock = ContinuousClock()
        let deadline = clock.now + capabilities.deliveryTimeout
        let quiet = capabilities.quietPeriod
        var received = Array(repeating: [BusMessage](), count: members.count)
        while received.map(\.count).reduce(0, +) < total, clock.now < deadline {
            let round = try await withThrowingTaskGroup(of: (Int, [BusMessage]).self) { group in
                for (index, member) in members.enumerated() {
                    group.addTask {
                        (index, try await withDeadline(quiet) { try await member.next(maxCount: 500) } ?? [])
                    }
                }
                var batches = Array(repeating: [BusMessage](), count: members.count)
                for try await (index, batch) in group { batches[index] = batch }
                return batches
            }
            for index in round.indices { received[index] += round[index] }
        }
        for (index, member) in members.enumerated() { received[index] += try await drain(member) }
        return received
    }

    /// Whether `next` returns within the delivery timeout, and what.
    private func nextPromptly(_ subscription: any EventSubscription) async throws -> (returned: Bool, [BusMessage]) {
        let clock = ContinuousClock()
        let start = clock.now
        let result = try await withDeadline(capabilities.deliveryTimeout) { try await subscription.next(maxCount: 10) }
        return (clock.now - start < capabilities.deliveryTimeout, result ?? [])
    }
}

// MARK: - Rules

extension EventBusContract {
    /// A new group receives every published message with its topic, key, value (tombstones as `nil`) and
    /// headers, offsets increasing per partition.
    private func publishThenConsume() async throws {
        let bus = try await make()
        let f = Fixtures()
        let topic = f.topic("basic")
        let sent = [
            f.message("k1", 0, headers: [MessageHeader.tenantId: "tenant-1", MessageHeader.eventType: "test"]),
            f.message("k2", 1),
            OutgoingMessage(key: "k3", value: nil, headers: ["__op": "d"]),
            f.message("k1", 3, headers: [MessageHeader.contentType: "application/json"]),
            OutgoingMessage(key: "k4", value: [], headers: [:]),
        ]
        try await bus.publish(sent, to: topic)
        let subscription = try await bus.subscribe(topics: [topic], group: f.group("basic"), startAtEnd: false)
        let received = try await receive(subscription, count: sent.count)
        #expect(received.count == sent.count, "op: publish/next, key: \(sent.count) messages")
        for message in sent {
            let match = received.first { $0.key == message.key && $0.value == message.value }
            #expect(match != nil, "op: next, key: \(message.key) value delivered")
            #expect(match?.topic == topic, "op: next, key: \(message.key) topic")
            for (name, value) in message.headers {
                #expect(match?.headers[name] == value, "op: next, key: \(message.key) header \(name)")
            }
        }
        #expect(received.contains { $0.key == "k3" && $0.value == nil }, "op: next, key: tombstone value is nil")
        for partition in Set(received.map(\.partition)) {
            let offsets = received.filter { $0.partition == partition }.map(\.offset)
            #expect(
                offsets == offsets.sorted() && Set(offsets).count == offsets.count,
                "op: next, key: offsets increase in partition \(partition)"
            )
        }
        if let partitions = capabilities.partitionsPerTopic {
            #expect(received.allSatisfy { (0..<partitions).contains($0.partition) }, "op: next, key: partition range")
        }
        try await subscription.commit(received)
        await subscription.close()
    }

    /// Messages with the same key are delivered in publish order, across publish calls.
    private func perKeyOrder() async throws {
        let bus = try await make()
        let f = Fixtures()
        let topic = f.topic("order")
        let keys = ["alpha", "bravo", "charlie", "delta"]
        for batch in 0..<10 {
            let messages = (0..<3).flatMap { step in keys.map { f.message($0, batch * 3 + step) } }
            try await bus.publish(messages, to: topic)
        }
        let subscription = try await bus.subscribe(topics: [topic], group: f.group("order"), startAtEnd: false)
        let received = try await receive(subscription, count: 120)
        for key in keys {
            #expect(received.filter { $0.key == key }.compactMap(seq) == Array(0..<30), "op: next order, key: \(key)")
        }
        await subscription.close()
    }

    /// A key's partition is the same on every publish and on another bus instance (and, when the partition
    /// count is declared, the one `Partitioner` computes).
    private func stablePartitioning() async throws {
        let f = Fixtures()
        let keys = (0..<40).map { "driver-\($0)" }
        let first = try await make()
        let second = try await make()
        let topicA = f.topic("stable-a")
        let topicB = f.topic("stable-b")
        try await first.publish(keys.enumerated().map { f.message($1, $0) }, to: topicA)
        try await first.publish(keys.enumerated().map { f.message($1, 100 + $0) }, to: topicA)
        try await second.publish(keys.enumerated().map { f.message($1, $0) }, to: topicB)
        let subscriptionA = try await first.subscribe(topics: [topicA], group: f.group("stable"), startAtEnd: false)
        let subscriptionB = try await second.subscribe(topics: [topicB], group: f.group("stable"), startAtEnd: false)
        let receivedA = try await receive(subscriptionA, count: 80)
        let receivedB = try await receive(subscriptionB, count: 40)
        #expect(receivedA.count == 80 && receivedB.count == 40, "op: next, key: all delivered")
        let partitionsA = Dictionary(grouping: receivedA, by: \.key).mapValues { Set($0.map(\.partition)) }
        let partitionsB = Dictionary(grouping: receivedB, by: \.key).mapValues { Set($0.map(\.partition)) }
        for key in keys {
            #expect(partitionsA[key]?.count == 1, "op: publish twice, key: \(key) on one partition")
            #expect(partitionsA[key] == partitionsB[key], "op: publish on two instances, key: \(key) same partition")
            if let partitions = capabilities.partitionsPerTopic {
                #expect(
                    partitionsA[key] == [Partitioner.partition(forKey: key, partitions: partitions)],
                    "op: publish, key: \(key) on Partitioner's partition"
                )
            }
        }
        await subscriptionA.close()
        await subscriptionB.close()
    }

    /// Each group sees every message; one group's commits do not move another.
    private func groupsAreIndependent() async throws {
        let bus = try await make()
        let f = Fixtures()
        let topic = f.topic("groups")
        try await bus.publish((0..<10).map { f.message("key-\($0)", $0) }, to: topic)
        let one = try await bus.subscribe(topics: [topic], group: f.group("one"), startAtEnd: false)
        let receivedOne = try await receive(one, count: 10)
        try await one.commit(receivedOne)
        let two = try await bus.subscribe(topics: [topic], group: f.group("two"), startAtEnd: false)
        let receivedTwo = try await receive(two, count: 10)
        #expect(Set(receivedOne.compactMap(seq)) == Set(0..<10), "op: next, key: group one sees all")
        #expect(
            Set(receivedTwo.compactMap(seq)) == Set(0..<10),
            "op: next, key: group two sees all despite one's commit"
        )
        try await bus.publish((10..<15).map { f.message("key-\($0)", $0) }, to: topic)
        #expect(Set(try await receive(one, count: 5).compactMap(seq)) == Set(10..<15), "op: next, key: group one new")
        #expect(Set(try await receive(two, count: 5).compactMap(seq)) == Set(10..<15), "op: next, key: group two new")
        await one.close()
        await two.close()
    }

    /// Within a group each partition goes to one member: every message reaches exactly one member, and with
    /// several partitions both members get some.
    private func partitionsSplitWithinGroup() async throws {
        let bus = try await make()
        let f = Fixtures()
        let topic = f.topic("split")
        let group = f.group("split")
        let first = try await bus.subscribe(topics: [topic], group: group, startAtEnd: false)
        let second = try await bus.subscribe(topics: [topic], group: group, startAtEnd: false)
        let keys = (0..<64).map { "key-\($0)" }
        try await bus.publish(keys.enumerated().map { f.message($1, $0) }, to: topic)
        let received = try await collect([first, second], total: keys.count)
        let all = received[0] + received[1]
        #expect(all.count == keys.count, "op: next in group, key: each message once")
        #expect(Set(all.map(\.key)) == Set(keys), "op: next in group, key: every message")
        #expect(
            Set(received[0].map(\.partition)).isDisjoint(with: received[1].map(\.partition)),
            "op: next in group, key: partitions disjoint"
        )
        if capabilities.partitionsPerTopic != 1 {
            #expect(!received[0].isEmpty && !received[1].isEmpty, "op: next in group, key: both members consume")
        }
        try await first.commit(received[0])
        try await second.commit(received[1])
        await first.close()
        await second.close()
    }

    /// Messages received but not committed are delivered again to the next member of the group, from the
    /// committed offset.
    private func uncommittedRedeliveredAfterClose() async throws {
        let bus = try await make()
        let f = Fixtures()
        let topic = f.topic("redeliver")
        let group = f.group("redeliver")
        try await bus.publish(f.messages("only-key", count: 10), to: topic)
        let first = try await bus.subscribe(topics: [topic], group: group, startAtEnd: false)
        let received = try await receive(first, count: 10)
        #expect(received.compactMap(seq) == Array(0..<10), "op: next, key: first member")
        if received.count == 10 { try await first.commit([received[3]]) }
        await first.close()
        let second = try await bus.subscribe(topics: [topic], group: group, startAtEnd: false)
        let again = try await receive(second, count: 6)
        #expect(again.compactMap(seq) == Array(4..<10), "op: next after close, key: from committed offset")
        #expect(try await drain(second).isEmpty, "op: next after close, key: nothing else")
        await second.close()
    }

    /// When a member leaves, a live member of the group takes its partitions over and receives what the
    /// leaver had not committed.
    private func uncommittedRedeliveredToLiveMember() async throws {
        let bus = try await make()
        let f = Fixtures()
        let topic = f.topic("takeover")
        let group = f.group("takeover")
        let leaver = try await bus.subscribe(topics: [topic], group: group, startAtEnd: false)
        let stayer = try await bus.subscribe(topics: [topic], group: group, startAtEnd: false)
        try await bus.publish((0..<32).map { f.message("key-\($0)", $0) }, to: topic)
        let received = try await collect([leaver, stayer], total: 32)
        try await stayer.commit(received[1])
        await leaver.close()
        let expected = Set(received[0].map(Position.init))
        let again = try await receive(stayer) { expected.isSubset(of: $0.map(Position.init)) }
        #expect(
            expected.isSubset(of: again.map(Position.init)),
            "op: close with uncommitted, key: \(expected.count) redelivered to live member"
        )
        try await stayer.commit(again)
        await stayer.close()
    }

    /// A group resumes after its last commit: a new member receives only what came after.
    private func groupResumesAfterCommit() async throws {
        let bus = try await make()
        let f = Fixtures()
        let topic = f.topic("resume")
        let group = f.group("resume")
        try await bus.publish(f.messages("k", count: 5), to: topic)
        let first = try await bus.subscribe(topics: [topic], group: group, startAtEnd: false)
        try await first.commit(try await receive(first, count: 5))
        await first.close()
        try await bus.publish(f.messages("k", from: 5, count: 3), to: topic)
        let second = try await bus.subscribe(topics: [topic], group: group, startAtEnd: false)
        #expect(
            try await receive(second, count: 3).compactMap(seq) == [5, 6, 7],
            "op: next after commit, key: resumes"
        )
        #expect(try await drain(second).isEmpty, "op: next after commit, key: nothing committed again")
        await second.close()
    }

    /// Committing an offset lower than the committed one is ignored.
    private func lowerCommitIgnored() async throws {
        let bus = try await make()
        let f = Fixtures()
        let topic = f.topic("lower")
        let group = f.group("lower")
        try await bus.publish(f.messages("k", count: 10), to: topic)
        let first = try await bus.subscribe(topics: [topic], group: group, startAtEnd: false)
        let received = try await receive(first, count: 10)
        if received.count == 10 {
            try await first.commit([received[7]])
            try await first.commit([received[2]])
        }
        await first.close()
        let second = try await bus.subscribe(topics: [topic], group: group, startAtEnd: false)
        #expect(try await receive(second, count: 2).compactMap(seq) == [8, 9], "op: commit lower, key: ignored")
        #expect(try await drain(second).isEmpty, "op: commit lower, key: nothing else")
        await second.close()
    }

    /// A new group with `startAtEnd` receives only later messages; without it, from the earliest; an existing
    /// group resumes from its commits either way.
    private func startAtEnd() async throws {
        let bus = try await make()
        let f = Fixtures()
        let topic = f.topic("end")
        try await bus.publish(f.messages("k", count: 5), to: topic)
        let atEnd = try await bus.subscribe(topics: [topic], group: f.group("end"), startAtEnd: true)
        let fromStart = try await bus.subscribe(topics: [topic], group: f.group("start"), startAtEnd: false)
        try await bus.publish(f.messages("k", from: 5, count: 3), to: topic)
        let tail = try await receive(atEnd, count: 3)
        #expect(tail.compactMap(seq) == [5, 6, 7], "op: subscribe startAtEnd, key: only later messages")
        #expect(try await drain(atEnd).isEmpty, "op: subscribe startAtEnd, key: nothing older")
        #expect(
            try await receive(fromStart, count: 8).compactMap(seq) == Array(0..<8),
            "op: subscribe, key: from earliest"
        )
        try await atEnd.commit(tail)
        await atEnd.close()
        await fromStart.close()
        try await bus.publish(f.messages("k", from: 8, count: 2), to: topic)
        let resumed = try await bus.subscribe(topics: [topic], group: f.group("end"), startAtEnd: true)
        #expect(
            try await receive(resumed, count: 2).compactMap(seq) == [8, 9],
            "op: subscribe startAtEnd, key: existing group resumes from commits"
        )
        await resumed.close()
    }

    /// `next` returns `[]` promptly once the subscription is closed, before or during the call.
    private func nextReturnsEmptyOnClose() async throws {
        let bus = try await make()
        let f = Fixtures()
        let topic = f.topic("close")
        let closed = try await bus.subscribe(topics: [topic], group: f.group("closed"), startAtEnd: false)
        await closed.close()
        let (returned, messages) = try await nextPromptly(closed)
        #expect(returned && messages.isEmpty, "op: next after close, key: returns []")

        let waiting = try await bus.subscribe(topics: [topic], group: f.group("waiting"), startAtEnd: false)
        let pending = Task { try await waiting.next(maxCount: 10) }
        try await Task.sleep(for: capabilities.quietPeriod)
        await waiting.close()
        let clock = ContinuousClock()
        let start = clock.now
        let result = try await withDeadline(capabilities.deliveryTimeout) {
            try await withTaskCancellationHandler {
                try await pending.value
            } onCancel: {
                pending.cancel()
            }
        }
        #expect(
            result == [] && clock.now - start < capabilities.deliveryTimeout,
            "op: next during close, key: returns []"
        )
    }

    /// `next` returns `[]` promptly when its task is cancelled, and the subscription stays usable.
    private func nextReturnsEmptyOnCancellation() async throws {
        let bus = try await make()
        let f = Fixtures()
        let topic = f.topic("cancel")
        let subscription = try await bus.subscribe(topics: [topic], group: f.group("cancel"), startAtEnd: false)
        let pending = Task { try await subscription.next(maxCount: 10) }
        try await Task.sleep(for: capabilities.quietPeriod)
        pending.cancel()
        let clock = ContinuousClock()
        let start = clock.now
        let result = try await withDeadline(capabilities.deliveryTimeout) { try await pending.value }
        #expect(
            result == [] && clock.now - start < capabilities.deliveryTimeout,
            "op: next cancelled, key: returns []"
        )
        try await bus.publish([f.message("k", 0)], to: topic)
        #expect(try await receive(subscription, count: 1).compactMap(seq) == [0], "op: next after cancel, key: usable")
        await subscription.close()
    }

    /// `next(maxCount:)` returns between one and `maxCount` messages.
    private func maxCountRespected() async throws {
        let bus = try await make()
        let f = Fixtures()
        let topic = f.topic("max")
        try await bus.publish(f.messages("k", count: 10), to: topic)
        let subscription = try await bus.subscribe(topics: [topic], group: f.group("max"), startAtEnd: false)
        let batch =
            try await withDeadline(capabilities.deliveryTimeout) { try await subscription.next(maxCount: 3) } ?? []
        #expect((1...3).contains(batch.count), "op: next(maxCount: 3), key: batch size \(batch.count)")
        await subscription.close()
    }

    /// One subscription can consume several topics.
    private func severalTopics() async throws {
        let bus = try await make()
        let f = Fixtures()
        let topics = [f.topic("multi-a"), f.topic("multi-b")]
        try await bus.publish(f.messages("a", count: 2), to: topics[0])
        try await bus.publish(f.messages("b", count: 3), to: topics[1])
        let subscription = try await bus.subscribe(topics: topics, group: f.group("multi"), startAtEnd: false)
        let received = try await receive(subscription, count: 5)
        #expect(received.filter { $0.topic == topics[0] }.compactMap(seq) == [0, 1], "op: next, key: \(topics[0])")
        #expect(received.filter { $0.topic == topics[1] }.compactMap(seq) == [0, 1, 2], "op: next, key: \(topics[1])")
        await subscription.close()
    }
}
