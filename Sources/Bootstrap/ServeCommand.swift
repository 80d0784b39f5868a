import ArgumentParser
import Logging
import ServiceLifecycle
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
        let runtime = try TrackerRuntime(configuration: configuration, logger: logger)
        try await runtime.run()
    }
}

/// One running process: the system, its HTTP server and background flows, under one service group with
/// graceful shutdown on SIGTERM/SIGINT.
struct TrackerRuntime {
    let system: TrackerSystem
    let configuration: TrackerConfiguration
    let logger: Logger

    init(configuration: TrackerConfiguration, logger: Logger) throws {
        PrometheusExport.bootstrapOnce()
        if configuration.usesDevelopmentSecrets {
            logger.warning("TRACKER_WEBHOOK_SECRET or TRACKER_JWT_SECRET unset: using development defaults")
        }
        if !configuration.inMemory {
            logger.notice("durable local storage is not available in this build yet; running in memory",
                          metadata: ["data.dir": "\(configuration.dataDirectory)"])
        }
        self.system = TrackerSystem.inMemory(configuration: configuration, logger: logger)
        self.configuration = configuration
        self.logger = logger
    }

    /// Runs until SIGTERM/SIGINT. `extra` services start after the HTTP server (e.g. the demo simulator).
    func run(extra: [any Service] = [], onListening: (@Sendable (Int) async -> Void)? = nil) async throws {
        let http = makeHTTPApplication(system: system, onListening: onListening)
        let services: [any Service] = [system.backgroundService(), http] + extra
        let group = ServiceGroup(configuration: .init(
            services: services.map { .init(service: $0) },
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        try await group.run()
    }
}
