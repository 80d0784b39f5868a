import AdapterSupport
import Application
import Domain
import InMemoryAdapters
import Logging
import Testing

@Suite("EnrichPositions at-least-once")
struct EnrichPositionsTests {
    let tenant: TenantID = "t1"
    let driver = Driver(id: "d1", tenantId: "t1", deviceId: "dev-1", name: "Driver One")

    func raw(_ second: Int64, lat: Double = 52.52) -> RawPosition {
        RawPosition(
            tenantId: tenant,
            driverId: driver.id,
            deviceId: driver.deviceId,
            fixTime: Timestamp(millisecondsSinceEpoch: 1_750_000_000_000 + second * 1000),
            latitude: lat,
            longitude: 13.405,
            speedKmh: 30,
            course: 90
        )
    }

    func message(_ position: RawPosition, offset: Int64) throws -> BusMessage {
        BusMessage(
            topic: .positions,
            partition: 0,
            offset: offset,
            key: driver.id.rawValue,
            value: try JSONPayload.encode(position),
            headers: [:],
            timestamp: position.fixTime
        )
    }

    func driverEvents(on bus: InMemoryEventBus) async throws -> [DomainEvent] {
        let subscription = try await bus.subscribe(
            topics: [.driverEvents],
            group: "probe-\(UInt64.random(in: 0...UInt64.max))",
            startAtEnd: false
        )
        defer { Task { await subscription.close() } }
        var events: [DomainEvent] = []
        while true {
            let batch = try await withTimeout { try await subscription.next(maxCount: 100) }
            guard let batch, !batch.isEmpty else { return events }
            events += try batch.map { try JSONPayload.decode(DomainEvent.self, from: $0.value) }
        }
    }

    /// The use case on in-memory adapters, with an in-memory customer directory.
    func makeEnrich(
        bus: InMemoryEventBus,
        fleet: InMemoryFleetStore,
        history: InMemoryHistoryStore,
        latest: InMemoryLatestPositionCache,
        clock: ManualWallClock
    ) -> EnrichPositions {
        EnrichPositions(
            fleet: fleet,
            history: history,
            latest: latest,
            customers: CustomerDirectory(
                shared: InMemoryCustomerCache(clock: clock),
                store: InMemoryReferenceStore(),
                sourceOfTruth: InMemorySourceOfTruth(bus: bus),
                clock: clock,
                logger: Logger(label: "test")
            ),
            bus: bus,
            logger: Logger(label: "test")
        )
    }

    /// Everything published on `gps.positions.enriched` so far.
    func enrichedPositions(on bus: InMemoryEventBus) async throws -> [EnrichedPosition] {
        let subscription = try await bus.subscribe(
            topics: [.enrichedPositions],
            group: "probe-\(UInt64.random(in: 0...UInt64.max))",
            startAtEnd: false
        )
        var published: [EnrichedPosition] = []
        while let batch = try await withTimeout({ try await subscription.next(maxCount: 100) }), !batch.isEmpty {
            published += try batch.map { try JSONPayload.decode(EnrichedPosition.self, from: $0.value) }
        }
        await subscription.close()
        return published
    }

