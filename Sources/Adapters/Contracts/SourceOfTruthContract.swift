public import Application
import Domain
import Testing

/// The rules every `SourceOfTruth` adapter keeps, as one reusable suite: a write is readable and comes back
/// on `cdc.<Table>` (before the write returns) with the record's key, decoding through `ChangeEventCodec` to
/// the same record with a newer version; a delete is the rewritten before-image followed by a tombstone.
///
/// The factory returns the source and the bus it publishes on. A read-only source (production SQL Server)
/// declares `capabilities.isWritable = false`; the contract then checks that writes are refused.
public struct SourceOfTruthContract: Sendable {
    /// What the adapter under test supports, and its timing.
    public struct Capabilities: Sendable {
        /// Whether the source accepts writes (must equal `SourceOfTruth.isWritable`).
        public var isWritable: Bool
        /// How long to wait for change events.
        public var deliveryTimeout: Duration

        /// Declares the adapter's capabilities.
        public init(isWritable: Bool = true, deliveryTimeout: Duration = .seconds(10)) {
            self.isWritable = isWritable
            self.deliveryTimeout = deliveryTimeout
        }
    }

    private let capabilities: Capabilities
    private let make: @Sendable () async throws -> (source: any SourceOfTruth, bus: any EventBus)

    /// Creates the suite for sources built by `make`, each with the bus its change events go to.
    public init(
        capabilities: Capabilities = .init(),
        make: @escaping @Sendable () async throws -> (source: any SourceOfTruth, bus: any EventBus)
    ) {
        self.capabilities = capabilities
        self.make = make
    }

    /// Runs every rule, recording a Swift Testing issue per violation.
    public func run() async throws {
        if capabilities.isWritable {
            await runRules(
                "SourceOfTruth",
                [
                    ("declaredWritability", declaredWritability),
                    ("insertPublishesCreate", insertPublishesCreate),
                    ("updatePublishesNewerVersion", updatePublishesNewerVersion),
                    ("everyTablePublishes", everyTablePublishes),
                    ("deletePublishesRewriteThenTombstone", deletePublishesRewriteThenTombstone),
                    ("deleteOfOtherTenantRefused", deleteOfOtherTenantRefused),
                    ("eventsInWriteOrder", eventsInWriteOrder),
                ]
            )
        } else {
            await runRules(
                "SourceOfTruth",
                [
                    ("declaredWritability", declaredWritability),
                    ("readOnlyRefusesWrites", readOnlyRefusesWrites),
                ]
            )
        }
    }
}

// MARK: - Fixtures

private struct Fixtures {
    let tag = RunTag()
    var tenantA: TenantID { TenantID("tenant-\(tag)-a") }
    var tenantB: TenantID { TenantID("tenant-\(tag)-b") }

    func customerID(_ n: Int) -> CustomerID { CustomerID("cust-\(tag)-\(n)") }

    func customer(_ n: Int, tenant: TenantID? = nil, name: String = "Customer") -> Customer {
        Customer(
            id: customerID(n),
            tenantId: tenant ?? tenantA,
            name: "\(name) \(n)",
            phone: "+1 555 0100",
            address: "1 \"Main\" St\nSuite 2",
            location: Coordinate(latitude: 45.501_689, longitude: -73.567_256),
            geofenceRadiusMeters: 75.5,
            customerType: "retail"
        )
    }
}

extension ReferenceRecord {
    /// The record without its version, which the source assigns.
    fileprivate var unversioned: ReferenceRecord {
        switch self {
        case .customer(var c):
            c.version = nil
            return .customer(c)
        case .account(var a):
            a.version = nil
            return .account(a)
        case .product(var p):
            p.version = nil
            return .product(p)
        case .order(var o):
            o.version = nil
            return .order(o)
        }
    }
}

/// One change event as read back from the bus.
private struct Event {
    var message: BusMessage
    var change: ReferenceChange?
    var operation: ChangeEventCodec.Operation?
}

// MARK: - Watching

extension SourceOfTruthContract {
    /// Subscribes to the table's change topic from now on, in a group of its own.
    private func watch(_ bus: any EventBus, _ table: String, _ f: Fixtures) async throws -> any EventSubscription {
        try await bus.subscribe(
            topics: [.cdc(table)],
            group: "contract-\(f.tag)-\(table)-\(UInt32.random(in: 0...UInt32.max))",
            startAtEnd: true
        )
    }

