/// Connection settings of a PostgreSQL pool; credentials and TLS (`sslmode`, `sslrootcert`...) come with the
/// URL (`postgres://user:password@host:5432/db?sslmode=require`), which is never logged.
public struct PostgresOptions: Sendable, Hashable {
    /// Connections (and threads) in the pool; each runs one statement or transaction at a time.
    public var poolSize: Int
    /// The server cancels a statement running longer (`statement_timeout`), then the call throws
    /// `StoreError.unavailable`.
    public var statementTimeout: Duration
    /// `application_name` shown in `pg_stat_activity`.
    public var applicationName: String
    /// Seconds to wait for a connection (`connect_timeout`).
    public var connectTimeoutSeconds: Int
    /// The schema the stores' tables live in (`search_path`); `nil` keeps the server's default (`public`).
    /// It must exist.
    public var schema: String?
    /// Reconnect attempts back off from 100 ms doubling up to this; calls in between fail fast with
    /// `StoreError.unavailable`.
    public var maxReconnectBackoff: Duration
    /// How often `run()` checks a connection with `SELECT 1` (a broken one is replaced).
    public var healthCheckInterval: Duration

    public init(
        poolSize: Int = 4,
        statementTimeout: Duration = .seconds(10),
        applicationName: String = "tracker",
        connectTimeoutSeconds: Int = 5,
        schema: String? = nil,
        maxReconnectBackoff: Duration = .seconds(5),
        healthCheckInterval: Duration = .seconds(10)
    ) {
        self.poolSize = poolSize
        self.statementTimeout = statementTimeout
        self.applicationName = applicationName
        self.connectTimeoutSeconds = connectTimeoutSeconds
        self.schema = schema
        self.maxReconnectBackoff = maxReconnectBackoff
        self.healthCheckInterval = healthCheckInterval
    }
}
