public import Application
public import Domain
import Foundation

/// The read model of the source-of-truth tables on PostgreSQL (spec §5.1 `customers_cache`,
/// `accounts_cache`, `products_cache`, `orders_cache`), typed columns, with the version guard of
/// `ReferenceStore`.
///
/// Rows are keyed by source id (unique per source table); a delete keeps a `deleted` tombstone with its
/// version. `apply` locks the row (`FOR UPDATE`), compares versions as the SQLite store does (text order,
/// `nil` never beats a stored version) and writes, in one transaction; a concurrent first insert of the same
/// key retries the transaction, so the guard holds across instances.
public final class PostgresReferenceStore: ReferenceStore {
    package let pool: PostgresPool

    /// A store on `pool`, whose schema must be migrated (`PostgresMigrations.migrateFleet`).
    public init(pool: PostgresPool) { self.pool = pool }

    private struct Layout {
        let table: String
        let columns: [String]
    }

    private static func layout(_ key: ReferenceKey) -> (Layout, String) {
        switch key {
        case .customer(let id):
            (
                Layout(
                    table: "customers_cache",
                    columns: [
                        "name", "phone", "address", "latitude", "longitude", "geofence_radius_meters", "customer_type",
                    ]
                ), id.rawValue
            )
        case .account(let id):
            (Layout(table: "accounts_cache", columns: ["name", "account_type", "settings"]), id.rawValue)
        case .product(let id):
            (Layout(table: "products_cache", columns: ["name", "sku", "category", "unit_price"]), id.rawValue)
        case .order(let id):
            (Layout(table: "orders_cache", columns: ["customer_id", "status", "total_amount"]), id.rawValue)
        }
    }

    private static func values(_ record: ReferenceRecord) throws -> [String?] {
        switch record {
        case .customer(let c):
            [
                c.name, c.phone, c.address, PG.double(c.location.latitude), PG.double(c.location.longitude),
                PG.double(c.geofenceRadiusMeters), c.customerType,
            ]
        case .account(let a):
            [a.name, a.accountType, String(decoding: try JSONEncoder().encode(a.settings), as: UTF8.self)]
        case .product(let p): [p.name, p.sku, p.category, p.unitPrice]
        case .order(let o): [o.customerId?.rawValue, o.status, o.totalAmount]
        }
    }

    private static func supersedes(_ incoming: String?, _ stored: String?) -> Bool {
        switch (incoming, stored) {
        case (_, nil): true
        case (nil, _?): false
        case (let incoming?, let stored?): incoming > stored
        }
    }

    public func apply(_ change: ReferenceChange) async throws -> Bool {
        try await pool.transaction { db in try Self.apply(change, db) }
    }

    /// One transaction for the batch. Rows are locked in key order (a stable sort keeps each key's changes in
    /// order), so instances applying overlapping batches cannot deadlock.
    public func apply(_ changes: [ReferenceChange]) async throws -> [Bool] {
        let order = changes.indices.sorted { a, b in
            let (ka, kb) = (Self.lockKey(changes[a].key), Self.lockKey(changes[b].key))
            return ka != kb ? ka < kb : a < b
        }
        return try await pool.transaction { db in
            var applied = [Bool](repeating: false, count: changes.count)
            for index in order { applied[index] = try Self.apply(changes[index], db) }
            return applied
        }
    }

    private static func lockKey(_ key: ReferenceKey) -> String {
        let (layout, id) = layout(key)
        return layout.table + "\u{0}" + id
    }

    private static func apply(_ change: ReferenceChange, _ db: PGConnection) throws -> Bool {
        let (layout, id) = layout(change.key)
        let incoming: [String?]? =
            switch change {
            case .upsert(let record): try values(record)
            case .delete: nil
            }
        let tenant: String? =
            switch change {
            case .upsert(let record): record.tenantId.rawValue
            case .delete(_, let tenantId, _): tenantId?.rawValue
            }
        let version = change.version
        let columns = layout.columns
        let read = columns.map { $0 == "settings" ? "settings::text" : $0 }.joined(separator: ", ")
        let stored = try db.query(
            "SELECT version, deleted, tenant_id, \(read) FROM \(layout.table) WHERE id = $1 FOR UPDATE",
            [id]
        ).rows.first
        let all = ["id", "tenant_id", "version", "deleted"] + columns
        let placeholders = (1...all.count).map { "$\($0)" }.joined(separator: ", ")
        let nulls = [String?](repeating: nil, count: columns.count)
        guard let stored else {
            let inserted = try db.query(
                "INSERT INTO \(layout.table) (\(all.joined(separator: ", "))) VALUES (\(placeholders)) "
                    + "ON CONFLICT (id) DO NOTHING",
                [id, tenant, version, PG.bool(incoming == nil)] + (incoming ?? nulls)
            )
            // A concurrent first insert won: retry the transaction, which now sees and locks its row.
            guard inserted.affectedRows == 1 else {
                throw PGError(sqlState: PGError.serializationFailure, message: "concurrent first insert")
            }
            return incoming != nil
        }
        let storedVersion = stored.text(0)
        guard Self.supersedes(version, storedVersion) else { return false }
        let wasDeleted = stored.bool(1) ?? false
        if let incoming, !wasDeleted, storedVersion == version, stored.text(2) == tenant,
            (0..<columns.count).map({ stored.text(3 + $0) }) == incoming
        {
            return false
        }
        let assignments = all.dropFirst().enumerated().map { "\($0.element) = $\($0.offset + 2)" }
        try db.query(
            "UPDATE \(layout.table) SET \(assignments.joined(separator: ", ")) WHERE id = $1",
            [id, tenant ?? stored.text(2), version, PG.bool(incoming == nil)] + (incoming ?? nulls)
        )
        return incoming != nil || !wasDeleted
    }

