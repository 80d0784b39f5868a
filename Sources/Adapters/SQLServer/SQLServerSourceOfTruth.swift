import AdapterSupport
public import Application
public import Domain
public import Logging
public import ServiceLifecycle
import Synchronization

/// The production source of truth, read-only: customer lookups in SQL Server over ODBC (unixODBC with
/// Microsoft's ODBC Driver 18 or FreeTDS's `tdsodbc`), the last fallback of the customer cache (ADR 0012).
/// Changes reach the read model through Debezium on Kafka, not through this adapter.
///
/// - **Lookups:** one prepared, parameterised SELECT of `CustomerQuery.columns` from `options.table` by
///   `CustomerId` and `TenantId`, mapped as `ChangeEventCodec` maps a change event of the row. An id that no
///   row of the key column's type can equal (text for an integer column, too long) is `nil` without a query.
/// - **Timeouts:** login and query timeouts of `options.timeout`; a lookup gives up after `options.callTimeout`
///   whatever the driver does.
/// - **Circuit breaker:** after `options.failureThreshold` consecutive failures to reach SQL Server (connect
///   errors, SQLSTATE 08xxx, timeouts) lookups fail fast with `StoreError.unavailable("SQL Server circuit open
///   …")` for `options.coolDown`; then one probe goes through, whose success closes the circuit. Answers
///   (found, not found, SQL errors such as a missing table) do not count as failures.
/// - **Writes:** `upsert` and `delete` throw `StoreError.unavailable("the source of truth is read-only")`.
/// - **Errors:** `StoreError.unavailable` for everything SQL Server related, `.invalidData` for a row whose
///   coordinates are not numbers, `.closed` after shutdown; messages carry SQLSTATEs and driver messages with
///   passwords removed, never the connection string.
/// - **Lifecycle:** a `Service`; `run()` waits for graceful shutdown, then closes the connections.
public final class SQLServerSourceOfTruth: SourceOfTruth, Service {
    public let isWritable = false
    /// Server and database from the connection string, for logs.
    public let target: String
    private let pool: ODBCPool
    private let query: CustomerQuery
    private let options: SQLServerOptions
    private let clock = ContinuousClock()
    private let breaker: Mutex<CircuitBreaker<ContinuousClock>>
    private let logger: Logger

    /// A source reading through `connectionString` (an ODBC connection string with `Driver=` or `DSN=`; it holds
    /// the password and is never logged). Nothing connects before the first lookup.
    ///
    /// - Throws: `StoreError.invalidData` when `options.table` is not a plain `[database.]schema.table`.
    public init(connectionString: String, options: SQLServerOptions = .init(), logger: Logger) throws {
        precondition(options.poolSize > 0, "poolSize must be positive")
        query = try CustomerQuery(table: options.table)
        self.options = options
        self.logger = logger
        breaker = Mutex(
            CircuitBreaker(
                configuration: .init(failureThreshold: max(1, options.failureThreshold), coolDown: options.coolDown)
            )
        )
        pool = ODBCPool(
            connectionString: connectionString,
            size: options.poolSize,
            loginTimeoutSeconds: options.timeoutSeconds,
            logger: logger
        )
        target = pool.target
    }

    /// Whether `table` is a name `SQLServerOptions.table` accepts: one to three dot-separated identifiers of
    /// letters, digits and `_` (not starting with a digit), at most 128 characters each.
    public static func isSafeTableName(_ table: String) -> Bool { CustomerQuery.isSafeTableName(table) }

    /// Whether lookups currently reach SQL Server without restriction (tests, health).
    package var isCircuitClosed: Bool { breaker.withLock { $0.isClosed } }

    public func customer(_ id: CustomerID, tenantId: TenantID) async throws -> Customer? {
        let now = clock.now
        let admission = breaker.withLock { $0.callStarting(at: now) }
        let probe: Bool
        switch admission {
        case .run:
            probe = false
        case .probe:
            probe = true
            logger.debug("SQL Server circuit half-open: probing", metadata: ["sqlserver.target": "\(target)"])
        case .failFast(let until, let failures):
            let wait = until.map { "for another \(max(0, ($0 - now).milliseconds)) ms" } ?? "while a probe runs"
            throw StoreError.unavailable("SQL Server circuit open \(wait) after \(failures) consecutive failures")
        }
        let query = self.query
        let seconds = options.timeoutSeconds
        do {
            let customer = try await pool.withConnection(timeout: options.callTimeout) { connection in
                try Self.lookup(id, tenantId: tenantId, query: query, timeoutSeconds: seconds, on: connection)
            }
            record(failed: false, probe: probe)
            return customer
        } catch {
            let (mapped, unreachable) = translate(error)
            record(failed: unreachable, probe: probe)
            throw mapped
        }
    }

