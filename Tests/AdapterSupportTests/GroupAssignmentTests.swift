import AdapterSupport
import Application
import Testing

/// `GroupAssignment` as transition lists: each event and the assignment changes it must produce.
@Suite("Consumer-group assignment")
struct GroupAssignmentTests {
    let a = Topic("a"), b = Topic("b")

    func tp(_ topic: Topic, _ partitions: Int...) -> [TopicPartition] {
        partitions.map { TopicPartition(topic: topic, partition: $0) }
    }

    func count(_ topic: Topic) -> Int { topic == a ? 4 : 2 }

    /// The first member of a group owns every partition of its topics.
    @Test func firstMemberOwnsEverything() {
        var group = GroupAssignment()
        let changes = group.join(1, topics: [a], partitions: count)
        #expect(changes == [.init(member: 1, assigned: tp(a, 0, 1, 2, 3), kept: [])])
    }

    /// A second member takes the odd partitions; the first keeps the even ones (its positions stay valid).
    @Test func secondMemberSplitsByJoinOrder() {
        var group = GroupAssignment()
        _ = group.join(1, topics: [a], partitions: count)
        let changes = group.join(2, topics: [a], partitions: count)
        #expect(
            changes == [
                .init(member: 1, assigned: tp(a, 0, 2), kept: Set(tp(a, 0, 2))),
                .init(member: 2, assigned: tp(a, 1, 3), kept: []),
            ]
        )
    }

    /// A member leaving hands its partitions back; only the remaining members that changed are reported.
    @Test func leavingHandsPartitionsBack() {
        var group = GroupAssignment()
        _ = group.join(1, topics: [a], partitions: count)
        _ = group.join(2, topics: [a], partitions: count)
        let changes = group.leave(1, partitions: count)
        #expect(changes == [.init(member: 2, assigned: tp(a, 0, 1, 2, 3), kept: Set(tp(a, 1, 3)))])
        #expect(group.assignments[1] == nil)
        #expect(group.leave(1, partitions: count).isEmpty, "leaving twice changes nothing")
    }

    /// Members with different topics share only the topics they both subscribe to.
    @Test func topicsAreSplitAmongTheirSubscribers() {
        var group = GroupAssignment()
        _ = group.join(1, topics: [a, b], partitions: count)
        let changes = group.join(2, topics: [b], partitions: count)
        #expect(
            changes == [
                .init(member: 1, assigned: tp(a, 0, 1, 2, 3) + tp(b, 0), kept: Set(tp(a, 0, 1, 2, 3) + tp(b, 0))),
                .init(member: 2, assigned: tp(b, 1), kept: []),
            ]
        )
    }

    /// Every partition has exactly one owner, whatever the order of joins and leaves.
    @Test(arguments: [[1, 2, 3], [3, 1, 2], [2, 3, 1]])
    func everyPartitionHasOneOwner(order: [UInt64]) {
        var group = GroupAssignment()
        for member in order { _ = group.join(member, topics: [a, b], partitions: count) }
        _ = group.leave(order[1], partitions: count)
        let owned: [TopicPartition] = group.assignments.values.flatMap { $0 }
        let expected: [TopicPartition] = tp(a, 0, 1, 2, 3) + tp(b, 0, 1)
        #expect(owned.sorted() == expected.sorted())
        #expect(Set(owned).count == owned.count)
    }
}
