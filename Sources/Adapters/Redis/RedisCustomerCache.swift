public import Application
public import Domain

/// Level 2 of the customer cache on Redis (spec §4.2): `SET … PX ttl`, `GET`, `DEL`, shared by every
/// instance, so an invalidation applied by one instance is seen by all. Expiry is the server's.
public final class RedisCustomerCache: CustomerCache {
    package let client: RedisClient

    public init(client: RedisClient) { self.client = client }

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
        let reply = try await client.pipeline([
            [RedisKeys.bytes("DEL"), RedisKeys.scoped("cust", tenantId, id.rawValue)]
        ])[0]
        if case .error(let message) = reply { throw StoreError.unavailable("Redis: \(message)") }
    }
}
