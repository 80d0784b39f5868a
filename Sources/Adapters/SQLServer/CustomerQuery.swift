import Application
import CODBC
import Domain

/// The one lookup of the SQL Server source of truth: the `Customers` columns `ChangeEventCodec` documents, by
/// primary key and tenant, as one parameterised SELECT in SQL that SQL Server and the test's PostgreSQL both
/// accept (no `TOP`/`LIMIT`, no casts, unquoted identifiers), and the row mapped to a `Customer` exactly as
/// the codec maps a change event of that row.
struct CustomerQuery: Sendable {
    /// The columns, in the order they are selected.
    static let columns = [
        "CustomerId", "TenantId", "Name", "Phone", "Address", "Latitude", "Longitude", "GeofenceRadiusMeters",
        "CustomerType",
    ]

    /// `[database.]schema.table`, checked by `isSafeTableName`.
    let table: String

    /// - Throws: `StoreError.invalidData` when `table` is not one to three dot-separated plain identifiers.
    init(table: String) throws {
        guard Self.isSafeTableName(table) else {
            throw StoreError.invalidData(
                "the SQL Server table name must be [database.]schema.table of letters, digits and _"
            )
        }
        self.table = table
    }

    /// One to three dot-separated identifiers, each a letter or `_` then letters, digits or `_`, at most 128
    /// characters (SQL Server's `sysname`): spliced into SQL unquoted, so nothing else may pass.
    static func isSafeTableName(_ name: String) -> Bool {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...3).contains(parts.count) else { return false }
        return parts.allSatisfy { part in
            guard let first = part.unicodeScalars.first, part.count <= 128 else { return false }
            let isLetter = { (c: Unicode.Scalar) in ("a"..."z").contains(c) || ("A"..."Z").contains(c) || c == "_" }
            return isLetter(first) && part.unicodeScalars.allSatisfy { isLetter($0) || ("0"..."9").contains($0) }
        }
    }

    /// The lookup, with `CustomerId` and `TenantId` as parameters.
    var lookupSQL: String {
        "SELECT \(Self.columns.joined(separator: ", ")) FROM \(table) WHERE CustomerId = ? AND TenantId = ?"
    }

    /// The same columns without rows: run once per connection to learn the key columns' types (and to fail early
    /// on a missing table or column).
    var describeSQL: String {
        "SELECT \(Self.columns.joined(separator: ", ")) FROM \(table) WHERE 1 = 0"
    }

    /// `text` bound as a parameter compared with `column`, in the column's own type family; `nil` when no value
    /// of that column can equal it (an id that is not the canonical text of an integer for an integer column,
    /// or longer than a character column), so the lookup answers "not found" without a round trip.
    static func parameter(_ text: String, for column: ODBCColumn) -> ODBCParameter? {
        switch Int32(column.sqlType) {
        case SQL_TINYINT, SQL_SMALLINT, SQL_INTEGER, SQL_BIGINT:
            guard let number = Int64(text), String(number) == text else { return nil }
            let range: ClosedRange<Int64> =
                switch Int32(column.sqlType) {
                case SQL_TINYINT: 0...255
                case SQL_SMALLINT: Int64(Int16.min)...Int64(Int16.max)
                case SQL_INTEGER: Int64(Int32.min)...Int64(Int32.max)
                default: Int64.min...Int64.max
                }
            guard range.contains(number) else { return nil }
            return ODBCParameter(value: .integer(number), sqlType: column.sqlType, columnSize: 0)
        case SQL_CHAR, SQL_VARCHAR, SQL_LONGVARCHAR, SQL_WCHAR, SQL_WVARCHAR, SQL_WLONGVARCHAR:
            let isWide = [SQL_WCHAR, SQL_WVARCHAR, SQL_WLONGVARCHAR].contains(Int32(column.sqlType))
            // A bounded column's size keeps one cached plan on SQL Server; unbounded (MAX, text) report 0 or huge.
            let bounded = column.size > 0 && column.size <= (isWide ? 4000 : 8000)
            if bounded, text.utf16.count > column.size { return nil }
            return ODBCParameter(
                value: .text(text),
                sqlType: SQLSMALLINT(isWide ? SQL_WVARCHAR : SQL_VARCHAR),
                columnSize: bounded ? column.size : max(1, text.utf16.count)
            )
        default:
            // DECIMAL, GUID...: text converted by the driver; a value it cannot convert matches nothing (22018).
            return ODBCParameter(
                value: .text(text),
                sqlType: column.sqlType,
                columnSize: max(1, column.size),
                decimalDigits: column.decimalDigits
            )
        }
    }

    /// The customer in `row` (the columns in `columns` order), with the defaults of `ChangeEventCodec.decode`:
    /// name `""`, coordinates `0`, geofence radius `Customer.defaultGeofenceRadiusMeters`; no version (a direct
    /// read has no log position).
    ///
    /// - Throws: `StoreError.invalidData` for a coordinate or radius that is not a finite number.
    static func customer(_ row: [ODBCCell], id: CustomerID, tenantId: TenantID) throws -> Customer {
        func text(_ index: Int) -> String? {
            switch row[index] {
            case .null: nil
            case .text(let text): text
            case .double(let value): "\(value)"
            }
        }
        func double(_ index: Int) throws -> Double? {
            let value: Double?
            switch row[index] {
            case .null: return nil
            case .double(let number): value = number
            case .text(let text): value = Double(text.trimmingSpaces())
            }
            guard let value, value.isFinite else {
                throw StoreError.invalidData("\(columns[index]) is not a number")
            }
            return value
        }
        return Customer(
            id: CustomerID(text(0) ?? id.rawValue),
            tenantId: TenantID(text(1) ?? tenantId.rawValue),
            name: text(2) ?? "",
            phone: text(3),
            address: text(4),
            location: Coordinate(latitude: try double(5) ?? 0, longitude: try double(6) ?? 0),
            geofenceRadiusMeters: try double(7) ?? Customer.defaultGeofenceRadiusMeters,
            customerType: text(8)
        )
    }
}
