import Application
public import Logging

/// Thrown when the database holds a schema version this binary does not know (written by a newer release):
/// the stores refuse it rather than write rows an older layout would misread.
public struct PostgresSchemaTooNew: Error, Hashable, Sendable, CustomStringConvertible {
    public let component: String
    public let databaseVersion: Int
    public let binaryVersion: Int
    public init(component: String, databaseVersion: Int, binaryVersion: Int) {
        self.component = component
        self.databaseVersion = databaseVersion
        self.binaryVersion = binaryVersion
    }
    public var description: String {
        "the \(component) schema is at version \(databaseVersion), newer than this binary's \(binaryVersion)"
    }
}

/// One versioned step of a component's schema.
package struct PostgresMigration: Sendable {
    package let component: String
    package let version: Int
    package let sql: String
    /// Work that cannot run in a transaction block, run after the step committed (still under the lock).
    let afterCommit: (@Sendable (PGConnection) throws -> Void)?

    init(
        component: String,
        version: Int,
        sql: String,
        afterCommit: (@Sendable (PGConnection) throws -> Void)? = nil
    ) {
        self.component = component
        self.version = version
        self.sql = sql
        self.afterCommit = afterCommit
    }
}

/// Versioned migrations, shared by start-up and `tracker migrate`.
///
/// Runs under a session-level `pg_advisory_lock` keyed by the current schema, so several instances starting
/// at once apply each step exactly once (the others wait, then find nothing to do). Each step runs in its own
/// transaction with its `schema_migrations` row (DDL is transactional in PostgreSQL).
public enum PostgresMigrations {
    /// The fleet and reference tables (spec §5.1).
    package static let fleet: [PostgresMigration] = [
        PostgresMigration(
            component: "fleet",
            version: 1,
            sql: """
                CREATE TABLE drivers (
                    tenant_id text NOT NULL, id text NOT NULL, device_id text NOT NULL, name text NOT NULL,
                    phone text, vehicle_plate text, vehicle_type text NOT NULL, status text NOT NULL,
                    PRIMARY KEY (tenant_id, id));
                CREATE UNIQUE INDEX drivers_device_id ON drivers (device_id);
                CREATE TABLE routes (
                    tenant_id text NOT NULL, id text NOT NULL, driver_id text NOT NULL, scheduled_date date NOT NULL,
                    status text NOT NULL, total_stops integer NOT NULL, completed_stops integer NOT NULL,
                    PRIMARY KEY (tenant_id, id));
                CREATE INDEX routes_by_date_driver ON routes (tenant_id, scheduled_date, driver_id);
                CREATE TABLE planned_visits (
                    tenant_id text NOT NULL, id text NOT NULL, route_id text NOT NULL, driver_id text NOT NULL,
                    customer_id text NOT NULL, sequence_number integer NOT NULL, visit_type text NOT NULL,
                    scheduled_date date NOT NULL, window_start timestamptz, window_end timestamptz,
                    service_duration_seconds integer NOT NULL, status text NOT NULL, arrived_at timestamptz,
                    started_at timestamptz, departed_at timestamptz, completed_at timestamptz,
                    out_of_sequence boolean NOT NULL, has_completion boolean NOT NULL, completion_notes text,
                    completion_signed_by text, completion_failure_reason text,
                    PRIMARY KEY (tenant_id, id),
                    FOREIGN KEY (tenant_id, route_id) REFERENCES routes (tenant_id, id));
                CREATE INDEX planned_visits_by_route ON planned_visits (tenant_id, route_id, sequence_number);
                CREATE TABLE driver_positions (
                    tenant_id text NOT NULL, driver_id text NOT NULL, device_id text NOT NULL,
                    driver_name text NOT NULL, fix_time timestamptz NOT NULL, latitude float8 NOT NULL,
                    longitude float8 NOT NULL, speed float8 NOT NULL, smoothed_speed float8 NOT NULL,
                    heading float8 NOT NULL, battery_level float8, ignition boolean, activity text NOT NULL,
                    current_route_id text, current_visit_id text, next_visit_id text, next_customer_id text,
                    next_customer_name text, distance_to_next float8, eta_to_next timestamptz,
                    late boolean NOT NULL, completed_stops integer NOT NULL, total_stops integer NOT NULL,
                    remaining_stops jsonb NOT NULL, geofence_phase text NOT NULL, geofence_visit_id text,
                    geofence_since timestamptz, active_alerts text[] NOT NULL,
                    PRIMARY KEY (tenant_id, driver_id));
                CREATE INDEX driver_positions_stale ON driver_positions (fix_time) WHERE activity <> 'offline';
                CREATE TABLE sync_state (
                    table_name text PRIMARY KEY, last_version text, last_synced_at timestamptz,
                    status text NOT NULL);
                """
        ),
        PostgresMigration(
            component: "fleet",
            version: 2,
            sql: """
                CREATE TABLE customers_cache (
                    id text PRIMARY KEY, tenant_id text, name text, phone text, address text, latitude float8,
                    longitude float8, geofence_radius_meters float8, customer_type text, version text,
                    deleted boolean NOT NULL DEFAULT false,
                    CHECK (deleted OR tenant_id IS NOT NULL));
                CREATE INDEX customers_cache_by_tenant ON customers_cache (tenant_id, id) WHERE NOT deleted;
                CREATE TABLE accounts_cache (
                    id text PRIMARY KEY, tenant_id text, name text, account_type text, settings jsonb,
                    version text, deleted boolean NOT NULL DEFAULT false);
                CREATE TABLE products_cache (
                    id text PRIMARY KEY, tenant_id text, name text, sku text, category text, unit_price text,
                    version text, deleted boolean NOT NULL DEFAULT false);
                CREATE TABLE orders_cache (
                    id text PRIMARY KEY, tenant_id text, customer_id text, status text, total_amount text,
                    version text, deleted boolean NOT NULL DEFAULT false);
                """
        ),
        PostgresMigration(
            component: "fleet",
            version: 3,
            sql: """
                ALTER TABLE sync_state ADD COLUMN last_source_at timestamptz,
                    ADD COLUMN events_applied int8 NOT NULL DEFAULT 0,
                    ADD COLUMN events_failed int8 NOT NULL DEFAULT 0,
                    ADD COLUMN last_error text, ADD COLUMN last_error_at timestamptz;
                """
        ),
    ]

