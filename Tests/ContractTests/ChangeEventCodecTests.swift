import Application
import Domain
import Testing

@Suite("ChangeEventCodec")
struct ChangeEventCodecTests {
    // MARK: Verbatim examples of debezium-cdc.md §2 and §6

    static let insert =
        #"{"CustomerId":1001,"ExternalId":"6F9619FF-8B86-D011-B42D-00C04FC964FF","Name":"Ada Lovelace","Email":"ada@example.com","IsActive":true,"CreditLimit":"2500.00","CreatedAt":1710498600123,"UpdatedAt":"2024-03-15T11:30:00.1234567+01:00","__deleted":"false","__op":"c","__table":"Customers","__source_ts_ms":1710498600130,"__commit_lsn":"0000002b:00000c28:0005","__change_lsn":"0000002b:00000c28:0003","__event_serial_no":1}"#
    static let update =
        #"{"CustomerId":1001,"ExternalId":"6F9619FF-8B86-D011-B42D-00C04FC964FF","Name":"Ada Lovelace","Email":"ada.lovelace@example.com","IsActive":true,"CreditLimit":"3000.50","CreatedAt":1710498600123,"UpdatedAt":"2024-03-16T09:00:00+01:00","__deleted":"false","__op":"u","__table":"Customers","__source_ts_ms":1710576000250,"__commit_lsn":"0000002b:00000d40:0004","__change_lsn":"0000002b:00000d40:0002","__event_serial_no":2}"#
    static let delete =
        #"{"CustomerId":1001,"ExternalId":"6F9619FF-8B86-D011-B42D-00C04FC964FF","Name":"Ada Lovelace","Email":"ada.lovelace@example.com","IsActive":true,"CreditLimit":"3000.50","CreatedAt":1710498600123,"UpdatedAt":"2024-03-16T09:00:00+01:00","__deleted":"true","__op":"d","__table":"Customers","__source_ts_ms":1710662400480,"__commit_lsn":"0000002c:000001a8:0005","__change_lsn":"0000002c:000001a8:0002","__event_serial_no":1}"#
    static let snapshot =
        #"{"CustomerId":1001,"ExternalId":"6F9619FF-8B86-D011-B42D-00C04FC964FF","Name":"Ada Lovelace","Email":"ada@example.com","IsActive":true,"CreditLimit":"2500.00","CreatedAt":1710498600123,"UpdatedAt":"2024-03-15T11:30:00.1234567+01:00","__deleted":"false","__op":"r","__table":"Customers","__source_ts_ms":1710400000512,"__commit_lsn":"0000002a:00000ff0:0001","__change_lsn":null,"__event_serial_no":null}"#
    static let incremental =
        #"{"CustomerId":1002,"ExternalId":"0E984725-C51C-4BF4-9960-E1C80E27ABA0","Name":"Grace Hopper","Email":"grace@example.com","IsActive":true,"CreditLimit":"1000.00","CreatedAt":1709287200000,"UpdatedAt":null,"__deleted":"false","__op":"r","__table":"Customers","__source_ts_ms":1710750000123,"__commit_lsn":"0000002c:00000348:0003","__change_lsn":"0000002c:00000348:0002","__event_serial_no":1}"#

    static let tenant = TenantID("tenant-1")
    static let key = #"{"CustomerId":1001}"#

    private func decode(
        _ value: String?,
        key: String = key,
        topic: Topic = .cdc("Customers"),
        defaultTenantId: TenantID? = tenant
    ) throws -> ReferenceChange? {
        try ChangeEventCodec.decode(
            topic: topic,
            key: key,
            value: value.map { Array($0.utf8) },
            defaultTenantId: defaultTenantId
        )
    }

    /// The documented insert decodes with the numeric id as text and Debezium's ordering version.
    @Test func verbatimInsert() throws {
        let change = try decode(Self.insert)
        guard case .upsert(.customer(let customer))? = change else {
            Issue.record("not a customer upsert: \(String(describing: change))")
            return
        }
        #expect(customer.id == "1001")
        #expect(customer.tenantId == Self.tenant)
        #expect(customer.name == "Ada Lovelace")
        #expect(customer.geofenceRadiusMeters == Customer.defaultGeofenceRadiusMeters)
        #expect(customer.version == "0000002b:00000c28:0005|0000002b:00000c28:0003|00000000000000000001")
        #expect(try ChangeEventCodec.operation(of: Array(Self.insert.utf8)) == .create)
    }

