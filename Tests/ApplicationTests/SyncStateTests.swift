import AdapterSupport
import Domain
import InMemoryAdapters
import Logging
import Testing

@testable import Application

/// `sync_state` tells the truth: the CDC consumer records what it applied (duplicates and stale events do
/// not count), a dead-lettered event makes its table `failing`, and the lag monitor turns a table `lagging`
/// past the threshold and back with the next event. Time is a manual clock.
@Suite("CDC sync state and lag")
struct SyncStateTests {
    struct Harness {
        let clock = ManualWallClock(Timestamp(millisecondsSinceEpoch: 1_710_000_000_000))
        let fleet = InMemoryFleetStore()
        let reference = InMemoryReferenceStore()
        let bus = InMemoryEventBus()
        let apply: ApplyChangeEvent
        let monitor: SyncMonitor
        var offset: Int64 = 0

        init() {
            let logger = Logger(label: "sync-state")
            let customers = CustomerDirectory(
                shared: InMemoryCustomerCache(clock: clock),
                store: reference,
                sourceOfTruth: InMemorySourceOfTruth(bus: bus),
                clock: clock,
                logger: logger
            )
            apply = ApplyChangeEvent(store: reference, fleet: fleet, customers: customers, clock: clock, logger: logger)
            var configuration = SyncMonitor.Configuration()
            configuration.lagThreshold = .seconds(30)
            monitor = SyncMonitor(fleet: fleet, clock: clock, configuration: configuration)
        }

        /// An update of customer `id` committed at the source `sourceAgo` before now, at `lsn`.
        mutating func customerEvent(
            _ id: String,
            lsn: String,
            sourceAgo: Duration = .seconds(1),
            operation: ChangeEventCodec.Operation = .update
        ) -> BusMessage {
            let customer = Customer(
                id: CustomerID(id),
                tenantId: "t1",
                name: "Customer \(id)",
                location: Coordinate(latitude: 52.5, longitude: 13.4)
            )
            let position = ChangeEventCodec.SourcePosition(
                commitLSN: lsn,
                changeLSN: operation == .read ? nil : lsn,
                eventSerialNo: 1,
                timestamp: clock.now() - sourceAgo
            )
            let (key, value) = ChangeEventCodec.encode(.customer(customer), operation: operation, position: position)
            return message(topic: .cdc("Customers"), key: key, value: value)
        }

        mutating func message(topic: Topic, key: String, value: [UInt8]?) -> BusMessage {
            offset += 1
            return BusMessage(
                topic: topic,
                partition: 0,
                offset: offset,
                key: key,
                value: value,
                headers: [:],
                timestamp: clock.now()
            )
        }

        func state(_ table: String = "Customers") async throws -> SyncState? {
            try await fleet.syncStates().first { $0.tableName == table }
        }
    }

    @Test func appliedEventsAreCountedOnceAndTheNewestVersionWins() async throws {
        var h = Harness()
        let first = h.customerEvent("c1", lsn: "00000010:00000001:0001")
        let second = h.customerEvent("c2", lsn: "00000010:00000002:0001", sourceAgo: .milliseconds(400))
        try await h.apply.handle([first, second])
        var state = try #require(try await h.state())
        #expect(state.eventsApplied == 2)
        #expect(state.status == .healthy)
        #expect(state.lastVersion?.hasPrefix("00000010:00000002:0001|") == true)
        #expect(state.lastSourceAt == h.clock.now() - .milliseconds(400))
        #expect(state.lastSyncedAt == h.clock.now())

        // Redelivered (duplicate) and out of order (older): nothing applied, nothing counted, version kept.
        _ = h.clock.advance(by: .seconds(1))
        try await h.apply.handle([second, first])
        state = try #require(try await h.state())
        #expect(state.eventsApplied == 2)
        #expect(state.lastVersion?.hasPrefix("00000010:00000002:0001|") == true)
        let tables = try await h.monitor.check().tables.map(\.table)
        #expect(tables == ["Accounts", "Customers", "Orders", "Products"])
    }

