/// One member of a consumer group.
public protocol EventSubscription: Sendable {
    /// Waits for the next messages of this member's partitions (at most `maxCount`, at least one),
    /// in partition order. Returns an empty array only when the subscription is closed or the task cancelled.
    func next(maxCount: Int) async throws -> [BusMessage]

    /// Marks `messages` and everything before them in their partitions as processed for the group.
    /// Committing an offset lower than one already committed is ignored.
    func commit(_ messages: [BusMessage]) async throws

    /// Leaves the group. Uncommitted messages become available to the group's other members.
    func close() async
}
