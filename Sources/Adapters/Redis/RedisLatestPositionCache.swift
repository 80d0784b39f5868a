public import Application
public import Domain
import Foundation
import Synchronization

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

    /// The script's SHA-1, once loaded on the server (`EVALSHA` then sends 40 bytes instead of the script).
    private let scriptSHA = Mutex<[UInt8]?>(nil)

    public func put(_ position: EnrichedPosition, ttl: Duration) async throws {
        try await put([position], ttl: ttl)
    }

    /// One pipeline of `EVALSHA` calls, one per position; the script is loaded on first use and again after
    /// a server restart (`NOSCRIPT`).
    public func put(_ positions: [EnrichedPosition], ttl: Duration) async throws {
        guard !positions.isEmpty else { return }
        let ttlMs = max(1, ttl.milliseconds)
        let expiry = clock.now().millisecondsSinceEpoch + ttlMs
        let arguments = try positions.map { position in
            [
                RedisKeys.bytes("2"),
                RedisKeys.scoped("lp", position.tenantId, position.driverId.rawValue),
                RedisKeys.tenant("lpi", position.tenantId),
                RedisKeys.bytes("\(position.fixTime.millisecondsSinceEpoch)"), try JSONPayload.encode(position),
                RedisKeys.bytes("\(ttlMs)"), RedisKeys.bytes(position.driverId.rawValue),
                RedisKeys.bytes("\(expiry)"),
            ]
        }
        for attempt in 0..<2 {
            let sha = try await loadedScript(reload: attempt > 0)
            let replies = try await client.pipeline(arguments.map { [RedisKeys.bytes("EVALSHA"), sha] + $0 })
            var noScript = false
            for case .error(let message) in replies {
                if message.hasPrefix("NOSCRIPT") {
                    noScript = true
                } else {
                    throw StoreError.unavailable("Redis: \(message)")
                }
            }
            if !noScript { return }
        }
        throw StoreError.unavailable("Redis: the newest-wins script could not be loaded")
    }

    private func loadedScript(reload: Bool) async throws -> [UInt8] {
        if !reload, let sha = scriptSHA.withLock({ $0 }) { return sha }
        let reply = try await client.pipeline([[RedisKeys.bytes("SCRIPT"), RedisKeys.bytes("LOAD"), Self.putScript]])[0]
        guard let sha = reply.bytes else { throw StoreError.unavailable("Redis: SCRIPT LOAD answered \(reply)") }
        scriptSHA.withLock { $0 = sha }
        return sha
    }

    public func latest(driverId: DriverID, tenantId: TenantID) async throws -> EnrichedPosition? {
        let reply = try await client.pipeline([
            [RedisKeys.bytes("HGET"), RedisKeys.scoped("lp", tenantId, driverId.rawValue), RedisKeys.bytes("v")]
        ])[0]
        return try Self.position(reply, tenantId: tenantId)
    }

    /// Two round trips: the tenant's live drivers (expired index entries dropped first), then their positions.
    public func all(tenantId: TenantID) async throws -> [EnrichedPosition] {
        let values = try await client.pipeline(
            try await liveDrivers(tenantId).map {
                [RedisKeys.bytes("HGET"), RedisKeys.scoped("lp", tenantId, $0), RedisKeys.bytes("v")]
            }
        )
        return try await Self.decode(values, tenantId: tenantId).sorted { $0.driverId.rawValue < $1.driverId.rawValue }
    }

    /// The index, then one pipelined `HMGET t v` per driver: the stored JSON is returned as it is, never decoded
    /// (keys are scoped by tenant, so every entry belongs to `tenantId`).
    public func allEncoded(tenantId: TenantID) async throws -> [EncodedPosition] {
        let drivers = try await liveDrivers(tenantId)
        let values = try await client.pipeline(
            drivers.map { driver in
                [
                    RedisKeys.bytes("HMGET"), RedisKeys.scoped("lp", tenantId, driver), RedisKeys.bytes("t"),
                    RedisKeys.bytes("v"),
                ]
            }
        )
        var encoded: [EncodedPosition] = []
        encoded.reserveCapacity(drivers.count)
        for (driver, reply) in zip(drivers, values) {
            if case .error(let message) = reply { throw StoreError.unavailable("Redis: \(message)") }
            guard case .array(let fields) = reply, fields.count == 2, let time = fields[0].bytes,
                let millis = Int64(String(decoding: time, as: UTF8.self)), let json = fields[1].bytes
            else { continue }  // expired meanwhile
            encoded.append(
                EncodedPosition(
                    driverId: DriverID(driver),
                    fixTime: Timestamp(millisecondsSinceEpoch: millis),
                    json: json
                )
            )
        }
        return encoded.sorted { $0.driverId.rawValue < $1.driverId.rawValue }
    }

    /// The tenant's drivers with an unexpired entry, from its index (expired index entries dropped first).
    private func liveDrivers(_ tenantId: TenantID) async throws -> [String] {
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
        return members.compactMap(\.bytes).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Decodes replies on every core: decoding, not Redis, is most of the time of a tenant's 1,000 positions.
    private static func decode(_ replies: [RedisReply], tenantId: TenantID) async throws -> [EnrichedPosition] {
        let chunks = replies.count < 64 ? 1 : min(8, max(1, ProcessInfo.processInfo.activeProcessorCount))
        guard chunks > 1 else { return try replies.compactMap { try position($0, tenantId: tenantId) } }
        let size = (replies.count + chunks - 1) / chunks
        return try await withThrowingTaskGroup(of: [EnrichedPosition].self) { group in
            for start in stride(from: 0, to: replies.count, by: size) {
                let slice = Array(replies[start..<min(replies.count, start + size)])
                group.addTask { try slice.compactMap { try position($0, tenantId: tenantId) } }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
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
