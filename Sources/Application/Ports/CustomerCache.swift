public import Domain

/// Level 2 of the three-level customer cache (Redis in production): shared by all instances.
///
/// - **TTL:** an entry put with `ttl` is not returned once `ttl` has passed on the adapter's clock.
/// - **Invalidation:** `invalidate` removes the entry at once, for every instance.
/// - Best effort: callers treat `StoreError.unavailable` as a miss.
public protocol CustomerCache: Sendable {
    func customer(_ id: CustomerID, tenantId: TenantID) async throws -> Customer?
    func put(_ customer: Customer, ttl: Duration) async throws
    func invalidate(_ id: CustomerID, tenantId: TenantID) async throws
}
