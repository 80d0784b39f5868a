package import Application
import CSQLite3

/// A SQLite result code (primary or extended), mirrored so callers never import the C module.
package struct SQLiteResultCode: Hashable, Sendable, CustomStringConvertible {
    /// The raw (possibly extended) code.
    package let rawValue: Int32

    package init(rawValue: Int32) { self.rawValue = rawValue }

    /// The primary code (low 8 bits).
    package var primary: SQLiteResultCode { SQLiteResultCode(rawValue: rawValue & 0xFF) }

    package static let ok = SQLiteResultCode(rawValue: SQLITE_OK)
    package static let error = SQLiteResultCode(rawValue: SQLITE_ERROR)
    package static let busy = SQLiteResultCode(rawValue: SQLITE_BUSY)
    package static let locked = SQLiteResultCode(rawValue: SQLITE_LOCKED)
    package static let noMemory = SQLiteResultCode(rawValue: SQLITE_NOMEM)
    package static let readOnly = SQLiteResultCode(rawValue: SQLITE_READONLY)
    package static let interrupt = SQLiteResultCode(rawValue: SQLITE_INTERRUPT)
    package static let ioError = SQLiteResultCode(rawValue: SQLITE_IOERR)
    package static let corrupt = SQLiteResultCode(rawValue: SQLITE_CORRUPT)
    package static let full = SQLiteResultCode(rawValue: SQLITE_FULL)
    package static let cantOpen = SQLiteResultCode(rawValue: SQLITE_CANTOPEN)
    package static let `protocol` = SQLiteResultCode(rawValue: SQLITE_PROTOCOL)
    package static let constraint = SQLiteResultCode(rawValue: SQLITE_CONSTRAINT)
    package static let constraintUnique = SQLiteResultCode(rawValue: 2067)  // SQLITE_CONSTRAINT_UNIQUE
    package static let constraintPrimaryKey = SQLiteResultCode(rawValue: 1555)  // SQLITE_CONSTRAINT_PRIMARYKEY
    package static let notADatabase = SQLiteResultCode(rawValue: SQLITE_NOTADB)
    package static let row = SQLiteResultCode(rawValue: SQLITE_ROW)
    package static let done = SQLiteResultCode(rawValue: SQLITE_DONE)

    /// Matches an extended code against a primary one (`case .busy:` matches `SQLITE_BUSY_SNAPSHOT`).
    package static func ~= (pattern: SQLiteResultCode, code: SQLiteResultCode) -> Bool {
        pattern.rawValue == code.rawValue || (pattern.rawValue <= 0xFF && pattern.rawValue == code.primary.rawValue)
    }

    package var description: String { String(cString: sqlite3_errstr(rawValue)) + " (\(rawValue))" }

    /// The port error this code means to callers:
    ///
    /// | SQLite | `StoreError` |
    /// |---|---|
    /// | constraint unique / primary key | `.duplicate` |
    /// | busy, locked, I/O, full, cannot open, no memory, interrupt, read-only, protocol | `.unavailable` |
    /// | corrupt, not a database, other constraints, SQL errors and misuse | `.invalidData` |
    package var storeErrorCode: StoreError.Code {
        switch self {
        case .constraintUnique, .constraintPrimaryKey: .duplicate
        case .busy, .locked, .ioError, .full, .cantOpen, .noMemory, .interrupt, .readOnly, .protocol: .unavailable
        default: .invalidData
        }
    }
}

extension StoreError {
    /// The port error for a failed SQLite call, with SQLite's message (and the SQL, if any) in `detail`.
    package static func sqlite(
        _ code: SQLiteResultCode,
        message: String,
        sql: String? = nil,
        file: String = #fileID,
        line: Int = #line
    ) -> StoreError {
        var detail = "SQLite \(code): \(message)"
        if let sql { detail += " [\(sql.prefix(200))]" }
        return StoreError(code.storeErrorCode, detail: detail, file: file, line: line)
    }
}
