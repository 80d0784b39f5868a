public import Application
import Domain
import Testing

/// The rules every `LatestPositionCache` adapter keeps, as one reusable suite: newest fix wins, TTL expiry,
/// tenancy and ordering of `all(tenantId:)`.
///
/// TTLs need time control: the factory receives a `ContractClock` and must build the cache on it, unless the
/// adapter declares `capabilities.time = .realTime(ttl:)`, in which case the contract sleeps instead.
public struct LatestPositionCacheContract: Sendable {
    /// What the adapter under test cannot do like the in-memory reference.
    public struct Capabilities: Sendable {
        /// How TTLs pass for the adapter.
        public var time: ContractTimeSource

        /// Declares the adapter's capabilities.
        public init(time: ContractTimeSource = .contractClock) {
            self.time = time
        }
    }

    private let capabilities: Capabilities
    private let make: @Sendable (ContractClock) async throws -> any LatestPositionCache

    /// Creates the suite for caches built by `make` on the given clock.
    public init(
        capabilities: Capabilities = .init(),
        make: @escaping @Sendable (ContractClock) async throws -> any LatestPositionCache
    ) {
        self.capabilities = capabilities
        self.make = make
    }

    /// Runs every rule, recording a Swift Testing issue per violation.
    public func run() async throws {
        await runRules(
            "LatestPositionCache",
            [
                ("putThenRead", putThenRead),
                ("newestFixWins", newestFixWins),
                ("batchPutKeepsNewest", batchPutKeepsNewest),
                ("entriesExpire", entriesExpire),
                ("allOrderedUnexpiredAndScoped", allOrderedUnexpiredAndScoped),
            ]
        )
    }
}

// MARK: - Fixtures

private struct Fixtures {
    let tag = RunTag()
    var tenantA: TenantID { TenantID("tenant-\(tag)-a") }
    var tenantB: TenantID { TenantID("tenant-\(tag)-b") }

    func driverID(_ n: Int) -> DriverID { DriverID("drv-\(tag)-\(n)") }

    func fix(_ n: Int, tenant: TenantID, at seconds: Double, speed: Double = 20) -> EnrichedPosition {
        position(tenant: tenant, driver: driverID(n), at: instant(seconds), speed: speed)
    }
}

// MARK: - Rules

