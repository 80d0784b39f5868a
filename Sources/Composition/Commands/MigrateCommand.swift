package import ArgumentParser
import Logging

/// `tracker migrate`: opens the configured stores (the local-mode files, or PostgreSQL with
/// `--store postgres` / `TRACKER_STORE=postgres`), applying pending migrations, and exits. `serve` and `demo`
/// migrate on start too; this is for upgrades done ahead of a restart and for checking a database.
package struct MigrateCommand: AsyncParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Create or upgrade the stores' schemas (SQLite files or PostgreSQL), then exit."
    )

    @Option(help: "Directory of the local-mode files (tracker.data.dir / TRACKER_DATA_DIR).")
    package var dataDir: String?

    @Option(help: "Stores to migrate: sqlite or postgres (tracker.store / TRACKER_STORE).")
    package var store: String?

    package func run() async throws {
        // Parsed, not built field by field: an option group read before parsing traps.
        var arguments: [String] = []
        if let dataDir { arguments += ["--data-dir", dataDir] }
        if let store { arguments += ["--store", store] }
        let overrides = try ServerOptions.parse(arguments)
        try await reportingStartupFailures {
            let configuration = try overrides.makeConfiguration()
            let logger = makeLogger(level: configuration.logLevel)
            let runtime = try await TrackerRuntime.start(configuration: configuration, logger: logger)
            _ = runtime
            let what =
                configuration.plan.store == .postgres
                ? "the PostgreSQL fleet and history schemas are" : "\(configuration.sqlite.dataDirectory) is"
            print("tracker: \(what) migrated and ready")
        }
    }
}
