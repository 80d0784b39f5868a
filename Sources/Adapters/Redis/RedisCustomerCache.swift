public import Application
public import Domain

/// Level 2 of the customer cache on Redis (spec §4.2), shared by every instance, so an invalidation applied by
/// one instance is seen by all. Expiry is the server's. A put is one `EVAL` that writes only when the stored
/// value (a customer's JSON, or `!<version>` left by an invalidation for the TTL) has no higher version.
///
/// Invalidations are also published on `tracker:cust:inv` (payload `<tenant length>:<tenant><customer id>`),
/// in the same pipeline as the `DEL`; `invalidations()` follows that channel through the instance's
/// `RedisSubscriber`, so every instance drops its level-1 copy at once.
public final class RedisCustomerCache: CustomerCache {
    /// The pub/sub channel of invalidations.
    public static let channel = "tracker:cust:inv"

    package let client: RedisClient
    package let subscriber: RedisSubscriber?
    /// How long an invalidation keeps refusing older puts (the level-2 TTL).
    let invalidationTTL: Duration

    /// A cache on `client`; `subscriber` (subscribed to `channel`) feeds `invalidations()`.
    public init(client: RedisClient, subscriber: RedisSubscriber?, invalidationTTL: Duration = .seconds(300)) {
        self.client = client
        self.subscriber = subscriber
        self.invalidationTTL = invalidationTTL
    }

    public func customer(_ id: CustomerID, tenantId: TenantID) async throws -> Customer? {
        let reply = try await client.pipeline([
            [RedisKeys.bytes("GET"), RedisKeys.scoped("cust", tenantId, id.rawValue)]
        ])[0]
        switch reply {
        case .string(let bytes) where bytes.first == UInt8(ascii: "!"):
            return nil  // invalidated
        case .string(let bytes):
            let customer = try JSONPayload.decode(Customer.self, from: bytes)
            return customer.tenantId == tenantId ? customer : nil
        case .error(let message): throw StoreError.unavailable("Redis: \(message)")
        default: return nil
        }
    }

    /// KEYS[1] the entry; ARGV[1] the value, ARGV[2] its version ("" for none), ARGV[3] the TTL in ms, ARGV[4]
    /// "1" to invalidate: the entry becomes `!<the higher of both versions>`. The stored version is the text after
    /// `!` or the JSON's `version`; Redis compares strings byte by byte, as the read model orders versions.
    static let writeScript = RedisKeys.bytes(
        """
        local cur = redis.call('GET', KEYS[1])
        local stored = ''
        if cur then
          if string.sub(cur, 1, 1) == '!' then stored = string.sub(cur, 2)
          else
            local ok, decoded = pcall(cjson.decode, cur)
            if ok and type(decoded) == 'table' and type(decoded['version']) == 'string' then stored = decoded['version'] end
          end
        end
        if ARGV[4] == '1' then
          local version = ARGV[2]
          if stored > version then version = stored end
          redis.call('SET', KEYS[1], '!' .. version, 'PX', ARGV[3])
          return 1
        end
        if stored > ARGV[2] then return 0 end
        redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
        return 1
        """
    )

    public func put(_ customer: Customer, ttl: Duration) async throws {
        try await run([
            write(
                key: RedisKeys.scoped("cust", customer.tenantId, customer.id.rawValue),
                value: try JSONPayload.encode(customer),
                version: customer.version,
                ttl: ttl,
                invalidate: false
            )
        ])
    }

    public func invalidate(_ id: CustomerID, tenantId: TenantID, version: String?) async throws {
        try await invalidate([CustomerVersion(id, tenantId: tenantId, version: version)])
    }

    /// One pipeline: per customer, the invalidation and its announcement.
    public func invalidate(_ changed: [CustomerVersion]) async throws {
        guard !changed.isEmpty else { return }
        var commands: [[[UInt8]]] = []
        commands.reserveCapacity(changed.count * 2)
        for entry in changed {
            commands.append(
                write(
                    key: RedisKeys.scoped("cust", entry.tenantId, entry.id.rawValue),
                    value: [],
                    version: entry.version,
                    ttl: invalidationTTL,
                    invalidate: true
                )
            )
            commands.append(
                [RedisKeys.bytes("PUBLISH"), RedisKeys.bytes(Self.channel), Self.payload(entry.id, entry.tenantId)]
            )
        }
        try await run(commands)
    }

    /// The entry's newest-version write (`writeScript`).
    private func write(key: [UInt8], value: [UInt8], version: String?, ttl: Duration, invalidate: Bool) -> [[UInt8]] {
        [
            RedisKeys.bytes("EVAL"), Self.writeScript, RedisKeys.bytes("1"), key, value,
            RedisKeys.bytes(version ?? ""), RedisKeys.bytes("\(max(1, ttl.milliseconds))"),
            RedisKeys.bytes(invalidate ? "1" : "0"),
        ]
    }

    private func run(_ commands: [[[UInt8]]]) async throws {
        for case .error(let message) in try await client.pipeline(commands) {
            throw StoreError.unavailable("Redis: \(message)")
        }
    }

    public func invalidations() -> AsyncStream<CustomerInvalidation> {
        guard let subscriber else { return AsyncStream { _ in } }
        let (stream, continuation) = AsyncStream<CustomerInvalidation>.makeStream(
            bufferingPolicy: .bufferingNewest(10_000)
        )
        let token = subscriber.addListener { event in
            switch event {
            case .resubscribed: continuation.yield(.all)
            case .message(let channel, let payload) where channel == Self.channel:
                if let (id, tenant) = Self.parse(payload) { continuation.yield(.customer(id, tenantId: tenant)) }
            case .message: break
            }
        }
        continuation.onTermination = { _ in subscriber.removeListener(token) }
        return stream
    }

    static func payload(_ id: CustomerID, _ tenant: TenantID) -> [UInt8] {
        Array("\(tenant.rawValue.utf8.count):\(tenant.rawValue)\(id.rawValue)".utf8)
    }

    static func parse(_ payload: [UInt8]) -> (CustomerID, TenantID)? {
        guard let colon = payload.firstIndex(of: UInt8(ascii: ":")),
            let length = Int(String(decoding: payload[..<colon], as: UTF8.self)),
            length >= 0, payload.count - colon - 1 >= length
        else { return nil }
        let tenantEnd = colon + 1 + length
        return (
            CustomerID(String(decoding: payload[tenantEnd...], as: UTF8.self)),
            TenantID(String(decoding: payload[(colon + 1)..<tenantEnd], as: UTF8.self))
        )
    }
}