    /// Update, delete and tombstone of the same key decode in Debezium order.
    @Test func verbatimUpdateDeleteTombstone() throws {
        let insert = try #require(try decode(Self.insert)?.version)
        let update = try #require(try decode(Self.update)?.version)
        #expect(insert < update)
        let delete = try decode(Self.delete)
        guard case .delete(let key, let tenantId, let version?)? = delete else {
            Issue.record("not a delete: \(String(describing: delete))")
            return
        }
        #expect(key == .customer("1001"))
        #expect(tenantId == Self.tenant)
        #expect(update < version)
        #expect(try decode(nil) == nil, "a tombstone carries nothing to apply")
        #expect(try decode("null") == nil, "a schema'd null value is a tombstone too")
    }

    /// An initial snapshot read has no version; an incremental one keeps the streaming position.
    @Test func snapshotReads() throws {
        #expect(try decode(Self.snapshot)?.version == nil)
        let incremental = try #require(try decode(Self.incremental, key: #"{"CustomerId":1002}"#))
        #expect(incremental.key == .customer("1002"))
        #expect(incremental.version == "0000002c:00000348:0003|0000002c:00000348:0002|00000000000000000001")
    }

    /// Without a `TenantId` column or a default tenant an upsert cannot be placed.
    @Test func missingTenantIsInvalid() {
        #expect(throws: StoreError(.invalidData)) { try decode(Self.insert, defaultTenantId: nil) }
    }

