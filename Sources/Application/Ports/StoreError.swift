/// The one error family that store, cache and bus adapters throw, in the SSWG shape: codes can grow
/// without breaking `switch`es, and `description` never carries tenant data, SQL or credentials.
public struct StoreError: Error, Hashable, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case duplicate, notFound, conflict, unavailable, invalidData, closed
        }
        private let base: Base

        /// A record with the same identity (or a unique field such as a driver's device id) exists.
        public static let duplicate = Code(base: .duplicate)
        /// The record to change does not exist.
        public static let notFound = Code(base: .notFound)
        /// A compare-and-set found another state than the caller expected (a concurrent writer won).
        public static let conflict = Code(base: .conflict)
        /// The backing service cannot be reached or refused the operation; retrying later may work.
        public static let unavailable = Code(base: .unavailable)
        /// Stored or received data cannot be decoded.
        public static let invalidData = Code(base: .invalidData)
        /// The adapter or subscription was closed.
        public static let closed = Code(base: .closed)

        public var description: String { base.rawValue }
    }

    public let code: Code
    /// Details for logs only (may contain identifiers); never shown to API clients.
    public let detail: String
    public let file: String
    public let line: Int

    public init(_ code: Code, detail: String = "", file: String = #fileID, line: Int = #line) {
        self.code = code
        self.detail = detail
        self.file = file
        self.line = line
    }

    public static func duplicate(_ detail: String = "", file: String = #fileID, line: Int = #line) -> Self {
        Self(.duplicate, detail: detail, file: file, line: line)
    }
    public static func notFound(_ detail: String = "", file: String = #fileID, line: Int = #line) -> Self {
        Self(.notFound, detail: detail, file: file, line: line)
    }
    public static func conflict(_ detail: String = "", file: String = #fileID, line: Int = #line) -> Self {
        Self(.conflict, detail: detail, file: file, line: line)
    }
    public static func unavailable(_ detail: String = "", file: String = #fileID, line: Int = #line) -> Self {
        Self(.unavailable, detail: detail, file: file, line: line)
    }
    public static func invalidData(_ detail: String = "", file: String = #fileID, line: Int = #line) -> Self {
        Self(.invalidData, detail: detail, file: file, line: line)
    }
    public static func closed(_ detail: String = "", file: String = #fileID, line: Int = #line) -> Self {
        Self(.closed, detail: detail, file: file, line: line)
    }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }

    public var description: String { "StoreError.\(code)" }
    public var debugDescription: String { "StoreError.\(code): \(detail) (\(file):\(line))" }
}
