package import Configuration
import Foundation
package import KafkaAdapters

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
package struct KafkaSettings: Sendable {
    package var brokers: String
    package var partitions: Int
    package var replication: Int
    package var properties: [String: String]

    package init(config: ConfigReader, environment: [String: String]?) {
        let kafka = config.scoped(to: "tracker.kafka")
        brokers = kafka.string(forKey: "brokers", default: "127.0.0.1:9092")
        partitions = max(1, kafka.int(forKey: "partitions", default: 12))
        replication = max(1, kafka.int(forKey: "replication", default: 3))
        var properties: [String: String] = [:]
        for (name, value) in environment ?? ProcessInfo.processInfo.environment where name.hasPrefix("KAFKA_") {
            properties[name.dropFirst("KAFKA_".count).lowercased().replacingOccurrences(of: "_", with: ".")] = value
        }
        let flags = kafka.string(forKey: "flag.properties", isSecret: true, default: "")
        for pair in flags.split(separator: "\n") {
            guard let equals = pair.firstIndex(of: "=") else { continue }
            properties[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
        }
        self.properties = properties
    }

    /// The adapter's configuration; `clientId` names this instance in the brokers' logs.
    package func adapterConfiguration(clientId: String) -> KafkaConfiguration {
        KafkaConfiguration(
            bootstrapServers: brokers,
            partitions: partitions,
            replicationFactor: replication,
            properties: properties,
            clientId: clientId
        )
    }
}
