import Configuration
import Foundation
import KafkaAdapters
import Logging

/// The event-bus choice and the Kafka connection (issue 6, ADR 0005).
///
/// - `tracker.broker` / `TRACKER_BROKER` (`--broker`): `local` (default: SQLite log in the data directory) or
///   `kafka`.
/// - `tracker.kafka.brokers` / `TRACKER_KAFKA_BROKERS` (`--kafka-brokers`): bootstrap servers `host:port,...`.
/// - `tracker.kafka.partitions` / `TRACKER_KAFKA_PARTITIONS`: partitions of topics the tracker creates (12).
/// - `tracker.kafka.replication` / `TRACKER_KAFKA_REPLICATION`: their replication factor (3).
/// - `kafka.<librdkafka property>`: passed to librdkafka unchanged, from environment variables `KAFKA_<NAME>`
///   (`KAFKA_SECURITY_PROTOCOL=SASL_SSL` is `security.protocol`; `_` becomes `.`) and from
///   `--kafka-property name=value` (exact name). Prefix `producer.`/`consumer.` for one client only.
struct KafkaSettings: Sendable {
    var enabled: Bool
    var brokers: String
    var partitions: Int
    var replication: Int
    var properties: [String: String]

    init(config: ConfigReader, environment: [String: String]?) {
        enabled = config.string(forKey: "tracker.broker", default: "local") == "kafka"
        brokers = config.string(forKey: "tracker.kafka.brokers", default: "127.0.0.1:9092")
        partitions = max(1, config.int(forKey: "tracker.kafka.partitions", default: 12))
        replication = max(1, config.int(forKey: "tracker.kafka.replication", default: 3))
        var properties: [String: String] = [:]
        for (name, value) in environment ?? ProcessInfo.processInfo.environment where name.hasPrefix("KAFKA_") {
            properties[name.dropFirst("KAFKA_".count).lowercased().replacingOccurrences(of: "_", with: ".")] = value
        }
        let flags = config.string(forKey: "tracker.kafka.flag.properties", default: "")
        for pair in flags.split(separator: "\n") {
            guard let equals = pair.firstIndex(of: "=") else { continue }
            properties[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
        }
        self.properties = properties
    }

    /// The adapter's configuration; `clientId` names this instance in the brokers' logs.
    func adapterConfiguration(clientId: String) -> KafkaConfiguration {
        KafkaConfiguration(bootstrapServers: brokers, partitions: partitions, replicationFactor: replication,
                           properties: properties, clientId: clientId)
    }
}

/// The Kafka event bus when `tracker.broker` is `kafka`, else nil (local mode's SQLite log).
func makeKafkaBus(_ configuration: TrackerConfiguration, logger: Logger) throws -> KafkaEventBus? {
    guard configuration.kafka.enabled else { return nil }
    let settings = configuration.kafka
    let bus = try KafkaEventBus(
        configuration: settings.adapterConfiguration(clientId: "tracker-\(configuration.instanceId)"), logger: logger)
    logger.info("event bus on Kafka", metadata: [
        "kafka.brokers": "\(settings.brokers)", "instance.id": "\(configuration.instanceId)",
        "kafka.properties": "\(settings.properties.keys.sorted())",
    ])
    return bus
}
