import AdapterSupport
package import Application
import Foundation
package import Logging
import SQLiteAdapters
package import ServiceLifecycle

/// Local mode's SQLite adapters: the stores (`tracker.store=sqlite`), the event log (`tracker.broker=local`)
/// and the local source of truth with change capture (`tracker.source=local`), each in its own file of the
/// data directory. Opening refuses foreign, corrupt or newer files without writing to them.
package enum SQLiteWiring {
    /// The files inside the data directory.
    package enum Files {
        /// Fleet, reference read model and history (one writer).
        package static let tracker = "tracker.sqlite"
        /// The event bus log (its own writer, so publishing never waits behind history appends).
        package static let bus = "bus.sqlite"
        /// The local source of truth (SQL Server's role in production) with its change capture.
        package static let core = "core.sqlite"
    }

    package struct Stores {
        package var fleet: any FleetStore
        package var reference: any ReferenceStore
        package var history: any HistoryStore
        /// Closes `tracker.sqlite` once the flows stopped.
        package var service: any Service
    }

    package static func stores(_ settings: SQLiteSettings, logger: Logger) async throws -> Stores {
        let path = try filePath(Files.tracker, in: settings)
        let database = try await offCooperativePool {
            try SQLiteDatabase(path: path, readers: 2, durability: durability(settings), logger: logger)
        }
        let stores = Stores(
            fleet: try SQLiteFleetStore(database: database),
            reference: try SQLiteReferenceStore(database: database),
            history: try SQLiteHistoryStore(database: database),
            service: ClosingService(name: "sqlite \(Files.tracker)") { await offCooperativePool { database.close() } }
        )
        logger.info("stores on SQLite", metadata: ["sqlite.path": "\(path)"])
        return stores
    }

    package static func bus(
        _ settings: SQLiteSettings,
        clock: any WallClock,
        logger: Logger
    ) async throws
        -> (bus: any EventBus, service: any Service)
    {
        let path = try filePath(Files.bus, in: settings)
        let bus = try await SQLiteEventBus(
            path: path,
            configuration: .init(
                retention: settings.busRetention,
                durability: settings.powerLossDurability ? .powerLoss : .processCrash
            ),
            clock: clock,
            logger: logger
        )
        return (bus, ClosingService(name: "sqlite \(Files.bus)") { await bus.close() })
    }

    /// The local source of truth publishing its change events on `bus`; its service relays rows other
    /// applications write into `core.sqlite` every second, and closes the file on shutdown.
    package static func source(
        _ settings: SQLiteSettings,
        bus: any EventBus,
        logger: Logger
    ) async throws
        -> (source: any SourceOfTruth, service: any Service)
    {
        let core = try await SQLiteSourceOfTruth(path: try filePath(Files.core, in: settings), bus: bus, logger: logger)
        let service = BackgroundService(
            name: "sqlite \(Files.core) relay",
            body: { await core.run(pollInterval: .seconds(1)) },
            close: { await core.close() }
        )
        return (core, service)
    }

    private static func durability(_ settings: SQLiteSettings) -> SQLiteDatabase.Durability {
        settings.powerLossDurability ? .powerLoss : .processCrash
    }

    /// The path of `name` in the data directory, which is created when missing.
    private static func filePath(_ name: String, in settings: SQLiteSettings) throws -> String {
        let directory = URL(fileURLWithPath: settings.dataDirectory, isDirectory: true)
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw StartupFailure(
                message: "cannot create the data directory \(directory.path): \(error.localizedDescription)"
            )
        }
        return directory.appendingPathComponent(name).path
    }
}