extension LatestPositionCacheContract {
    /// A put position reads back in its tenant only.
    private func putThenRead() async throws {
        let clock = ContractClock()
        let cache = try await make(clock)
        let f = Fixtures()
        let p1 = f.fix(1, tenant: f.tenantA, at: 10)
        let p2 = f.fix(2, tenant: f.tenantB, at: 10)
        try await cache.put(p1, ttl: capabilities.time.ttl)
        try await cache.put(p2, ttl: capabilities.time.ttl)
        let lookups: [(DriverID, TenantID, EnrichedPosition?)] = [
            (p1.driverId, f.tenantA, p1), (p2.driverId, f.tenantB, p2), (p1.driverId, f.tenantB, nil),
            (p2.driverId, f.tenantA, nil), (f.driverID(99), f.tenantA, nil),
        ]
        for (driver, tenant, expected) in lookups {
            #expect(
                try await cache.latest(driverId: driver, tenantId: tenant) == expected,
                "op: latest(driverId:tenantId:), key: \(driver)@\(tenant)"
            )
        }
    }

    /// A put with an older fix time than the stored entry is ignored; a newer one replaces it.
    private func newestFixWins() async throws {
        let clock = ContractClock()
        let cache = try await make(clock)
        let f = Fixtures()
        let current = f.fix(1, tenant: f.tenantA, at: 200, speed: 20)
        try await cache.put(current, ttl: capabilities.time.ttl)
        try await cache.put(f.fix(1, tenant: f.tenantA, at: 100, speed: 99), ttl: capabilities.time.ttl)
        #expect(
            try await cache.latest(driverId: current.driverId, tenantId: f.tenantA) == current,
            "op: put older fix, key: ignored"
        )
        let newer = f.fix(1, tenant: f.tenantA, at: 300, speed: 5)
        try await cache.put(newer, ttl: capabilities.time.ttl)
        #expect(
            try await cache.latest(driverId: current.driverId, tenantId: f.tenantA) == newer,
            "op: put newer fix, key: replaces"
        )
    }

    /// A batch `put` stores every driver's position and keeps the newest-wins rule within the batch and
    /// against what is stored.
    private func batchPutKeepsNewest() async throws {
        let clock = ContractClock()
        let cache = try await make(clock)
        let f = Fixtures()
        let stored = f.fix(3, tenant: f.tenantA, at: 500)
        try await cache.put(stored, ttl: capabilities.time.ttl)
        let newest = f.fix(1, tenant: f.tenantA, at: 200)
        let other = f.fix(2, tenant: f.tenantB, at: 100)
        try await cache.put(
            [newest, f.fix(1, tenant: f.tenantA, at: 150, speed: 99), other, f.fix(3, tenant: f.tenantA, at: 400)],
            ttl: capabilities.time.ttl
        )
        #expect(
            try await cache.latest(driverId: newest.driverId, tenantId: f.tenantA) == newest,
            "op: batch, key: newest"
        )
        #expect(
            try await cache.latest(driverId: other.driverId, tenantId: f.tenantB) == other,
            "op: batch, key: tenant B"
        )
        #expect(
            try await cache.latest(driverId: stored.driverId, tenantId: f.tenantA) == stored,
            "op: batch, key: older"
        )
        try await cache.put([], ttl: capabilities.time.ttl)
    }

    /// An entry is returned until its TTL passes since its put, then never again.
    private func entriesExpire() async throws {
        let clock = ContractClock()
        let cache = try await make(clock)
        let f = Fixtures()
        let ttl = capabilities.time.ttl
        let fix = f.fix(1, tenant: f.tenantA, at: 10)
        try await cache.put(fix, ttl: ttl)
        try await capabilities.time.elapse(ttl * 0.5, on: clock)
        #expect(
            try await cache.latest(driverId: fix.driverId, tenantId: f.tenantA) == fix,
            "op: latest before TTL, key: half TTL"
        )
        try await capabilities.time.elapse(ttl * 0.6, on: clock)
        #expect(
            try await cache.latest(driverId: fix.driverId, tenantId: f.tenantA) == nil,
            "op: latest after TTL, key: 1.1 TTL"
        )
        #expect(try await cache.all(tenantId: f.tenantA).isEmpty, "op: all after TTL, key: expired excluded")
    }

    /// `all(tenantId:)` returns the tenant's unexpired entries, ordered by driver id.
    private func allOrderedUnexpiredAndScoped() async throws {
        let clock = ContractClock()
        let cache = try await make(clock)
        let f = Fixtures()
        let ttl = capabilities.time.ttl
        let fixes = [
            f.fix(3, tenant: f.tenantA, at: 10), f.fix(1, tenant: f.tenantA, at: 10),
            f.fix(2, tenant: f.tenantA, at: 10),
        ]
        for fix in fixes { try await cache.put(fix, ttl: ttl * 100) }
        let foreign = f.fix(4, tenant: f.tenantB, at: 10)
        try await cache.put(foreign, ttl: ttl * 100)
        let shortLived = f.fix(0, tenant: f.tenantA, at: 10)
        try await cache.put(shortLived, ttl: ttl)
        #expect(
            try await cache.all(tenantId: f.tenantA).map(\.driverId) == [0, 1, 2, 3].map(f.driverID),
            "op: all(tenantId:), key: ordered by driver id"
        )
        try await capabilities.time.elapse(ttl * 1.1, on: clock)
        #expect(
            try await cache.all(tenantId: f.tenantA) == [fixes[1], fixes[2], fixes[0]],
            "op: all(tenantId:), key: expired entry excluded"
        )
        #expect(try await cache.all(tenantId: f.tenantB) == [foreign], "op: all(tenantId:), key: \(f.tenantB)")
        #expect(
            try await cache.all(tenantId: TenantID("absent-\(f.tag)")).isEmpty,
            "op: all(tenantId:), key: absent tenant"
        )
        let encoded = try await cache.allEncoded(tenantId: f.tenantA)
        #expect(
            try encoded.map { try JSONPayload.decode(EnrichedPosition.self, from: $0.json) }
                == [fixes[1], fixes[2], fixes[0]],
            "op: allEncoded(tenantId:), key: the same entries as all(tenantId:)"
        )
        #expect(
            encoded.map(\.fixTime) == [fixes[1], fixes[2], fixes[0]].map(\.fixTime)
                && encoded.map(\.driverId) == [fixes[1], fixes[2], fixes[0]].map(\.driverId),
            "op: allEncoded(tenantId:), key: driver and fix time"
        )
        #expect(try await cache.allEncoded(tenantId: f.tenantB).count == 1, "op: allEncoded, key: \(f.tenantB)")
    }
}
