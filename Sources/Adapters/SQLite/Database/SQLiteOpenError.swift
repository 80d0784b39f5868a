/// Why a database file could not be opened. Raised before anything is written to the file, so the
/// file is left exactly as it was; `description` is a message for the operator.
public struct SQLiteOpenError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What is wrong with the file.
    public enum Kind: Hashable, Sendable {
        /// The file cannot be opened or created (permissions, missing directory...).
        case cannotOpen
        /// The file is not a SQLite database, or is corrupt.
        case notADatabase
        /// The file is a SQLite database of another application.
        case foreignDatabase
        /// The file was written by a newer version of tracker.
        case newerVersion
    }

    /// What is wrong with the file.
    public let kind: Kind
    /// The database file.
    public let path: String
    /// The operator-facing explanation.
    public let message: String

    /// Creates an error; `message` should say what happened and what to do.
    public init(_ kind: Kind, path: String, message: String) {
        self.kind = kind
        self.path = path
        self.message = message
    }

    public var description: String { message }
}
