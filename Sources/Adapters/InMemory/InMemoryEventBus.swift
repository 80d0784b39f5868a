public import AdapterSupport
public import Application
import Domain
import Synchronization

/// An event bus inside the process: topics split into a fixed number of partitions, consumer groups with
/// committed offsets, at-least-once redelivery and bounded retention. The local-mode and test stand-in for
/// Kafka, keeping every rule of `EventBus`.
///
/// - **Partitioning:** a message goes to `Partitioner.partition(forKey:partitions:)`, like every other bus
///   adapter, so per-key order survives switching adapters.
/// - **Groups:** a group's partitions are split among its live subscriptions (round-robin per topic, in join
///   order) and re-split whenever a subscription joins or leaves. A subscription taking a partition over
///   resumes at the group's committed offset, so messages its previous owner received but did not commit
///   are delivered again.
/// - **`startAtEnd`:** applies the first time a group subscribes to a topic: the group's offsets start at the
///   topic's current end. Afterwards the group resumes from its commits, like Kafka's `latest` reset.
/// - **Retention:** when a publish takes a topic beyond `maxMessagesPerTopic`, the messages every group that
///   reads the topic has committed are dropped; if that is not enough, the oldest messages are dropped
///   regardless (as Kafka's size retention does) and lagging subscriptions continue from the earliest
///   retained message. Memory is therefore bounded by the limit whatever the consumers do.
/// - **Waiting:** `next(maxCount:)` suspends on a continuation that a publish, a rebalance, `close()` or
///   task cancellation resumes; nothing polls.
///
/// Durability is the process's: everything is lost when it exits.
public final class InMemoryEventBus: EventBus {
    /// The partitions of every topic.
    public let partitions: Int
    /// The most messages a topic retains.
    public let maxMessagesPerTopic: Int
    private let core: BusCore

    /// Creates an empty bus.
    ///
    /// - Parameters:
    ///   - partitions: the partition count of every topic, fixed for the bus's lifetime.
    ///   - maxMessagesPerTopic: the retention limit per topic (see the type's documentation).
    ///   - clock: stamps `BusMessage.timestamp`.
    public init(partitions: Int = 8, maxMessagesPerTopic: Int = 100_000, clock: any WallClock = SystemWallClock()) {
        precondition(partitions > 0, "a topic needs at least one partition")
        precondition(maxMessagesPerTopic > 0, "a topic must retain at least one message")
        self.partitions = partitions
        self.maxMessagesPerTopic = maxMessagesPerTopic
        self.core = BusCore(partitions: partitions, maxMessagesPerTopic: maxMessagesPerTopic, clock: clock)
    }

    /// Appends `messages` to `topic` in order. They are durable (for this process) when this returns.
    ///
    /// - Throws: `StoreError.closed` after `close()`.
    public func publish(_ messages: [OutgoingMessage], to topic: Topic) async throws {
        try core.publish(messages, to: topic)
    }

    /// Joins consumer group `group`; see `join(topics:group:startAtEnd:)`.
    public func subscribe(topics: [Topic], group: String, startAtEnd: Bool) async throws -> any EventSubscription {
        try join(topics: topics, group: group, startAtEnd: startAtEnd)
    }

    /// Joins consumer group `group` for `topics`, returning the concrete subscription (which can report its
    /// assigned partitions).
    ///
    /// - Throws: `StoreError.closed` after `close()`.
    public func join(topics: [Topic], group: String, startAtEnd: Bool) throws -> InMemoryEventSubscription {
        var unique: [Topic] = []
        for topic in topics where !unique.contains(topic) { unique.append(topic) }
        let memberID = try core.join(topics: unique, group: group, startAtEnd: startAtEnd)
        return InMemoryEventSubscription(core: core, memberID: memberID, group: group, topics: unique)
    }

    /// Closes the bus: pending and later `next` calls return `[]`; `publish`, `subscribe` and `commit` throw
    /// `StoreError.closed`.
    public func close() {
        core.close()
    }

    /// How many messages `topic` currently retains, over all partitions (for metrics and tests).
    public func retainedMessageCount(in topic: Topic) -> Int {
        core.state.withLock { $0.topics[topic]?.count ?? 0 }
    }

    /// The offsets `group` has committed for `topic`, by partition: the next offset it will consume.
    public func committedOffsets(group: String, topic: Topic) -> [Int: Int64] {
        core.state.withLock { state in
            var offsets: [Int: Int64] = [:]
            for (partition, offset) in state.groups[group]?.committed ?? [:] where partition.topic == topic {
                offsets[partition.partition] = offset
            }
            return offsets
        }
    }
}