    /// The history tables (spec §5.2), in the history database (`tracker.history.url`, which may be the fleet
    /// database): `enriched_positions`, completions, and the two daily rollups.
    ///
    /// `enriched_positions` is a TimescaleDB hypertable (1-day chunks, compressed after 7 days segmented by
    /// tenant and driver, retention policy of 365 days) when the extension is loaded on the server
    /// (`shared_preload_libraries`) with its Timescale License build and can be created; otherwise a table
    /// range-partitioned by day, whose partitions the store creates as days come. Either way the primary key
    /// `(tenant_id, driver_id, time)` makes appends idempotent and serves playback.
    package static let history: [PostgresMigration] = [
        PostgresMigration(
            component: "history",
            version: 1,
            sql: """
                DO $history$
                DECLARE
                    timescale boolean := false;
                    ns text;
                BEGIN
                    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')
                       AND coalesce(current_setting('shared_preload_libraries', true), '') LIKE '%timescaledb%' THEN
                        BEGIN
                            CREATE EXTENSION IF NOT EXISTS timescaledb;
                            timescale := coalesce(current_setting('timescaledb.license', true), '') = 'timescale';
                        EXCEPTION WHEN OTHERS THEN
                            RAISE NOTICE 'TimescaleDB not usable (%), using daily partitions', SQLERRM;
                        END;
                    END IF;
                    IF timescale THEN
                        SELECT extnamespace::regnamespace::text INTO ns FROM pg_extension WHERE extname = 'timescaledb';
                        CREATE TABLE enriched_positions (
                            tenant_id text NOT NULL, driver_id text NOT NULL, time timestamptz NOT NULL,
                            lat float8 NOT NULL, lng float8 NOT NULL, speed float8 NOT NULL, heading float8 NOT NULL,
                            route_id text, visit_id text, customer_name text, distance_to_next float8, eta timestamptz,
                            PRIMARY KEY (tenant_id, driver_id, time));
                        EXECUTE format('SELECT %I.create_hypertable(%L, %L, chunk_time_interval => interval %L)',
                                       ns, 'enriched_positions', 'time', '1 day');
                        ALTER TABLE enriched_positions SET (timescaledb.compress,
                            timescaledb.compress_segmentby = 'tenant_id, driver_id',
                            timescaledb.compress_orderby = 'time');
                        EXECUTE format('SELECT %I.add_compression_policy(%L, interval %L)',
                                       ns, 'enriched_positions', '7 days');
                        EXECUTE format('SELECT %I.add_retention_policy(%L, interval %L)',
                                       ns, 'enriched_positions', '365 days');
                    ELSE
                        CREATE TABLE enriched_positions (
                            tenant_id text NOT NULL, driver_id text NOT NULL, time timestamptz NOT NULL,
                            lat float8 NOT NULL, lng float8 NOT NULL, speed float8 NOT NULL, heading float8 NOT NULL,
                            route_id text, visit_id text, customer_name text, distance_to_next float8, eta timestamptz,
                            PRIMARY KEY (tenant_id, driver_id, time)
                        ) PARTITION BY RANGE (time);
                    END IF;
                END $history$;
                CREATE TABLE visit_completions (
                    tenant_id text NOT NULL, visit_id text NOT NULL, driver_id text NOT NULL, route_id text NOT NULL,
                    customer_id text NOT NULL, status text NOT NULL, arrived_at timestamptz,
                    closed_at timestamptz NOT NULL, on_time boolean NOT NULL, duration_seconds float8,
                    PRIMARY KEY (tenant_id, visit_id));
                CREATE INDEX visit_completions_by_closed_at ON visit_completions (closed_at);
                CREATE TABLE driver_daily_stats (
                    tenant_id text NOT NULL, driver_id text NOT NULL, day date NOT NULL,
                    positions int8 NOT NULL DEFAULT 0, speed_sum float8 NOT NULL DEFAULT 0, max_speed float8,
                    moving int8 NOT NULL DEFAULT 0, visits int8 NOT NULL DEFAULT 0,
                    PRIMARY KEY (tenant_id, driver_id, day));
                CREATE TABLE visit_performance_daily (
                    tenant_id text NOT NULL, day date NOT NULL, total int8 NOT NULL DEFAULT 0,
                    completed int8 NOT NULL DEFAULT 0, failed int8 NOT NULL DEFAULT 0, on_time int8 NOT NULL DEFAULT 0,
                    duration_sum float8 NOT NULL DEFAULT 0, durations int8 NOT NULL DEFAULT 0,
                    PRIMARY KEY (tenant_id, day));
                """
        ),
        PostgresMigration(
            component: "history",
            version: 2,
            sql: """
                DO $rollups$
                DECLARE
                    ns text;
                BEGIN
                    IF (SELECT relkind FROM pg_class WHERE oid = 'enriched_positions'::regclass) = 'p' THEN
                        RETURN;  -- plain PostgreSQL: the rollups stay tables kept by the writes
                    END IF;
                    SELECT extnamespace::regnamespace::text INTO ns FROM pg_extension WHERE extname = 'timescaledb';
                    -- The policies of version 1 first ran at creation, retention and compression at once (they
                    -- can deadlock) and on whatever an import or a test had just written: first runs are now
                    -- staggered, compression in 12 hours and retention in a day (their usual intervals).
                    EXECUTE format('SELECT %I.remove_compression_policy(%L)', ns, 'enriched_positions');
                    EXECUTE format('SELECT %I.remove_retention_policy(%L)', ns, 'enriched_positions');
                    EXECUTE format('SELECT %I.add_compression_policy(%L, interval %L, initial_start => now() + '
                                   'interval %L)', ns, 'enriched_positions', '7 days', '12 hours');
                    EXECUTE format('SELECT %I.add_retention_policy(%L, interval %L, initial_start => now() + '
                                   'interval %L)', ns, 'enriched_positions', '365 days', '1 day');
                    -- Completions become a hypertable on closed_at (its unique keys must hold the time column);
                    -- the store keeps (tenant_id, visit_id) unique under a transaction advisory lock.
                    ALTER TABLE visit_completions DROP CONSTRAINT visit_completions_pkey;
                    DROP INDEX visit_completions_by_closed_at;
                    EXECUTE format('SELECT %I.create_hypertable(%L, %L, chunk_time_interval => interval %L, '
                                   'migrate_data => true)', ns, 'visit_completions', 'closed_at', '7 days');
                    CREATE INDEX visit_completions_by_visit ON visit_completions (tenant_id, visit_id);
                    EXECUTE format('SELECT %I.add_retention_policy(%L, interval %L, initial_start => now() + '
                                   'interval %L)', ns, 'visit_completions', '365 days', '25 hours');
                    -- The rollups become continuous aggregates with real-time aggregation: materialized days
                    -- plus the raw rows newer than the materialized watermark, so every append shows at once.
                    DROP TABLE driver_daily_stats;
                    DROP TABLE visit_performance_daily;
                    EXECUTE format($view$
                        CREATE MATERIALIZED VIEW driver_daily_stats
                        WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
                        SELECT tenant_id, driver_id, %I.time_bucket(interval '1 day', time) AS day,
                               count(*) AS positions, sum(speed) AS speed_sum, max(speed) AS max_speed,
                               count(*) FILTER (WHERE speed >= 3.0) AS moving
                        FROM enriched_positions GROUP BY tenant_id, driver_id, day WITH NO DATA
                        $view$, ns);
                    EXECUTE format($view$
                        CREATE MATERIALIZED VIEW visit_performance_daily
                        WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
                        SELECT tenant_id, driver_id, %I.time_bucket(interval '1 day', closed_at) AS day,
                               count(*) AS total, count(*) FILTER (WHERE status = 'completed') AS completed,
                               count(*) FILTER (WHERE status = 'failed') AS failed,
                               count(*) FILTER (WHERE on_time) AS on_time,
                               coalesce(sum(duration_seconds), 0) AS duration_sum,
                               count(duration_seconds) AS durations
                        FROM visit_completions GROUP BY tenant_id, driver_id, day WITH NO DATA
                        $view$, ns);
                    -- Hourly refresh of the last 30 days up to an hour ago (whole days only). The first run is an
                    -- hour away: until then everything is aggregated in real time. Dropped chunks are older
                    -- than the window, so their days stay materialized (statistics outlive raw retention).
                    EXECUTE format('SELECT %I.add_continuous_aggregate_policy(%L, start_offset => interval %L, '
                                   'end_offset => interval %L, schedule_interval => interval %L, '
                                   'initial_start => now() + interval %L)',
                                   ns, 'driver_daily_stats', '30 days', '1 hour', '1 hour', '1 hour');
                    EXECUTE format('SELECT %I.add_continuous_aggregate_policy(%L, start_offset => interval %L, '
                                   'end_offset => interval %L, schedule_interval => interval %L, '
                                   'initial_start => now() + interval %L)',
                                   ns, 'visit_performance_daily', '30 days', '1 hour', '1 hour', '70 minutes');
                END $rollups$;
                """,
            afterCommit: { connection in
                // Materialize the whole days already in the history (an upgraded database): real-time aggregation
                // only reads raw rows above the watermark the first policy run sets. Outside any transaction, as
                // refresh_continuous_aggregate requires; nothing to do on an empty or plain database.
                let found = try connection.query(
                    """
                    SELECT e.extnamespace::regnamespace::text FROM pg_extension e
                    WHERE e.extname = 'timescaledb' AND to_regclass('driver_daily_stats') IS NOT NULL
                      AND (SELECT relkind FROM pg_class WHERE oid = 'driver_daily_stats'::regclass) = 'v'
                      AND (EXISTS (SELECT 1 FROM enriched_positions) OR EXISTS (SELECT 1 FROM visit_completions))
                    """
                )
                guard found.rowCount == 1, let ns = found.text(0, 0) else { return }
                for view in ["driver_daily_stats", "visit_performance_daily"] {
                    try connection.execute(
                        "CALL \(ns).refresh_continuous_aggregate('\(view)', NULL, date_trunc('day', now(), 'UTC'))"
                    )
                }
            }
        ),
    ]

