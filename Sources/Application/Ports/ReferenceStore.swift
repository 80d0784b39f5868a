public import Domain

/// A read-model record synced from the source of truth.
public enum ReferenceRecord: Hashable, Sendable {
    case customer(Customer)
    case account(Account)
    case product(Product)
    case order(Order)

    public var key: ReferenceKey {
        switch self {
        case .customer(let c): .customer(c.id)
        case .account(let a): .account(a.id)
        case .product(let p): .product(p.id)
        case .order(let o): .order(o.id)
        }
    }

    public var tenantId: TenantID {
        switch self {
        case .customer(let c): c.tenantId
        case .account(let a): a.tenantId
        case .product(let p): p.tenantId
        case .order(let o): o.tenantId
        }
    }

    public var version: String? {
        switch self {
        case .customer(let c): c.version
        case .account(let a): a.version
        case .product(let p): p.version
        case .order(let o): o.version
        }
    }
}

/// The identity of a read-model record.
public enum ReferenceKey: Hashable, Sendable {
    case customer(CustomerID)
    case account(AccountID)
    case product(ProductID)
    case order(OrderID)

    /// The source table (`Customers`, `Accounts`, `Products`, `Orders`).
    public var table: String {
        switch self {
        case .customer: "Customers"
        case .account: "Accounts"
        case .product: "Products"
        case .order: "Orders"
        }
    }
}

/// One change captured from the source of truth.
public enum ReferenceChange: Hashable, Sendable {
    /// Insert, update or snapshot read.
    case upsert(ReferenceRecord)
    /// Delete; `version` orders it against other changes of the same key.
    case delete(ReferenceKey, tenantId: TenantID?, version: String?)

    public var key: ReferenceKey {
        switch self {
        case .upsert(let r): r.key
        case .delete(let k, _, _): k
        }
    }

    public var version: String? {
        switch self {
        case .upsert(let r): r.version
        case .delete(_, _, let v): v
        }
    }
}

/// The local cache of source-of-truth tables (spec §5.1 `customers_cache`, `accounts_cache`,
/// `products_cache`, orders), kept fresh by change data capture.
///
/// - **Ordering guard:** `apply` compares versions as text (fixed-width LSN tuples sort as text). A change
///   whose version is lower than or equal to the stored version of that key is stale and ignored
///   (`false`). A `nil` version (snapshot read) never overrides a stored non-nil version. Deleting keeps a
///   tombstone version so a late older upsert cannot resurrect the row.
/// - **Idempotency:** applying the same change twice leaves the same state.
/// - **Tenancy:** reads take the tenant and never return another tenant's record.
/// - **Durability:** a returned `apply` is visible to all subsequent reads of this store.
public protocol ReferenceStore: Sendable {
    /// Applies one change; returns whether it changed the store (false when stale).
    func apply(_ change: ReferenceChange) async throws -> Bool
    /// Applies changes in order, as `apply` one by one would (a database adapter in one transaction); returns
    /// whether each changed the store.
    func apply(_ changes: [ReferenceChange]) async throws -> [Bool]
    func customer(_ id: CustomerID, tenantId: TenantID) async throws -> Customer?
    /// All customers of a tenant, ordered by id.
    func customers(tenantId: TenantID) async throws -> [Customer]
    func account(_ id: AccountID, tenantId: TenantID) async throws -> Account?
    func product(_ id: ProductID, tenantId: TenantID) async throws -> Product?
    func order(_ id: OrderID, tenantId: TenantID) async throws -> Order?
}

extension ReferenceStore {
    public func apply(_ changes: [ReferenceChange]) async throws -> [Bool] {
        var applied: [Bool] = []
        applied.reserveCapacity(changes.count)
        for change in changes { applied.append(try await apply(change)) }
        return applied
    }
}
