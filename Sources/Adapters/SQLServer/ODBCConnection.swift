import CODBC

/// One ODBC connection (environment and connection handles, statements prepared on it), used by one pool thread
/// at a time, never concurrently.
///
/// Every call blocks; the pool runs them on its own threads. Text crosses the driver manager as UTF-16
/// (the `W` calls, `SQL_C_WCHAR`), so names and ids keep their characters whatever the process locale is.
/// Values are bound parameters (`SQLBindParameter`), never spliced into SQL.
final class ODBCConnection {
    private var environment: SQLHENV?
    private var connection: SQLHDBC?
    private var connected = false
    private var statements: [String: ODBCStatement] = [:]
    private var described: [String: [ODBCColumn]] = [:]

    /// Connects with `connectionString` (never kept, logged or repeated in errors), waiting at most
    /// `loginTimeoutSeconds` for the server (`SQL_ATTR_LOGIN_TIMEOUT`, also `SQL_ATTR_CONNECTION_TIMEOUT` for
    /// requests other than queries). Asks for a read-only connection (`SQL_ATTR_ACCESS_MODE`), which drivers may
    /// ignore.
    ///
    /// - Throws: `ODBCError` with `phase == .connect`.
    init(connectionString: String, loginTimeoutSeconds: Int) throws(ODBCError) {
        var environment: SQLHANDLE?
        guard ODBC.succeeded(SQLAllocHandle(SQLSMALLINT(SQL_HANDLE_ENV), nil, &environment)), let environment else {
            throw ODBCError(phase: .connect, operation: "SQLAllocHandle(ENV)", sqlState: "HY001", message: "")
        }
        self.environment = environment
        var result = SQLSetEnvAttr(
            environment,
            SQLINTEGER(SQL_ATTR_ODBC_VERSION),
            SQLPOINTER(bitPattern: UInt(SQL_OV_ODBC3)),
            0
        )
        guard ODBC.succeeded(result) else {
            throw ODBCError.diagnostics(.connect, "SQLSetEnvAttr", handleType: SQL_HANDLE_ENV, handle: environment)
        }
        var connection: SQLHANDLE?
        result = SQLAllocHandle(SQLSMALLINT(SQL_HANDLE_DBC), environment, &connection)
        guard ODBC.succeeded(result), let connection else {
            throw ODBCError.diagnostics(
                .connect,
                "SQLAllocHandle(DBC)",
                handleType: SQL_HANDLE_ENV,
                handle: environment
            )
        }
        self.connection = connection
        let seconds = SQLPOINTER(bitPattern: UInt(max(1, loginTimeoutSeconds)))
        _ = SQLSetConnectAttr(connection, SQLINTEGER(SQL_ATTR_LOGIN_TIMEOUT), seconds, 0)
        _ = SQLSetConnectAttr(connection, SQLINTEGER(SQL_ATTR_CONNECTION_TIMEOUT), seconds, 0)
        var wide = Array(connectionString.utf16) + [0]
        result = SQLDriverConnectW(
            connection,
            nil,
            &wide,
            SQLSMALLINT(SQL_NTS),
            nil,
            0,
            nil,
            SQLUSMALLINT(SQL_DRIVER_NOPROMPT)
        )
        // The string holds the password: overwrite the copy before the error path can keep it alive.
        for index in wide.indices { wide[index] = 0 }
        guard ODBC.succeeded(result) else {
            throw ODBCError.diagnostics(.connect, "SQLDriverConnect", handleType: SQL_HANDLE_DBC, handle: connection)
        }
        connected = true
        _ = SQLSetConnectAttr(
            connection,
            SQLINTEGER(SQL_ATTR_ACCESS_MODE),
            SQLPOINTER(bitPattern: UInt(SQL_MODE_READ_ONLY)),
            0
        )
    }

    deinit {
        statements.removeAll()
        if let connection {
            if connected { _ = SQLDisconnect(connection) }
            _ = SQLFreeHandle(SQLSMALLINT(SQL_HANDLE_DBC), connection)
        }
        if let environment { _ = SQLFreeHandle(SQLSMALLINT(SQL_HANDLE_ENV), environment) }
    }

