import AdapterSupport
import Application
import Synchronization

/// The in-process half of `SQLiteEventBus`: which partitions are visible up to which offset, which live
/// subscription owns which partition, each member's read position, the groups' committed offsets (a
/// write-through cache of `bus_offsets`) and the `next` calls waiting for messages.
///
/// Nothing here touches the disk: the bus reads and writes the database, then updates this state under its
/// lock. One process owns the database file, so this state is the whole truth about live members.
final class BusCoordinator: Sendable {
    let state: Mutex<CoordinatorState>

    init(ends: [TopicPartition: Int64], partitions: Int) {
        self.state = Mutex(CoordinatorState(ends: ends, partitions: partitions))
    }

    /// Resumes continuations outside the lock, so a resumed task never contends with the resumer.
    static func resume(_ continuations: [CheckedContinuation<Void, Never>]) {
        for continuation in continuations { continuation.resume() }
    }
}

/// What `next` should do after looking at the state.
enum FetchPlan {
    /// The subscription or the bus is closed: return `[]`.
    case closed
    /// Nothing is visible beyond the member's positions: wait for a wake-up.
    case wait
    /// Read these ranges (start offset, at most `limit` messages), then `accept` with `generation`.
    case read([FetchRange], generation: UInt64)
}

/// One range to read for `next`.
struct FetchRange: Sendable {
    var partition: TopicPartition
    var from: Int64
    /// The visible end when planned: a read returning nothing below it means retention removed the range.
    var end: Int64
    var limit: Int
}

struct GroupState {
    /// The next offset to consume per partition (`bus_offsets`); absent means the earliest retained message.
    var committed: [TopicPartition: Int64] = [:]
    /// Which live member owns which partition.
    var assignment = GroupAssignment()
}

struct MemberState {
    var group: String
    var topics: [Topic]
    var assigned: [TopicPartition] = []
    /// The next offset to deliver per assigned partition; absent means the group's committed offset.
    var positions: [TopicPartition: Int64] = [:]
    /// Rotates the partition served first, so one busy partition cannot starve the others.
    var cursor = 0
    /// Bumped on every rebalance, so a read planned before it is discarded.
    var generation: UInt64 = 0
}

struct Waiter {
    var memberID: UInt64
    var continuation: CheckedContinuation<Void, Never>
}

struct CoordinatorState {
    var isClosed = false
    /// The partition count of every topic of the bus.
    let partitions: Int
    /// The end offset (next offset to assign) of every partition that has committed messages.
    var ends: [TopicPartition: Int64]
    var groups: [String: GroupState] = [:]
    var members: [UInt64: MemberState] = [:]
    var waiters: [UInt64: Waiter] = [:]
    private var lastID: UInt64 = 0

    init(ends: [TopicPartition: Int64], partitions: Int) {
        self.ends = ends
        self.partitions = partitions
    }

    mutating func makeID() -> UInt64 {
        lastID += 1
        return lastID
    }

    // MARK: Publishing

    /// Records committed messages up to `newEnds` and returns the waiters that may now have something.
    mutating func published(_ newEnds: [TopicPartition: Int64]) -> [CheckedContinuation<Void, Never>] {
        for (partition, end) in newEnds where end > ends[partition] ?? 0 { ends[partition] = end }
        var ready: [CheckedContinuation<Void, Never>] = []
        for (id, waiter) in waiters {
            guard let member = members[waiter.memberID] else { continue }
            if member.assigned.contains(where: { newEnds[$0] != nil }) {
                waiters[id] = nil
                ready.append(waiter.continuation)
            }
        }
        return ready
    }

    // MARK: Membership

    /// Merges offsets read from the database into the group's cache (keeping the higher of the two).
    mutating func load(_ committed: [TopicPartition: Int64], group name: String) {
        var group = groups[name] ?? GroupState()
        for (partition, offset) in committed where offset > group.committed[partition] ?? Int64.min {
            group.committed[partition] = offset
        }
        groups[name] = group
    }

    mutating func join(topics: [Topic], group name: String) -> (UInt64, [CheckedContinuation<Void, Never>]) {
        let memberID = makeID()
        var group = groups[name] ?? GroupState()
        members[memberID] = MemberState(group: name, topics: topics)
        let changes = group.assignment.join(memberID, topics: topics, partitions: { [partitions] _ in partitions })
        groups[name] = group
        return (memberID, rebalance(name, changes))
    }

