public import Application
public import Domain
import Foundation
public import Logging

/// The read model of the source-of-truth tables on SQLite (spec §5.1 `customers_cache`, `accounts_cache`,
/// `products_cache`, orders), with the version guard of `ReferenceStore`.
///
/// One table, `reference_cache(kind, id, tenant_id, version, record)`, keyed by the source table and primary
/// key (source keys are unique per table); `record` is the JSON of the record, NULL for a delete tombstone,
/// which keeps its version for as long as the file lives so a late, older upsert cannot resurrect the row.
/// `apply` reads, compares and writes in one write transaction. Version rules, `nil` being a snapshot read:
///
/// | stored \ incoming | `nil` | `v` |
/// |---|---|---|
/// | absent | applied | applied |
/// | `nil` | applied (a newer snapshot) | applied |
/// | `s` | ignored | applied only if `v > s` as text |
public final class SQLiteReferenceStore: ReferenceStore {
    /// The database this store writes to.
    package let database: SQLiteDatabase

    /// The `reference.*` migrations.
    package static let migrations: [SQLiteMigration] = [
        SQLiteMigration(
            "reference",
            1,
            sql: """
                CREATE TABLE reference_cache (
                    kind TEXT NOT NULL,
                    id TEXT NOT NULL,
                    tenant_id TEXT,
                    version TEXT,
                    record TEXT,
                    PRIMARY KEY (kind, id)
                ) WITHOUT ROWID;
                CREATE INDEX reference_cache_by_tenant ON reference_cache (kind, tenant_id, id);
                """
        )
    ]

    /// A store on `database`, applying the `reference.*` migrations if needed.
    package init(database: SQLiteDatabase) throws {
        self.database = database
        try database.migrate(Self.migrations)
    }

    /// A store on its own database file at `path` (`:memory:` for a private in-memory database).
    ///
    /// - Throws: `SQLiteOpenError` when the file is not a tracker database or was written by a newer
    ///   version (the file is left untouched).
    public convenience init(path: String, logger: Logger) throws {
        try self.init(database: SQLiteDatabase(path: path, migrations: Self.migrations, logger: logger))
    }

    private static func kind(_ key: ReferenceKey) -> (kind: String, id: String) {
        switch key {
        case .customer(let id): ("customer", id.rawValue)
        case .account(let id): ("account", id.rawValue)
        case .product(let id): ("product", id.rawValue)
        case .order(let id): ("order", id.rawValue)
        }
    }

    private static func encode(_ record: ReferenceRecord) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data: Data =
            switch record {
            case .customer(let value): try encoder.encode(value)
            case .account(let value): try encoder.encode(value)
            case .product(let value): try encoder.encode(value)
            case .order(let value): try encoder.encode(value)
            }
        return String(decoding: data, as: UTF8.self)
    }

    private static func decode<T: Decodable>(_ type: T.Type, _ json: String) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(json.utf8))
        } catch {
            throw StoreError.invalidData("cannot decode a stored \(T.self): \(error)")
        }
    }

    /// Whether a change with `incoming` version may replace an entry with `stored` version.
    private static func supersedes(_ incoming: String?, _ stored: String?) -> Bool {
        switch (incoming, stored) {
        case (_, nil): true
        case (nil, _?): false
        case (let incoming?, let stored?): incoming > stored
        }
    }

    /// Applies `change` unless it is stale; returns whether a record or version changed.
    ///
    /// A delete of a key that holds no record stores its tombstone version and returns `false`.
    public func apply(_ change: ReferenceChange) async throws -> Bool {
        let json = try Self.json(change)
        return try await database.write { db in try Self.apply(change, json: json, db) }
    }

    /// The batch in one write transaction.
    public func apply(_ changes: [ReferenceChange]) async throws -> [Bool] {
        let encoded = try changes.map { ($0, try Self.json($0)) }
        return try await database.write { db in try encoded.map { try Self.apply($0.0, json: $0.1, db) } }
    }

    private static func json(_ change: ReferenceChange) throws -> String? {
        switch change {
        case .upsert(let record): try encode(record)
        case .delete: nil
        }
    }

    private static func apply(_ change: ReferenceChange, json: String?, _ db: SQLiteConnection) throws -> Bool {
        let (kind, id) = kind(change.key)
        let stored = try db.queryFirst(
            "SELECT version, record, tenant_id FROM reference_cache WHERE kind = ? AND id = ?",
            [.text(kind), .text(id)]
        )
        if let stored, !supersedes(change.version, stored.text(0)) { return false }
        switch change {
        case .upsert(let record):
            if let stored, stored.text(0) == change.version, stored.text(1) == json { return false }
            try db.run(
                "REPLACE INTO reference_cache (kind, id, tenant_id, version, record) VALUES (?, ?, ?, ?, ?)",
                [.text(kind), .text(id), .text(record.tenantId.rawValue), .text(change.version), .text(json)]
            )
            return true
        case .delete(_, let tenantId, let version):
            try db.run(
                "REPLACE INTO reference_cache (kind, id, tenant_id, version, record) VALUES (?, ?, ?, ?, NULL)",
                [.text(kind), .text(id), .text(tenantId?.rawValue ?? stored?.text(2)), .text(version)]
            )
            return stored.map { !$0.isNull(1) } ?? false
        }
    }

    private func record<T: Decodable & Sendable>(
        _ type: T.Type,
        _ key: ReferenceKey,
        tenantId: TenantID
    ) async throws -> T? {
        let (kind, id) = Self.kind(key)
        return try await database.read { db in
            try db.queryFirst(
                """
                SELECT record FROM reference_cache
                WHERE kind = ? AND id = ? AND tenant_id = ? AND record IS NOT NULL
                """,
                [.text(kind), .text(id), .text(tenantId.rawValue)]
            ).map { try Self.decode(type, $0.text(0) ?? "") }
        }
    }

    /// The customer `id` of `tenantId`, if any.
    public func customer(_ id: CustomerID, tenantId: TenantID) async throws -> Customer? {
        try await record(Customer.self, .customer(id), tenantId: tenantId)
    }

    /// All customers of a tenant, ordered by id.
    public func customers(tenantId: TenantID) async throws -> [Customer] {
        try await database.read { db in
            try db.query(
                """
                SELECT record FROM reference_cache
                WHERE kind = 'customer' AND tenant_id = ? AND record IS NOT NULL ORDER BY id
                """,
                [.text(tenantId.rawValue)]
            ).map { try Self.decode(Customer.self, $0.text(0) ?? "") }
        }
    }

    /// The account `id` of `tenantId`, if any.
    public func account(_ id: AccountID, tenantId: TenantID) async throws -> Account? {
        try await record(Account.self, .account(id), tenantId: tenantId)
    }

    /// The product `id` of `tenantId`, if any.
    public func product(_ id: ProductID, tenantId: TenantID) async throws -> Product? {
        try await record(Product.self, .product(id), tenantId: tenantId)
    }

    /// The order `id` of `tenantId`, if any.
    public func order(_ id: OrderID, tenantId: TenantID) async throws -> Order? {
        try await record(Order.self, .order(id), tenantId: tenantId)
    }
}
