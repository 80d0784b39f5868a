public import Domain
public import Logging
import Synchronization

/// The three-level customer cache of spec §4.2: process memory (60 s) → shared `CustomerCache` (5 min)
/// → local `ReferenceStore` (kept fresh by CDC) → `SourceOfTruth` (should rarely happen).
///
/// Level 2 failures are treated as misses: Redis being down slows reads, it does not fail them.
public final class CustomerDirectory: Sendable {
    public struct Configuration: Sendable {
        public var memoryTTL: Duration = .seconds(60)
        public var sharedTTL: Duration = .seconds(300)
        public init() {}
    }

    /// Where the last lookups were answered, for metrics and tests.
    public struct Stats: Sendable, Hashable {
        public var memory = 0, shared = 0, store = 0, sourceOfTruth = 0, missing = 0
        /// Lookups the source of truth could not answer (unreachable, circuit open): answered as missing.
        public var sourceUnavailable = 0
        public init() {}
    }

    private let shared: any CustomerCache
    private let store: any ReferenceStore
    private let sourceOfTruth: any SourceOfTruth
    private let clock: any WallClock
    private let configuration: Configuration
    private let logger: Logger
    private let memory = LockedDictionary<CustomerID, (customer: Customer, expires: Timestamp)>()
    private let counters = Mutex(Stats())
    /// Counts invalidations seen here: a lookup that overlapped one does not fill level 1 with what it read
    /// (it may have read the old customer just before the change).
    private let generation = Atomic<UInt64>(0)

    public init(
        shared: any CustomerCache,
        store: any ReferenceStore,
        sourceOfTruth: any SourceOfTruth,
        clock: any WallClock,
        configuration: Configuration = .init(),
        logger: Logger
    ) {
        self.shared = shared
        self.store = store
        self.sourceOfTruth = sourceOfTruth
        self.clock = clock
        self.configuration = configuration
        self.logger = logger
    }

    public var stats: Stats { counters.withLock { $0 } }

    private func count(_ update: (inout Stats) -> Void) {
        counters.withLock { update(&$0) }
    }

    /// One customer of a tenant, or nil when no level has it.
    public func customer(_ id: CustomerID, tenantId: TenantID) async throws -> Customer? {
        let now = clock.now()
        let started = generation.load(ordering: .acquiring)
        if let hit = memory[id], hit.expires > now, hit.customer.tenantId == tenantId {
            count { $0.memory += 1 }
            return hit.customer
        }
        if let cached = try? await shared.customer(id, tenantId: tenantId) {
            count { $0.shared += 1 }
            remember(cached, now: now, ifNoInvalidationSince: started)
            return cached
        }
        var found = try await store.customer(id, tenantId: tenantId)
        if found != nil {
            count { $0.store += 1 }
        } else {
            do {
                found = try await sourceOfTruth.customer(id, tenantId: tenantId)
            } catch {
                // The last level being down must not stall enrichment (the consumer would stop on an outage
                // and retry every position): the customer is unknown for this lookup, and nothing is cached.
                count { $0.sourceUnavailable += 1 }
                logger.debug(
                    "source of truth unavailable: customer treated as unknown",
                    metadata: ["customer.id": "\(id)", "error": "\(error)"]
                )
                return nil
            }
            if found != nil {
                count { $0.sourceOfTruth += 1 }
                logger.debug("customer answered by the source of truth", metadata: ["customer.id": "\(id)"])
            }
        }
        guard let customer = found else {
            count { $0.missing += 1 }
            return nil
        }
        remember(customer, now: now, ifNoInvalidationSince: started)
        try? await shared.put(customer, ttl: configuration.sharedTTL)
        return customer
    }

    private func remember(_ customer: Customer, now: Timestamp, ifNoInvalidationSince started: UInt64) {
        guard generation.load(ordering: .acquiring) == started else { return }
        memory.set((customer, now + configuration.memoryTTL), forKey: customer.id, limit: 200_000)
    }

    /// Several customers at once; ids without a customer are left out.
    public func customers(
        _ ids: some Sequence<CustomerID>,
        tenantId: TenantID
    ) async throws
        -> [CustomerID: Customer]
    {
        var result: [CustomerID: Customer] = [:]
        for id in ids where result[id] == nil {
            if let c = try await customer(id, tenantId: tenantId) { result[id] = c }
        }
        return result
    }

    /// Drops level-1 copies as invalidations are announced by any instance sharing level 2 (this one
    /// included), until the task is cancelled; after a gap in the announcements, drops them all.
    public func followInvalidations() async {
        for await invalidation in shared.invalidations() {
            generation.add(1, ordering: .releasing)
            switch invalidation {
            case .customer(let id, _): memory.removeValue(forKey: id)
            case .all: memory.removeAll()
            }
        }
    }

    /// Drops changed customers from levels 1 and 2 after change events (one level-2 round trip where the cache
    /// can); level 2 then refuses puts older than each change's version.
    public func invalidate(_ changed: [CustomerVersion]) async {
        guard !changed.isEmpty else { return }
        generation.add(1, ordering: .releasing)
        for entry in changed { memory.removeValue(forKey: entry.id) }
        try? await shared.invalidate(changed)
    }
}
