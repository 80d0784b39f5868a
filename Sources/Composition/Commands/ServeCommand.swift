package import ArgumentParser
import Foundation
package import Logging
package import ServiceLifecycle
import SocketIOAdapters
import UnixSignals

/// `tracker serve`: runs the tracking service with the adapters the configuration chooses.
package struct ServeCommand: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the tracking service: webhook, REST API, enrichment, CDC and push flows."
    )

    @OptionGroup var options: ServerOptions

    package init() {}

    package func run() async throws {
        try await reportingStartupFailures {
            let configuration = try options.makeConfiguration()
            let logger = makeLogger(level: configuration.logLevel)
            let runtime = try await TrackerRuntime.start(configuration: configuration, logger: logger)
            try await runtime.run()
        }
    }
}

/// One running process: the system, its HTTP server, the Socket.IO gateway, the flows and the adapters'
/// services under one service group with graceful shutdown on SIGTERM/SIGINT.
package struct TrackerRuntime {
    package let system: TrackerSystem
    package let configuration: TrackerConfiguration
    package let logger: Logger

    /// Builds the system. An impossible adapter combination, or a data file that is foreign, corrupt or from
    /// a newer version, stops start-up with a one-line message (exit 2).
    package static func start(configuration: TrackerConfiguration, logger: Logger) async throws -> TrackerRuntime {
        PrometheusExport.bootstrapOnce()
        if configuration.secrets.usesDevelopmentDefaults {
            logger.warning("TRACKER_WEBHOOK_SECRET or TRACKER_JWT_SECRET unset: using development defaults")
        }
        let system = try await TrackerSystem.build(configuration: configuration, logger: logger)
        return TrackerRuntime(system: system, configuration: configuration, logger: logger)
    }

    /// Runs until SIGTERM/SIGINT. Start order: adapters, flows, the HTTP server, the Socket.IO gateway, then
    /// `extra` (e.g. the demo simulator). Shutdown runs in reverse, each service finishing before the previous
    /// one is told: the gateway disconnects its clients (ending pending polls), the HTTP server stops taking
    /// webhooks, the consumer loops drain and commit, then the bus flushes and the databases close. A service
    /// that fails shuts the group down and the process exits non-zero with the reason in the log.
    package func run(extra: [any Service] = [], onListening: (@Sendable (Int) async -> Void)? = nil) async throws {
        let http = makeHTTPApplication(system: system, onListening: onListening)
        let socketIO = BackgroundService(
            name: "socket.io gateway",
            body: { [gateway = system.socketIO] in await gateway.run() }
        )
        // The gateway after HTTP: shutdown reaches it first, so pending long-polls end before HTTP waits for them.
        let services: [any Service] = system.adapterServices + system.flowServices() + [http, socketIO] + extra
        let group = ServiceGroup(
            configuration: .init(
                services: services.map { .init(service: $0, failureTerminationBehavior: .gracefullyShutdownGroup) },
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        do {
            try await group.run()
        } catch {
            logger.critical("stopping: a service failed", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
        logger.info("stopped")
    }
}

/// Prints a `StartupFailure` plainly on standard error and exits with code 2 instead of a stack of errors.
package func reportingStartupFailures(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let failure as StartupFailure {
        FileHandle.standardError.write(Data((failure.description + "\n").utf8))
        throw ExitCode(2)
    }
}

/// A start-up failure the operator must fix (a data file, a directory, a combination of adapters): printed
/// plainly, exit code 2.
package struct StartupFailure: Error, CustomStringConvertible {
    package var message: String
    package var description: String { "tracker: cannot start: \(message)" }
}
