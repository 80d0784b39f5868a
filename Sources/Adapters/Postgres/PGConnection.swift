import Application
import CLibpq
import Foundation

/// One libpq connection, used by one pool thread at a time (never shared concurrently).
///
/// Every call blocks; the pool runs them on its own threads, never on Swift's cooperative pool. Values are
/// always bound as text parameters (`PQexecParams`/`PQexecPrepared`), never spliced into SQL.
final class PGConnection {
    private let handle: OpaquePointer
    /// Statements prepared on this connection (names are per connection; a new connection starts empty).
    private var prepared: Set<String> = []

    /// Connects with `parameters` (libpq keywords; a `dbname` holding a URL is expanded, later keywords
    /// override it); throws `StoreError.unavailable` (without the URL or password) when it fails.
    init(parameters: [(String, String)]) throws {
        let keywords = parameters.map { strdup($0.0) }
        let values = parameters.map { strdup($0.1) }
        defer {
            for pointer in keywords + values { free(pointer) }
        }
        let keywordPointers = keywords.map { UnsafePointer($0) } + [nil]
        let valuePointers = values.map { UnsafePointer($0) } + [nil]
        guard let conn = PQconnectdbParams(keywordPointers, valuePointers, 1) else {
            throw StoreError.unavailable("PQconnectdbParams returned NULL")
        }
        guard PQstatus(conn) == CONNECTION_OK else {
            let message = String(cString: PQerrorMessage(conn))
            PQfinish(conn)
            throw StoreError.unavailable("cannot connect to PostgreSQL: \(Self.redact(message))")
        }
        // Server notices ("relation … already exists, skipping" from idempotent DDL) would go to stderr.
        PQsetNoticeProcessor(conn, { _, _ in }, nil)
        handle = conn
    }

    deinit { PQfinish(handle) }

    /// Whether the connection is still usable (libpq noticed no broken socket).
    var isOK: Bool { PQstatus(handle) == CONNECTION_OK }

    /// Whether a transaction block is open (or failed and waiting for ROLLBACK).
    var isInTransaction: Bool {
        let status = PQtransactionStatus(handle)
        return status == PQTRANS_INTRANS || status == PQTRANS_INERROR
    }

    /// The server version, e.g. 150020.
    var serverVersion: Int { Int(PQserverVersion(handle)) }

    /// Runs one statement with text parameters (`nil` is SQL NULL) and returns its result.
    @discardableResult
    func query(_ sql: String, _ parameters: [String?] = []) throws -> PGResult {
        try withParameters(parameters) { count, values in
            try check(PQexecParams(handle, sql, count, nil, values, nil, nil, 0))
        }
    }

    /// Runs statement `name` (prepared once per connection from `sql`) with text parameters.
    @discardableResult
    func prepared(_ name: String, _ sql: String, _ parameters: [String?]) throws -> PGResult {
        if !prepared.contains(name) {
            _ = try check(PQprepare(handle, name, sql, 0, nil))
            prepared.insert(name)
        }
        return try withParameters(parameters) { count, values in
            try check(PQexecPrepared(handle, name, count, values, nil, nil, 0))
        }
    }

    /// Runs SQL without parameters (may hold several statements, e.g. a migration).
    func execute(_ sql: String) throws {
        _ = try check(PQexec(handle, sql))
    }

