public import Application
import Domain
import Synchronization
import Testing

/// The rules every `CustomerCache` adapter keeps, as one reusable suite: reads by tenant, replacement,
/// TTL expiry and invalidation.
///
/// TTLs need time control: the factory receives a `ContractClock` and must build the cache on it, unless the
/// adapter declares `capabilities.time = .realTime(ttl:)` (server-side expiry), in which case the contract
/// sleeps instead.
public struct CustomerCacheContract: Sendable {
    /// What the adapter under test cannot do like the in-memory reference.
    public struct Capabilities: Sendable {
        /// How TTLs pass for the adapter.
        public var time: ContractTimeSource
        /// Whether two caches made by the factory share one backend (as two instances share Redis): then an
        /// invalidation through one must be announced on the other's `invalidations()`.
        public var sharedAcrossInstances: Bool

        /// Declares the adapter's capabilities.
        public init(time: ContractTimeSource = .contractClock, sharedAcrossInstances: Bool = false) {
            self.time = time
            self.sharedAcrossInstances = sharedAcrossInstances
        }
    }

    private let capabilities: Capabilities
    private let make: @Sendable (ContractClock) async throws -> any CustomerCache

    /// Creates the suite for caches built by `make` on the given clock.
    public init(
        capabilities: Capabilities = .init(),
        make: @escaping @Sendable (ContractClock) async throws -> any CustomerCache
    ) {
        self.capabilities = capabilities
        self.make = make
    }

    /// Runs every rule, recording a Swift Testing issue per violation.
    public func run() async throws {
        await runRules(
            "CustomerCache",
            [
                ("putThenRead", putThenRead),
                ("putReplaces", putReplaces),
                ("entriesExpire", entriesExpire),
                ("invalidateRemovesAtOnce", invalidateRemovesAtOnce),
                ("newestVersionWins", newestVersionWins),
            ]
                + (capabilities.sharedAcrossInstances
                    ? [("invalidationsReachEveryInstance", invalidationsReachEveryInstance)] : [])
        )
    }
}

// MARK: - Fixtures

private struct Fixtures {
    let tag = RunTag()
    var tenantA: TenantID { TenantID("tenant-\(tag)-a") }
    var tenantB: TenantID { TenantID("tenant-\(tag)-b") }

    func customerID(_ n: Int) -> CustomerID { CustomerID("cust-\(tag)-\(n)") }

    func customer(_ n: Int, tenant: TenantID, name: String = "Customer") -> Customer {
        Customer(
            id: customerID(n),
            tenantId: tenant,
            name: "\(name) \(n)",
            location: Coordinate(latitude: 45.5, longitude: -73.6),
            version: "v\(n)"
        )
    }
}

// MARK: - Rules

