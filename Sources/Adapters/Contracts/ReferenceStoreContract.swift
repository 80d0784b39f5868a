public import Application
import Domain
import Testing

/// The rules every `ReferenceStore` adapter keeps, as one reusable suite: the version guard (text order,
/// `nil` snapshot versions, delete tombstones), idempotency and tenancy.
///
/// `make` is called once per rule; keys are unique per run, so a shared database works.
public struct ReferenceStoreContract: Sendable {
    private let make: @Sendable () async throws -> any ReferenceStore

    /// Creates the suite for stores built by `make`.
    public init(make: @escaping @Sendable () async throws -> any ReferenceStore) {
        self.make = make
    }

    /// Runs every rule, recording a Swift Testing issue per violation.
    public func run() async throws {
        await runRules(
            "ReferenceStore",
            [
                ("upsertReadBack", upsertReadBack),
                ("everyTableReadsBack", everyTableReadsBack),
                ("staleVersionIgnored", staleVersionIgnored),
                ("sameChangeTwice", sameChangeTwice),
                ("nilVersionRules", nilVersionRules),
                ("deleteLeavesTombstone", deleteLeavesTombstone),
                ("deleteOfAbsentKeyLeavesTombstone", deleteOfAbsentKeyLeavesTombstone),
                ("staleDeleteIgnored", staleDeleteIgnored),
                ("batchAppliesInOrder", batchAppliesInOrder),
            ]
        )
    }
}

// MARK: - Fixtures

private struct Fixtures {
    let tag = RunTag()
    var tenantA: TenantID { TenantID("tenant-\(tag)-a") }
    var tenantB: TenantID { TenantID("tenant-\(tag)-b") }

    func customerID(_ n: Int) -> CustomerID { CustomerID("cust-\(tag)-\(n)") }

    /// A fixed-width version that sorts as `n` does, in the `ChangeEventCodec` layout.
    func version(_ n: Int) -> String {
        let lsn = "0000002b:" + String(repeating: "0", count: 8 - String(n, radix: 16).count) + String(n, radix: 16)
        return ChangeEventCodec.version(
            operation: .update,
            commitLSN: lsn + ":0003",
            changeLSN: lsn + ":0002",
            eventSerialNo: 1
        )!
    }

    func customer(_ n: Int, tenant: TenantID, name: String = "Customer", version: String?) -> Customer {
        Customer(
            id: customerID(n),
            tenantId: tenant,
            name: "\(name) \(n)",
            phone: "+1-555-0100",
            address: "1 Main St",
            location: Coordinate(latitude: 45.5 + Double(n) / 100, longitude: -73.6),
            geofenceRadiusMeters: 80,
            customerType: "retail",
            version: version
        )
    }

    func upsert(_ customer: Customer) -> ReferenceChange { .upsert(.customer(customer)) }

    func delete(_ n: Int, tenant: TenantID?, version: String?) -> ReferenceChange {
        .delete(.customer(customerID(n)), tenantId: tenant, version: version)
    }
}

// MARK: - Rules

