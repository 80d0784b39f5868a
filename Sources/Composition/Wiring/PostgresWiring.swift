package import Application
import Domain
package import Logging
import PostgresAdapters
package import ServiceLifecycle

/// The shared PostgreSQL stores (`tracker.store=postgres`, ADR 0009): fleet and reference read model on
/// `tracker.postgres.url`, history on `tracker.history.url` (the same database when unset). Start-up applies
/// the migrations (safe when instances start at once), waiting up to `startupTimeout` for the database; each
/// pool is a service that health-checks its connections and closes them after the flows stopped.
package enum PostgresWiring {
    package struct Stores {
        package var fleet: any FleetStore
        package var reference: any ReferenceStore
        package var history: any HistoryStore
        /// The pools, in start order.
        package var services: [any Service]
    }

    /// Why `settings` cannot run `tracker.store=postgres`, or nil (checked before anything is opened).
    package static func refusal(_ settings: PostgresSettings) -> String? {
        settings.url == nil
            ? "tracker.store=postgres needs tracker.postgres.url (TRACKER_POSTGRES_URL), e.g. postgres://user@host/db"
            : nil
    }

    package static func stores(_ settings: PostgresSettings, instanceId: String, logger: Logger) async throws -> Stores
    {
        guard let url = settings.url else { throw StartupFailure(message: refusal(settings) ?? "no URL") }
        let options = settings.options(instanceId: instanceId)
        let timeout = settings.startupTimeout
        let fleetPool = try await open(url: url, options: options, what: "fleet", timeout: timeout, logger: logger) {
            try await PostgresMigrations.migrateFleet(url: url, options: options, logger: logger)
        }
        var services: [any Service] = [fleetPool]
        let historyPool: PostgresPool
        if let historyURL = settings.historyURL, historyURL != url {
            historyPool = try await open(
                url: historyURL,
                options: options,
                what: "history",
                timeout: timeout,
                logger: logger
            ) {
                try await PostgresMigrations.migrateHistory(url: historyURL, options: options, logger: logger)
            }
            services.append(historyPool)
        } else {
            try await migrating(what: "history", target: fleetPool.target, timeout: timeout, logger: logger) {
                try await PostgresMigrations.migrateHistory(url: url, options: options, logger: logger)
            }
            historyPool = fleetPool
        }
        let history = PostgresHistoryStore(pool: historyPool)
        let layout = try await history.layout()
        logger.info(
            "stores on PostgreSQL",
            metadata: [
                "postgres.fleet": "\(fleetPool.target)", "postgres.history": "\(historyPool.target)",
                "postgres.pool.size": "\(options.poolSize)", "history.layout": "\(layout)",
            ]
        )
        return Stores(
            fleet: PostgresFleetStore(pool: fleetPool),
            reference: PostgresReferenceStore(pool: fleetPool),
            history: history,
            services: services
        )
    }

    /// A pool on `url` after `migrate` succeeded (retried while the database is unreachable).
    private static func open(
        url: String,
        options: PostgresOptions,
        what: String,
        timeout: Duration,
        logger: Logger,
        migrate: () async throws -> Void
    ) async throws -> PostgresPool {
        let pool: PostgresPool
        do {
            pool = try PostgresPool(url: url, options: options, logger: logger)
        } catch let error as StoreError {
            throw StartupFailure(message: "tracker.postgres: the \(what) database URL: \(error.detail)")
        }
        do {
            try await migrating(what: what, target: pool.target, timeout: timeout, logger: logger, migrate)
        } catch {
            await pool.shutdown()
            throw error
        }
        return pool
    }

    /// Runs `migrate`, retrying `StoreError.unavailable` with backoff for up to `timeout`; a database newer than
    /// this binary, or still unreachable after the timeout, is a one-line start-up failure.
    private static func migrating(
        what: String,
        target: String,
        timeout: Duration,
        logger: Logger,
        _ migrate: () async throws -> Void
    ) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var backoff = Duration.milliseconds(250)
        while true {
            do {
                try await migrate()
                return
            } catch let error as PostgresSchemaTooNew {
                throw StartupFailure(message: "PostgreSQL \(what) database \(target): \(error.description)")
            } catch let error as StoreError where error.code == .unavailable {
                guard clock.now + backoff < deadline else {
                    throw StartupFailure(message: "PostgreSQL \(what) database \(target) unreachable: \(error.detail)")
                }
                logger.warning(
                    "waiting for PostgreSQL",
                    metadata: ["postgres.target": "\(target)", "retry.ms": "\(backoff.milliseconds)"]
                )
                try await Task.sleep(for: backoff)
                backoff = min(backoff * 2, .seconds(5))
            }
        }
    }
}
