import Application
import Foundation
import InMemoryAdapters
import Logging
import SQLiteAdapters

extension TrackerSystem {
    /// The files of local mode inside the data directory.
    enum LocalFiles {
        /// Fleet, reference read model and history (one writer).
        static let tracker = "tracker.sqlite"
        /// The event bus log (its own writer, so publishing never waits behind history appends).
        static let bus = "bus.sqlite"
        /// The local source of truth (SQL Server's role in production) with its change capture.
        static let core = "core.sqlite"
    }

    /// The durable single-node system: SQLite files in `configuration.dataDirectory`; caches and push stay in
    /// memory (they are caches). Opening refuses foreign, corrupt or newer files without writing to them.
    static func local(configuration: TrackerConfiguration, logger: Logger,
                      clock: any WallClock = SystemWallClock()) async throws -> TrackerSystem {
        // One process owns a data directory, so its push consumer group keeps one name across restarts;
        // a group named after a changing host name would hold back the log's retention forever.
        var configuration = configuration
        configuration.instanceId = "local"
        let directory = URL(fileURLWithPath: configuration.dataDirectory, isDirectory: true)
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw LocalModeError("cannot create the data directory \(directory.path): \(error.localizedDescription)")
        }
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        let durability: SQLiteDatabase.Durability = configuration.powerLossDurability ? .powerLoss : .processCrash
        let database = try SQLiteDatabase(path: path(LocalFiles.tracker), readers: 2, durability: durability,
                                          logger: logger)
        let fleet = try SQLiteFleetStore(database: database)
        let reference = try SQLiteReferenceStore(database: database)
        let history = try SQLiteHistoryStore(database: database)
        let bus = try await SQLiteEventBus(
            path: path(LocalFiles.bus),
            configuration: .init(retention: configuration.busRetention,
                                 durability: configuration.powerLossDurability ? .powerLoss : .processCrash),
            clock: clock, logger: logger)
        let core = try await SQLiteSourceOfTruth(path: path(LocalFiles.core), bus: bus, logger: logger)
        let adapters = Adapters(
            bus: bus, fleet: fleet, reference: reference, customerCache: InMemoryCustomerCache(clock: clock),
            history: history, latest: InMemoryLatestPositionCache(clock: clock), sourceOfTruth: core,
            clock: clock)
        logger.info("local mode on SQLite", metadata: ["data.dir": "\(directory.path)"])
        var system = TrackerSystem(adapters: adapters, configuration: configuration, logger: logger)
        // Rows another application writes into core.sqlite are captured by triggers; relay them every second.
        system.adapterFlows = [{ await core.run(pollInterval: .seconds(1)) }]
        return system
    }
}

/// A start-up failure of local mode with a message for the operator.
struct LocalModeError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