    /// Applies the history migrations to the database (and `options.schema`) at `url`.
    ///
    /// - Throws: `PostgresSchemaTooNew` when the database is ahead of this binary; `StoreError` otherwise.
    public static func migrateHistory(url: String, options: PostgresOptions, logger: Logging.Logger) async throws {
        try await migrate(url: url, options: options, logger: logger, history)
    }

    /// Applies the fleet and reference migrations to the database (and `options.schema`) at `url`.
    ///
    /// - Throws: `PostgresSchemaTooNew` when the database is ahead of this binary; `StoreError` otherwise.
    public static func migrateFleet(url: String, options: PostgresOptions, logger: Logging.Logger) async throws {
        try await migrate(url: url, options: options, logger: logger, fleet)
    }

    /// Applies `migrations` on a one-connection pool of its own (long statement timeout), then closes it.
    private static func migrate(
        url: String,
        options: PostgresOptions,
        logger: Logging.Logger,
        _ migrations: [PostgresMigration]
    ) async throws {
        let pool = try PostgresPool(
            url: url,
            options: PostgresOptions(
                poolSize: 1,
                statementTimeout: .seconds(300),
                applicationName: options.applicationName,
                connectTimeoutSeconds: options.connectTimeoutSeconds,
                schema: options.schema
            ),
            logger: logger
        )
        do {
            try await migrate(pool: pool, migrations)
            await pool.shutdown()
        } catch {
            await pool.shutdown()
            throw error
        }
    }

