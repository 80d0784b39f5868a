package import Logging
import ServiceLifecycle

/// A system built from a configuration with its adapters and flows (consumer loops, sweeps, monitors) running
/// under one service group, without HTTP and without signal handling: several instances in one process, for
/// tests and benchmarks. `stop()` shuts the group down gracefully, as SIGTERM does for `serve`.
package struct RunningSystem: Sendable {
    package let system: TrackerSystem
    let group: ServiceGroup
    let running: Task<Void, any Error>

    package static func start(_ configuration: TrackerConfiguration, logger: Logger) async throws -> RunningSystem {
        let system = try await TrackerSystem.build(configuration: configuration, logger: logger)
        let group = ServiceGroup(
            configuration: .init(
                services: (system.adapterServices + system.flowServices()).map {
                    .init(service: $0, failureTerminationBehavior: .gracefullyShutdownGroup)
                },
                logger: logger
            )
        )
        return RunningSystem(system: system, group: group, running: Task { try await group.run() })
    }

    package func stop() async throws {
        await group.triggerGracefulShutdown()
        try await running.value
    }
}
