package import Configuration
package import PostgresAdapters

/// The shared PostgreSQL stores (`tracker.store=postgres`, ADR 0009), read under `tracker.`:
///
/// - `tracker.postgres.url` / `TRACKER_POSTGRES_URL` (secret): fleet and reference read model, e.g.
///   `postgres://tracker:secret@cache-db:5432/tracker?sslmode=require`. Required with `--store postgres`.
/// - `tracker.history.url` / `TRACKER_HISTORY_URL` (secret): history (TimescaleDB in production); default the
///   fleet URL.
/// - `tracker.postgres.pool.size` (8): connections per database, one thread each.
/// - `tracker.postgres.statement.timeout.ms` (10000): `statement_timeout` of every session.
/// - `tracker.postgres.schema`: the schema of the tables (`search_path`); unset keeps `public`.
/// - `tracker.postgres.startup.timeout.seconds` (60): how long start-up waits for the database.
///
/// URLs and passwords are never logged: the start-up line names host and database only.
package struct PostgresSettings: Sendable {
    package var url: String?
    package var historyURL: String?
    package var poolSize: Int
    package var statementTimeout: Duration
    package var schema: String?
    package var startupTimeout: Duration

    package init(config: ConfigReader) {
        url = config.string(forKey: "postgres.url", isSecret: true).flatMap { $0.isEmpty ? nil : $0 }
        historyURL = config.string(forKey: "history.url", isSecret: true).flatMap { $0.isEmpty ? nil : $0 }
        poolSize = min(64, max(1, config.int(forKey: "postgres.pool.size", default: 8)))
        statementTimeout = .milliseconds(max(100, config.int(forKey: "postgres.statement.timeout.ms", default: 10_000)))
        schema = config.string(forKey: "postgres.schema").flatMap { $0.isEmpty ? nil : $0 }
        startupTimeout = .seconds(max(0, config.int(forKey: "postgres.startup.timeout.seconds", default: 60)))
    }

    /// Pool options for this instance (`application_name` names it in `pg_stat_activity`).
    package func options(instanceId: String) -> PostgresOptions {
        PostgresOptions(
            poolSize: poolSize,
            statementTimeout: statementTimeout,
            applicationName: "tracker-\(instanceId)",
            schema: schema
        )
    }
}