    /// Whether the driver knows the connection is broken (`SQL_ATTR_CONNECTION_DEAD`; drivers that cannot tell
    /// say alive, and the next call's SQLSTATE 08xxx tells instead).
    var isDead: Bool {
        guard let connection else { return true }
        var value: SQLUINTEGER = 0
        let result = SQLGetConnectAttr(connection, SQLINTEGER(SQL_ATTR_CONNECTION_DEAD), &value, 0, nil)
        return ODBC.succeeded(result) && value == SQLUINTEGER(SQL_CD_TRUE)
    }

    /// The statement prepared from `sql` on this connection (prepared on first use, with its query timeout).
    func prepared(_ sql: String, queryTimeoutSeconds: Int) throws(ODBCError) -> ODBCStatement {
        if let statement = statements[sql] { return statement }
        let statement = try ODBCStatement(connection: connection, queryTimeoutSeconds: queryTimeoutSeconds)
        try statement.prepare(sql)
        statements[sql] = statement
        return statement
    }

    /// The result columns of `sql` (a query returning no rows, e.g. `… WHERE 1 = 0`), run once per connection.
    func columns(of sql: String, queryTimeoutSeconds: Int) throws(ODBCError) -> [ODBCColumn] {
        if let columns = described[sql] { return columns }
        let statement = try ODBCStatement(connection: connection, queryTimeoutSeconds: queryTimeoutSeconds)
        try statement.prepare(sql)
        let columns = try statement.execute([], maxRows: 0).columns
        described[sql] = columns
        return columns
    }
}

/// A statement handle with a prepared query.
final class ODBCStatement {
    private let handle: SQLHSTMT

    init(connection: SQLHDBC?, queryTimeoutSeconds: Int) throws(ODBCError) {
        var handle: SQLHANDLE?
        let result = SQLAllocHandle(SQLSMALLINT(SQL_HANDLE_STMT), connection, &handle)
        guard ODBC.succeeded(result), let handle else {
            throw ODBCError.diagnostics(.query, "SQLAllocHandle(STMT)", handleType: SQL_HANDLE_DBC, handle: connection)
        }
        self.handle = handle
        // Whole seconds: the ODBC attribute's unit. The driver cancels the query after it (SQLSTATE HYT00).
        _ = SQLSetStmtAttr(
            handle,
            SQLINTEGER(SQL_ATTR_QUERY_TIMEOUT),
            SQLPOINTER(bitPattern: UInt(max(1, queryTimeoutSeconds))),
            0
        )
    }

    deinit { _ = SQLFreeHandle(SQLSMALLINT(SQL_HANDLE_STMT), handle) }

    func prepare(_ sql: String) throws(ODBCError) {
        var wide = Array(sql.utf16) + [0]
        try check(SQLPrepareW(handle, &wide, SQLINTEGER(SQL_NTS)), "SQLPrepare")
    }

    /// Runs the prepared query with `parameters` and returns its columns and at most `maxRows` rows (the rest is
    /// discarded).
    func execute(
        _ parameters: [ODBCParameter],
        maxRows: Int
    ) throws(ODBCError) -> (columns: [ODBCColumn], rows: [[ODBCCell]]) {
        _ = SQLFreeStmt(handle, SQLUSMALLINT(SQL_CLOSE))
        let buffers = ParameterBuffers(parameters)
        defer {
            _ = SQLFreeStmt(handle, SQLUSMALLINT(SQL_RESET_PARAMS))
            buffers.deallocate()
        }
        for (index, parameter) in parameters.enumerated() {
            let (value, capacity, indicator) = buffers[index]
            let result = SQLBindParameter(
                handle,
                SQLUSMALLINT(index + 1),
                SQLSMALLINT(SQL_PARAM_INPUT),
                parameter.cType,
                parameter.sqlType,
                SQLULEN(parameter.columnSize),
                parameter.decimalDigits,
                value,
                SQLLEN(capacity),
                indicator
            )
            try check(result, "SQLBindParameter")
        }
        let result = SQLExecute(handle)
        guard result != SQLRETURN(SQL_NO_DATA) else { return ([], []) }
        try check(result, "SQLExecute")
        defer { _ = SQLFreeStmt(handle, SQLUSMALLINT(SQL_CLOSE)) }
        let columns = try self.columns()
        guard maxRows > 0 else { return (columns, []) }
        var rows: [[ODBCCell]] = []
        while rows.count < maxRows {
            let fetched = SQLFetch(handle)
            if fetched == SQLRETURN(SQL_NO_DATA) { break }
            try check(fetched, "SQLFetch")
            var row: [ODBCCell] = []
            row.reserveCapacity(columns.count)
            for (index, column) in columns.enumerated() {
                row.append(try cell(SQLUSMALLINT(index + 1), column))
            }
            rows.append(row)
        }
        return (columns, rows)
    }

