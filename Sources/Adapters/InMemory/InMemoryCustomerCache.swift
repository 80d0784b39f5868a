public import AdapterSupport
public import Application
public import Domain

/// The shared customer cache kept in the process's memory: entries expire `ttl` after their `put` on the
/// injected clock. "Every instance" is every user of this object.
public actor InMemoryCustomerCache: CustomerCache {
    private let clock: any WallClock
    /// A customer, or an invalidation remembering the change's version.
    private enum Entry {
        case customer(Customer)
        case invalidated(version: String?)

        var version: String? {
            switch self {
            case .customer(let customer): customer.version
            case .invalidated(let version): version
            }
        }
    }

    private var entries = ExpiringEntries<TenantKey<Customer>, Entry>()
    private let invalidationTTL: Duration

    /// Creates an empty cache whose TTLs run on `clock`.
    public init(clock: any WallClock = SystemWallClock(), invalidationTTL: Duration = .seconds(300)) {
        self.clock = clock
        self.invalidationTTL = invalidationTTL
    }

    /// The cached customer, unless absent or expired.
    public func customer(_ id: CustomerID, tenantId: TenantID) async throws -> Customer? {
        guard
            case .customer(let customer) = entries.value(
                TenantKey(tenantId: tenantId, id: id.rawValue),
                at: clock.now()
            )
        else { return nil }
        return customer
    }

    /// Caches `customer` for `ttl`, unless the entry or invalidation there has a higher version.
    public func put(_ customer: Customer, ttl: Duration) async throws {
        let now = clock.now()
        let key = TenantKey<Customer>(tenantId: customer.tenantId, id: customer.id.rawValue)
        if let stored = entries.value(key, at: now), (stored.version ?? "") > (customer.version ?? "") { return }
        entries.set(key, .customer(customer), expiresAt: now + ttl, now: now)
    }

    /// Replaces the entry by an invalidation at `version`.
    public func invalidate(_ id: CustomerID, tenantId: TenantID, version: String?) async throws {
        let now = clock.now()
        let key = TenantKey<Customer>(tenantId: tenantId, id: id.rawValue)
        let stored = entries.value(key, at: now)?.version
        let kept = max(stored ?? "", version ?? "")
        entries.set(key, .invalidated(version: kept.isEmpty ? nil : kept), expiresAt: now + invalidationTTL, now: now)
    }
}
