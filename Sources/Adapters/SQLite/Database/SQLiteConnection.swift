import Application
import CSQLite3

/// One SQLite connection, confined to the thread that `SQLiteDatabase` runs it on: never store it or
/// pass it out of the `read`/`write` closure that received it.
///
/// Statements passed as SQL text are prepared once and cached by text, so the same SQL string runs
/// without re-parsing; build SQL from constants and bind every value.
package final class SQLiteConnection {
    let handle: OpaquePointer
    private var statements: [String: SQLiteStatement] = [:]
    private static let maxCachedStatements = 256
    /// Whether this connection may write (the writer) or is `query_only` (a reader).
    package let isWriter: Bool

    init(handle: OpaquePointer, isWriter: Bool) {
        self.handle = handle
        self.isWriter = isWriter
    }

    /// Opens a connection; on failure the handle is closed and a port error thrown.
    static func open(path: String, flags: Int32, isWriter: Bool) throws -> SQLiteConnection {
        var db: OpaquePointer?
        let rc = sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close_v2(db)
            throw StoreError.sqlite(SQLiteResultCode(rawValue: rc), message: message)
        }
        sqlite3_extended_result_codes(db, 1)
        return SQLiteConnection(handle: db, isWriter: isWriter)
    }

    /// Finalizes the cached statements and closes the connection.
    func close() {
        for statement in statements.values { statement.finalize() }
        statements.removeAll()
        sqlite3_close_v2(handle)
    }

    private func error(_ rc: Int32, sql: String?) -> StoreError {
        let extended = sqlite3_extended_errcode(handle)
        return StoreError.sqlite(
            SQLiteResultCode(rawValue: extended != 0 ? extended : rc),
            message: String(cString: sqlite3_errmsg(handle)),
            sql: sql
        )
    }

    // MARK: Statements

    /// Runs one or more `;`-separated statements without bindings (DDL, pragmas, transactions).
    package func execute(_ sql: String) throws {
        let rc = sqlite3_exec(handle, sql, nil, nil, nil)
        guard rc == SQLITE_OK else { throw error(rc, sql: sql) }
    }

    /// The cached prepared statement for `sql`, reset with cleared bindings.
    package func statement(_ sql: String) throws -> SQLiteStatement {
        if let statement = statements[sql] {
            statement.reset()
            return statement
        }
        var raw: OpaquePointer?
        let rc = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &raw, nil)
        guard rc == SQLITE_OK, let raw else { throw error(rc, sql: sql) }
        if statements.count >= Self.maxCachedStatements {
            for statement in statements.values { statement.finalize() }
            statements.removeAll()
        }
        let statement = SQLiteStatement(handle: raw, connection: handle, sql: sql)
        statements[sql] = statement
        return statement
    }

    /// Runs `body` with the cached statement for `sql` (the hot-path API: bind and step it as many times as
    /// needed). The statement is reset before and after.
    package func withStatement<R>(_ sql: String, _ body: (SQLiteStatement) throws -> R) throws -> R {
        let statement = try statement(sql)
        defer { statement.reset() }
        return try body(statement)
    }

    /// Runs a query and returns all its rows.
    package func query(_ sql: String, _ bindings: [SQLiteValue] = []) throws -> [SQLiteRow] {
        try withStatement(sql) { try $0.rows(bindings) }
    }

    /// The first row of a query, if any.
    package func queryFirst(_ sql: String, _ bindings: [SQLiteValue] = []) throws -> SQLiteRow? {
        try withStatement(sql) { statement in
            try statement.bind(bindings)
            return try statement.step() ? statement.currentRow() : nil
        }
    }

    /// Runs a statement that returns no rows (or whose rows are ignored).
    package func run(_ sql: String, _ bindings: [SQLiteValue] = []) throws {
        try withStatement(sql) { try $0.run(bindings) }
    }

    /// The rowid of the last successful insert on this connection.
    package var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    /// Rows changed by the last insert, update or delete on this connection.
    package var changes: Int { Int(sqlite3_changes(handle)) }

    /// Whether a transaction is open on this connection.
    package var isInTransaction: Bool { sqlite3_get_autocommit(handle) == 0 }
}
