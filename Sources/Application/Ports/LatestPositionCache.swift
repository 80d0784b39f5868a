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
    /// `all(tenantId:)` as stored: each entry's JSON (`JSONPayload`'s encoding of the position) with its driver
    /// and fix time, so bulk reads (a dashboard's initial state) pass positions on without decoding them.
    func allEncoded(tenantId: TenantID) async throws -> [EncodedPosition]
}

/// A position as JSON, with what merging it with other sources needs.
public struct EncodedPosition: Hashable, Sendable {
    public var driverId: DriverID
    public var fixTime: Timestamp
    public var json: [UInt8]

    public init(driverId: DriverID, fixTime: Timestamp, json: [UInt8]) {
        self.driverId = driverId
        self.fixTime = fixTime
        self.json = json
    }
}

extension LatestPositionCache {
    public func allEncoded(tenantId: TenantID) async throws -> [EncodedPosition] {
        try await all(tenantId: tenantId).map {
            EncodedPosition(driverId: $0.driverId, fixTime: $0.fixTime, json: try JSONPayload.encode($0))
        }
    }

    public func put(_ positions: [EnrichedPosition], ttl: Duration) async throws {
        for position in positions { try await put(position, ttl: ttl) }
    }
}
