import Application
import ArgumentParser
import Domain
import Foundation
import KafkaAdapters
import KafkaMock
import UnixSignals

/// `tracker kafka-mock`: an in-process Kafka-protocol cluster (librdkafka's mock brokers) for tests and
/// development on machines without Kafka. Prints the bootstrap servers on the first line of standard output
/// and runs until SIGTERM/SIGINT. Any Kafka client can connect (the tracker, kcat, confluent-kafka).
struct KafkaMockCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kafka-mock",
        abstract: "Run a mock Kafka cluster in this process and print its bootstrap servers."
    )

    @Option(help: "Number of brokers.")
    var brokers: Int = 3

    @Option(help: "Partitions of the spec §6.3 topics created at start (others are auto-created with 4).")
    var partitions: Int = 12

    @Option(help: "Premium tenants whose dedicated gps.positions.<tenant> topics are created too (comma-separated).")
    var dedicatedTenants: String = ""

    func validate() throws {
        guard (1...16).contains(brokers), (1...1000).contains(partitions) else {
            throw ValidationError("--brokers must be within 1–16, --partitions within 1–1000")
        }
    }

    func run() async throws {
        let cluster = try KafkaMockCluster(brokers: brokers)
        let routing = TopicRouting(
            dedicatedTenants: Set(
                dedicatedTenants.split(separator: ",").map { TenantID(String($0)) }
            )
        )
        let topics =
            routing.allPositionTopics
            + [.enrichedPositions, .gpsEvents, .visitEvents, .driverEvents] + ApplyChangeEvent.topics
        for topic in topics {
            try cluster.createTopic(topic.name, partitions: partitions, replicationFactor: min(3, brokers))
        }
        // Unbuffered, so a supervising script reads the address at once.
        FileHandle.standardOutput.write(Data((cluster.bootstrapServers + "\n").utf8))
        FileHandle.standardError.write(
            Data(
                "kafka-mock: \(brokers) brokers at \(cluster.bootstrapServers); \(topics.count) topics with \(partitions) partitions; stop with SIGTERM\n"
                    .utf8
            )
        )
        for await _ in await UnixSignalsSequence(trapping: .sigterm, .sigint) { break }
        withExtendedLifetime(cluster) {}
    }
}