    /// Applies `migrations` (one component, ascending) up to `version` (all when nil) on `pool`.
    package static func migrate(
        pool: PostgresPool,
        _ migrations: [PostgresMigration],
        upTo version: Int? = nil
    )
        async throws
    {
        guard let component = migrations.first?.component else { return }
        let known = migrations.map(\.version).max() ?? 0
        let applied: [Int] = try await pool.withConnection { connection in
            try connection.query("SELECT pg_advisory_lock(1953653099, hashtext(current_schema()))")
            defer { _ = try? connection.query("SELECT pg_advisory_unlock(1953653099, hashtext(current_schema()))") }
            try connection.execute(
                """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    component text NOT NULL, version integer NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(),
                    PRIMARY KEY (component, version))
                """
            )
            let current =
                try connection.query(
                    "SELECT coalesce(max(version), 0) FROM schema_migrations WHERE component = $1",
                    [component]
                ).int(0, 0) ?? 0
            guard current <= known else {
                throw PostgresSchemaTooNew(component: component, databaseVersion: current, binaryVersion: known)
            }
            var done: [Int] = []
            for migration in migrations where migration.version > current && migration.version <= (version ?? known) {
                try connection.execute("BEGIN")
                do {
                    try connection.execute(migration.sql)
                    try connection.query(
                        "INSERT INTO schema_migrations (component, version) VALUES ($1, $2)",
                        [component, "\(migration.version)"]
                    )
                    try connection.execute("COMMIT")
                } catch {
                    try? connection.execute("ROLLBACK")
                    throw error
                }
                try migration.afterCommit?(connection)
                done.append(migration.version)
            }
            return done
        }
        if !applied.isEmpty {
            pool.logger.debug(
                "applied PostgreSQL migrations",
                metadata: ["postgres.migrations": "\(component) \(applied)"]
            )
        }
    }
}
