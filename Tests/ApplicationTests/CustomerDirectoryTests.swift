import AdapterSupport
import Application
import Domain
import InMemoryAdapters
import Logging
import Testing

/// A level-2 cache whose announcements the test makes (another instance invalidating).
private final class AnnouncingCache: CustomerCache {
    let inner: InMemoryCustomerCache
    let stream: AsyncStream<CustomerInvalidation>
    let announce: AsyncStream<CustomerInvalidation>.Continuation

    init(clock: any WallClock) {
        inner = InMemoryCustomerCache(clock: clock)
        (stream, announce) = AsyncStream<CustomerInvalidation>.makeStream()
    }

    func customer(_ id: CustomerID, tenantId: TenantID) async throws -> Customer? {
        try await inner.customer(id, tenantId: tenantId)
    }
    func put(_ customer: Customer, ttl: Duration) async throws { try await inner.put(customer, ttl: ttl) }
    func invalidate(_ id: CustomerID, tenantId: TenantID, version: String?) async throws {
        try await inner.invalidate(id, tenantId: tenantId, version: version)
    }
    func invalidations() -> AsyncStream<CustomerInvalidation> { stream }
}

@Suite("CustomerDirectory level 1 across instances")
struct CustomerDirectoryTests {
    let tenant: TenantID = "t1"

    func customer(_ name: String, version: String) -> Customer {
        Customer(
            id: "c1",
            tenantId: tenant,
            name: name,
            location: Coordinate(latitude: 52.5, longitude: 13.4),
            version: version
        )
    }

    /// Another instance applied a change (store and level 2 updated, level 1 here untouched): this instance
    /// serves its level-1 copy until the announcement arrives, then the new version; `.all` drops everything.
    @Test func announcedInvalidationsDropLevelOne() async throws {
        let clock = ManualWallClock(Timestamp(millisecondsSinceEpoch: 1_750_000_000_000))
        let shared = AnnouncingCache(clock: clock)
        let store = InMemoryReferenceStore()
        let bus = InMemoryEventBus()
        let directory = CustomerDirectory(
            shared: shared,
            store: store,
            sourceOfTruth: InMemorySourceOfTruth(bus: bus),
            clock: clock,
            logger: Logger(label: "test")
        )
        let following = Task { await directory.followInvalidations() }
        defer { following.cancel() }

        _ = try await store.apply(.upsert(.customer(customer("Old", version: "1"))))
        #expect(try await directory.customer("c1", tenantId: tenant)?.name == "Old")

        // The other instance's change: the store and level 2 change, this level 1 does not.
        _ = try await store.apply(.upsert(.customer(customer("New", version: "2"))))
        try await shared.invalidate("c1", tenantId: tenant, version: nil)
        #expect(try await directory.customer("c1", tenantId: tenant)?.name == "Old", "level 1 before the news")

        shared.announce.yield(.customer("c1", tenantId: tenant))
        #expect(await eventually { try await directory.customer("c1", tenantId: tenant)?.name == "New" })

        _ = try await store.apply(.upsert(.customer(customer("Newer", version: "3"))))
        try await shared.invalidate("c1", tenantId: tenant, version: nil)
        shared.announce.yield(.all)
        #expect(await eventually { try await directory.customer("c1", tenantId: tenant)?.name == "Newer" })
    }

    /// Polls `condition` (the follower runs concurrently) for up to 2 s.
    private func eventually(_ condition: () async throws -> Bool) async -> Bool {
        for _ in 0..<200 {
            if (try? await condition()) == true { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return false
    }
}

/// A source of truth that cannot be reached (SQL Server down, circuit open).
private struct UnreachableSource: SourceOfTruth {
    var isWritable: Bool { false }
    func customer(_ id: CustomerID, tenantId: TenantID) async throws -> Customer? {
        throw StoreError.unavailable("SQL Server circuit open")
    }
    func upsert(_ record: ReferenceRecord) async throws { throw StoreError.unavailable("read-only") }
    func delete(_ key: ReferenceKey, tenantId: TenantID) async throws -> Bool {
        throw StoreError.unavailable("read-only")
    }
}

@Suite("CustomerDirectory with the source of truth down")
struct CustomerDirectoryOutageTests {
    /// The last level down answers "unknown" (counted), never an error that would stall enrichment; customers
    /// of the read model are still found.
    @Test func anUnreachableSourceIsAMiss() async throws {
        let clock = ManualWallClock(Timestamp(millisecondsSinceEpoch: 1_750_000_000_000))
        let store = InMemoryReferenceStore()
        let directory = CustomerDirectory(
            shared: InMemoryCustomerCache(clock: clock),
            store: store,
            sourceOfTruth: UnreachableSource(),
            clock: clock,
            logger: Logger(label: "test")
        )
        let known = Customer(id: "c1", tenantId: "t1", name: "Known", location: Coordinate(latitude: 1, longitude: 2))
        _ = try await store.apply(.upsert(.customer(known)))
        #expect(try await directory.customer("c1", tenantId: "t1") == known)
        #expect(try await directory.customer("c2", tenantId: "t1") == nil)
        #expect(directory.stats.sourceUnavailable == 1)
        #expect(directory.stats.store == 1)
    }
}
