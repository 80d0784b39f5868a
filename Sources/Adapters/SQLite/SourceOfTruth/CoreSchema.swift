import Application
import Domain

/// The local "core" database: the spec's `Customers`, `Accounts`, `Products` and `Orders` tables (columns as
/// `ChangeEventCodec` names them), with change capture by triggers, like SQL Server's CDC tables.
///
/// - `core_changes(lsn, table_name, operation, primary_key, before_image, after_image, source_ts_ms,
///   relayed)`: one row per changed row, written by `AFTER INSERT/UPDATE/DELETE` triggers in the writing
///   transaction, whoever wrote (this adapter or plain SQL from another application). Images are JSON
///   objects of the columns; `REAL` columns are written as 17-digit text so doubles round-trip exactly.
///   A primary-key update is captured as a delete of the old key then an insert of the new one, as
///   Debezium emits it.
/// - `core_lsn(id, last)`: the last LSN handed out: `max(last + 1, now_ms × 1024)`, so LSNs strictly
///   increase, survive restarts and keep increasing (seeded from the clock like the in-memory source) even
///   when the file is recreated.
enum CoreSchema {
    struct Column {
        var name: String
        var declaration: String
        var isReal = false
    }

    struct Table {
        var name: String
        var idColumn: String
        var columns: [Column]
    }

    static let tables: [Table] = [
        Table(
            name: "Customers",
            idColumn: "CustomerId",
            columns: [
                Column(name: "CustomerId", declaration: "TEXT NOT NULL PRIMARY KEY"),
                Column(name: "TenantId", declaration: "TEXT NOT NULL"),
                Column(name: "Name", declaration: "TEXT NOT NULL"),
                Column(name: "Phone", declaration: "TEXT"),
                Column(name: "Address", declaration: "TEXT"),
                Column(name: "Latitude", declaration: "REAL NOT NULL", isReal: true),
                Column(name: "Longitude", declaration: "REAL NOT NULL", isReal: true),
                Column(name: "GeofenceRadiusMeters", declaration: "REAL NOT NULL DEFAULT 100", isReal: true),
                Column(name: "CustomerType", declaration: "TEXT"),
            ]
        ),
        Table(
            name: "Accounts",
            idColumn: "AccountId",
            columns: [
                Column(name: "AccountId", declaration: "TEXT NOT NULL PRIMARY KEY"),
                Column(name: "TenantId", declaration: "TEXT NOT NULL"),
                Column(name: "Name", declaration: "TEXT NOT NULL"),
                Column(name: "AccountType", declaration: "TEXT"),
                Column(name: "Settings", declaration: "TEXT NOT NULL DEFAULT '{}'"),
            ]
        ),
        Table(
            name: "Products",
            idColumn: "ProductId",
            columns: [
                Column(name: "ProductId", declaration: "TEXT NOT NULL PRIMARY KEY"),
                Column(name: "TenantId", declaration: "TEXT NOT NULL"),
                Column(name: "Name", declaration: "TEXT NOT NULL"),
                Column(name: "Sku", declaration: "TEXT"),
                Column(name: "Category", declaration: "TEXT"),
                Column(name: "UnitPrice", declaration: "TEXT"),
            ]
        ),
        Table(
            name: "Orders",
            idColumn: "OrderId",
            columns: [
                Column(name: "OrderId", declaration: "TEXT NOT NULL PRIMARY KEY"),
                Column(name: "TenantId", declaration: "TEXT NOT NULL"),
                Column(name: "CustomerId", declaration: "TEXT"),
                Column(name: "Status", declaration: "TEXT"),
                Column(name: "TotalAmount", declaration: "TEXT"),
            ]
        ),
    ]

    static func table(_ name: String) -> Table? { tables.first { $0.name == name } }

    /// The current time in epoch milliseconds, in SQL (`unixepoch('subsec')` needs SQLite 3.42).
    private static let nowMs = "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)"

    private static func image(_ table: Table, _ row: String) -> String {
        let fields = table.columns.map { column in
            let value = column.isReal ? "printf('%!.17g', \(row).\(column.name))" : "\(row).\(column.name)"
            return "'\(column.name)', \(value)"
        }
        return "json_object(\(fields.joined(separator: ", ")))"
    }

    /// Statements of a trigger body recording one change row.
    private static func capture(
        _ table: Table,
        operation: String,
        key: String,
        before: String,
        after: String
    )
        -> String
    {
        """
            UPDATE core_lsn SET last = max(last + 1, \(nowMs) * 1024) WHERE id = 1;
            INSERT INTO core_changes (lsn, table_name, operation, primary_key, before_image, after_image, source_ts_ms)
            VALUES ((SELECT last FROM core_lsn WHERE id = 1), '\(table.name)', '\(operation)', \(key), \(before), \(after), \(nowMs));
        """
    }

