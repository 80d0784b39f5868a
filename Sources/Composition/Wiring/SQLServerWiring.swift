package import Application
import Domain
package import Logging
import SQLServerAdapters
package import ServiceLifecycle

/// The read-only SQL Server source of truth (`tracker.source=sqlserver`, ADR 0012): customer lookups over ODBC,
/// the last level of the customer cache. Nothing connects at start-up (the read model answers first, and an
/// unreachable SQL Server must not stop the service); the adapter is a service that closes its connections after
/// the flows stopped.
package enum SQLServerWiring {
    /// Why `settings` cannot run `tracker.source=sqlserver`, or nil (checked before anything is opened).
    package static func refusal(_ settings: SQLServerSettings) -> String? {
        guard settings.connectionString != nil else {
            return "tracker.source=sqlserver needs tracker.sqlserver.odbc (TRACKER_SQLSERVER_ODBC), an ODBC connection "
                + "string, e.g. Driver={ODBC Driver 18 for SQL Server};Server=tcp:host,1433;Database=db;UID=user;PWD=..."
        }
        guard SQLServerSourceOfTruth.isSafeTableName(settings.table) else {
            return "tracker.sqlserver.table must be [database.]schema.table of letters, digits and _ "
                + "(got '\(settings.table)')"
        }
        return nil
    }

    package static func source(
        _ settings: SQLServerSettings,
        logger: Logger
    ) throws -> (source: any SourceOfTruth, service: any Service) {
        guard let connectionString = settings.connectionString else {
            throw StartupFailure(message: refusal(settings) ?? "no ODBC connection string")
        }
        let source: SQLServerSourceOfTruth
        do {
            source = try SQLServerSourceOfTruth(
                connectionString: connectionString,
                options: settings.options,
                logger: logger
            )
        } catch let error as StoreError {
            throw StartupFailure(message: "tracker.sqlserver: \(error.detail)")
        }
        logger.info(
            "source of truth on SQL Server (read-only)",
            metadata: [
                "sqlserver.target": "\(source.target)", "sqlserver.table": "\(settings.table)",
                "sqlserver.pool.size": "\(settings.poolSize)",
                "sqlserver.timeout.ms": "\(settings.timeout.milliseconds)",
            ]
        )
        return (source, source)
    }
}