    /// Returns nil when `body` takes longer than 300 ms (nothing more to read).
    func withTimeout<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T? {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: .milliseconds(300))
                return nil
            }
            let first = try await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }

    /// A batch that fails after its first message was enriched is retried from the stored snapshot: the first
    /// message's events (here the driver's first `online`) are published by the retry instead of being lost
    /// because a snapshot already claimed the fix.
    @Test func eventsSurviveABatchRetry() async throws {
        let bus = InMemoryEventBus()
        let fleet = InMemoryFleetStore()
        try await fleet.saveDriver(driver)
        let clock = ManualWallClock(Timestamp(millisecondsSinceEpoch: 1_750_000_100_000))
        let customers = CustomerDirectory(
            shared: InMemoryCustomerCache(clock: clock),
            store: InMemoryReferenceStore(),
            sourceOfTruth: InMemorySourceOfTruth(bus: bus),
            clock: clock,
            logger: Logger(label: "test")
        )
        let enrich = EnrichPositions(
            fleet: fleet,
            history: InMemoryHistoryStore(),
            latest: InMemoryLatestPositionCache(clock: clock),
            customers: customers,
            bus: bus,
            logger: Logger(label: "test")
        )
        let poison = BusMessage(
            topic: .positions,
            partition: 0,
            offset: 1,
            key: driver.id.rawValue,
            value: Array("{not json".utf8),
            headers: [:],
            timestamp: raw(1).fixTime
        )
        let batch = [try message(raw(0), offset: 0), poison]

        await #expect(throws: StoreError.self, "op: handle, key: batch with a poison message") {
            try await enrich.handle(batch)
        }
        #expect(
            try await fleet.snapshot(driverId: driver.id, tenantId: tenant) == nil,
            "op: snapshot, key: nothing stored by a failed batch"
        )
        // ConsumerLoop's per-message retry:
        try await enrich.handle([batch[0]])
        let events = try await driverEvents(on: bus)
        let online = events.filter {
            if case .driver(let e) = $0 { return e.kind == .online }
            return false
        }
        #expect(online.count == 1, "op: publish, key: online event of the retried message")
        let stored = try await fleet.snapshot(driverId: driver.id, tenantId: tenant)
        #expect(stored?.position.fixTime == raw(0).fixTime, "op: snapshot, key: stored after publishing")
    }

    /// Within one batch a driver's later fix sees the earlier one (not yet stored) as its previous state.
    @Test func laterFixesInABatchSeeEarlierOnes() async throws {
        let bus = InMemoryEventBus()
        let fleet = InMemoryFleetStore()
        try await fleet.saveDriver(driver)
        let clock = ManualWallClock(Timestamp(millisecondsSinceEpoch: 1_750_000_100_000))
        let customers = CustomerDirectory(
            shared: InMemoryCustomerCache(clock: clock),
            store: InMemoryReferenceStore(),
            sourceOfTruth: InMemorySourceOfTruth(bus: bus),
            clock: clock,
            logger: Logger(label: "test")
        )
        let enrich = EnrichPositions(
            fleet: fleet,
            history: InMemoryHistoryStore(),
            latest: InMemoryLatestPositionCache(clock: clock),
            customers: customers,
            bus: bus,
            logger: Logger(label: "test")
        )
        try await enrich.handle([
            try message(raw(0), offset: 0), try message(raw(1), offset: 1),
            try message(raw(2), offset: 2),
        ])
        let events = try await driverEvents(on: bus)
        let online = events.filter {
            if case .driver(let e) = $0 { return e.kind == .online }
            return false
        }
        #expect(online.count == 1, "op: publish, key: one online event for three fixes")
        let stored = try await fleet.snapshot(driverId: driver.id, tenantId: tenant)
        #expect(stored?.position.fixTime == raw(2).fixTime, "op: snapshot, key: newest fix of the batch")
    }

    /// The same fix again (a webhook retry taken by another instance lands on the same partition; a batch
    /// redelivered after its snapshot was saved), in a later batch or the same one: one history row, one
    /// enriched event.
    @Test func duplicateFixIsEnrichedOnce() async throws {
        let bus = InMemoryEventBus()
        let fleet = InMemoryFleetStore()
        try await fleet.saveDriver(driver)
        let clock = ManualWallClock(Timestamp(millisecondsSinceEpoch: 1_750_000_100_000))
        let history = InMemoryHistoryStore()
        let enrich = makeEnrich(
            bus: bus,
            fleet: fleet,
            history: history,
            latest: InMemoryLatestPositionCache(clock: clock),
            clock: clock
        )
        try await enrich.handle([try message(raw(0), offset: 0)])
        try await enrich.handle([try message(raw(0), offset: 1)])
        try await enrich.handle([try message(raw(1), offset: 2), try message(raw(1), offset: 3)])
        let published = try await enrichedPositions(on: bus)
        #expect(published.map(\.fixTime) == [raw(0).fixTime, raw(1).fixTime], "op: publish, key: one event per fix")
        let rows = try await history.routeHistory(
            driverId: driver.id,
            tenantId: tenant,
            from: raw(0).fixTime,
            to: raw(1).fixTime,
            maxPoints: 10
        )
        #expect(rows.count == 2, "op: history, key: one row per fix")
    }

    /// A late fix (Traccar forwarding a device's buffered offline data), in a later batch or after a newer fix
    /// in the same batch: history has it in its place on the track; nothing live changes: not published on
    /// `gps.positions.enriched` (no push), not the snapshot, not the latest-position cache, no driver event.
    @Test func lateFixGoesToHistoryOnly() async throws {
        let bus = InMemoryEventBus()
        let fleet = InMemoryFleetStore()
        try await fleet.saveDriver(driver)
        let clock = ManualWallClock(Timestamp(millisecondsSinceEpoch: 1_750_000_100_000))
        let history = InMemoryHistoryStore()
        let latest = InMemoryLatestPositionCache(clock: clock)
        let enrich = makeEnrich(bus: bus, fleet: fleet, history: history, latest: latest, clock: clock)
        try await enrich.handle([try message(raw(60), offset: 0)])
        let eventsBefore = try await driverEvents(on: bus).count
        // An hour-old fix in its own batch, then a newer fix followed by a late one in the same batch.
        try await enrich.handle([try message(raw(-3600, lat: 52.40), offset: 1)])
        try await enrich.handle([try message(raw(61), offset: 2), try message(raw(30, lat: 52.41), offset: 3)])

        let published = try await enrichedPositions(on: bus)
        #expect(published.map(\.fixTime) == [raw(60).fixTime, raw(61).fixTime], "op: publish, key: newer fixes only")
        let rows = try await history.routeHistory(
            driverId: driver.id,
            tenantId: tenant,
            from: raw(-3600).fixTime,
            to: raw(61).fixTime,
            maxPoints: 10
        )
        #expect(
            rows.map(\.fixTime) == [raw(-3600).fixTime, raw(30).fixTime, raw(60).fixTime, raw(61).fixTime],
            "op: history, key: every fix, in time order"
        )
        let snapshot = try await fleet.snapshot(driverId: driver.id, tenantId: tenant)
        #expect(snapshot?.position.fixTime == raw(61).fixTime, "op: snapshot, key: the newest fix")
        let cached = try await latest.latest(driverId: driver.id, tenantId: tenant)
        #expect(cached?.fixTime == raw(61).fixTime, "op: latest cache, key: the newest fix")
        #expect(try await driverEvents(on: bus).count == eventsBefore, "op: events, key: none for late fixes")
    }
}
