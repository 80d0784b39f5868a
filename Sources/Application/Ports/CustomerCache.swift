public import Domain

/// Level 2 of the three-level customer cache (Redis in production): shared by all instances.
///
/// - **TTL:** an entry put with `ttl` is not returned once `ttl` has passed on the adapter's clock.
/// - **Invalidation:** `invalidate` removes the entry at once, for every instance, and announces it on
///   `invalidations()` of every cache sharing the same backend, so that each instance drops its level-1 copy.
/// - **Newest version wins:** `put` never replaces an entry, nor an invalidation (kept for the entry's TTL),
///   whose `version` is higher than the customer's (text order, nil lowest). A reader that loaded a customer
///   just before a change thus cannot bring the old one back just after the change's `invalidate`.
/// - Best effort: callers treat `StoreError.unavailable` as a miss.
public protocol CustomerCache: Sendable {
    func customer(_ id: CustomerID, tenantId: TenantID) async throws -> Customer?
    func put(_ customer: Customer, ttl: Duration) async throws
    /// Removes the entry; `version` is the change's (puts of lower versions are refused from now on).
    func invalidate(_ id: CustomerID, tenantId: TenantID, version: String?) async throws
    /// Several invalidations at once (one round trip where the adapter can), each with `invalidate`'s rule.
    func invalidate(_ changed: [CustomerVersion]) async throws

    /// The invalidations applied through any cache sharing this one's backend (this one included), in order,
    /// until the task is cancelled. After an interruption in which announcements may have been lost, yields
    /// `.all`. A cache private to one process announces nothing (the default: a stream that never yields).
    func invalidations() -> AsyncStream<CustomerInvalidation>
}

/// What a level-1 cache must drop.
public enum CustomerInvalidation: Sendable, Hashable {
    /// One customer changed.
    case customer(CustomerID, tenantId: TenantID)
    /// Announcements may have been missed: drop every copy.
    case all
}

/// A customer's identity and the version of its change.
public struct CustomerVersion: Hashable, Sendable {
    public var id: CustomerID
    public var tenantId: TenantID
    public var version: String?

    public init(_ id: CustomerID, tenantId: TenantID, version: String?) {
        self.id = id
        self.tenantId = tenantId
        self.version = version
    }
}

extension CustomerCache {
    public func invalidate(_ changed: [CustomerVersion]) async throws {
        for entry in changed { try await invalidate(entry.id, tenantId: entry.tenantId, version: entry.version) }
    }

    public func invalidations() -> AsyncStream<CustomerInvalidation> { AsyncStream { _ in } }
}