/// One member of a consumer group of an `InMemoryEventBus`.
///
/// Dropping the last reference leaves the group as `close()` does, so a forgotten subscription cannot hold
/// its partitions forever.
public final class InMemoryEventSubscription: EventSubscription {
    /// The consumer group this subscription belongs to.
    public let group: String
    /// The topics it consumes.
    public let topics: [Topic]
    private let core: BusCore
    private let memberID: UInt64

    fileprivate init(core: BusCore, memberID: UInt64, group: String, topics: [Topic]) {
        self.core = core
        self.memberID = memberID
        self.group = group
        self.topics = topics
    }

    deinit {
        core.leave(memberID)
    }

    /// The partitions currently assigned to this subscription, by topic, in ascending order; empty once closed.
    public var assignedPartitions: [Topic: [Int]] {
        core.state.withLock { state in
            var result: [Topic: [Int]] = [:]
            for partition in state.members[memberID]?.assigned ?? [] {
                result[partition.topic, default: []].append(partition.partition)
            }
            return result
        }
    }

    /// Waits for messages of the assigned partitions; returns `[]` once closed or when the task is cancelled.
    public func next(maxCount: Int) async throws -> [BusMessage] {
        let maxCount = max(1, maxCount)
        let core = self.core
        let memberID = self.memberID
        let waiterID = core.state.withLock { $0.makeID() }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<[BusMessage], Never>) in
                let immediate: [BusMessage]? = core.state.withLock { state in
                    // Checked under the lock: either the cancellation handler already ran (then the flag is
                    // set) or it runs later and finds the waiter registered below.
                    if Task.isCancelled || state.isClosed || state.members[memberID] == nil { return [] }
                    let messages = state.poll(memberID, maxCount: maxCount)
                    if !messages.isEmpty { return messages }
                    state.waiters[waiterID] = Waiter(
                        memberID: memberID,
                        maxCount: maxCount,
                        continuation: continuation
                    )
                    return nil
                }
                if let immediate { continuation.resume(returning: immediate) }
            }
        } onCancel: {
            let waiter = core.state.withLock { $0.waiters.removeValue(forKey: waiterID) }
            waiter?.continuation.resume(returning: [])
        }
    }

    /// Commits `messages` (and everything before them in their partitions) for the group. Offsets lower than
    /// one already committed are ignored, as are messages of topics this subscription does not consume.
    ///
    /// - Throws: `StoreError.closed` once this subscription or the bus is closed.
    public func commit(_ messages: [BusMessage]) async throws {
        try core.state.withLock { state in
            guard !state.isClosed, let member = state.members[memberID] else {
                throw StoreError.closed("subscription closed")
            }
            for message in messages where member.topics.contains(message.topic) {
                let partition = TopicPartition(topic: message.topic, partition: message.partition)
                let next = message.offset + 1
                if next > state.groups[member.group]?.committed[partition] ?? Int64.min {
                    state.groups[member.group]?.committed[partition] = next
                }
            }
        }
    }

    /// Leaves the group: pending `next` calls return `[]` and the group's other members take the partitions
    /// over from the committed offsets.
    public func close() async {
        core.leave(memberID)
    }
}

// MARK: - State

/// The shared state of a bus and its subscriptions.
private final class BusCore: Sendable {
    let state: Mutex<BusState>
    let partitions: Int
    let maxMessagesPerTopic: Int
    let clock: any WallClock

    init(partitions: Int, maxMessagesPerTopic: Int, clock: any WallClock) {
        self.state = Mutex(BusState())
        self.partitions = partitions
        self.maxMessagesPerTopic = maxMessagesPerTopic
        self.clock = clock
    }

    func publish(_ messages: [OutgoingMessage], to topic: Topic) throws {
        guard !messages.isEmpty else {
            try state.withLock { if $0.isClosed { throw StoreError.closed("bus closed") } }
            return
        }
        let now = clock.now()
        let ready = try state.withLock { state in
            guard !state.isClosed else { throw StoreError.closed("bus closed") }
            state.append(messages, to: topic, at: now, partitions: partitions, limit: maxMessagesPerTopic)
            return state.wakeWaiters()
        }
        ready.resumeAll()
    }

    func join(topics: [Topic], group: String, startAtEnd: Bool) throws -> UInt64 {
        let (memberID, ready) = try state.withLock { state in
            guard !state.isClosed else { throw StoreError.closed("bus closed") }
            let memberID = state.join(topics: topics, group: group, startAtEnd: startAtEnd, partitions: partitions)
            return (memberID, state.wakeWaiters())
        }
        ready.resumeAll()
        return memberID
    }

    func leave(_ memberID: UInt64) {
        let ready = state.withLock { $0.leave(memberID) }
        ready.resumeAll()
    }

    func close() {
        let ready = state.withLock { state in
            state.isClosed = true
            let waiters = state.waiters.values.map { ReadyWaiter(continuation: $0.continuation, messages: []) }
            state.waiters = [:]
            return waiters
        }
        ready.resumeAll()
    }
}