extension CustomerCacheContract {
    /// A put entry reads back in its tenant only.
    private func putThenRead() async throws {
        let clock = ContractClock()
        let cache = try await make(clock)
        let f = Fixtures()
        let c1 = f.customer(1, tenant: f.tenantA)
        let c2 = f.customer(2, tenant: f.tenantB)
        try await cache.put(c1, ttl: capabilities.time.ttl)
        try await cache.put(c2, ttl: capabilities.time.ttl)
        let lookups: [(CustomerID, TenantID, Customer?)] = [
            (c1.id, f.tenantA, c1), (c2.id, f.tenantB, c2), (c1.id, f.tenantB, nil), (c2.id, f.tenantA, nil),
            (f.customerID(99), f.tenantA, nil),
        ]
        for (id, tenant, expected) in lookups {
            #expect(
                try await cache.customer(id, tenantId: tenant) == expected,
                "op: customer(_:tenantId:), key: \(id)@\(tenant)"
            )
        }
    }

    /// A second put of the same customer replaces the first.
    private func putReplaces() async throws {
        let clock = ContractClock()
        let cache = try await make(clock)
        let f = Fixtures()
        try await cache.put(f.customer(1, tenant: f.tenantA), ttl: capabilities.time.ttl)
        let renamed = f.customer(1, tenant: f.tenantA, name: "Renamed")
        try await cache.put(renamed, ttl: capabilities.time.ttl)
        #expect(
            try await cache.customer(renamed.id, tenantId: f.tenantA) == renamed,
            "op: put replace, key: \(renamed.id)"
        )
    }

    /// An entry is returned until its TTL passes, then never again.
    private func entriesExpire() async throws {
        let clock = ContractClock()
        let cache = try await make(clock)
        let f = Fixtures()
        let ttl = capabilities.time.ttl
        let customer = f.customer(1, tenant: f.tenantA)
        try await cache.put(customer, ttl: ttl)
        try await capabilities.time.elapse(ttl * 0.5, on: clock)
        #expect(
            try await cache.customer(customer.id, tenantId: f.tenantA) == customer,
            "op: customer before TTL, key: half TTL"
        )
        try await capabilities.time.elapse(ttl * 0.6, on: clock)
        #expect(
            try await cache.customer(customer.id, tenantId: f.tenantA) == nil,
            "op: customer after TTL, key: 1.1 TTL"
        )
        try await cache.put(customer, ttl: ttl)
        #expect(
            try await cache.customer(customer.id, tenantId: f.tenantA) == customer,
            "op: put after expiry, key: fresh TTL"
        )
    }

    /// `invalidate` removes the entry at once; invalidating an absent entry is fine.
    private func invalidateRemovesAtOnce() async throws {
        let clock = ContractClock()
        let cache = try await make(clock)
        let f = Fixtures()
        let c1 = f.customer(1, tenant: f.tenantA)
        let c2 = f.customer(2, tenant: f.tenantA)
        try await cache.put(c1, ttl: capabilities.time.ttl)
        try await cache.put(c2, ttl: capabilities.time.ttl)
        try await cache.invalidate(c1.id, tenantId: f.tenantA, version: nil)
        #expect(try await cache.customer(c1.id, tenantId: f.tenantA) == nil, "op: invalidate, key: \(c1.id)")
        #expect(try await cache.customer(c2.id, tenantId: f.tenantA) == c2, "op: invalidate, key: others kept")
        try await cache.invalidate(f.customerID(99), tenantId: f.tenantA, version: nil)
        let c3 = f.customer(3, tenant: f.tenantB)
        try await cache.put(c3, ttl: capabilities.time.ttl)
        try await cache.invalidate([
            CustomerVersion(c2.id, tenantId: f.tenantA, version: nil),
            CustomerVersion(c3.id, tenantId: f.tenantB, version: nil),
        ])
        #expect(try await cache.customer(c2.id, tenantId: f.tenantA) == nil, "op: invalidate(batch), key: \(c2.id)")
        #expect(try await cache.customer(c3.id, tenantId: f.tenantB) == nil, "op: invalidate(batch), key: \(c3.id)")
    }

    /// A put never replaces a higher version, nor an invalidation at a higher version: a reader that loaded
    /// the old customer before a change cannot bring it back after the change's invalidation.
    private func newestVersionWins() async throws {
        let clock = ContractClock()
        let cache = try await make(clock)
        let f = Fixtures()
        var old = f.customer(1, tenant: f.tenantA)
        old.version = "0000002b:00000010:0001|0000002b:00000010:0001|00000000000000000001"
        var new = old
        new.name = "renamed"
        new.version = "0000002b:00000020:0001|0000002b:00000020:0001|00000000000000000001"
        let ttl = capabilities.time.ttl
        try await cache.put(new, ttl: ttl)
        try await cache.put(old, ttl: ttl)
        #expect(try await cache.customer(old.id, tenantId: f.tenantA) == new, "op: put older, key: newer kept")
        try await cache.invalidate(old.id, tenantId: f.tenantA, version: new.version)
        try await cache.put(old, ttl: ttl)
        #expect(
            try await cache.customer(old.id, tenantId: f.tenantA) == nil,
            "op: put older after invalidate, key: refused"
        )
        try await cache.put(new, ttl: ttl)
        #expect(try await cache.customer(old.id, tenantId: f.tenantA) == new, "op: put same version, key: accepted")
        var unversioned = f.customer(2, tenant: f.tenantA)
        unversioned.version = nil
        try await cache.put(unversioned, ttl: ttl)
        try await cache.invalidate(unversioned.id, tenantId: f.tenantA, version: nil)
        try await cache.put(unversioned, ttl: ttl)
        #expect(
            try await cache.customer(unversioned.id, tenantId: f.tenantA) == unversioned,
            "op: put after an unversioned invalidate, key: accepted (nothing to order by)"
        )
    }

    /// An invalidation through one cache removes the shared entry and is announced on another cache's
    /// `invalidations()` (another instance), naming customer and tenant. The subscription may still be
    /// starting, so the invalidation is repeated until announced (it is idempotent), for up to 10 s.
    private func invalidationsReachEveryInstance() async throws {
        let clock = ContractClock()
        let first = try await make(clock)
        let second = try await make(clock)
        let f = Fixtures()
        let customer = f.customer(1, tenant: f.tenantA)
        try await first.put(customer, ttl: capabilities.time.ttl)
        #expect(try await second.customer(customer.id, tenantId: f.tenantA) == customer, "op: put, key: shared")
        let received = Mutex<CustomerInvalidation?>(nil)
        let listening = Task {
            for await invalidation in second.invalidations() where invalidation != .all {
                received.withLock { $0 = invalidation }
                return
            }
        }
        for _ in 0..<100 where received.withLock({ $0 }) == nil {
            try await first.invalidate(customer.id, tenantId: f.tenantA, version: nil)
            try await Task.sleep(for: .milliseconds(100))
        }
        listening.cancel()
        #expect(
            received.withLock { $0 } == .customer(customer.id, tenantId: f.tenantA),
            "op: invalidations() of another instance, key: \(customer.id)"
        )
        #expect(try await second.customer(customer.id, tenantId: f.tenantA) == nil, "op: invalidate, key: shared")
    }
}
