import AdapterSupport
import Application
import Domain
import InMemoryAdapters
import SQLiteAdapters
import Testing

@Suite("SQLiteEventBus")
struct SQLiteEventBusTests {
    private func message(_ key: String, _ seq: Int) -> OutgoingMessage {
        OutgoingMessage(key: key, value: Array("\(key)#\(seq)".utf8), headers: ["seq": "\(seq)"])
    }

    private func seq(_ message: BusMessage) -> Int? { message.headers["seq"].flatMap { Int($0) } }

    private func receive(_ subscription: any EventSubscription, count: Int) async throws -> [BusMessage] {
        var received: [BusMessage] = []
        let deadline = ContinuousClock.now + .seconds(5)
        while received.count < count, ContinuousClock.now < deadline {
            let batch = try await subscription.next(maxCount: count - received.count)
            if batch.isEmpty { break }
            received += batch
        }
        return received
    }

    /// Messages survive closing and reopening the file; a group whose subscription was never closed resumes at
    /// its committed offset, so what it received but did not commit is delivered again.
    @Test(.temporaryDatabases) func messagesAndOffsetsSurviveReopen() async throws {
        let path = LocalKind.temporaryPath("reopen")
        let topic: Topic = "reopen"
        do {
            let bus = try await SQLiteEventBus(path: path, logger: LocalKind.logger)
            try await bus.publish((0..<10).map { message("k", $0) }, to: topic)
            let subscription = try await bus.subscribe(topics: [topic], group: "g", startAtEnd: false)
            let received = try await receive(subscription, count: 10)
            #expect(received.compactMap(seq) == Array(0..<10), "op: next, key: before reopen")
            try await subscription.commit([received[3]])
            // No `subscription.close()`: the process "dies" with the subscription open.
            await bus.close()
        }
        let reopened = try await SQLiteEventBus(path: path, logger: LocalKind.logger)
        #expect(try await reopened.retainedMessageCount(in: topic) == 10, "op: reopen, key: messages kept")
        let offsets = try await reopened.committedOffsets(group: "g", topic: topic)
        #expect(offsets[Partitioner.partition(forKey: "k", partitions: 8)] == 4, "op: reopen, key: committed offset")
        let again = try await reopened.subscribe(topics: [topic], group: "g", startAtEnd: false)
        #expect(try await receive(again, count: 6).compactMap(seq) == Array(4..<10), "op: next after reopen, key: g")
        let fresh = try await reopened.subscribe(topics: [topic], group: "new", startAtEnd: false)
        #expect(try await receive(fresh, count: 10).compactMap(seq) == Array(0..<10), "op: next after reopen, key: new")
        try await reopened.publish([message("k", 10)], to: topic)
        #expect(
            try await receive(again, count: 1).map(\.offset) == [10],
            "op: publish after reopen, key: offsets go on"
        )
        await reopened.close()
    }

    /// Retention deletes only messages that every group committed and that are older than the period.
    @Test(.temporaryDatabases, arguments: ["file", "memory"])
    func retentionDeletesOnlyCommittedOldMessages(_ storage: String) async throws {
        let clock = ManualWallClock(Timestamp(millisecondsSinceEpoch: 1_710_460_800_000))
        let path = storage == "file" ? LocalKind.temporaryPath("retention") : ":memory:"
        let bus = try await SQLiteEventBus(
            path: path,
            configuration: .init(retention: .seconds(3600), pruneEveryMessages: 0),
            clock: clock,
            logger: LocalKind.logger
        )
        let topic: Topic = "retention"
        try await bus.publish((0..<10).map { message("k", $0) }, to: topic)
        let all = try await bus.subscribe(topics: [topic], group: "all", startAtEnd: false)
        let half = try await bus.subscribe(topics: [topic], group: "half", startAtEnd: false)
        let receivedAll = try await receive(all, count: 10)
        let receivedHalf = try await receive(half, count: 10)
        try await all.commit(receivedAll)
        try await half.commit([receivedHalf[4]])

        #expect(try await bus.prune() == 0, "op: prune, key: nothing old yet")
        clock.advance(by: .seconds(2 * 3600))
        try await bus.publish((10..<13).map { message("k", $0) }, to: topic)
        #expect(try await bus.prune() == 5, "op: prune, key: old and committed by both groups")
        #expect(try await bus.retainedMessageCount(in: topic) == 8, "op: prune, key: uncommitted kept")

        try await half.commit(try await receive(half, count: 3))
        #expect(try await bus.prune() == 5, "op: prune, key: rest of the old ones once committed")
        #expect(try await bus.retainedMessageCount(in: topic) == 3, "op: prune, key: recent kept")
        clock.advance(by: .seconds(2 * 3600))
        #expect(try await bus.prune() == 0, "op: prune, key: group all has not committed the recent ones")

        // A new group starts at the earliest retained message.
        let late = try await bus.subscribe(topics: [topic], group: "late", startAtEnd: false)
        #expect(try await receive(late, count: 3).compactMap(seq) == [10, 11, 12], "op: next, key: after pruning")
        await bus.close()
    }

    /// Publishing 1,000 messages in one call is one transaction; consumers see them all, in key order.
    @Test func largeBatchRoundTrip() async throws {
        let bus = try await SQLiteEventBus(path: ":memory:", logger: LocalKind.logger)
        let topic: Topic = "large"
        let keys = (0..<50).map { "driver-\($0)" }
        try await bus.publish((0..<1000).map { message(keys[$0 % keys.count], $0) }, to: topic)
        let subscription = try await bus.subscribe(topics: [topic], group: "g", startAtEnd: false)
        let received = try await receive(subscription, count: 1000)
        #expect(received.count == 1000, "op: next, key: all delivered")
        for key in keys {
            let seqs = received.filter { $0.key == key }.compactMap(seq)
            #expect(seqs == seqs.sorted(), "op: next, key: \(key) in order")
        }
        await bus.close()
    }
}