    private func rows(_ layout: Layout, _ clause: String, _ parameters: [String?]) async throws -> [PGRowValues] {
        let read = layout.columns.map { $0 == "settings" ? "settings::text" : $0 }.joined(separator: ", ")
        return try await pool.withConnection { db in
            try db.query(
                "SELECT id, tenant_id, version, \(read) FROM \(layout.table) WHERE NOT deleted AND \(clause)",
                parameters
            ).rows.map { row in PGRowValues(values: (0..<(3 + layout.columns.count)).map { row.text($0) }) }
        }
    }

    private func one(_ key: ReferenceKey, tenantId: TenantID) async throws -> PGRowValues? {
        let (layout, id) = Self.layout(key)
        return try await rows(layout, "id = $1 AND tenant_id = $2", [id, tenantId.rawValue]).first
    }

    private static func customer(_ v: PGRowValues) -> Customer {
        Customer(
            id: CustomerID(v[0] ?? ""),
            tenantId: TenantID(v[1] ?? ""),
            name: v[3] ?? "",
            phone: v[4],
            address: v[5],
            location: Coordinate(
                latitude: v[6].flatMap { Double($0) } ?? 0,
                longitude: v[7].flatMap { Double($0) } ?? 0
            ),
            geofenceRadiusMeters: v[8].flatMap { Double($0) } ?? Customer.defaultGeofenceRadiusMeters,
            customerType: v[9],
            version: v[2]
        )
    }

    public func customer(_ id: CustomerID, tenantId: TenantID) async throws -> Customer? {
        try await one(.customer(id), tenantId: tenantId).map(Self.customer)
    }

    public func customers(tenantId: TenantID) async throws -> [Customer] {
        let (layout, _) = Self.layout(.customer(CustomerID("")))
        return try await rows(layout, "tenant_id = $1 ORDER BY id COLLATE \"C\"", [tenantId.rawValue]).map(
            Self.customer
        )
    }

    public func account(_ id: AccountID, tenantId: TenantID) async throws -> Account? {
        guard let v = try await one(.account(id), tenantId: tenantId) else { return nil }
        let settings: [String: String]
        do {
            settings = try JSONDecoder().decode([String: String].self, from: Data((v[5] ?? "{}").utf8))
        } catch {
            throw StoreError.invalidData("cannot decode account settings: \(error)")
        }
        return Account(
            id: AccountID(v[0] ?? ""),
            tenantId: TenantID(v[1] ?? ""),
            name: v[3] ?? "",
            accountType: v[4],
            settings: settings,
            version: v[2]
        )
    }

    public func product(_ id: ProductID, tenantId: TenantID) async throws -> Product? {
        try await one(.product(id), tenantId: tenantId).map { v in
            Product(
                id: ProductID(v[0] ?? ""),
                tenantId: TenantID(v[1] ?? ""),
                name: v[3] ?? "",
                sku: v[4],
                category: v[5],
                unitPrice: v[6],
                version: v[2]
            )
        }
    }

    public func order(_ id: OrderID, tenantId: TenantID) async throws -> Order? {
        try await one(.order(id), tenantId: tenantId).map { v in
            Order(
                id: OrderID(v[0] ?? ""),
                tenantId: TenantID(v[1] ?? ""),
                customerId: v[3].map { CustomerID($0) },
                status: v[4],
                totalAmount: v[5],
                version: v[2]
            )
        }
    }
}

/// A row's values as text, detached from its `PGResult` (Sendable across the pool boundary).
struct PGRowValues: Sendable {
    let values: [String?]
    subscript(_ index: Int) -> String? { values[index] }
}