extension ReferenceStoreContract {
    /// `apply(_:)` with a batch answers and ends as applying its changes one by one would: per key in order
    /// (the later of two changes to one key wins), stale and repeated changes reported unapplied.
    private func batchAppliesInOrder() async throws {
        let store = try await make()
        let f = Fixtures()
        _ = try await store.apply(f.upsert(f.customer(3, tenant: f.tenantA, name: "Stored", version: f.version(7))))
        let batch: [ReferenceChange] = [
            f.upsert(f.customer(2, tenant: f.tenantA, name: "First", version: f.version(1))),
            f.upsert(f.customer(1, tenant: f.tenantA, name: "First", version: f.version(1))),
            f.upsert(f.customer(3, tenant: f.tenantA, name: "Older", version: f.version(6))),
            f.upsert(f.customer(1, tenant: f.tenantA, name: "Second", version: f.version(2))),
            f.upsert(f.customer(1, tenant: f.tenantA, name: "Second", version: f.version(2))),
            f.delete(2, tenant: f.tenantA, version: f.version(3)),
            f.upsert(f.customer(2, tenant: f.tenantA, name: "Stale", version: f.version(2))),
        ]
        let applied = try await store.apply(batch)
        #expect(applied == [true, true, false, true, false, true, false], "op: apply(batch), key: per change")
        #expect(
            try await store.customer(f.customerID(1), tenantId: f.tenantA)?.name == "Second 1",
            "op: apply(batch), key: later change of a key wins"
        )
        #expect(try await store.customer(f.customerID(2), tenantId: f.tenantA) == nil, "op: apply(batch), key: delete")
        #expect(
            try await store.customer(f.customerID(3), tenantId: f.tenantA)?.name == "Stored 3",
            "op: apply(batch), key: stale change ignored"
        )
        #expect(try await store.apply([]) == [], "op: apply(empty batch)")
    }

    /// Upserts read back within their tenant only; `customers(tenantId:)` is ordered by id.
    private func upsertReadBack() async throws {
        let store = try await make()
        let f = Fixtures()
        let c1 = f.customer(1, tenant: f.tenantA, version: f.version(1))
        let c2 = f.customer(2, tenant: f.tenantA, version: f.version(1))
        let c3 = f.customer(3, tenant: f.tenantB, version: nil)
        for customer in [c2, c3, c1] {
            #expect(try await store.apply(f.upsert(customer)) == true, "op: apply upsert, key: \(customer.id)")
        }
        let lookups: [(CustomerID, TenantID, Customer?)] = [
            (c1.id, f.tenantA, c1), (c2.id, f.tenantA, c2), (c3.id, f.tenantB, c3),
            (c3.id, f.tenantA, nil), (c1.id, f.tenantB, nil), (f.customerID(99), f.tenantA, nil),
        ]
        for (id, tenant, expected) in lookups {
            #expect(
                try await store.customer(id, tenantId: tenant) == expected,
                "op: customer(_:tenantId:), key: \(id)@\(tenant)"
            )
        }
        #expect(
            try await store.customers(tenantId: f.tenantA) == [c1, c2],
            "op: customers(tenantId:), key: \(f.tenantA)"
        )
        #expect(try await store.customers(tenantId: f.tenantB) == [c3], "op: customers(tenantId:), key: \(f.tenantB)")
        #expect(
            try await store.customers(tenantId: TenantID("absent-\(f.tag)")).isEmpty,
            "op: customers(tenantId:), key: absent tenant"
        )
    }

    /// Accounts, products and orders apply and read back within their tenant, and are guarded by version too.
    private func everyTableReadsBack() async throws {
        let store = try await make()
        let f = Fixtures()
        let account = Account(
            id: AccountID("acct-\(f.tag)"),
            tenantId: f.tenantA,
            name: "Acme",
            accountType: "premium",
            settings: ["currency": "CAD", "dwellSeconds": "120"],
            version: f.version(2)
        )
        let product = Product(
            id: ProductID("prod-\(f.tag)"),
            tenantId: f.tenantA,
            name: "Widget",
            sku: "W-1",
            category: "tools",
            unitPrice: "12.50",
            version: f.version(2)
        )
        let order = Order(
            id: OrderID("order-\(f.tag)"),
            tenantId: f.tenantA,
            customerId: f.customerID(1),
            status: "open",
            totalAmount: "2500.00",
            version: f.version(2)
        )
        for record in [ReferenceRecord.account(account), .product(product), .order(order)] {
            #expect(try await store.apply(.upsert(record)) == true, "op: apply upsert, key: \(record.key)")
        }
        #expect(try await store.account(account.id, tenantId: f.tenantA) == account, "op: account, key: \(account.id)")
        #expect(try await store.product(product.id, tenantId: f.tenantA) == product, "op: product, key: \(product.id)")
        #expect(try await store.order(order.id, tenantId: f.tenantA) == order, "op: order, key: \(order.id)")
        #expect(try await store.account(account.id, tenantId: f.tenantB) == nil, "op: account, key: other tenant")
        #expect(try await store.product(product.id, tenantId: f.tenantB) == nil, "op: product, key: other tenant")
        #expect(try await store.order(order.id, tenantId: f.tenantB) == nil, "op: order, key: other tenant")
        #expect(
            try await store.account(AccountID("absent-\(f.tag)"), tenantId: f.tenantA) == nil,
            "op: account, key: absent"
        )

        var staleOrder = order
        staleOrder.status = "stale"
        staleOrder.version = f.version(1)
        #expect(try await store.apply(.upsert(.order(staleOrder))) == false, "op: apply stale order, key: \(order.id)")
        #expect(
            try await store.order(order.id, tenantId: f.tenantA) == order,
            "op: order after stale, key: \(order.id)"
        )
        #expect(
            try await store.apply(.delete(.product(product.id), tenantId: f.tenantA, version: f.version(3))) == true,
            "op: apply delete product, key: \(product.id)"
        )
        #expect(
            try await store.product(product.id, tenantId: f.tenantA) == nil,
            "op: product after delete, key: \(product.id)"
        )
    }

    /// A lower or equal version than the stored one is stale: ignored, `false`. A higher one applies.
    private func staleVersionIgnored() async throws {
        let store = try await make()
        let f = Fixtures()
        let current = f.customer(1, tenant: f.tenantA, name: "Current", version: f.version(5))
        #expect(try await store.apply(f.upsert(current)) == true, "op: apply, key: v5")
        let cases: [(String, Customer)] = [
            ("lower v3", f.customer(1, tenant: f.tenantA, name: "Older", version: f.version(3))),
            ("equal v5", f.customer(1, tenant: f.tenantA, name: "Same version", version: f.version(5))),
        ]
        for (label, stale) in cases {
            #expect(try await store.apply(f.upsert(stale)) == false, "op: apply stale, key: \(label)")
            #expect(
                try await store.customer(current.id, tenantId: f.tenantA) == current,
                "op: read after stale, key: \(label)"
            )
        }
        let newer = f.customer(1, tenant: f.tenantA, name: "Newer", version: f.version(7))
        #expect(try await store.apply(f.upsert(newer)) == true, "op: apply newer, key: v7")
        #expect(try await store.customer(current.id, tenantId: f.tenantA) == newer, "op: read after newer, key: v7")
        // Text order, not numeric: "…0000000a…" (10) sorts after "…00000009…" (9).
        let ten = f.customer(1, tenant: f.tenantA, name: "Ten", version: f.version(10))
        #expect(try await store.apply(f.upsert(ten)) == true, "op: apply fixed-width text order, key: v10")
    }

    /// Applying the same change twice leaves the same state.
    private func sameChangeTwice() async throws {
        let store = try await make()
        let f = Fixtures()
        let customer = f.customer(1, tenant: f.tenantA, version: f.version(2))
        _ = try await store.apply(f.upsert(customer))
        _ = try await store.apply(f.upsert(customer))
        #expect(
            try await store.customers(tenantId: f.tenantA) == [customer],
            "op: apply upsert twice, key: \(customer.id)"
        )
        let delete = f.delete(1, tenant: f.tenantA, version: f.version(3))
        _ = try await store.apply(delete)
        _ = try await store.apply(delete)
        #expect(
            try await store.customer(customer.id, tenantId: f.tenantA) == nil,
            "op: apply delete twice, key: \(customer.id)"
        )
        #expect(try await store.customers(tenantId: f.tenantA).isEmpty, "op: apply delete twice, key: list")
    }

    /// A `nil` (snapshot) version applies to an absent key, is superseded by any version, and never overrides
    /// a stored non-nil version.
    private func nilVersionRules() async throws {
        let store = try await make()
        let f = Fixtures()
        let snapshot = f.customer(1, tenant: f.tenantA, name: "Snapshot", version: nil)
        #expect(try await store.apply(f.upsert(snapshot)) == true, "op: apply nil version, key: absent key")
        #expect(try await store.customer(snapshot.id, tenantId: f.tenantA) == snapshot, "op: read, key: snapshot row")
        let streamed = f.customer(1, tenant: f.tenantA, name: "Streamed", version: f.version(1))
        #expect(try await store.apply(f.upsert(streamed)) == true, "op: apply versioned over nil, key: v1")
        let lateSnapshot = f.customer(1, tenant: f.tenantA, name: "Late snapshot", version: nil)
        #expect(try await store.apply(f.upsert(lateSnapshot)) == false, "op: apply nil over versioned, key: ignored")
        #expect(try await store.customer(snapshot.id, tenantId: f.tenantA) == streamed, "op: read, key: still v1")
        #expect(
            try await store.apply(f.delete(1, tenant: f.tenantA, version: nil)) == false,
            "op: apply nil-version delete over versioned, key: ignored"
        )
        #expect(try await store.customer(snapshot.id, tenantId: f.tenantA) == streamed, "op: read, key: not deleted")
    }

    /// A delete keeps its version: older upserts cannot resurrect the row, newer ones recreate it.
    private func deleteLeavesTombstone() async throws {
        let store = try await make()
        let f = Fixtures()
        let customer = f.customer(1, tenant: f.tenantA, version: f.version(2))
        _ = try await store.apply(f.upsert(customer))
        #expect(
            try await store.apply(f.delete(1, tenant: f.tenantA, version: f.version(4))) == true,
            "op: apply delete, key: v4"
        )
        #expect(
            try await store.customer(customer.id, tenantId: f.tenantA) == nil,
            "op: read after delete, key: \(customer.id)"
        )
        #expect(try await store.customers(tenantId: f.tenantA).isEmpty, "op: customers after delete, key: \(f.tenantA)")
        for late in [3, 4] {
            let resurrection = f.customer(1, tenant: f.tenantA, name: "Late", version: f.version(late))
            #expect(
                try await store.apply(f.upsert(resurrection)) == false,
                "op: apply upsert after delete, key: v\(late)"
            )
            #expect(
                try await store.customer(customer.id, tenantId: f.tenantA) == nil,
                "op: no resurrection, key: v\(late)"
            )
        }
        #expect(
            try await store.apply(f.upsert(f.customer(1, tenant: f.tenantA, name: "Snapshot", version: nil))) == false,
            "op: apply nil-version upsert after delete, key: ignored"
        )
        let recreated = f.customer(1, tenant: f.tenantA, name: "Recreated", version: f.version(6))
        #expect(try await store.apply(f.upsert(recreated)) == true, "op: apply upsert after delete, key: v6")
        #expect(try await store.customer(customer.id, tenantId: f.tenantA) == recreated, "op: read recreated, key: v6")
    }

    /// A delete of a key the store never saw still guards it against older upserts.
    private func deleteOfAbsentKeyLeavesTombstone() async throws {
        let store = try await make()
        let f = Fixtures()
        _ = try await store.apply(f.delete(9, tenant: nil, version: f.version(5)))
        let late = f.customer(9, tenant: f.tenantA, version: f.version(3))
        #expect(try await store.apply(f.upsert(late)) == false, "op: apply upsert older than tombstone, key: v3")
        #expect(try await store.customer(late.id, tenantId: f.tenantA) == nil, "op: read, key: never resurrected")
    }

    /// A delete older than the stored row is stale.
    private func staleDeleteIgnored() async throws {
        let store = try await make()
        let f = Fixtures()
        let customer = f.customer(1, tenant: f.tenantA, version: f.version(5))
        _ = try await store.apply(f.upsert(customer))
        #expect(
            try await store.apply(f.delete(1, tenant: f.tenantA, version: f.version(4))) == false,
            "op: apply stale delete, key: v4"
        )
        #expect(
            try await store.apply(f.delete(1, tenant: f.tenantA, version: f.version(5))) == false,
            "op: apply equal-version delete, key: v5"
        )
        #expect(
            try await store.customer(customer.id, tenantId: f.tenantA) == customer,
            "op: read after stale delete, key: kept"
        )
    }
}
