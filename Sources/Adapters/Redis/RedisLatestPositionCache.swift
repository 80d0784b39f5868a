public import Application
public import Domain

/// `LatestPositionCache` on Redis (spec §4.1 step 6), shared by every instance.
///
/// - **Layout:** one hash per driver (`t` = fix time in ms, `v` = the position as JSON) expiring after the
///   TTL (`PEXPIRE`), and one sorted set per tenant indexing its drivers by expiry time, so a tenant's live
///   drivers are read without scanning the keyspace (`ZRANGEBYSCORE now +inf`, then one pipelined `HGET` each).
/// - **Newest wins atomically:** a Lua script compares the stored fix time and writes only a newer one, so an
///   older fix from another instance never replaces a newer one.
/// - **Expiry** is the server's (`capabilities.time = .realTime`); index entries past their expiry are trimmed
///   on reads.
public final class RedisLatestPositionCache: LatestPositionCache {
    package let client: RedisClient
    private let clock: any WallClock

    /// A cache on `client`; `clock` scores the tenant index (wall time, as the server expires keys).
    public init(client: RedisClient, clock: any WallClock) {
        self.client = client
        self.clock = clock
    }

    /// KEYS: driver hash, tenant index. ARGV: fix ms, JSON, TTL ms, driver id, expiry ms.
    private static let putScript = RedisKeys.bytes(
        """
        local stored = redis.call('HGET', KEYS[1], 't')
        if stored and tonumber(stored) > tonumber(ARGV[1]) then return 0 end
        redis.call('HSET', KEYS[1], 't', ARGV[1], 'v', ARGV[2])
        redis.call('PEXPIRE', KEYS[1], ARGV[3])
        redis.call('ZADD', KEYS[2], ARGV[5], ARGV[4])
        if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[3]) then redis.call('PEXPIRE', KEYS[2], ARGV[3]) end
        return 1
        """
    )

    public func put(_ position: EnrichedPosition, ttl: Duration) async throws {
        let ttlMs = max(1, ttl.milliseconds)
        let expiry = clock.now().millisecondsSinceEpoch + ttlMs
        let reply = try await client.pipeline([
            [
                RedisKeys.bytes("EVAL"), Self.putScript, RedisKeys.bytes("2"),
                RedisKeys.scoped("lp", position.tenantId, position.driverId.rawValue),
                RedisKeys.tenant("lpi", position.tenantId),
                RedisKeys.bytes("\(position.fixTime.millisecondsSinceEpoch)"), try JSONPayload.encode(position),
                RedisKeys.bytes("\(ttlMs)"), RedisKeys.bytes(position.driverId.rawValue),
                RedisKeys.bytes("\(expiry)"),
            ]
        ])[0]
        if case .error(let message) = reply { throw StoreError.unavailable("Redis: \(message)") }
    }

    public func latest(driverId: DriverID, tenantId: TenantID) async throws -> EnrichedPosition? {
        let reply = try await client.pipeline([
            [RedisKeys.bytes("HGET"), RedisKeys.scoped("lp", tenantId, driverId.rawValue), RedisKeys.bytes("v")]
        ])[0]
        return try Self.position(reply, tenantId: tenantId)
    }

    public func all(tenantId: TenantID) async throws -> [EnrichedPosition] {
        let index = RedisKeys.tenant("lpi", tenantId)
        let now = clock.now().millisecondsSinceEpoch
        let replies = try await client.pipeline([
            [RedisKeys.bytes("ZREMRANGEBYSCORE"), index, RedisKeys.bytes("-inf"), RedisKeys.bytes("(\(now)")],
            [RedisKeys.bytes("ZRANGE"), index, RedisKeys.bytes("0"), RedisKeys.bytes("-1")],
        ])
        guard case .array(let members) = replies[1] else {
            if case .error(let message) = replies[1] { throw StoreError.unavailable("Redis: \(message)") }
            return []
        }
        let drivers = members.compactMap { $0.bytes.map { String(decoding: $0, as: UTF8.self) } }
        let values = try await client.pipeline(
            drivers.map { [RedisKeys.bytes("HGET"), RedisKeys.scoped("lp", tenantId, $0), RedisKeys.bytes("v")] }
        )
        return try values.compactMap { try Self.position($0, tenantId: tenantId) }
            .sorted { $0.driverId.rawValue < $1.driverId.rawValue }
    }

    private static func position(_ reply: RedisReply, tenantId: TenantID) throws -> EnrichedPosition? {
        switch reply {
        case .string(let bytes):
            let position = try JSONPayload.decode(EnrichedPosition.self, from: bytes)
            return position.tenantId == tenantId ? position : nil
        case .error(let message): throw StoreError.unavailable("Redis: \(message)")
        default: return nil
        }
    }
}
