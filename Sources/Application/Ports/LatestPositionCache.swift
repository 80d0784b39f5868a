public import Domain

/// The latest enriched position per driver for fast reads (Redis in production, spec §4.1 TTL 5 min).
///
/// - **TTL:** an entry is not returned once `ttl` has passed since its `put` on the adapter's clock.
/// - **Newest wins:** a `put` with an older fix time than the stored entry is ignored.
/// - **Tenancy:** reads take the tenant; `all(tenantId:)` returns only that tenant's drivers.
/// - Best effort: callers fall back to the fleet store's snapshot on a miss or `StoreError.unavailable`.
public protocol LatestPositionCache: Sendable {
    func put(_ position: EnrichedPosition, ttl: Duration) async throws
    /// Several `put`s at once (one round trip where the adapter can); each keeps the newest-wins rule.
    func put(_ positions: [EnrichedPosition], ttl: Duration) async throws
    func latest(driverId: DriverID, tenantId: TenantID) async throws -> EnrichedPosition?
    /// Every unexpired entry of the tenant, ordered by driver id.
    func all(tenantId: TenantID) async throws -> [EnrichedPosition]
}

extension LatestPositionCache {
    public func put(_ positions: [EnrichedPosition], ttl: Duration) async throws {
        for position in positions { try await put(position, ttl: ttl) }
    }
}
