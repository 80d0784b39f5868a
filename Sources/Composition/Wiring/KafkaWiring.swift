package import Application
import KafkaAdapters
package import Logging
package import ServiceLifecycle

/// The Kafka event bus (`tracker.broker=kafka`, ADR 0005); its service flushes the producer on shutdown, after
/// every flow that publishes stopped.
package enum KafkaWiring {
    package static func bus(
        _ settings: KafkaSettings,
        instanceId: String,
        logger: Logger
    ) throws
        -> (bus: any EventBus, service: any Service)
    {
        let bus: KafkaEventBus
        do {
            bus = try KafkaEventBus(
                configuration: settings.adapterConfiguration(clientId: "tracker-\(instanceId)"),
                logger: logger
            )
        } catch let error as KafkaConfigurationError {
            throw StartupFailure(message: error.description)
        }
        logger.info(
            "event bus on Kafka",
            metadata: [
                "kafka.brokers": "\(settings.brokers)", "instance.id": "\(instanceId)",
                "kafka.properties": "\(settings.properties.keys.sorted())",
            ]
        )
        return (bus, ClosingService(name: "kafka producer") { await bus.close() })
    }
}
