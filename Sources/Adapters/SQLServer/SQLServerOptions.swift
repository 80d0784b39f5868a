/// Settings of the read-only SQL Server source of truth; the server, database, credentials and TLS
/// (`Encrypt=yes;TrustServerCertificate=no`) come with the ODBC connection string, which is never logged.
public struct SQLServerOptions: Sendable, Hashable {
    /// Connections (and threads) in the pool; each runs one lookup at a time.
    public var poolSize: Int
    /// How long connecting (`SQL_ATTR_LOGIN_TIMEOUT`) and each query (`SQL_ATTR_QUERY_TIMEOUT`) may take; ODBC
    /// counts whole seconds, so it is rounded up to the next second there. A lookup, queueing included, gives
    /// up after twice this plus half a second (`callTimeout`) even if the driver does not.
    public var timeout: Duration
    /// The customers table, `[database.]schema.table` of plain identifiers (letters, digits, `_`).
    public var table: String
    /// Consecutive failures (unreachable, timed out) after which lookups fail fast.
    public var failureThreshold: Int
    /// How long lookups fail fast before one probe is let through.
    public var coolDown: Duration

    public init(
        poolSize: Int = 2,
        timeout: Duration = .seconds(2),
        table: String = "dbo.Customers",
        failureThreshold: Int = 3,
        coolDown: Duration = .seconds(10)
    ) {
        self.poolSize = poolSize
        self.timeout = timeout
        self.table = table
        self.failureThreshold = failureThreshold
        self.coolDown = coolDown
    }

    /// The ODBC timeouts: whole seconds, at least one.
    var timeoutSeconds: Int {
        let (seconds, attoseconds) = timeout.components
        return max(1, Int(seconds) + (attoseconds > 0 ? 1 : 0))
    }

    /// The most a lookup waits, queueing, connecting and querying included.
    public var callTimeout: Duration { timeout * 2 + .milliseconds(500) }
}