    /// The result set's columns (after `SQLExecute`, before the cursor closes).
    private func columns() throws(ODBCError) -> [ODBCColumn] {
        var count: SQLSMALLINT = 0
        try check(SQLNumResultCols(handle, &count), "SQLNumResultCols")
        var columns: [ODBCColumn] = []
        for index in 0..<Int(count) {
            var name = [SQLWCHAR](repeating: 0, count: 256)
            var nameLength: SQLSMALLINT = 0
            var type: SQLSMALLINT = 0
            var size: SQLULEN = 0
            var digits: SQLSMALLINT = 0
            var nullable: SQLSMALLINT = 0
            let result = SQLDescribeColW(
                handle,
                SQLUSMALLINT(index + 1),
                &name,
                SQLSMALLINT(name.count),
                &nameLength,
                &type,
                &size,
                &digits,
                &nullable
            )
            try check(result, "SQLDescribeCol")
            let length = min(Int(nameLength), name.count - 1)
            columns.append(
                ODBCColumn(
                    name: String(decoding: name[0..<max(0, length)], as: UTF16.self),
                    sqlType: type,
                    size: Int(size),
                    decimalDigits: digits
                )
            )
        }
        return columns
    }

    /// One value of the current row: floating point columns as `Double`, everything else as text (numbers as the
    /// driver renders them, e.g. a `DECIMAL(9,6)` as `52.520008`, a `BIGINT` with every digit).
    private func cell(_ index: SQLUSMALLINT, _ column: ODBCColumn) throws(ODBCError) -> ODBCCell {
        var indicator: SQLLEN = 0
        switch Int32(column.sqlType) {
        case SQL_DOUBLE, SQL_FLOAT:
            var value: Double = 0
            let result = SQLGetData(handle, index, SQLSMALLINT(SQL_C_DOUBLE), &value, 8, &indicator)
            try check(result, "SQLGetData")
            return indicator == SQLLEN(SQL_NULL_DATA) ? .null : .double(value)
        case SQL_REAL:
            // As Debezium writes a REAL: the float's shortest text, read back as a Double (45.50169, not
            // 45.501689910888672).
            var value: Float = 0
            let result = SQLGetData(handle, index, SQLSMALLINT(SQL_C_FLOAT), &value, 4, &indicator)
            try check(result, "SQLGetData")
            return indicator == SQLLEN(SQL_NULL_DATA) ? .null : .double(Double("\(value)") ?? Double(value))
        default:
            return try text(index)
        }
    }

