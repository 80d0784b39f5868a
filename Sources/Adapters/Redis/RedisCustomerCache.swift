public import Application
public import Domain

/// Level 2 of the customer cache on Redis (spec §4.2): `SET … PX ttl`, `GET`, `DEL`, shared by every
/// instance, so an invalidation applied by one instance is seen by all. Expiry is the server's.
///
/// Invalidations are also published on `tracker:cust:inv` (payload `<tenant length>:<tenant><customer id>`),
/// in the same pipeline as the `DEL`; `invalidations()` follows that channel through the instance's
/// `RedisSubscriber`, so every instance drops its level-1 copy at once.
public final class RedisCustomerCache: CustomerCache {
    /// The pub/sub channel of invalidations.
    public static let channel = "tracker:cust:inv"

    package let client: RedisClient
    package let subscriber: RedisSubscriber?

    /// A cache on `client`; `subscriber` (subscribed to `channel`) feeds `invalidations()`.
    public init(client: RedisClient, subscriber: RedisSubscriber?) {
        self.client = client
        self.subscriber = subscriber
    }

    public func customer(_ id: CustomerID, tenantId: TenantID) async throws -> Customer? {
        let reply = try await client.pipeline([
            [RedisKeys.bytes("GET"), RedisKeys.scoped("cust", tenantId, id.rawValue)]
        ])[0]
        switch reply {
        case .string(let bytes):
            let customer = try JSONPayload.decode(Customer.self, from: bytes)
            return customer.tenantId == tenantId ? customer : nil
        case .error(let message): throw StoreError.unavailable("Redis: \(message)")
        default: return nil
        }
    }

    public func put(_ customer: Customer, ttl: Duration) async throws {
        let reply = try await client.pipeline([
            [
                RedisKeys.bytes("SET"), RedisKeys.scoped("cust", customer.tenantId, customer.id.rawValue),
                try JSONPayload.encode(customer), RedisKeys.bytes("PX"), RedisKeys.bytes("\(max(1, ttl.milliseconds))"),
            ]
        ])[0]
        if case .error(let message) = reply { throw StoreError.unavailable("Redis: \(message)") }
    }

    public func invalidate(_ id: CustomerID, tenantId: TenantID) async throws {
        let replies = try await client.pipeline([
            [RedisKeys.bytes("DEL"), RedisKeys.scoped("cust", tenantId, id.rawValue)],
            [RedisKeys.bytes("PUBLISH"), RedisKeys.bytes(Self.channel), Self.payload(id, tenantId)],
        ])
        for case .error(let message) in replies { throw StoreError.unavailable("Redis: \(message)") }
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