    mutating func leave(_ memberID: UInt64) -> [CheckedContinuation<Void, Never>] {
        guard let member = members.removeValue(forKey: memberID) else { return [] }
        var ready: [CheckedContinuation<Void, Never>] = []
        for (id, waiter) in waiters where waiter.memberID == memberID {
            waiters[id] = nil
            ready.append(waiter.continuation)
        }
        let changes = groups[member.group]?.assignment.leave(memberID, partitions: { [partitions] _ in partitions })
        return ready + rebalance(member.group, changes ?? [])
    }

    mutating func close() -> [CheckedContinuation<Void, Never>] {
        isClosed = true
        let ready = waiters.values.map(\.continuation)
        waiters = [:]
        return ready
    }

    /// Applies a rebalance of group `name` (a partition kept continues where it was; one taken over starts at
    /// the committed offset) and returns the group's waiters, whose assignment may have changed.
    private mutating func rebalance(
        _ name: String,
        _ changes: [GroupAssignment.Change]
    )
        -> [CheckedContinuation<Void, Never>]
    {
        guard let group = groups[name] else { return [] }
        for change in changes {
            guard var member = members[change.member] else { continue }
            member.positions = member.positions.filter { change.kept.contains($0.key) }
            member.assigned = change.assigned
            member.cursor = 0
            member.generation += 1
            members[change.member] = member
        }
        var ready: [CheckedContinuation<Void, Never>] = []
        for (id, waiter) in waiters where group.assignment.assignments[waiter.memberID] != nil {
            waiters[id] = nil
            ready.append(waiter.continuation)
        }
        return ready
    }

    // MARK: Fetching

    private func position(of partition: TopicPartition, in member: MemberState) -> Int64 {
        member.positions[partition] ?? groups[member.group]?.committed[partition] ?? 0
    }

    /// Whether any assigned partition has messages beyond the member's position.
    func hasData(_ memberID: UInt64) -> Bool {
        guard let member = members[memberID] else { return false }
        return member.assigned.contains { position(of: $0, in: member) < ends[$0] ?? 0 }
    }

    /// The ranges to read for at most `maxCount` messages, starting with the partition after the last served.
    func plan(_ memberID: UInt64, maxCount: Int) -> FetchPlan {
        guard !isClosed, let member = members[memberID] else { return .closed }
        var ranges: [FetchRange] = []
        var remaining = maxCount
        let count = member.assigned.count
        for step in 0..<count where remaining > 0 {
            let partition = member.assigned[(member.cursor + step) % count]
            let from = position(of: partition, in: member)
            let end = ends[partition] ?? 0
            guard from < end else { continue }
            let limit = Int(min(Int64(remaining), end - from))
            ranges.append(FetchRange(partition: partition, from: from, end: end, limit: limit))
            remaining -= limit
        }
        return ranges.isEmpty ? .wait : .read(ranges, generation: member.generation)
    }

    /// Takes the result of a planned read: advances the member's positions and returns the messages to
    /// deliver, or `nil` when the read is stale (a rebalance or a concurrent `next` moved the positions).
    mutating func accept(
        _ results: [(FetchRange, [BusMessage])],
        memberID: UInt64,
        generation: UInt64
    ) -> [BusMessage]? {
        guard !isClosed, var member = members[memberID] else { return [] }
        guard member.generation == generation else { return nil }
        var delivered: [BusMessage] = []
        for (range, messages) in results {
            guard position(of: range.partition, in: member) == range.from else { continue }
            if let last = messages.last {
                member.positions[range.partition] = last.offset + 1
                delivered += messages
            } else {
                // Everything in the range was removed by retention: continue after it.
                member.positions[range.partition] = range.end
            }
        }
        if !member.assigned.isEmpty { member.cursor = (member.cursor + 1) % member.assigned.count }
        members[memberID] = member
        return delivered
    }

    // MARK: Committing

    /// Raises the group's cached committed offsets.
    mutating func committed(_ offsets: [TopicPartition: Int64], group name: String) {
        load(offsets, group: name)
    }
}