/// The retained messages of one partition: a queue trimmed from the front.
private struct PartitionLog {
    private struct Entry {
        var message: BusMessage
        /// The topic-wide publish order, so retention can drop the oldest messages across partitions.
        var sequence: UInt64
    }

    private var entries: [Entry] = []
    /// Index in `entries` of the first retained message; the slots before it are compacted lazily.
    private var head = 0
    /// The offset of the first retained message.
    private(set) var startOffset: Int64 = 0

    var count: Int { entries.count - head }
    var endOffset: Int64 { startOffset + Int64(count) }

    /// The publish sequence of the first retained message.
    var oldestSequence: UInt64? { count > 0 ? entries[head].sequence : nil }

    mutating func append(_ message: BusMessage, sequence: UInt64) {
        entries.append(Entry(message: message, sequence: sequence))
    }

    func message(at offset: Int64) -> BusMessage {
        entries[head + Int(offset - startOffset)].message
    }

    func sequence(at offset: Int64) -> UInt64 {
        entries[head + Int(offset - startOffset)].sequence
    }

    /// Drops the messages below `offset`, returning how many.
    mutating func trim(below offset: Int64) -> Int {
        let target = min(offset, endOffset)
        guard target > startOffset else { return 0 }
        let removed = Int(target - startOffset)
        head += removed
        startOffset = target
        // Compact once the dropped slots are at least half of the storage: amortised O(1) per message, and
        // never more than twice the retained messages (plus a small constant) held.
        if head == entries.count {
            entries.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 64, head * 2 >= entries.count {
            entries.removeFirst(head)
            head = 0
        }
        return removed
    }
}

private struct TopicLog {
    var partitions: [PartitionLog]
    var count = 0
    var nextSequence: UInt64 = 0

    init(partitions: Int) {
        self.partitions = Array(repeating: PartitionLog(), count: partitions)
    }
}

private struct Group {
    /// The next offset to consume per partition; absent means the earliest retained message.
    var committed: [TopicPartition: Int64] = [:]
    /// Which live member owns which partition.
    var assignment = GroupAssignment()
    /// Topics whose starting offsets were set (where `startAtEnd` no longer applies).
    var knownTopics: Set<Topic> = []
}

private struct Member {
    var group: String
    var topics: [Topic]
    var assigned: [TopicPartition] = []
    /// The next offset to deliver per assigned partition; absent means the group's committed offset.
    var positions: [TopicPartition: Int64] = [:]
    /// Rotates the partition served first, so one busy partition cannot starve the others.
    var cursor = 0
}

private struct Waiter {
    var memberID: UInt64
    var maxCount: Int
    var continuation: CheckedContinuation<[BusMessage], Never>
}

private struct ReadyWaiter {
    var continuation: CheckedContinuation<[BusMessage], Never>
    var messages: [BusMessage]
}

extension [ReadyWaiter] {
    /// Resumes outside the lock, so a resumed task never contends with the resumer.
    fileprivate func resumeAll() {
        for ready in self { ready.continuation.resume(returning: ready.messages) }
    }
}

private struct BusState {
    var isClosed = false
    var topics: [Topic: TopicLog] = [:]
    var groups: [String: Group] = [:]
    var members: [UInt64: Member] = [:]
    var waiters: [UInt64: Waiter] = [:]
    private var lastID: UInt64 = 0

    mutating func makeID() -> UInt64 {
        lastID += 1
        return lastID
    }

    mutating func ensureTopic(_ topic: Topic, partitions: Int) {
        if topics[topic] == nil { topics[topic] = TopicLog(partitions: partitions) }
    }

    mutating func append(
        _ messages: [OutgoingMessage],
        to topic: Topic,
        at now: Timestamp,
        partitions: Int,
        limit: Int
    ) {
        // Taken out of the dictionary while appending, so the log's storage is mutated in place.
        var log = topics.removeValue(forKey: topic) ?? TopicLog(partitions: partitions)
        for message in messages {
            let partition = Partitioner.partition(forKey: message.key, partitions: partitions)
            let offset = log.partitions[partition].endOffset
            log.partitions[partition].append(
                BusMessage(
                    topic: topic,
                    partition: partition,
                    offset: offset,
                    key: message.key,
                    value: message.value,
                    headers: message.headers,
                    timestamp: now
                ),
                sequence: log.nextSequence
            )
            log.nextSequence += 1
        }
        log.count += messages.count
        topics[topic] = log
        if log.count > limit { enforceRetention(of: topic, limit: limit) }
    }

