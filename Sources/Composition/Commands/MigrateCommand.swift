package import ArgumentParser
import Logging

/// `tracker migrate`: opens the local-mode files, applying pending migrations, and exits. `serve` and `demo`
/// migrate on start too; this is for upgrades done ahead of a restart and for checking a data directory.
package struct MigrateCommand: AsyncParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Create or upgrade the local-mode SQLite files in the data directory, then exit."
    )

    @Option(help: "Directory of the local-mode files (tracker.data.dir / TRACKER_DATA_DIR).")
    package var dataDir: String?

    package func run() async throws {
        var overrides = ServerOptions()
        overrides.dataDir = dataDir
        try await reportingStartupFailures {
            let configuration = try overrides.makeConfiguration()
            let logger = makeLogger(level: configuration.logLevel)
            let runtime = try await TrackerRuntime.start(configuration: configuration, logger: logger)
            _ = runtime
            print("tracker: \(configuration.sqlite.dataDirectory) is migrated and ready")
        }
    }
}