    /// Runs `COPY … FROM STDIN` with `sql` and sends `data` (text format) as its input.
    func copyIn(_ sql: String, data: [UInt8]) throws {
        let start = try check(PQexec(handle, sql), accepting: PGRES_COPY_IN)
        _ = start
        let sent = data.withUnsafeBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buffer.count) {
                PQputCopyData(handle, $0, Int32(buffer.count))
            }
        }
        guard sent == 1, PQputCopyEnd(handle, nil) == 1 else {
            throw StoreError.unavailable("COPY failed: \(String(cString: PQerrorMessage(handle)))")
        }
        var failure: (any Error)?
        while let result = PQgetResult(handle) {
            do { _ = try check(result) } catch { failure = failure ?? error }
        }
        if let failure { throw failure }
    }

    private func withParameters<T>(
        _ parameters: [String?],
        _ body: (Int32, UnsafePointer<UnsafePointer<CChar>?>?) throws -> T
    ) throws -> T {
        // One contiguous buffer of NUL-terminated strings, pointers into it.
        var bytes: [CChar] = []
        var offsets: [Int?] = []
        offsets.reserveCapacity(parameters.count)
        for parameter in parameters {
            if let parameter {
                offsets.append(bytes.count)
                bytes.append(contentsOf: parameter.utf8CString)
            } else {
                offsets.append(nil)
            }
        }
        return try bytes.withUnsafeBufferPointer { buffer in
            let pointers: [UnsafePointer<CChar>?] = offsets.map { offset in
                offset.map { buffer.baseAddress! + $0 }
            }
            return try pointers.withUnsafeBufferPointer { try body(Int32(parameters.count), $0.baseAddress) }
        }
    }

    /// Wraps `result`, or throws the `StoreError` its status and SQLSTATE map to.
    private func check(_ result: OpaquePointer?, accepting extra: ExecStatusType? = nil) throws -> PGResult {
        guard let result else {
            throw StoreError.unavailable("no result: \(Self.redact(String(cString: PQerrorMessage(handle))))")
        }
        let status = PQresultStatus(result)
        if status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == extra {
            return PGResult(result)
        }
        let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) } ?? ""
        let message = String(cString: PQresultErrorMessage(result))
        PQclear(result)
        throw PGError(sqlState: state, message: message.isEmpty ? String(cString: PQerrorMessage(handle)) : message)
    }

    /// Drops anything that looks like a password or URL from a libpq message.
    static func redact(_ message: String) -> String {
        message.split(separator: " ").map { word in
            word.contains("://") || word.lowercased().contains("password=") ? "[redacted]" : String(word)
        }.joined(separator: " ").trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// A server error with its SQLSTATE; `storeError` maps it to the ports' error.
struct PGError: Error, CustomStringConvertible {
    let sqlState: String
    let message: String

    var description: String { "PostgreSQL error \(sqlState)" }

    static let uniqueViolation = "23505"
    static let serializationFailure = "40001"
    static let deadlockDetected = "40P01"
    static let duplicateTable = "42P07"
    static let duplicateObject = "42710"

    var isConnectionClass: Bool {
        sqlState.hasPrefix("08") || sqlState.hasPrefix("57P") || sqlState.isEmpty || sqlState == "53300"
    }
    var isRetryable: Bool { sqlState == Self.serializationFailure || sqlState == Self.deadlockDetected }

    /// The port error for this server error.
    var storeError: StoreError {
        switch sqlState {
        case Self.uniqueViolation: .duplicate("unique violation: \(message)")
        case _ where isConnectionClass: .unavailable("PostgreSQL unavailable (\(sqlState)): \(message)")
        case "57014": .unavailable("statement timeout: \(message)")
        case _ where sqlState.hasPrefix("22") || sqlState.hasPrefix("23"): .invalidData("\(sqlState): \(message)")
        default: .unavailable("PostgreSQL error \(sqlState): \(message)")
        }
    }
}

/// A `PGresult`, cleared when released. Values are read as text (the result format is text).
final class PGResult {
    private let handle: OpaquePointer
    let rowCount: Int
    let columnCount: Int

    init(_ handle: OpaquePointer) {
        self.handle = handle
        rowCount = Int(PQntuples(handle))
        columnCount = Int(PQnfields(handle))
    }

    deinit { PQclear(handle) }

    /// Rows affected by an INSERT/UPDATE/DELETE (0 when not applicable).
    var affectedRows: Int { Int(String(cString: PQcmdTuples(handle))) ?? 0 }

    func isNull(_ row: Int, _ column: Int) -> Bool { PQgetisnull(handle, Int32(row), Int32(column)) == 1 }

    func text(_ row: Int, _ column: Int) -> String? {
        guard !isNull(row, column) else { return nil }
        return String(cString: PQgetvalue(handle, Int32(row), Int32(column)))
    }

    func int64(_ row: Int, _ column: Int) -> Int64? { text(row, column).flatMap { Int64($0) } }
    func int(_ row: Int, _ column: Int) -> Int? { text(row, column).flatMap { Int($0) } }
    func double(_ row: Int, _ column: Int) -> Double? { text(row, column).flatMap { Double($0) } }
    func bool(_ row: Int, _ column: Int) -> Bool? { text(row, column).map { $0 == "t" } }

    /// The rows as `PGRow` views, in order.
    var rows: [PGRow] { (0..<rowCount).map { PGRow(result: self, index: $0) } }
}

/// One row of a `PGResult`.
struct PGRow {
    let result: PGResult
    let index: Int
    func text(_ column: Int) -> String? { result.text(index, column) }
    func int64(_ column: Int) -> Int64? { result.int64(index, column) }
    func int(_ column: Int) -> Int? { result.int(index, column) }
    func double(_ column: Int) -> Double? { result.double(index, column) }
    func bool(_ column: Int) -> Bool? { result.bool(index, column) }
    func isNull(_ column: Int) -> Bool { result.isNull(index, column) }
}
