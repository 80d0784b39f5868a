public import AdapterSupport
public import Application
public import Domain

/// The latest position per driver kept in the process's memory, with TTLs on the injected clock.
///
/// An expired entry counts as absent, so after expiry any position is accepted again; an equal fix time
/// replaces the entry (refreshing its TTL).
public actor InMemoryLatestPositionCache: LatestPositionCache {
    private let clock: any WallClock
    private var entries = ExpiringEntries<TenantKey<Driver>, EnrichedPosition>()

    /// Creates an empty cache whose TTLs run on `clock`.
    public init(clock: any WallClock = SystemWallClock()) {
        self.clock = clock
    }

    /// Stores `position` for `ttl` unless an unexpired entry has a newer fix time.
    public func put(_ position: EnrichedPosition, ttl: Duration) async throws {
        let now = clock.now()
        let key = TenantKey<Driver>(tenantId: position.tenantId, id: position.driverId.rawValue)
        if let stored = entries.value(key, at: now), stored.fixTime > position.fixTime { return }
        entries.set(key, position, expiresAt: now + ttl, now: now)
    }

    /// The driver's unexpired latest position, if any.
    public func latest(driverId: DriverID, tenantId: TenantID) async throws -> EnrichedPosition? {
        entries.value(TenantKey(tenantId: tenantId, id: driverId.rawValue), at: clock.now())
    }

    /// Every unexpired position of the tenant, ordered by driver id.
    public func all(tenantId: TenantID) async throws -> [EnrichedPosition] {
        entries.values(at: clock.now()) { $0.tenantId == tenantId }.sorted { $0.driverId < $1.driverId }
    }
}