    /// Drops what every reading group committed; then, if still over the limit, the oldest messages.
    private mutating func enforceRetention(of topic: Topic, limit: Int) {
        guard var log = topics.removeValue(forKey: topic) else { return }
        let readers = groups.values.filter { $0.knownTopics.contains(topic) }
        if !readers.isEmpty {
            for partition in log.partitions.indices {
                let key = TopicPartition(topic: topic, partition: partition)
                let start = log.partitions[partition].startOffset
                let floor = readers.map { $0.committed[key] ?? start }.min() ?? start
                log.count -= log.partitions[partition].trim(below: floor)
            }
        }
        while log.count > limit {
            // Drop from the partition holding the oldest message, up to the excess and only while its
            // messages are older than every other partition's first one: oldest first across partitions.
            let heads = log.partitions.indices.compactMap { index in
                log.partitions[index].oldestSequence.map { (index: index, sequence: $0) }
            }
            guard let oldest = heads.min(by: { $0.sequence < $1.sequence }) else { break }
            let next = heads.filter { $0.index != oldest.index }.map(\.sequence).min() ?? UInt64.max
            let partitionLog = log.partitions[oldest.index]
            let excess = log.count - limit
            var run = 0
            while run < excess, run < partitionLog.count,
                partitionLog.sequence(at: partitionLog.startOffset + Int64(run)) < next
            {
                run += 1
            }
            log.count -= log.partitions[oldest.index].trim(below: partitionLog.startOffset + Int64(run))
        }
        topics[topic] = log
    }

    mutating func join(topics requested: [Topic], group name: String, startAtEnd: Bool, partitions: Int) -> UInt64 {
        for topic in requested { ensureTopic(topic, partitions: partitions) }
        var group = groups[name] ?? Group()
        for topic in requested where !group.knownTopics.contains(topic) {
            group.knownTopics.insert(topic)
            if startAtEnd, let log = topics[topic] {
                for (partition, partitionLog) in log.partitions.enumerated() {
                    group.committed[TopicPartition(topic: topic, partition: partition)] = partitionLog.endOffset
                }
            }
        }
        let memberID = makeID()
        members[memberID] = Member(group: name, topics: requested)
        apply(group.assignment.join(memberID, topics: requested, partitions: partitionCount))
        groups[name] = group
        return memberID
    }

    mutating func leave(_ memberID: UInt64) -> [ReadyWaiter] {
        guard let member = members.removeValue(forKey: memberID) else { return [] }
        var ready: [ReadyWaiter] = []
        for (id, waiter) in waiters where waiter.memberID == memberID {
            waiters[id] = nil
            ready.append(ReadyWaiter(continuation: waiter.continuation, messages: []))
        }
        if var group = groups[member.group] {
            let changes = group.assignment.leave(memberID, partitions: partitionCount)
            groups[member.group] = group
            apply(changes)
        }
        return ready + wakeWaiters()
    }

    private func partitionCount(_ topic: Topic) -> Int { topics[topic]?.partitions.count ?? 0 }

    /// Applies a rebalance: a partition kept continues where it was; one taken over starts at the committed
    /// offset.
    private mutating func apply(_ changes: [GroupAssignment.Change]) {
        for change in changes {
            guard var member = members[change.member] else { continue }
            member.positions = member.positions.filter { change.kept.contains($0.key) }
            member.assigned = change.assigned
            member.cursor = 0
            members[change.member] = member
        }
    }

    /// Takes up to `maxCount` messages of the member's partitions, in offset order per partition.
    mutating func poll(_ memberID: UInt64, maxCount: Int) -> [BusMessage] {
        guard !isClosed, var member = members[memberID], !member.assigned.isEmpty else { return [] }
        let committed = groups[member.group]?.committed ?? [:]
        var result: [BusMessage] = []
        let count = member.assigned.count
        for step in 0..<count where result.count < maxCount {
            let partition = member.assigned[(member.cursor + step) % count]
            guard let log = topics[partition.topic]?.partitions[partition.partition] else { continue }
            var position = member.positions[partition] ?? committed[partition] ?? log.startOffset
            position = max(position, log.startOffset)
            while position < log.endOffset, result.count < maxCount {
                result.append(log.message(at: position))
                position += 1
            }
            member.positions[partition] = position
        }
        member.cursor = (member.cursor + 1) % count
        members[memberID] = member
        return result
    }

    /// Hands available messages to waiting `next` calls; the caller resumes them after unlocking.
    mutating func wakeWaiters() -> [ReadyWaiter] {
        guard !waiters.isEmpty else { return [] }
        var ready: [ReadyWaiter] = []
        for id in waiters.keys.sorted() {
            guard let waiter = waiters[id] else { continue }
            let messages = poll(waiter.memberID, maxCount: waiter.maxCount)
            if !messages.isEmpty {
                waiters[id] = nil
                ready.append(ReadyWaiter(continuation: waiter.continuation, messages: messages))
            }
        }
        return ready
    }
}
