import CODBC

/// A failed ODBC call: the first diagnostic record's SQLSTATE, the messages (with anything that looks like a
/// credential removed), the call, and whether it happened while connecting or querying.
struct ODBCError: Error, CustomStringConvertible {
    enum Phase: Hashable, Sendable {
        /// Allocating handles or `SQLDriverConnect`: the server was not reached or refused the login.
        case connect
        /// Preparing, executing or fetching.
        case query
    }

    var phase: Phase
    var operation: String
    var sqlState: String
    var nativeError: Int = 0
    var message: String

    var description: String { "ODBC error \(sqlState) in \(operation)" }

    /// SQLSTATE class 08: the connection failed or broke (08001 cannot connect, 08S01 link failure...).
    var isConnectionFailure: Bool { sqlState.hasPrefix("08") }
    /// HYT00 (query timeout expired: Microsoft's driver and FreeTDS), HYT01 (connection timeout expired), HY008
    /// (operation canceled), or 57014 (query canceled: psqlODBC enforces the query timeout as PostgreSQL's
    /// `statement_timeout` and passes the server's SQLSTATE on).
    var isTimeout: Bool { ["HYT00", "HYT01", "HY008", "57014"].contains(sqlState) }
    /// The value cannot be compared with the column (22018 invalid character value for cast, 22003 out of range,
    /// 22001 right truncation, 22005 assignment error): no row can match it.
    var isValueMismatch: Bool { ["22018", "22003", "22001", "22005"].contains(sqlState) }

    /// The diagnostic records of `handle` after a failed `operation`.
    static func diagnostics(
        _ phase: Phase,
        _ operation: String,
        handleType: Int32,
        handle: SQLHANDLE?
    ) -> ODBCError {
        var state = ""
        var native = 0
        var messages: [String] = []
        var record: SQLSMALLINT = 1
        while let handle, record <= 4 {
            var sqlState = [SQLWCHAR](repeating: 0, count: 6)
            var nativeError: SQLINTEGER = 0
            var text = [SQLWCHAR](repeating: 0, count: 1024)
            var length: SQLSMALLINT = 0
            let result = SQLGetDiagRecW(
                SQLSMALLINT(handleType),
                handle,
                record,
                &sqlState,
                &nativeError,
                &text,
                SQLSMALLINT(text.count),
                &length
            )
            guard ODBC.succeeded(result) else { break }
            if record == 1 {
                state = String(decoding: sqlState.prefix(5), as: UTF16.self)
                native = Int(nativeError)
            }
            let count = min(max(0, Int(length)), text.count - 1)
            messages.append(String(decoding: text[0..<count], as: UTF16.self))
            record += 1
        }
        return ODBCError(
            phase: phase,
            operation: operation,
            sqlState: state.isEmpty ? "HY000" : state,
            nativeError: native,
            message: redact(messages.joined(separator: " "))
        )
    }

    /// The message on one line without the value of any `PWD=`/`Password=` pair (up to the next `;`, or the
    /// closing `}` of a braced value): some drivers quote parts of the connection string in their messages.
    static func redact(_ message: String) -> String {
        let characters: [Character] = message.map { $0.isNewline || $0 == "\t" ? " " : $0 }
        let keys: [[Character]] = [Array("pwd="), Array("password=")]
        func matches(_ key: [Character], at index: Int) -> Bool {
            guard index + key.count <= characters.count else { return false }
            return zip(characters[index..<(index + key.count)], key).allSatisfy { $0.lowercased() == String($1) }
        }
        var output = ""
        var index = 0
        while index < characters.count {
            guard let key = keys.first(where: { matches($0, at: index) }) else {
                output.append(characters[index])
                index += 1
                continue
            }
            output += String(characters[index..<(index + key.count)]) + "[redacted]"
            index += key.count
            let closing: Character = index < characters.count && characters[index] == "{" ? "}" : ";"
            while index < characters.count, characters[index] != closing { index += 1 }
            if closing == "}", index < characters.count { index += 1 }
        }
        while output.last == " " { output.removeLast() }
        return output
    }
}
