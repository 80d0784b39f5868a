package import Configuration
package import SQLServerAdapters

/// The read-only SQL Server source of truth (`tracker.source=sqlserver`, ADR 0012), read under `tracker.`:
///
/// - `tracker.sqlserver.odbc` / `TRACKER_SQLSERVER_ODBC` (secret): the ODBC connection string, e.g.
///   `Driver={ODBC Driver 18 for SQL Server};Server=tcp:sql,1433;Database=Core;UID=tracker;PWD=…;Encrypt=yes`.
///   Required with `--source sqlserver`; never logged (the start-up line names server and database only).
/// - `tracker.sqlserver.pool.size` (2): connections, one thread each.
/// - `tracker.sqlserver.timeout.ms` (2000): login and query timeout (ODBC rounds up to whole seconds); a lookup
///   gives up after twice this plus 500 ms.
/// - `tracker.sqlserver.table` (`dbo.Customers`): the customers table, `[database.]schema.table`.
/// - `tracker.sqlserver.breaker.failures` (3): consecutive failures to reach SQL Server that open the circuit.
/// - `tracker.sqlserver.breaker.cooldown.ms` (10000): how long an open circuit fails lookups fast before a probe.
package struct SQLServerSettings: Sendable {
    package var connectionString: String?
    package var poolSize: Int
    package var timeout: Duration
    package var table: String
    package var failureThreshold: Int
    package var coolDown: Duration

    package init(config: ConfigReader) {
        connectionString = config.string(forKey: "sqlserver.odbc", isSecret: true).flatMap { $0.isEmpty ? nil : $0 }
        poolSize = min(16, max(1, config.int(forKey: "sqlserver.pool.size", default: 2)))
        timeout = .milliseconds(max(100, config.int(forKey: "sqlserver.timeout.ms", default: 2_000)))
        table = config.string(forKey: "sqlserver.table", default: "dbo.Customers")
        failureThreshold = max(1, config.int(forKey: "sqlserver.breaker.failures", default: 3))
        coolDown = .milliseconds(max(100, config.int(forKey: "sqlserver.breaker.cooldown.ms", default: 10_000)))
    }

    /// The adapter's options.
    package var options: SQLServerOptions {
        SQLServerOptions(
            poolSize: poolSize,
            timeout: timeout,
            table: table,
            failureThreshold: failureThreshold,
            coolDown: coolDown
        )
    }
}