    /// A column as UTF-16 text, read in pieces when longer than the buffer.
    private func text(_ index: SQLUSMALLINT) throws(ODBCError) -> ODBCCell {
        var buffer = [SQLWCHAR](repeating: 0, count: 512)
        var units: [UInt16] = []
        var first = true
        while true {
            var indicator: SQLLEN = 0
            let capacity = SQLLEN(buffer.count * MemoryLayout<SQLWCHAR>.size)
            let result = SQLGetData(handle, index, SQLSMALLINT(SQL_C_WCHAR), &buffer, capacity, &indicator)
            if result == SQLRETURN(SQL_NO_DATA) { break }
            try check(result, "SQLGetData")
            if first, indicator == SQLLEN(SQL_NULL_DATA) { return .null }
            first = false
            if result == SQLRETURN(SQL_SUCCESS_WITH_INFO),
                indicator == SQLLEN(SQL_NO_TOTAL) || Int(indicator) >= Int(capacity) - MemoryLayout<SQLWCHAR>.size
            {
                // Truncated (01004): the buffer holds count − 1 units and a terminating NUL; more follows.
                units.append(contentsOf: buffer[0..<(buffer.count - 1)])
                continue
            }
            units.append(contentsOf: buffer[0..<min(buffer.count, Int(indicator) / MemoryLayout<SQLWCHAR>.size)])
            break
        }
        return .text(String(decoding: units, as: UTF16.self))
    }

    private func check(_ result: SQLRETURN, _ operation: String) throws(ODBCError) {
        guard !ODBC.succeeded(result) else { return }
        throw ODBCError.diagnostics(.query, operation, handleType: SQL_HANDLE_STMT, handle: handle)
    }
}

/// A parameter value with the SQL type it is bound as.
struct ODBCParameter: Hashable, Sendable {
    enum Value: Hashable, Sendable {
        case integer(Int64)
        case text(String)
    }
    var value: Value
    /// The SQL type the server sees (`SQL_INTEGER`, `SQL_VARCHAR`, `SQL_WVARCHAR`...): the column's own family,
    /// so SQL Server compares without converting the column (an index seek, not a scan).
    var sqlType: SQLSMALLINT
    var columnSize: Int
    var decimalDigits: SQLSMALLINT = 0

    var cType: SQLSMALLINT {
        switch value {
        case .integer: SQLSMALLINT(SQL_C_SBIGINT)
        case .text: SQLSMALLINT(SQL_C_WCHAR)
        }
    }
}

/// The buffers bound to parameters: they must outlive `SQLExecute`, so they are allocated, not borrowed.
private struct ParameterBuffers {
    private var entries: [(value: UnsafeMutableRawPointer, capacity: Int, indicator: UnsafeMutablePointer<SQLLEN>)]

    init(_ parameters: [ODBCParameter]) {
        entries = parameters.map { parameter in
            let indicator = UnsafeMutablePointer<SQLLEN>.allocate(capacity: 1)
            switch parameter.value {
            case .integer(let number):
                let value = UnsafeMutableRawPointer.allocate(byteCount: 8, alignment: 8)
                value.storeBytes(of: number, as: Int64.self)
                indicator.pointee = 8
                return (value, 8, indicator)
            case .text(let text):
                let units = Array(text.utf16)
                let bytes = units.count * MemoryLayout<SQLWCHAR>.size
                let value = UnsafeMutableRawPointer.allocate(
                    byteCount: max(bytes, MemoryLayout<SQLWCHAR>.size),
                    alignment: MemoryLayout<SQLWCHAR>.alignment
                )
                units.withUnsafeBytes { value.copyMemory(from: $0.baseAddress!, byteCount: bytes) }
                indicator.pointee = SQLLEN(bytes)
                return (value, max(bytes, MemoryLayout<SQLWCHAR>.size), indicator)
            }
        }
    }

    subscript(index: Int) -> (UnsafeMutableRawPointer, Int, UnsafeMutablePointer<SQLLEN>) {
        entries[index]
    }

    func deallocate() {
        for entry in entries {
            entry.value.deallocate()
            entry.indicator.deallocate()
        }
    }
}

/// A result column as the driver describes it.
struct ODBCColumn: Hashable, Sendable {
    var name: String
    var sqlType: SQLSMALLINT
    var size: Int
    var decimalDigits: SQLSMALLINT
}

/// One value of a fetched row.
enum ODBCCell: Hashable, Sendable {
    case null
    case text(String)
    case double(Double)
}

enum ODBC {
    static func succeeded(_ result: SQLRETURN) -> Bool {
        result == SQLRETURN(SQL_SUCCESS) || result == SQLRETURN(SQL_SUCCESS_WITH_INFO)
    }
}
