import CRdKafka
import KafkaAdapters
import Synchronization

/// An in-process Kafka cluster: librdkafka's mock cluster, which speaks the Kafka protocol over TCP on
/// localhost with several brokers, replication, consumer groups and offset commits. Any Kafka client can
/// connect to `bootstrapServers` (the tracker, kcat, confluent-kafka).
///
/// Used by the contract and fault tests and by `tracker kafka-mock`. Brokers are numbered `1...brokers`.
/// The mock cluster does not offer the `CreateTopics` admin API: topics are created by auto-creation
/// (4 partitions) or by `createTopic`. Everything is lost when the value is released.
public final class KafkaMockCluster: Sendable {
    private let cluster: KafkaHandle
    private let owner: KafkaHandle
    /// `host:port,host:port` of the brokers.
    public let bootstrapServers: String
    /// The number of brokers.
    public let brokers: Int

    /// Starts `brokers` brokers on ephemeral localhost ports.
    ///
    /// - Throws: `KafkaConfigurationError` when librdkafka cannot create the cluster.
    public init(brokers: Int = 3) throws {
        // The cluster lives inside a client handle, which librdkafka requires; it sends nothing.
        let owner = try makeKafkaClient(type: RD_KAFKA_PRODUCER, properties: [("log_level", "3")], opaque: nil)
        guard let cluster = rd_kafka_mock_cluster_new(owner, Int32(brokers)) else {
            rd_kafka_destroy(owner)
            throw KafkaConfigurationError("cannot start a mock Kafka cluster with \(brokers) brokers")
        }
        self.owner = KafkaHandle(pointer: owner)
        self.cluster = KafkaHandle(pointer: cluster)
        self.brokers = brokers
        bootstrapServers = String(cString: rd_kafka_mock_cluster_bootstraps(cluster))
    }

    deinit {
        rd_kafka_mock_cluster_destroy(cluster.pointer)
        rd_kafka_destroy(owner.pointer)
    }

    /// Creates `topic` with `partitions` partitions replicated on `replicationFactor` brokers.
    public func createTopic(_ topic: String, partitions: Int, replicationFactor: Int) throws {
        try check(
            rd_kafka_mock_topic_create(cluster.pointer, topic, Int32(partitions), Int32(replicationFactor)),
            "create topic \(topic)"
        )
    }

    /// Takes broker `id` down: its connections close and it refuses new ones until `setBrokerUp`.
    public func setBrokerDown(_ id: Int) throws {
        try check(rd_kafka_mock_broker_set_down(cluster.pointer, Int32(id)), "take broker \(id) down")
    }

    /// Brings broker `id` back up.
    public func setBrokerUp(_ id: Int) throws {
        try check(rd_kafka_mock_broker_set_up(cluster.pointer, Int32(id)), "bring broker \(id) up")
    }

    /// Makes broker `id` the leader of a partition (a leader change clients discover through metadata).
    public func setPartitionLeader(topic: String, partition: Int, broker id: Int) throws {
        try check(
            rd_kafka_mock_partition_set_leader(cluster.pointer, topic, Int32(partition), Int32(id)),
            "move the leader of \(topic)/\(partition) to broker \(id)"
        )
    }

    /// Makes broker `id` the group coordinator of consumer group `group`.
    public func setGroupCoordinator(_ group: String, broker id: Int) throws {
        try check(
            rd_kafka_mock_coordinator_set(cluster.pointer, "group", group, Int32(id)),
            "move the coordinator of group \(group) to broker \(id)"
        )
    }

    /// The next `errors.count` requests of `api` fail with these error codes, in order (every broker).
    public func pushRequestErrors(_ api: KafkaAPI, errors: [KafkaErrorCode]) {
        let codes = errors.map { rd_kafka_resp_err_t(rawValue: $0.rawValue) }
        codes.withUnsafeBufferPointer { buffer in
            rd_kafka_mock_push_request_errors_array(cluster.pointer, api.rawValue, buffer.count, buffer.baseAddress)
        }
    }

    /// Removes errors pushed for `api` that did not fire yet.
    public func clearRequestErrors(_ api: KafkaAPI) {
        rd_kafka_mock_clear_request_errors(cluster.pointer, api.rawValue)
    }

    private func check(_ error: rd_kafka_resp_err_t, _ what: String) throws {
        if error != RD_KAFKA_RESP_ERR_NO_ERROR {
            throw KafkaConfigurationError("mock cluster: cannot \(what): \(kafkaErrorText(error))")
        }
    }
}

/// Kafka protocol request types (API keys) used for error injection.
public struct KafkaAPI: Hashable, Sendable {
    public var rawValue: Int16
    public init(rawValue: Int16) { self.rawValue = rawValue }
    public static let produce = KafkaAPI(rawValue: 0)
    public static let fetch = KafkaAPI(rawValue: 1)
    public static let listOffsets = KafkaAPI(rawValue: 2)
    public static let metadata = KafkaAPI(rawValue: 3)
    public static let offsetCommit = KafkaAPI(rawValue: 8)
    public static let offsetFetch = KafkaAPI(rawValue: 9)
    public static let joinGroup = KafkaAPI(rawValue: 11)
    public static let heartbeat = KafkaAPI(rawValue: 12)
}

/// Kafka protocol error codes (and librdkafka's local ones, negative) used for error injection.
public struct KafkaErrorCode: Hashable, Sendable {
    public var rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }
    public static let notLeaderForPartition = KafkaErrorCode(rawValue: 6)
    public static let requestTimedOut = KafkaErrorCode(rawValue: 7)
    public static let notCoordinator = KafkaErrorCode(rawValue: 16)
    public static let notEnoughReplicas = KafkaErrorCode(rawValue: 19)
    public static let notEnoughReplicasAfterAppend = KafkaErrorCode(rawValue: 20)
    public static let rebalanceInProgress = KafkaErrorCode(rawValue: 27)
    public static let coordinatorLoadInProgress = KafkaErrorCode(rawValue: 14)
    /// The broker closes the connection instead of answering.
    public static let transport = KafkaErrorCode(rawValue: -195)
}