    @Test func snapshotReadsAreSyncingUntilTheLastOne() async throws {
        var h = Harness()
        try await h.apply.handle([h.customerEvent("c1", lsn: "00000001:00000001:0001", operation: .read)])
        #expect(try await h.state()?.status == .syncing)
        #expect(try await h.monitor.check().status == .syncing)
        // A streamed change after the snapshot: healthy.
        try await h.apply.handle([h.customerEvent("c1", lsn: "00000002:00000001:0001")])
        #expect(try await h.state()?.status == .healthy)
    }

    @Test func aPoisonEventIsDeadLetteredAndTheTableIsFailingUntilTheNextChange() async throws {
        var h = Harness()
        let poison = h.message(topic: .cdc("Orders"), key: #"{"OrderId":"o1"}"#, value: Array(#"{"OrderId":"#.utf8))
        let good = h.customerEvent("c1", lsn: "00000010:00000001:0001")
        let loop = ConsumerLoop(
            bus: h.bus,
            configuration: .init(topics: ApplyChangeEvent.topics, group: "cdc", maxAttempts: 1),
            logger: Logger(label: "sync-state"),
            onDeadLetter: h.apply.recordFailure,
            handler: h.apply.handle
        )
        try await loop.process([poison, good])
        let orders = try #require(try await h.state("Orders"))
        #expect(orders.status == .failing)
        #expect(orders.eventsFailed == 1)
        #expect(orders.lastError?.contains("change event") == true, "\(orders.lastError ?? "")")
        #expect(try await h.state()?.eventsApplied == 1, "the good event of the batch is applied and counted once")
        let dead = try await h.bus.subscribe(topics: [Topic("cdc.Orders.dlq")], group: "check", startAtEnd: false)
        let parked = try await dead.next(maxCount: 10)
        #expect(parked.count == 1)
        #expect(parked.first?.headers[MessageHeader.dlqSourceTopic] == "cdc.Orders")

        let report = try await h.monitor.check()
        #expect(report.status == .failing)
        let fixed = ChangeEventCodec.encode(
            .order(Order(id: "o1", tenantId: "t1", customerId: "c1", status: "open", totalAmount: "1.00")),
            operation: .update,
            position: .init(
                commitLSN: "00000011:00000001:0001",
                changeLSN: "00000011:00000001:0001",
                eventSerialNo: 1,
                timestamp: h.clock.now()
            )
        )
        try await h.apply.handle([h.message(topic: .cdc("Orders"), key: fixed.key, value: fixed.value)])
        #expect(try await h.state("Orders")?.status == .healthy)
    }

    @Test func aStalledStreamIsLaggingWithinTheThresholdAndAResumedOneIsNot() async throws {
        var h = Harness()
        try await h.apply.handle([h.customerEvent("c1", lsn: "00000010:00000001:0001", sourceAgo: .seconds(2))])
        #expect(try await h.monitor.check().status == .healthy)
        _ = h.clock.advance(by: .seconds(27))
        var report = try await h.monitor.check()
        #expect(report.status == .healthy, "lag 29 s ≤ 30 s")
        _ = h.clock.advance(by: .seconds(2))
        report = try await h.monitor.check()
        #expect(report.status == .lagging, "lag 31 s > 30 s")
        let line = try #require(report.tables.first { $0.table == "Customers" })
        #expect(line.lag == .seconds(31))
        #expect(line.sinceLastEvent == .seconds(29))
        #expect(try await h.state()?.status == .lagging, "recorded in sync_state")
        #expect(line.warning == nil)

        try await h.apply.handle([h.customerEvent("c1", lsn: "00000010:00000002:0001")])
        #expect(try await h.monitor.check().status == .healthy)
        #expect(try await h.state()?.status == .healthy)

        // A day behind: the retention warning.
        _ = h.clock.advance(by: .seconds(24 * 3600))
        report = try await h.monitor.check()
        let warning = try #require(report.tables.first { $0.table == "Customers" }?.warning)
        #expect(warning.contains("24 h of the source's 120 h CDC retention"), "\(warning)")
    }
}