    /// Malformed values, unknown topics and wrongly typed columns are `invalidData`.
    @Test(arguments: [
        ("cdc.Customers", #"{"CustomerId":1,"TenantId":"t","#),
        ("cdc.Customers", #"[1,2]"#),
        ("cdc.Customers", #"{"CustomerId":1,"TenantId":"t","Latitude":"north"}"#),
        ("cdc.Customers", #"{"CustomerId":{"nested":1},"TenantId":"t"}"#),
        ("cdc.Customers", #"{"TenantId":"t","Name":"no id"}"#),
        ("cdc.Customers", #"{"CustomerId":1,"TenantId":"t","__op":"x"}"#),
        ("cdc.Invoices", #"{"InvoiceId":1,"TenantId":"t"}"#),
        ("gps.positions", #"{"CustomerId":1,"TenantId":"t"}"#),
        ("cdc.Accounts", #"{"AccountId":1,"TenantId":"t","Settings":"not json"}"#),
    ])
    func invalidData(_ topic: String, _ value: String) {
        #expect(throws: StoreError(.invalidData)) {
            try ChangeEventCodec.decode(topic: Topic(topic), key: "not-json", value: Array(value.utf8))
        }
    }

    /// Numbers keep their exact text; strings decode escapes; the id can come from the key alone.
    @Test func exactNumbersAndEscapes() throws {
        let value =
            #"{"TenantId":7,"Name":"Caf\u00e9 \"Le Z\u00e8bre\" \ud83d\ude9a\n","UnitPrice":2500.00,"Sku":"A\/B"}"#
        let change = try ChangeEventCodec.decode(
            topic: .cdc("Products"),
            key: #"{"ProductId":12345678901234567890}"#,
            value: Array(value.utf8)
        )
        #expect(
            change
                == .upsert(
                    .product(
                        Product(
                            id: "12345678901234567890",
                            tenantId: "7",
                            name: "Café \"Le Zèbre\" 🚚\n",
                            sku: "A/B",
                            unitPrice: "2500.00"
                        )
                    )
                )
        )
    }

    /// Every record type survives encode → decode, with the version its position gives.
    @Test func roundTrip() throws {
        let records: [ReferenceRecord] = [
            .customer(
                Customer(
                    id: "c-1",
                    tenantId: "t",
                    name: "Zoë \"Z\" \\ O'Neil\t",
                    phone: nil,
                    address: "Line 1\nLine 2",
                    location: Coordinate(latitude: -33.868_820, longitude: 151.209_296),
                    geofenceRadiusMeters: 1e-5,
                    customerType: nil
                )
            ),
            .account(
                Account(
                    id: "a-1",
                    tenantId: "t",
                    name: "Acme",
                    accountType: nil,
                    settings: ["b": "2", "a": "{\"nested\":true}", "ctl": "\u{01}"]
                )
            ),
            .account(Account(id: "a-2", tenantId: "t", name: "Empty")),
            .product(
                Product(id: "p-1", tenantId: "t", name: "Widget", sku: "W-1", category: "tools", unitPrice: "0.10")
            ),
            .order(Order(id: "o-1", tenantId: "t", customerId: "c-1", status: "open", totalAmount: "12.00")),
            .order(Order(id: "o-2", tenantId: "t")),
        ]
        let position = ChangeEventCodec.SourcePosition(
            commitLSN: "00000001:00000002:0003",
            changeLSN: "00000001:00000002:0002",
            eventSerialNo: 2,
            timestamp: Timestamp(millisecondsSinceEpoch: 99)
        )
        let version = "00000001:00000002:0003|00000001:00000002:0002|00000000000000000002"
        for record in records {
            let (key, value) = ChangeEventCodec.encode(record, operation: .update, position: position)
            let decoded = try ChangeEventCodec.decode(topic: .cdc(record.key.table), key: key, value: value)
            var expected = record
            switch expected {
            case .customer(var c):
                c.version = version
                expected = .customer(c)
            case .account(var a):
                a.version = version
                expected = .account(a)
            case .product(var p):
                p.version = version
                expected = .product(p)
            case .order(var o):
                o.version = version
                expected = .order(o)
            }
            #expect(decoded == .upsert(expected), "\(record.key)")
            #expect(try ChangeEventCodec.operation(of: value) == .update)
        }
    }

    /// The key is the primary key as JSON, and the encoded value has Debezium's layout.
    @Test func wireLayout() {
        let customer = Customer(
            id: "c-1",
            tenantId: "t",
            name: "Ada",
            location: Coordinate(latitude: 1.5, longitude: 2)
        )
        let (key, value) = ChangeEventCodec.encode(
            .customer(customer),
            operation: .create,
            position: .init(
                commitLSN: "0000002b:00000c28:0005",
                changeLSN: "0000002b:00000c28:0003",
                eventSerialNo: 1,
                timestamp: Timestamp(millisecondsSinceEpoch: 1_710_498_600_130)
            )
        )
        #expect(key == #"{"CustomerId":"c-1"}"#)
        #expect(
            String(decoding: value, as: UTF8.self)
                == #"{"CustomerId":"c-1","TenantId":"t","Name":"Ada","Phone":null,"Address":null,"Latitude":1.5,"Longitude":2.0,"GeofenceRadiusMeters":100.0,"CustomerType":null,"__deleted":"false","__op":"c","__table":"Customers","__source_ts_ms":1710498600130,"__commit_lsn":"0000002b:00000c28:0005","__change_lsn":"0000002b:00000c28:0003","__event_serial_no":1}"#
        )
    }

    /// The `ReferenceChange` shorthand encodes deletes as a keyed before-image that decodes back.
    @Test func changeShorthand() throws {
        let timestamp = Timestamp(millisecondsSinceEpoch: 5)
        let lsn = "00000001:00000002:0003"
        let (key, value) = ChangeEventCodec.encode(
            .delete(.order("o-9"), tenantId: "t", version: "ignored"),
            lsn: lsn,
            sourceTimestamp: timestamp
        )
        #expect(key == #"{"OrderId":"o-9"}"#)
        #expect(
            try ChangeEventCodec.decode(topic: .cdc("Orders"), key: key, value: value)
                == .delete(.order("o-9"), tenantId: "t", version: "\(lsn)|\(lsn)|00000000000000000001")
        )
        #expect(try ChangeEventCodec.operation(of: value) == .delete)
    }

    /// Versions sort as Debezium orders changes: commit LSN, then change LSN, then event serial number.
    @Test func versionOrder() {
        let ordered = [
            ("0000002b:00000c28:0005", "0000002b:00000c28:0003", 1),
            ("0000002b:00000c28:0005", "0000002b:00000c28:0003", 2),
            ("0000002b:00000c28:0005", "0000002b:00000c28:0004", 1),
            ("0000002b:00000d40:0004", "0000002b:00000c00:0001", 1),
            ("0000002c:000001a8:0005", "0000002c:000001a8:0002", 10),
        ].map { ChangeEventCodec.version(operation: .update, commitLSN: $0, changeLSN: $1, eventSerialNo: Int64($2))! }
        #expect(ordered == ordered.sorted())
        #expect(ChangeEventCodec.version(operation: .update, commitLSN: nil, changeLSN: nil, eventSerialNo: nil) == nil)
    }
}