@Suite("SQLiteSourceOfTruth")
struct SQLiteSourceOfTruthTests {
    /// A change written with plain SQL on the core table (as another application would) is captured by the
    /// triggers and published by the relay; changes left pending are relayed when the file is opened.
    @Test(.temporaryDatabases) func triggersCapturePlainSQLAndRelayPublishes() async throws {
        let corePath = LocalKind.temporaryPath("core")
        let bus = InMemoryEventBus()
        let source = try await SQLiteSourceOfTruth(path: corePath, bus: bus, logger: LocalKind.logger)
        let watcher = try await bus.subscribe(topics: [.cdc("Customers")], group: "watch", startAtEnd: true)

        try await CoreForeignWriter.execute(
            """
            INSERT INTO Customers (CustomerId, TenantId, Name, Latitude, Longitude, GeofenceRadiusMeters)
            VALUES ('c-1', 't-1', 'Ada', 45.501689, -73.567256, 80);
            UPDATE Customers SET Name = 'Ada Lovelace' WHERE CustomerId = 'c-1';
            DELETE FROM Customers WHERE CustomerId = 'c-1';
            """,
            onCoreFileAt: corePath
        )
        #expect(try await source.pendingChangeCount() == 3, "op: plain SQL, key: 3 changes captured")
        #expect(try await source.relayPending() == 3, "op: relayPending, key: 3 relayed")
        #expect(try await source.pendingChangeCount() == 0, "op: relayPending, key: none pending")

        let events = try await watcher.next(maxCount: 10)
        #expect(events.map { $0.headers["__op"] } == ["c", "u", "d", "d"], "op: relay, key: c, u, d, tombstone")
        #expect(events.last?.value == nil, "op: relay, key: tombstone last")
        let changes = try events.map { try ChangeEventCodec.decode(topic: $0.topic, key: $0.key, value: $0.value) }
        guard changes.count == 4, case .upsert(.customer(let created))? = changes[0],
            case .upsert(.customer(let updated))? = changes[1],
            case .delete(let key, let tenant, let version)? = changes[2]
        else {
            Issue.record("op: decode, key: unexpected events \(changes)")
            return
        }
        #expect(created.name == "Ada" && created.location.latitude == 45.501689, "op: decode, key: insert image")
        #expect(created.geofenceRadiusMeters == 80, "op: decode, key: real column")
        #expect(updated.name == "Ada Lovelace", "op: decode, key: update image")
        #expect(key == .customer("c-1") && tenant == "t-1", "op: decode, key: delete")
        let versions = [created.version, updated.version, version].compactMap { $0 }
        #expect(versions.count == 3 && versions == versions.sorted(), "op: relay, key: versions increase")

        // Written while no source is running: relayed when the core file is opened again.
        await source.close()
        try await CoreForeignWriter.execute(
            "INSERT INTO Products (ProductId, TenantId, Name, UnitPrice) VALUES ('p-1', 't-1', 'Widget', '12.50')",
            onCoreFileAt: corePath
        )
        let products = try await bus.subscribe(topics: [.cdc("Products")], group: "products", startAtEnd: false)
        let reopened = try await SQLiteSourceOfTruth(path: corePath, bus: bus, logger: LocalKind.logger)
        let relayed = try await products.next(maxCount: 10)
        #expect(relayed.count == 1 && relayed.first?.headers["__op"] == "c", "op: reopen, key: pending relayed")
        if let first = relayed.first,
            case .upsert(.product(let product))? = try ChangeEventCodec.decode(
                topic: first.topic,
                key: first.key,
                value: first.value
            )
        {
            #expect(product.unitPrice == "12.50", "op: decode, key: decimal text kept")
            #expect((product.version ?? "") > (version ?? ""), "op: reopen, key: LSNs keep increasing")
        } else {
            Issue.record("op: reopen, key: no product event")
        }
        await reopened.close()
    }
}
