import AdapterSupport
public import Application
import Synchronization

/// One member of a consumer group of a `SQLiteEventBus`.
///
/// Dropping the last reference leaves the group as `close()` does, so a forgotten subscription cannot hold
/// its partitions forever. Nothing of a subscription is persisted but the group's committed offsets.
public final class SQLiteEventSubscription: EventSubscription {
    /// The consumer group this subscription belongs to.
    public let group: String
    /// The topics it consumes.
    public let topics: [Topic]
    private let bus: SQLiteEventBus
    private let memberID: UInt64

    init(bus: SQLiteEventBus, memberID: UInt64, group: String, topics: [Topic]) {
        self.bus = bus
        self.memberID = memberID
        self.group = group
        self.topics = topics
    }

    deinit {
        let ready = bus.coordinator.state.withLock { $0.leave(memberID) }
        BusCoordinator.resume(ready)
    }

    /// The partitions currently assigned to this subscription, by topic, in ascending order; empty once closed.
    public var assignedPartitions: [Topic: [Int]] {
        bus.coordinator.state.withLock { state in
            var result: [Topic: [Int]] = [:]
            for partition in state.members[memberID]?.assigned ?? [] {
                result[partition.topic, default: []].append(partition.partition)
            }
            return result
        }
    }

    /// Waits for messages of the assigned partitions and reads them from the database; returns `[]` once the
    /// subscription or the bus is closed, or when the task is cancelled.
    ///
    /// - Throws: a mapped SQLite error when reading fails (the positions do not move).
    public func next(maxCount: Int) async throws -> [BusMessage] {
        let maxCount = max(1, maxCount)
        let coordinator = bus.coordinator
        let memberID = self.memberID
        while true {
            if Task.isCancelled { return [] }
            let plan = coordinator.state.withLock { $0.plan(memberID, maxCount: maxCount) }
            switch plan {
            case .closed:
                return []
            case .wait:
                await waitForMessages()
            case .read(let ranges, let generation):
                let results: [(FetchRange, [BusMessage])]
                do {
                    results = try await bus.database.read { conn in
                        try ranges.map { range in (range, try BusSchema.read(range, conn)) }
                    }
                } catch {
                    if coordinator.state.withLock({ $0.isClosed || $0.members[memberID] == nil }) { return [] }
                    throw error
                }
                let delivered = coordinator.state.withLock {
                    $0.accept(results, memberID: memberID, generation: generation)
                }
                // `nil`: a rebalance or another `next` moved the positions meanwhile; plan again.
                if let delivered, !delivered.isEmpty || !isOpen { return delivered }
            }
        }
    }

    private var isOpen: Bool {
        bus.coordinator.state.withLock { !$0.isClosed && $0.members[memberID] != nil }
    }

    /// Suspends until a publish, rebalance, close or cancellation may have changed what `next` can return.
    private func waitForMessages() async {
        let coordinator = bus.coordinator
        let memberID = self.memberID
        let waiterID = coordinator.state.withLock { $0.makeID() }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = coordinator.state.withLock { state -> Bool in
                    // Checked under the lock: either the cancellation handler already ran (then the flag is
                    // set) or it runs later and finds the waiter registered below. A publish that landed
                    // since the plan shows in `hasData`.
                    if Task.isCancelled || state.isClosed || state.members[memberID] == nil
                        || state.hasData(memberID)
                    {
                        return true
                    }
                    state.waiters[waiterID] = Waiter(memberID: memberID, continuation: continuation)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = coordinator.state.withLock { $0.waiters.removeValue(forKey: waiterID) }
            waiter?.continuation.resume()
        }
    }

    /// Commits `messages` (and everything before them in their partitions) for the group, durably. Offsets
    /// lower than one already committed are ignored, as are messages of topics this subscription does not
    /// consume.
    ///
    /// - Throws: `StoreError.closed` once this subscription or the bus is closed.
    public func commit(_ messages: [BusMessage]) async throws {
        guard isOpen else { throw StoreError.closed("subscription closed") }
        var offsets: [TopicPartition: Int64] = [:]
        for message in messages where topics.contains(message.topic) {
            let partition = TopicPartition(topic: message.topic, partition: message.partition)
            offsets[partition] = max(offsets[partition] ?? Int64.min, message.offset + 1)
        }
        guard !offsets.isEmpty else { return }
        let group = self.group
        let toWrite = offsets
        try await bus.database.write { conn in try BusSchema.commit(toWrite, group: group, conn) }
        bus.coordinator.state.withLock { $0.committed(offsets, group: group) }
    }

    /// Leaves the group: pending `next` calls return `[]` and the group's other members take the partitions
    /// over from the committed offsets.
    public func close() async {
        let ready = bus.coordinator.state.withLock { $0.leave(memberID) }
        BusCoordinator.resume(ready)
    }
}
