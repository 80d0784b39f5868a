import ArgumentParser
import Foundation
import Logging
import SQLiteAdapters
import ServiceLifecycle
import SocketIOAdapters
import UnixSignals

/// `tracker serve`: runs the tracking service (local mode).
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the tracking service: webhook, REST API, enrichment, CDC and push flows."
    )

    @OptionGroup var options: ServerOptions

    func run() async throws {
        let configuration = options.makeConfiguration()
        let logger = makeLogger(level: configuration.logLevel)
        try await reportingStartupFailures {
            let runtime = try await TrackerRuntime.start(configuration: configuration, logger: logger)
            try await runtime.run()
        }
    }
}

/// One running process: the system, its HTTP server and background flows, under one service group with
/// graceful shutdown on SIGTERM/SIGINT.
struct TrackerRuntime {
    let system: TrackerSystem
    let configuration: TrackerConfiguration
    let logger: Logger

    /// Builds the system: SQLite files in the data directory, or memory with `--in-memory`. A data file
    /// that is foreign, corrupt or from a newer version stops start-up with a message naming it (exit 2).
    static func start(configuration: TrackerConfiguration, logger: Logger) async throws -> TrackerRuntime {
        PrometheusExport.bootstrapOnce()
        if configuration.usesDevelopmentSecrets {
            logger.warning("TRACKER_WEBHOOK_SECRET or TRACKER_JWT_SECRET unset: using development defaults")
        }
        let system: TrackerSystem
        if configuration.inMemory {
            system = TrackerSystem.inMemory(configuration: configuration, logger: logger)
        } else {
            do {
                system = try await TrackerSystem.local(configuration: configuration, logger: logger)
            } catch let error as SQLiteOpenError {
                throw StartupFailure(message: error.description)
            } catch let error as LocalModeError {
                throw StartupFailure(message: error.description)
            }
        }
        return TrackerRuntime(system: system, configuration: configuration, logger: logger)
    }

    /// Runs until SIGTERM/SIGINT. `extra` services start after the HTTP server (e.g. the demo simulator).
    func run(extra: [any Service] = [], onListening: (@Sendable (Int) async -> Void)? = nil) async throws {
        let http = makeHTTPApplication(system: system, onListening: onListening)
        // Shutdown runs in reverse order: the Socket.IO gateway disconnects its clients (ending pending
        // polls) before the HTTP server waits for in-flight requests.
        let socketIO = GracefulService { [gateway = system.socketIO] in await gateway.run() }
        let services: [any Service] = [system.backgroundService(), http, socketIO] + extra
        let group = ServiceGroup(configuration: .init(
            services: services.map { .init(service: $0) },
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        try await group.run()
    }
}

/// Prints a `StartupFailure` plainly on standard error and exits with code 2 instead of a stack of errors.
func reportingStartupFailures(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let failure as StartupFailure {
        FileHandle.standardError.write(Data((failure.description + "\n").utf8))
        throw ExitCode(2)
    }
}

/// A start-up failure the operator must fix (a data file, a directory): printed plainly, exit code 2.
struct StartupFailure: Error, CustomStringConvertible {
    var message: String
    var description: String { "tracker: cannot start: \(message)" }
}