    private static func triggers(_ table: Table) -> String {
        let id = table.idColumn
        let old = image(table, "OLD")
        let new = image(table, "NEW")
        return """
            CREATE TRIGGER \(table.name)_cdc_insert AFTER INSERT ON \(table.name) BEGIN
            \(capture(table, operation: "c", key: "NEW.\(id)", before: "NULL", after: new))
            END;
            CREATE TRIGGER \(table.name)_cdc_update AFTER UPDATE ON \(table.name) WHEN OLD.\(id) IS NEW.\(id) BEGIN
            \(capture(table, operation: "u", key: "NEW.\(id)", before: old, after: new))
            END;
            CREATE TRIGGER \(table.name)_cdc_update_key AFTER UPDATE ON \(table.name) WHEN OLD.\(id) IS NOT NEW.\(id) BEGIN
            \(capture(table, operation: "d", key: "OLD.\(id)", before: old, after: "NULL"))
            \(capture(table, operation: "c", key: "NEW.\(id)", before: "NULL", after: new))
            END;
            CREATE TRIGGER \(table.name)_cdc_delete AFTER DELETE ON \(table.name) BEGIN
            \(capture(table, operation: "d", key: "OLD.\(id)", before: old, after: "NULL"))
            END;
            """
    }

    static let migrations: [SQLiteMigration] = [
        SQLiteMigration(
            "core",
            1,
            sql: tables.map { table in
                "CREATE TABLE \(table.name) (\(table.columns.map { "\($0.name) \($0.declaration)" }.joined(separator: ", ")));"
                    + "CREATE INDEX \(table.name)_by_tenant ON \(table.name) (TenantId, \(table.idColumn));"
            }.joined(separator: "\n")
                + """

                CREATE TABLE core_lsn (id INTEGER PRIMARY KEY CHECK (id = 1), last INTEGER NOT NULL);
                INSERT INTO core_lsn (id, last) VALUES (1, 0);
                CREATE TABLE core_changes (
                    lsn INTEGER PRIMARY KEY,
                    table_name TEXT NOT NULL,
                    operation TEXT NOT NULL CHECK (operation IN ('c', 'u', 'd')),
                    primary_key TEXT NOT NULL,
                    before_image TEXT,
                    after_image TEXT,
                    source_ts_ms INTEGER NOT NULL,
                    relayed INTEGER NOT NULL DEFAULT 0
                );
                CREATE INDEX core_changes_pending ON core_changes (lsn) WHERE relayed = 0;

                """ + tables.map(triggers).joined(separator: "\n")
        )
    ]

    // MARK: Rows

    /// The column values of a record, in the table's column order.
    static func values(of record: ReferenceRecord) -> [SQLiteValue] {
        switch record {
        case .customer(let c):
            return [
                .text(c.id.rawValue), .text(c.tenantId.rawValue), .text(c.name), .text(c.phone), .text(c.address),
                .real(c.location.latitude), .real(c.location.longitude), .real(c.geofenceRadiusMeters),
                .text(c.customerType),
            ]
        case .account(let a):
            return [
                .text(a.id.rawValue), .text(a.tenantId.rawValue), .text(a.name), .text(a.accountType),
                .text(HeaderCoding.encode(a.settings) ?? "{}"),
            ]
        case .product(let p):
            return [
                .text(p.id.rawValue), .text(p.tenantId.rawValue), .text(p.name), .text(p.sku), .text(p.category),
                .text(p.unitPrice),
            ]
        case .order(let o):
            return [
                .text(o.id.rawValue), .text(o.tenantId.rawValue), .text(o.customerId?.rawValue), .text(o.status),
                .text(o.totalAmount),
            ]
        }
    }

    static func upsertSQL(_ table: Table) -> String {
        let names = table.columns.map(\.name)
        let placeholders = names.indices.map { "?\($0 + 1)" }.joined(separator: ", ")
        let updates = names.dropFirst().map { "\($0) = excluded.\($0)" }.joined(separator: ", ")
        return "INSERT INTO \(table.name) (\(names.joined(separator: ", "))) VALUES (\(placeholders)) "
            + "ON CONFLICT (\(table.idColumn)) DO UPDATE SET \(updates)"
    }

    /// `%08x:%08x:%04x`: the high and low 32 bits of `value`, then `slot` (the in-memory source's format).
    static func formatLSN(_ value: Int64, slot: UInt16) -> String {
        func hex(_ number: UInt64, width: Int) -> String {
            let digits = String(number, radix: 16)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        let bits = UInt64(bitPattern: value)
        return "\(hex(bits >> 32, width: 8)):\(hex(bits & 0xFFFF_FFFF, width: 8)):\(hex(UInt64(slot), width: 4))"
    }
}

extension ReferenceKey {
    /// The primary key value as stored.
    var coreIdText: String {
        switch self {
        case .customer(let id): id.rawValue
        case .account(let id): id.rawValue
        case .product(let id): id.rawValue
        case .order(let id): id.rawValue
        }
    }
}
