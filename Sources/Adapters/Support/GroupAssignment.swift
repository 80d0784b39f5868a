package import Application

/// Which live member of one consumer group consumes which partition, for the buses that coordinate groups
/// themselves (in memory, SQLite). A value: events in (`join`, `leave`), the new assignment out.
///
/// Rule: per topic, partition `p` goes to the `p mod n`-th of the `n` members subscribed to that topic, in
/// join order. Every partition of a subscribed topic has exactly one owner while any member subscribes to it.
package struct GroupAssignment: Sendable, Equatable {
    /// One member's partitions after a change.
    package struct Change: Sendable, Equatable {
        package var member: UInt64
        /// Sorted.
        package var assigned: [TopicPartition]
        /// Partitions the member owned before and still owns (its read positions stay valid).
        package var kept: Set<TopicPartition>

        package init(member: UInt64, assigned: [TopicPartition], kept: Set<TopicPartition>) {
            self.member = member
            self.assigned = assigned
            self.kept = kept
        }
    }

    /// Live members in join order, with their topics.
    package private(set) var members: [(id: UInt64, topics: [Topic])] = []
    /// Each live member's partitions, sorted.
    package private(set) var assignments: [UInt64: [TopicPartition]] = [:]

    package init() {}

    package var isEmpty: Bool { members.isEmpty }

    /// Adds a member; returns the members whose partitions changed (the new one included).
    package mutating func join(_ member: UInt64, topics: [Topic], partitions: (Topic) -> Int) -> [Change] {
        precondition(assignments[member] == nil, "member \(member) joined twice")
        members.append((member, topics))
        assignments[member] = []
        return rebalance(partitions: partitions)
    }

    /// Removes a member; returns the remaining members whose partitions changed. Unknown members: no change.
    package mutating func leave(_ member: UInt64, partitions: (Topic) -> Int) -> [Change] {
        guard assignments.removeValue(forKey: member) != nil else { return [] }
        members.removeAll { $0.id == member }
        return rebalance(partitions: partitions)
    }

    /// Recomputes owners (also after a topic's partition count changed).
    package mutating func rebalance(partitions: (Topic) -> Int) -> [Change] {
        var owners: [UInt64: [TopicPartition]] = [:]
        var seen: Set<Topic> = []
        for member in members {
            for topic in member.topics where seen.insert(topic).inserted {
                let eligible = members.filter { $0.topics.contains(topic) }.map(\.id)
                for partition in 0..<partitions(topic) {
                    owners[eligible[partition % eligible.count], default: []]
                        .append(TopicPartition(topic: topic, partition: partition))
                }
            }
        }
        var changes: [Change] = []
        for member in members {
            let assigned = (owners[member.id] ?? []).sorted()
            let before = assignments[member.id] ?? []
            guard assigned != before else { continue }
            assignments[member.id] = assigned
            changes.append(Change(member: member.id, assigned: assigned, kept: Set(assigned).intersection(before)))
        }
        return changes
    }

    package static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.assignments == rhs.assignments && lhs.members.map(\.id) == rhs.members.map(\.id)
    }
}