    /// The next `count` events of `key` (others are skipped), decoded; fewer if they do not arrive in time.
    private func events(_ subscription: any EventSubscription, key: ReferenceKey, count: Int) async throws -> [Event] {
        let topic = Topic.cdc(key.table)
        let busKey = ChangeEventCodec.key(for: key)
        let clock = ContinuousClock()
        let deadline = clock.now + capabilities.deliveryTimeout
        var events: [Event] = []
        while events.count < count {
            let remaining = deadline - clock.now
            guard remaining > .zero else { break }
            let batch = try await withDeadline(remaining) { try await subscription.next(maxCount: 100) } ?? []
            if batch.isEmpty { break }
            for message in batch where message.key == busKey && events.count < count {
                events.append(
                    Event(
                        message: message,
                        change: try ChangeEventCodec.decode(topic: topic, key: message.key, value: message.value),
                        operation: try ChangeEventCodec.operation(of: message.value)
                    )
                )
            }
            try await subscription.commit(batch)
        }
        return events
    }
}

// MARK: - Rules

extension SourceOfTruthContract {
    /// The source says what the adapter declared.
    private func declaredWritability() async throws {
        let (source, _) = try await make()
        #expect(
            source.isWritable == capabilities.isWritable,
            "op: isWritable, key: declared \(capabilities.isWritable)"
        )
    }

    /// A read-only source refuses writes with `.unavailable`.
    private func readOnlyRefusesWrites() async throws {
        let (source, _) = try await make()
        let f = Fixtures()
        await expectStoreError(.unavailable, "op: upsert, key: read-only") {
            try await source.upsert(.customer(f.customer(1)))
        }
        await expectStoreError(.unavailable, "op: delete, key: read-only") {
            try await source.delete(.customer(f.customerID(1)), tenantId: f.tenantA)
        }
    }

    /// An insert is readable and published as a create event that decodes to the same record, versioned.
    private func insertPublishesCreate() async throws {
        let (source, bus) = try await make()
        let f = Fixtures()
        let subscription = try await watch(bus, "Customers", f)
        let customer = f.customer(1)
        try await source.upsert(.customer(customer))

        var read = try await source.customer(customer.id, tenantId: f.tenantA)
        read?.version = nil
        #expect(read == customer, "op: customer(_:tenantId:), key: written record")
        #expect(
            try await source.customer(customer.id, tenantId: f.tenantB) == nil,
            "op: customer(_:tenantId:), key: other tenant"
        )
        #expect(
            try await source.customer(f.customerID(99), tenantId: f.tenantA) == nil,
            "op: customer(_:tenantId:), key: absent"
        )

        let events = try await events(subscription, key: .customer(customer.id), count: 1)
        let key = ChangeEventCodec.key(for: .customer(customer.id))
        #expect(events.count == 1, "op: upsert publishes, key: \(key)")
        guard let event = events.first else { return }
        #expect(event.message.topic == .cdc("Customers"), "op: upsert publishes, key: topic cdc.Customers")
        #expect(event.operation == .create, "op: upsert publishes, key: __op c")
        #expect(
            event.message.headers[ChangeEventCodec.operationHeader] == "c",
            "op: upsert publishes, key: __op header"
        )
        guard case .upsert(let record)? = event.change else {
            Issue.record("op: decode, key: \(key) is not an upsert: \(String(describing: event.change))")
            return
        }
        #expect(record.unversioned == .customer(customer), "op: decode, key: same record")
        #expect(record.version != nil, "op: decode, key: versioned")
    }

    /// An update is published as an update event with a newer version.
    private func updatePublishesNewerVersion() async throws {
        let (source, bus) = try await make()
        let f = Fixtures()
        let subscription = try await watch(bus, "Customers", f)
        try await source.upsert(.customer(f.customer(1)))
        let renamed = f.customer(1, name: "Renamed")
        try await source.upsert(.customer(renamed))
        let events = try await events(subscription, key: .customer(renamed.id), count: 2)
        #expect(events.map(\.operation) == [.create, .update], "op: upsert twice, key: __op c then u")
        guard events.count == 2, case .upsert(let first)? = events[0].change,
            case .upsert(let second)? = events[1].change
        else {
            Issue.record("op: upsert twice, key: two upsert events expected, got \(events.count)")
            return
        }
        #expect(second.unversioned == .customer(renamed), "op: decode update, key: after image")
        #expect((first.version ?? "") < (second.version ?? ""), "op: upsert twice, key: version increases")
    }

    /// Accounts, products and orders are published on their own topics.
    private func everyTablePublishes() async throws {
        let (source, bus) = try await make()
        let f = Fixtures()
        let records: [ReferenceRecord] = [
            .account(
                Account(
                    id: AccountID("acct-\(f.tag)"),
                    tenantId: f.tenantA,
                    name: "Acme",
                    accountType: "premium",
                    settings: ["currency": "CAD", "note": "a \"quoted\" value"]
                )
            ),
            .product(
                Product(
                    id: ProductID("prod-\(f.tag)"),
                    tenantId: f.tenantA,
                    name: "Widget",
                    sku: "W-1",
                    category: nil,
                    unitPrice: "12.50"
                )
            ),
            .order(
                Order(
                    id: OrderID("order-\(f.tag)"),
                    tenantId: f.tenantA,
                    customerId: f.customerID(1),
                    status: "open",
                    totalAmount: "2500.00"
                )
            ),
        ]
        for record in records {
            let subscription = try await watch(bus, record.key.table, f)
            try await source.upsert(record)
            let events = try await events(subscription, key: record.key, count: 1)
            #expect(events.first?.message.topic == .cdc(record.key.table), "op: upsert, key: \(record.key.table) topic")
            guard case .upsert(let decoded)? = events.first?.change else {
                Issue.record("op: upsert, key: no \(record.key.table) upsert event")
                continue
            }
            #expect(decoded.unversioned == record, "op: decode, key: \(record.key.table) record")
            await subscription.close()
        }
    }

    /// A delete publishes the rewritten before-image, then a tombstone; the record is gone, and deleting it
    /// again returns `false` and publishes nothing.
    private func deletePublishesRewriteThenTombstone() async throws {
        let (source, bus) = try await make()
        let f = Fixtures()
        let subscription = try await watch(bus, "Customers", f)
        let customer = f.customer(1)
        let key = ReferenceKey.customer(customer.id)
        try await source.upsert(.customer(customer))
        #expect(try await source.delete(key, tenantId: f.tenantA) == true, "op: delete, key: existing record")
        #expect(
            try await source.customer(customer.id, tenantId: f.tenantA) == nil,
            "op: customer after delete, key: gone"
        )
        #expect(try await source.delete(key, tenantId: f.tenantA) == false, "op: delete again, key: absent record")
        try await source.upsert(.customer(customer))

        let events = try await events(subscription, key: key, count: 4)
        #expect(
            events.map(\.operation) == [.create, .delete, nil, .create],
            "op: upsert, delete, delete, upsert, key: c, d, tombstone, c"
        )
        guard events.count == 4 else { return }
        guard case .upsert(let created)? = events[0].change,
            case .delete(let deletedKey, let tenant, let deleteVersion)? = events[1].change,
            case .upsert(let recreated)? = events[3].change
        else {
            Issue.record("op: delete, key: unexpected decoded events \(events.map(\.change))")
            return
        }
        #expect(deletedKey == key && tenant == f.tenantA, "op: decode delete, key: key and tenant")
        #expect((created.version ?? "") < (deleteVersion ?? ""), "op: delete, key: version after the insert")
        #expect((deleteVersion ?? "") < (recreated.version ?? ""), "op: re-insert, key: version after the delete")
        #expect(events[2].message.value == nil && events[2].change == nil, "op: delete, key: tombstone follows")
        #expect(
            events[1].message.headers[ChangeEventCodec.operationHeader] == "d"
                && events[2].message.headers[ChangeEventCodec.operationHeader] == "d",
            "op: delete, key: __op headers"
        )
    }

    /// Deleting with another tenant than the record's is refused (`false`) and publishes nothing.
    private func deleteOfOtherTenantRefused() async throws {
        let (source, bus) = try await make()
        let f = Fixtures()
        let subscription = try await watch(bus, "Customers", f)
        let customer = f.customer(1)
        try await source.upsert(.customer(customer))
        #expect(
            try await source.delete(.customer(customer.id), tenantId: f.tenantB) == false,
            "op: delete, key: other tenant's record"
        )
        #expect(try await source.customer(customer.id, tenantId: f.tenantA) != nil, "op: customer, key: still there")
        try await source.upsert(.customer(f.customer(1, name: "Renamed")))
        let events = try await events(subscription, key: .customer(customer.id), count: 2)
        #expect(events.map(\.operation) == [.create, .update], "op: delete of other tenant, key: no event")
    }

    /// A key's events arrive in write order with increasing versions, the last one carrying the last write.
    private func eventsInWriteOrder() async throws {
        let (source, bus) = try await make()
        let f = Fixtures()
        let subscription = try await watch(bus, "Customers", f)
        for n in 0..<5 { try await source.upsert(.customer(f.customer(1, name: "Rename \(n)"))) }
        let events = try await events(subscription, key: .customer(f.customerID(1)), count: 5)
        let names: [String] = events.compactMap {
            guard case .upsert(.customer(let c))? = $0.change else { return nil }
            return c.name
        }
        #expect(names == (0..<5).map { "Rename \($0) 1" }, "op: upsert ×5, key: write order")
        let versions = events.compactMap(\.change?.version)
        #expect(
            versions.count == 5 && versions == versions.sorted() && Set(versions).count == 5,
            "op: upsert ×5, key: increasing versions"
        )
    }
}
