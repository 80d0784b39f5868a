import AdapterContracts
import Application
import KafkaAdapters
import KafkaMock
import Logging
import Testing

/// The Kafka adapter against librdkafka's mock cluster: a real Kafka-protocol cluster in this process
/// (3 brokers on localhost TCP ports), so these tests always run, in CI too; nothing is skipped.
enum KafkaTestCluster {
    /// One cluster for the contract run; topics and groups are unique per rule.
    static let shared: KafkaMockCluster = {
        do { return try KafkaMockCluster(brokers: 3) } catch {
            fatalError("cannot start the mock Kafka cluster: \(error)")
        }
    }()

    /// The mock cluster auto-creates topics with 4 partitions (it has no CreateTopics API).
    static let partitions = 4

    /// Short group timings so rebalances take a fraction of a second rather than librdkafka's defaults.
    static let properties: [String: String] = [
        "session.timeout.ms": "6000",
        "heartbeat.interval.ms": "200",
        "topic.metadata.refresh.interval.ms": "1000",
        "log_level": "3",
    ]

    static func makeBus(
        _ cluster: KafkaMockCluster = shared,
        properties extra: [String: String] = [:]
    )
        throws -> KafkaEventBus
    {
        try KafkaEventBus(
            configuration: KafkaConfiguration(
                bootstrapServers: cluster.bootstrapServers,
                partitions: partitions,
                replicationFactor: min(3, cluster.brokers),
                properties: properties.merging(extra) { $1 }
            ),
            logger: Logger(label: "kafka-tests", factory: { _ in SwiftLogNoOpLogHandler() })
        )
    }
}

@Suite("EventBus contract on Kafka (mock cluster)")
struct KafkaEventBusContractTests {
    /// `KafkaEventBus` keeps every rule of `EventBus` against a 3-broker Kafka-protocol cluster.
    @Test func contract() async throws {
        try await EventBusContract(
            capabilities: .init(
                partitionsPerTopic: KafkaTestCluster.partitions,
                deliveryTimeout: .seconds(20),
                quietPeriod: .milliseconds(600)
            )
        ) { try KafkaTestCluster.makeBus() }.run()
    }
}
