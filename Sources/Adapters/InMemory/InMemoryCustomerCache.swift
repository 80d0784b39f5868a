public import AdapterSupport
public import Application
public import Domain

/// The shared customer cache kept in the process's memory: entries expire `ttl` after their `put` on the
/// injected clock. "Every instance" is every user of this object.
public actor InMemoryCustomerCache: CustomerCache {
    private let clock: any WallClock
    private var entries = ExpiringEntries<TenantKey<Customer>, Customer>()

    /// Creates an empty cache whose TTLs run on `clock`.
    public init(clock: any WallClock = SystemWallClock()) {
        self.clock = clock
    }

    /// The cached customer, unless absent or expired.
    public func customer(_ id: CustomerID, tenantId: TenantID) async throws -> Customer? {
        entries.value(TenantKey(tenantId: tenantId, id: id.rawValue), at: clock.now())
    }

    /// Caches `customer` for `ttl`, replacing any entry of the same customer.
    public func put(_ customer: Customer, ttl: Duration) async throws {
        let now = clock.now()
        entries.set(
            TenantKey(tenantId: customer.tenantId, id: customer.id.rawValue),
            customer,
            expiresAt: now + ttl,
            now: now
        )
    }

    /// Removes the entry at once.
    public func invalidate(_ id: CustomerID, tenantId: TenantID) async throws {
        entries.remove(TenantKey(tenantId: tenantId, id: id.rawValue))
    }
}
