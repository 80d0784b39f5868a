package import Application

/// One partition of a topic: the unit a consumer group assigns to one member (local buses).
package struct TopicPartition: Hashable, Comparable, Sendable {
    package var topic: Topic
    package var partition: Int

    package init(topic: Topic, partition: Int) {
        self.topic = topic
        self.partition = partition
    }

    package static func < (lhs: Self, rhs: Self) -> Bool {
        (lhs.topic.name, lhs.partition) < (rhs.topic.name, rhs.partition)
    }
}