    public func upsert(_ record: ReferenceRecord) async throws {
        throw StoreError.unavailable("the source of truth is read-only")
    }

    public func delete(_ key: ReferenceKey, tenantId: TenantID) async throws -> Bool {
        throw StoreError.unavailable("the source of truth is read-only")
    }

    // MARK: Lifecycle

    /// Waits for graceful shutdown, then closes every connection.
    public func run() async throws {
        try? await gracefulShutdown()
        await shutdown()
    }

    /// Stops accepting lookups (later ones throw `StoreError.closed`), lets running ones finish and closes every
    /// connection. Idempotent.
    public func shutdown() async {
        await pool.shutdown()
    }

    // MARK: Lookup

    /// Runs on a pool thread.
    private static func lookup(
        _ id: CustomerID,
        tenantId: TenantID,
        query: CustomerQuery,
        timeoutSeconds: Int,
        on connection: ODBCConnection
    ) throws -> Customer? {
        let columns = try connection.columns(of: query.describeSQL, queryTimeoutSeconds: timeoutSeconds)
        guard columns.count == CustomerQuery.columns.count else {
            throw StoreError.invalidData("\(query.table) returned \(columns.count) columns")
        }
        guard let idParameter = CustomerQuery.parameter(id.rawValue, for: columns[0]),
            let tenantParameter = CustomerQuery.parameter(tenantId.rawValue, for: columns[1])
        else { return nil }
        let statement = try connection.prepared(query.lookupSQL, queryTimeoutSeconds: timeoutSeconds)
        do {
            guard let row = try statement.execute([idParameter, tenantParameter], maxRows: 1).rows.first else {
                return nil
            }
            return try CustomerQuery.customer(row, id: id, tenantId: tenantId)
        } catch let error as ODBCError where error.isValueMismatch {
            return nil
        }
    }

    /// The port's error for `error`, and whether it says SQL Server could not be reached in time (which the
    /// breaker counts).
    private func translate(_ error: any Error) -> (StoreError, unreachable: Bool) {
        switch error {
        case let error as ODBCError where error.phase == .connect:
            return (.unavailable("cannot connect to SQL Server (\(error.sqlState)): \(error.message)"), true)
        case let error as ODBCError where error.isConnectionFailure:
            return (.unavailable("SQL Server connection failed (\(error.sqlState)): \(error.message)"), true)
        case let error as ODBCError where error.isTimeout:
            return (.unavailable("SQL Server query timed out (\(error.sqlState)): \(error.message)"), true)
        case let error as ODBCError:
            return (.unavailable("SQL Server error \(error.sqlState) in \(error.operation): \(error.message)"), false)
        case is ODBCPool.DeadlineExceeded:
            return (.unavailable("SQL Server did not answer within \(options.callTimeout.milliseconds) ms"), true)
        case let error as StoreError:
            return (error, false)
        default:
            return (.unavailable("SQL Server lookup failed: \(error)"), false)
        }
    }

    private func record(failed: Bool, probe: Bool) {
        let now = clock.now
        let transition = breaker.withLock { breaker in
            failed ? breaker.callFailed(probe: probe, at: now) : breaker.callSucceeded(probe: probe, at: now)
        }
        switch transition {
        case .none:
            break
        case .opened(let until, let failures):
            logger.debug(
                "SQL Server circuit opened",
                metadata: [
                    "sqlserver.target": "\(target)", "sqlserver.failures": "\(failures)",
                    "sqlserver.open.ms": "\((until - now).milliseconds)",
                ]
            )
        case .closed:
            logger.debug("SQL Server circuit closed", metadata: ["sqlserver.target": "\(target)"])
        }
    }
}
