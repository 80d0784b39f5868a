import Application
import CSQLite3

/// A prepared statement owned by one `SQLiteConnection` (its cache), used on the connection's thread only.
///
/// The fast path for hot loops: `reset()`, `bind(_:at:)` each parameter (1-based), `step()`; no array of
/// `SQLiteValue`s is allocated per row. Column getters (0-based) read the current row after `step()`
/// returned true.
package final class SQLiteStatement {
    let handle: OpaquePointer
    let connection: OpaquePointer
    /// The SQL text, for error details.
    package let sql: String
    private var cachedColumns: SQLiteColumns?

    init(handle: OpaquePointer, connection: OpaquePointer, sql: String) {
        self.handle = handle
        self.connection = connection
        self.sql = sql
    }

    func finalize() { sqlite3_finalize(handle) }

    private func check(_ rc: Int32) throws {
        guard rc == SQLITE_OK else {
            throw StoreError.sqlite(
                SQLiteResultCode(rawValue: rc),
                message: String(cString: sqlite3_errmsg(connection)),
                sql: sql
            )
        }
    }

    // MARK: Execution

    /// Resets the statement and clears its bindings, ready for the next execution.
    package func reset() {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    /// Runs the statement to the next row; returns true when a row is available, false when done.
    @discardableResult
    package func step() throws -> Bool {
        let rc = sqlite3_step(handle)
        switch rc {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default:
            let code = SQLiteResultCode(rawValue: sqlite3_extended_errcode(connection))
            let message = String(cString: sqlite3_errmsg(connection))
            sqlite3_reset(handle)
            throw StoreError.sqlite(code, message: message, sql: sql)
        }
    }

    /// Resets, binds `bindings` to parameters 1..., and steps until done.
    package func run(_ bindings: [SQLiteValue] = []) throws {
        reset()
        try bind(bindings)
        while try step() {}
    }

    /// Resets, binds `bindings` and collects every result row.
    package func rows(_ bindings: [SQLiteValue] = []) throws -> [SQLiteRow] {
        reset()
        try bind(bindings)
        var result: [SQLiteRow] = []
        while try step() { result.append(currentRow()) }
        return result
    }

    // MARK: Binding

    /// Binds `values` to parameters 1, 2, ...
    package func bind(_ values: [SQLiteValue]) throws {
        for (offset, value) in values.enumerated() { try bind(value, at: offset + 1) }
    }

    /// Binds one value to parameter `index` (1-based).
    package func bind(_ value: SQLiteValue, at index: Int) throws {
        switch value {
        case .null: try bindNull(at: index)
        case .integer(let v): try bind(v, at: index)
        case .real(let v): try bind(v, at: index)
        case .text(let v): try bind(v, at: index)
        case .blob(let v): try bind(v, at: index)
        }
    }

    package func bindNull(at index: Int) throws { try check(sqlite3_bind_null(handle, Int32(index))) }
    package func bind(_ value: Int64, at index: Int) throws {
        try check(sqlite3_bind_int64(handle, Int32(index), value))
    }
    package func bind(_ value: Int, at index: Int) throws { try bind(Int64(value), at: index) }
    package func bind(_ value: Double, at index: Int) throws {
        try check(sqlite3_bind_double(handle, Int32(index), value))
    }
    package func bind(_ value: Bool, at index: Int) throws { try bind(Int64(value ? 1 : 0), at: index) }
    package func bind(_ value: String, at index: Int) throws {
        var value = value
        let rc = value.withUTF8 { utf8 -> Int32 in
            guard let base = utf8.baseAddress, utf8.count > 0 else {
                return sqlite3_bind_text(handle, Int32(index), "", 0, csqlite3_transient())
            }
            return base.withMemoryRebound(to: CChar.self, capacity: utf8.count) {
                sqlite3_bind_text(handle, Int32(index), $0, Int32(utf8.count), csqlite3_transient())
            }
        }
        try check(rc)
    }
    package func bind(_ value: [UInt8], at index: Int) throws {
        let rc = value.withUnsafeBytes { bytes -> Int32 in
            guard let base = bytes.baseAddress, bytes.count > 0 else {
                return sqlite3_bind_zeroblob(handle, Int32(index), 0)
            }
            return sqlite3_bind_blob(handle, Int32(index), base, Int32(bytes.count), csqlite3_transient())
        }
        try check(rc)
    }
    package func bind(_ value: String?, at index: Int) throws {
        if let value { try bind(value, at: index) } else { try bindNull(at: index) }
    }
    package func bind(_ value: Int64?, at index: Int) throws {
        if let value { try bind(value, at: index) } else { try bindNull(at: index) }
    }
    package func bind(_ value: Double?, at index: Int) throws {
        if let value { try bind(value, at: index) } else { try bindNull(at: index) }
    }

    // MARK: Columns of the current row

    /// The number of result columns.
    package var columnCount: Int { Int(sqlite3_column_count(handle)) }

    /// The result columns' names.
    package var columns: SQLiteColumns {
        if let cachedColumns { return cachedColumns }
        let columns = SQLiteColumns(
            (0..<columnCount).map { String(cString: sqlite3_column_name(handle, Int32($0))) }
        )
        cachedColumns = columns
        return columns
    }

    package func isNull(at column: Int) -> Bool { sqlite3_column_type(handle, Int32(column)) == SQLITE_NULL }
    package func int64(at column: Int) -> Int64 { sqlite3_column_int64(handle, Int32(column)) }
    package func double(at column: Int) -> Double { sqlite3_column_double(handle, Int32(column)) }
    package func text(at column: Int) -> String {
        guard let bytes = sqlite3_column_text(handle, Int32(column)) else { return "" }
        let count = Int(sqlite3_column_bytes(handle, Int32(column)))
        return String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self)
    }
    package func blob(at column: Int) -> [UInt8] {
        let count = Int(sqlite3_column_bytes(handle, Int32(column)))
        guard count > 0, let bytes = sqlite3_column_blob(handle, Int32(column)) else { return [] }
        return Array(UnsafeRawBufferPointer(start: bytes, count: count))
    }
    package func optionalText(at column: Int) -> String? { isNull(at: column) ? nil : text(at: column) }
    package func optionalInt64(at column: Int) -> Int64? { isNull(at: column) ? nil : int64(at: column) }
    package func optionalDouble(at column: Int) -> Double? { isNull(at: column) ? nil : double(at: column) }

    /// The value at `column`, in its storage class.
    package func value(at column: Int) -> SQLiteValue {
        switch sqlite3_column_type(handle, Int32(column)) {
        case SQLITE_INTEGER: .integer(int64(at: column))
        case SQLITE_FLOAT: .real(double(at: column))
        case SQLITE_TEXT: .text(text(at: column))
        case SQLITE_BLOB: .blob(blob(at: column))
        default: .null
        }
    }

    /// The current row, copied out of the statement.
    package func currentRow() -> SQLiteRow {
        SQLiteRow(columns: columns, values: (0..<columnCount).map { value(at: $0) })
    }
}
