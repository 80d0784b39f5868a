public import Application
public import Domain

/// The read model of the source-of-truth tables kept in the process's memory, with the version guard of
/// `ReferenceStore`.
///
/// Records are identified by their key alone (source primary keys are unique per table); reads filter by
/// tenant. A delete leaves a tombstone holding its version for as long as the store lives, so a late, older
/// upsert of the key cannot bring the row back.
///
/// Version rules, `nil` being a snapshot read:
///
/// | stored \ incoming | `nil` | `v` |
/// |---|---|---|
/// | absent | applied | applied |
/// | `nil` | applied (a newer snapshot) | applied |
/// | `s` | ignored | applied only if `v > s` as text |
public actor InMemoryReferenceStore: ReferenceStore {
    private struct Entry {
        /// `nil` for a tombstone.
        var record: ReferenceRecord?
        var version: String?
    }

    private var entries: [ReferenceKey: Entry] = [:]
    private var customersByTenant: [TenantID: [CustomerID: Customer]] = [:]

    /// Creates an empty store.
    public init() {}

    /// Applies `change` unless it is stale; returns whether a record or version changed.
    ///
    /// A delete of a key that holds no record stores its tombstone version and returns `false` (nothing
    /// visible changed).
    public func apply(_ change: ReferenceChange) async throws -> Bool {
        let key = change.key
        let stored = entries[key]
        if let stored, !Self.supersedes(change.version, stored.version) { return false }
        switch change {
        case .upsert(let record):
            if stored?.record == record, stored?.version == change.version { return false }
            if case .customer(let old)? = stored?.record { customersByTenant[old.tenantId]?[old.id] = nil }
            if case .customer(let customer) = record {
                customersByTenant[customer.tenantId, default: [:]][customer.id] = customer
            }
            entries[key] = Entry(record: record, version: change.version)
            return true
        case .delete(_, _, let version):
            if case .customer(let old)? = stored?.record { customersByTenant[old.tenantId]?[old.id] = nil }
            entries[key] = Entry(record: nil, version: version)
            return stored?.record != nil
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

    private func record(_ key: ReferenceKey, tenantId: TenantID) -> ReferenceRecord? {
        guard let record = entries[key]?.record, record.tenantId == tenantId else { return nil }
        return record
    }

    /// The customer `id` of `tenantId`, if any.
    public func customer(_ id: CustomerID, tenantId: TenantID) async throws -> Customer? {
        guard case .customer(let customer)? = record(.customer(id), tenantId: tenantId) else { return nil }
        return customer
    }

    /// All customers of a tenant, ordered by id.
    public func customers(tenantId: TenantID) async throws -> [Customer] {
        (customersByTenant[tenantId] ?? [:]).values.sorted { $0.id < $1.id }
    }

    /// The account `id` of `tenantId`, if any.
    public func account(_ id: AccountID, tenantId: TenantID) async throws -> Account? {
        guard case .account(let account)? = record(.account(id), tenantId: tenantId) else { return nil }
        return account
    }

    /// The product `id` of `tenantId`, if any.
    public func product(_ id: ProductID, tenantId: TenantID) async throws -> Product? {
        guard case .product(let product)? = record(.product(id), tenantId: tenantId) else { return nil }
        return product
    }

    /// The order `id` of `tenantId`, if any.
    public func order(_ id: OrderID, tenantId: TenantID) async throws -> Order? {
        guard case .order(let order)? = record(.order(id), tenantId: tenantId) else { return nil }
        return order
    }
}
