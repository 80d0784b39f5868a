/// One result row, detached from its statement: values by column index (0-based) or name.
///
/// Typed getters return nil for NULL (and for a name the row does not have), converting between storage
/// classes as SQLite's own `sqlite3_column_*` functions do.
package struct SQLiteRow: Hashable, Sendable {
    /// The column names of the result, shared by all rows of one query.
    package let columns: SQLiteColumns
    /// The values, in column order.
    package let values: [SQLiteValue]

    package init(columns: SQLiteColumns, values: [SQLiteValue]) {
        self.columns = columns
        self.values = values
    }

    /// The value at `index`.
    package subscript(_ index: Int) -> SQLiteValue { values[index] }
    /// The value of column `name`, `.null` when there is no such column.
    package subscript(_ name: String) -> SQLiteValue {
        columns.index(of: name).map { values[$0] } ?? .null
    }

    package func int64(_ index: Int) -> Int64? { values[index].int64 }
    package func int64(_ name: String) -> Int64? { self[name].int64 }
    package func int(_ index: Int) -> Int? { values[index].int64.map { Int($0) } }
    package func int(_ name: String) -> Int? { self[name].int64.map { Int($0) } }
    package func double(_ index: Int) -> Double? { values[index].double }
    package func double(_ name: String) -> Double? { self[name].double }
    package func text(_ index: Int) -> String? { values[index].text }
    package func text(_ name: String) -> String? { self[name].text }
    package func blob(_ index: Int) -> [UInt8]? { values[index].blob }
    package func blob(_ name: String) -> [UInt8]? { self[name].blob }
    /// Non-zero integers are true.
    package func bool(_ index: Int) -> Bool? { values[index].int64.map { $0 != 0 } }
    package func bool(_ name: String) -> Bool? { self[name].int64.map { $0 != 0 } }
    package func isNull(_ index: Int) -> Bool { values[index].isNull }
    package func isNull(_ name: String) -> Bool { self[name].isNull }
}

/// The column names of a result set with a name → index lookup (first column wins on repeats).
package struct SQLiteColumns: Hashable, Sendable {
    package let names: [String]
    private let indexByName: [String: Int]

    package init(_ names: [String]) {
        self.names = names
        var indexByName: [String: Int] = [:]
        for (index, name) in names.enumerated() where indexByName[name] == nil { indexByName[name] = index }
        self.indexByName = indexByName
    }

    /// The index of column `name`, if present.
    package func index(of name: String) -> Int? { indexByName[name] }

    package static func == (lhs: Self, rhs: Self) -> Bool { lhs.names == rhs.names }
    package func hash(into hasher: inout Hasher) { hasher.combine(names) }
}
