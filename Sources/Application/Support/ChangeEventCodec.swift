public import Domain
import WireFormat

/// The wire format of source-of-truth change events: Debezium 2.5's flattened `ExtractNewRecordState`
/// JSON as the connector registration produces it (`delete.tombstone.handling.mode=rewrite-with-tombstone`,
/// `add.fields=op,table,source.ts_ms,commit_lsn,change_lsn,event_serial_no,snapshot`, schemas off,
/// `decimal.handling.mode=string`).
///
/// The one place that writes and reads these events: the local source of truth encodes with it, the CDC
/// consumer decodes with it, so both sides cannot drift apart.
///
/// A value is one JSON object: the row's columns, then `__deleted` (`"true"`/`"false"` as text), `__op`
/// (`c`, `u`, `d`, `r`), `__table`, `__source_ts_ms`, `__commit_lsn`, `__change_lsn`,
/// `__event_serial_no` and `__snapshot` (`last` on a table's last initial-snapshot row). The key is the
/// primary key as JSON (`{"CustomerId":1001}`). A delete arrives as the
/// rewritten before-image with `"__deleted":"true"`, followed by a tombstone (same key, `nil` value).
///
/// Columns per table (names matched exactly, then case-insensitively; unknown columns are ignored):
/// - `Customers`: `CustomerId`, `TenantId`, `Name`, `Phone`, `Address`, `Latitude`, `Longitude`,
///   `GeofenceRadiusMeters`, `CustomerType`.
/// - `Accounts`: `AccountId`, `TenantId`, `Name`, `AccountType`, `Settings` (a JSON object as text).
/// - `Products`: `ProductId`, `TenantId`, `Name`, `Sku`, `Category`, `UnitPrice` (decimal as text).
/// - `Orders`: `OrderId`, `TenantId`, `CustomerId`, `Status`, `TotalAmount` (decimal as text).
///
/// Numbers are kept as the exact text the source wrote: an id `1001` becomes the identifier `"1001"` and a
/// price `2500.00` stays `"2500.00"` (no binary floating point for money), which is why this codec carries
/// its own small JSON reader and writer rather than going through `Codable`.
public enum ChangeEventCodec {
    /// Debezium's operation codes (`__op`).
    public enum Operation: String, Hashable, Sendable, CaseIterable {
        /// Insert.
        case create = "c"
        /// Update (the after image).
        case update = "u"
        /// Delete (the before image, rewritten with `__deleted` `"true"`).
        case delete = "d"
        /// Snapshot read, initial or incremental.
        case read = "r"
    }

    /// Where a change sits in the source's transaction log.
    public struct SourcePosition: Hashable, Sendable {
        /// The LSN of the committing transaction (`__commit_lsn`), fixed-width hex `8:8:4`.
        public var commitLSN: String?
        /// The LSN of the change inside the transaction (`__change_lsn`); `nil` for initial snapshot rows.
        public var changeLSN: String?
        /// The ordinal of the event for that change (`__event_serial_no`; 2 for the after image of an update).
        public var eventSerialNo: Int64?
        /// The commit time on the source (`__source_ts_ms`).
        public var timestamp: Timestamp

        /// Creates a position.
        public init(commitLSN: String?, changeLSN: String?, eventSerialNo: Int64?, timestamp: Timestamp) {
            self.commitLSN = commitLSN
            self.changeLSN = changeLSN
            self.eventSerialNo = eventSerialNo
            self.timestamp = timestamp
        }
    }

    /// The message header Debezium adds with `add.headers=op` (also on tombstones).
    public static let operationHeader = "__op"

    /// The width `__event_serial_no` is zero-padded to inside a version, so versions compare as text.
    private static let serialWidth = 20

    // MARK: Keys and versions

    /// The bus key of a record: its primary key column as JSON, e.g. `{"CustomerId":"c-1"}`.
    public static func key(for key: ReferenceKey) -> String {
        var writer = JSONWriter()
        writer.object([(key.idColumn, .string(key.idText))])
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    /// The version a `ReferenceStore` orders changes by:
    /// `"<commit_lsn>|<change_lsn>|<event_serial_no zero-padded to 20 digits>"`, so text order is Debezium's
    /// `(commit_lsn, change_lsn, event_serial_no)` order.
    ///
    /// Returns `nil` (a snapshot version, which never overrides a streamed one) for initial snapshot reads
    /// (`r` without a change LSN) and whenever the commit LSN is unknown. Incremental snapshot reads carry
    /// the streaming position as their LSNs and keep a real version, so a re-snapshot after an outage
    /// does update rows the store already has.
    public static func version(
        operation: Operation,
        commitLSN: String?,
        changeLSN: String?,
        eventSerialNo: Int64?
    ) -> String? {
        guard let commitLSN else { return nil }
        if operation == .read, changeLSN == nil { return nil }
        let serial = String(max(0, eventSerialNo ?? 0))
        let padded = String(repeating: "0", count: max(0, serialWidth - serial.count)) + serial
        return "\(commitLSN)|\(changeLSN ?? "")|\(padded)"
    }

    // MARK: Encoding

    /// Encodes one change at `lsn` (used as both commit and change LSN, event serial number 1).
    ///
    /// An upsert becomes an update event carrying the record's columns; a delete becomes the rewritten
    /// delete event with the key column and `TenantId` only (publish `(key, nil)` after it as the tombstone).
    /// The record's own `version` is not written: a decoded event's version derives from `lsn`.
    public static func encode(
        _ change: ReferenceChange,
        lsn: String,
        sourceTimestamp: Timestamp
    )
        -> (key: String, value: [UInt8]?)
    {
        let position = SourcePosition(commitLSN: lsn, changeLSN: lsn, eventSerialNo: 1, timestamp: sourceTimestamp)
        switch change {
        case .upsert(let record):
            let encoded = encode(record, operation: .update, position: position)
            return (encoded.key, encoded.value)
        case .delete(let key, let tenantId, _):
            var columns: [(String, JSONValue)] = [(key.idColumn, .string(key.idText))]
            if let tenantId { columns.append(("TenantId", .string(tenantId.rawValue))) }
            let value = encodeValue(columns: columns, table: key.table, operation: .delete, position: position)
            return (self.key(for: key), value)
        }
    }

    /// Encodes a full row image: the after image for `c`, `u` and `r`, the before image for `d`
    /// (written with `"__deleted":"true"`).
    public static func encode(
        _ record: ReferenceRecord,
        operation: Operation,
        position: SourcePosition
    )
        -> (key: String, value: [UInt8])
    {
        let value = encodeValue(
            columns: columns(of: record),
            table: record.key.table,
            operation: operation,
            position: position
        )
        return (key(for: record.key), value)
    }

    private static func encodeValue(
        columns: [(String, JSONValue)],
        table: String,
        operation: Operation,
        position: SourcePosition
    ) -> [UInt8] {
        var fields = columns
        fields.append(("__deleted", .string(operation == .delete ? "true" : "false")))
        fields.append(("__op", .string(operation.rawValue)))
        fields.append(("__table", .string(table)))
        fields.append(("__source_ts_ms", .number(String(position.timestamp.millisecondsSinceEpoch))))
        fields.append(("__commit_lsn", position.commitLSN.map(JSONValue.string) ?? .null))
        fields.append(("__change_lsn", position.changeLSN.map(JSONValue.string) ?? .null))
        fields.append(("__event_serial_no", position.eventSerialNo.map { .number(String($0)) } ?? .null))
        var writer = JSONWriter()
        writer.object(fields)
        return writer.bytes
    }

    private static func columns(of record: ReferenceRecord) -> [(String, JSONValue)] {
        switch record {
        case .customer(let c):
            return [
                ("CustomerId", .string(c.id.rawValue)),
                ("TenantId", .string(c.tenantId.rawValue)),
                ("Name", .string(c.name)),
                ("Phone", .optionalString(c.phone)),
                ("Address", .optionalString(c.address)),
                ("Latitude", .double(c.location.latitude)),
                ("Longitude", .double(c.location.longitude)),
                ("GeofenceRadiusMeters", .double(c.geofenceRadiusMeters)),
                ("CustomerType", .optionalString(c.customerType)),
            ]
        case .account(let a):
            var settings = JSONWriter()
            settings.object(a.settings.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })
            return [
                ("AccountId", .string(a.id.rawValue)),
                ("TenantId", .string(a.tenantId.rawValue)),
                ("Name", .string(a.name)),
                ("AccountType", .optionalString(a.accountType)),
                ("Settings", .string(String(decoding: settings.bytes, as: UTF8.self))),
            ]
        case .product(let p):
            return [
                ("ProductId", .string(p.id.rawValue)),
                ("TenantId", .string(p.tenantId.rawValue)),
                ("Name", .string(p.name)),
                ("Sku", .optionalString(p.sku)),
                ("Category", .optionalString(p.category)),
                ("UnitPrice", .optionalString(p.unitPrice)),
            ]
        case .order(let o):
            return [
                ("OrderId", .string(o.id.rawValue)),
                ("TenantId", .string(o.tenantId.rawValue)),
                ("CustomerId", .optionalString(o.customerId?.rawValue)),
                ("Status", .optionalString(o.status)),
                ("TotalAmount", .optionalString(o.totalAmount)),
            ]
        }
    }

    // MARK: Decoding

    /// The operation (`__op`) of an encoded value; `nil` for a tombstone or a value without `__op`.
    ///
    /// - Throws: `StoreError.invalidData` when the value is not a JSON object.
    public static func operation(of value: [UInt8]?) throws -> Operation? {
        guard let value, let row = try Row(value: value) else { return nil }
        return try row.text("__op").flatMap(Operation.init(rawValue:))
    }

    /// Decodes one message of a `cdc.<Table>` topic into the change to apply.
    ///
    /// Returns `nil` for a tombstone (a `nil` value or JSON `null`): the rewritten delete before it already
    /// carries the delete. A value with `"__deleted":"true"` or `"__op":"d"` decodes to `.delete`; any
    /// other value to `.upsert` with the version of `version(operation:commitLSN:changeLSN:eventSerialNo:)`.
    /// A missing `__op` counts as an update. The record's id comes from the value, else from the JSON key.
    ///
    /// - Parameters:
    ///   - defaultTenantId: the tenant of rows without a `TenantId` column (a single-tenant source);
    ///     without it such an upsert is invalid.
    /// - Throws: `StoreError.invalidData` for a topic that is not `cdc.Customers`, `cdc.Accounts`,
    ///   `cdc.Products` or `cdc.Orders`, malformed JSON, a missing id or tenant, or a column of the wrong type.
    public static func decode(
        topic: Topic,
        key: String,
        value: [UInt8]?,
        defaultTenantId: TenantID? = nil
    )
        throws -> ReferenceChange?
    {
        try decodeEvent(topic: topic, key: key, value: value, defaultTenantId: defaultTenantId)?.change
    }

    /// A decoded change with what the sync state needs from the event around it.
    public struct Event: Hashable, Sendable {
        public var change: ReferenceChange
        /// The source's commit time (`__source_ts_ms`).
        public var sourceTimestamp: Timestamp?
        /// A snapshot read (`__op` `r`), except the last row of a table's initial snapshot (`__snapshot`
        /// `last` or `last_in_data_collection`).
        public var isSnapshot: Bool
    }

    /// `decode(topic:key:value:defaultTenantId:)` with the event's source time and snapshot flag.
    public static func decodeEvent(
        topic: Topic,
        key: String,
        value: [UInt8]?,
        defaultTenantId: TenantID? = nil
    )
        throws -> Event?
    {
        guard topic.name.hasPrefix("cdc.") else {
            throw StoreError.invalidData("not a change data capture topic: \(topic)")
        }
        let table = String(topic.name.dropFirst(4))
        guard let kind = TableKind(table: table) else {
            throw StoreError.invalidData("unknown source table \(table)")
        }
        guard let value, let row = try Row(value: value) else { return nil }
        let keyRow = try? Row(value: Array(key.utf8))

        let idText = try row.text(kind.idColumn) ?? keyRow?.text(kind.idColumn)
        guard let idText else {
            throw StoreError.invalidData("\(table) change without \(kind.idColumn)")
        }
        let operation =
            try row.text("__op").map { text in
                guard let op = Operation(rawValue: text) else {
                    throw StoreError.invalidData("unknown __op \(text)")
                }
                return op
            } ?? .update
        let deleted: Bool
        switch row["__deleted"] {
        case .string(let text): deleted = text == "true"
        case .bool(let flag): deleted = flag
        case nil, .null: deleted = false
        default: throw StoreError.invalidData("__deleted is not text")
        }
        let version = Self.version(
            operation: operation,
            commitLSN: try row.text("__commit_lsn"),
            changeLSN: try row.text("__change_lsn"),
            eventSerialNo: try row.int64("__event_serial_no")
        )
        let tenantText = try row.text("TenantId")
        let sourceTimestamp = try row.int64("__source_ts_ms").map { Timestamp(millisecondsSinceEpoch: $0) }
        // `r` rows are snapshot reads; the last one of a table's initial snapshot says so in `__snapshot`.
        let snapshot = try operation == .read && !(row.text("__snapshot")?.hasPrefix("last") ?? false)
        func event(_ change: ReferenceChange) -> Event {
            Event(change: change, sourceTimestamp: sourceTimestamp, isSnapshot: snapshot)
        }

        if deleted || operation == .delete {
            let tenantId = tenantText.map { TenantID($0) } ?? defaultTenantId
            return event(.delete(kind.key(idText), tenantId: tenantId, version: version))
        }
        guard let tenantId = tenantText.map({ TenantID($0) }) ?? defaultTenantId else {
            throw StoreError.invalidData("\(table) change without TenantId")
        }
        switch kind {
        case .customers:
            let latitude = try row.double("Latitude") ?? 0
            let longitude = try row.double("Longitude") ?? 0
            return event(
                .upsert(
                    .customer(
                        Customer(
                            id: CustomerID(idText),
                            tenantId: tenantId,
                            name: try row.text("Name") ?? "",
                            phone: try row.text("Phone"),
                            address: try row.text("Address"),
                            location: Coordinate(latitude: latitude, longitude: longitude),
                            geofenceRadiusMeters: try row.double("GeofenceRadiusMeters")
                                ?? Customer.defaultGeofenceRadiusMeters,
                            customerType: try row.text("CustomerType"),
                            version: version
                        )
                    )
                )
            )
        case .accounts:
            return event(
                .upsert(
                    .account(
                        Account(
                            id: AccountID(idText),
                            tenantId: tenantId,
                            name: try row.text("Name") ?? "",
                            accountType: try row.text("AccountType"),
                            settings: try row.settings("Settings"),
                            version: version
                        )
                    )
                )
            )
        case .products:
            return event(
                .upsert(
                    .product(
                        Product(
                            id: ProductID(idText),
                            tenantId: tenantId,
                            name: try row.text("Name") ?? "",
                            sku: try row.text("Sku"),
                            category: try row.text("Category"),
                            unitPrice: try row.text("UnitPrice"),
                            version: version
                        )
                    )
                )
            )
        case .orders:
            return event(
                .upsert(
                    .order(
                        Order(
                            id: OrderID(idText),
                            tenantId: tenantId,
                            customerId: try row.text("CustomerId").map { CustomerID($0) },
                            status: try row.text("Status"),
                            totalAmount: try row.text("TotalAmount"),
                            version: version
                        )
                    )
                )
            )
        }
    }
}

// MARK: - Tables

extension ReferenceKey {
    /// The primary key column of the source table.
    fileprivate var idColumn: String {
        switch self {
        case .customer: "CustomerId"
        case .account: "AccountId"
        case .product: "ProductId"
        case .order: "OrderId"
        }
    }

    fileprivate var idText: String {
        switch self {
        case .customer(let id): id.rawValue
        case .account(let id): id.rawValue
        case .product(let id): id.rawValue
        case .order(let id): id.rawValue
        }
    }
}

private enum TableKind {
    case customers, accounts, products, orders

    init?(table: String) {
        switch table {
        case "Customers": self = .customers
        case "Accounts": self = .accounts
        case "Products": self = .products
        case "Orders": self = .orders
        default: return nil
        }
    }

    var idColumn: String {
        switch self {
        case .customers: "CustomerId"
        case .accounts: "AccountId"
        case .products: "ProductId"
        case .orders: "OrderId"
        }
    }

    func key(_ id: String) -> ReferenceKey {
        switch self {
        case .customers: .customer(CustomerID(id))
        case .accounts: .account(AccountID(id))
        case .products: .product(ProductID(id))
        case .orders: .order(OrderID(id))
        }
    }
}

/// The columns of one decoded row (parsed by the shared `JSONBytesReader`; numbers keep their literal text).
private struct Row {
    let fields: JSONObject

    /// Parses `value`; `nil` for the JSON literal `null` (a tombstone written with a schema).
    init?(value: [UInt8]) throws {
        switch try Self.parse(value) {
        case .object(let fields): self.fields = fields
        case .null: return nil
        default: throw StoreError.invalidData("change event is not a JSON object")
        }
    }

    static func parse(_ bytes: [UInt8]) throws -> JSONTree {
        do {
            return try JSONBytesReader.parse(bytes)
        } catch {
            throw StoreError.invalidData("change event: \(error)")
        }
    }

    subscript(column: String) -> JSONTree? {
        if let value = fields[column] { return value }
        let lowered = column.lowercased()
        return fields.first { $0.0.lowercased() == lowered }?.1
    }

    /// Text, numbers as their exact literal, booleans as `true`/`false`; `nil` for null or absent.
    func text(_ column: String) throws -> String? {
        switch self[column] {
        case nil, .null: return nil
        case .string(let text): return text
        case .number(_, let literal): return literal
        case .bool(let flag): return flag ? "true" : "false"
        case .array, .object: throw StoreError.invalidData("\(column) is not a scalar")
        }
    }

    /// A number, or a decimal written as text (`decimal.handling.mode=string`).
    func double(_ column: String) throws -> Double? {
        switch self[column] {
        case nil, .null: return nil
        case .number(_, let literal), .string(let literal):
            guard let value = Double(literal.trimmingSpaces()), value.isFinite else {
                throw StoreError.invalidData("\(column) is not a number")
            }
            return value
        default: throw StoreError.invalidData("\(column) is not a number")
        }
    }

    func int64(_ column: String) throws -> Int64? {
        switch self[column] {
        case nil, .null: return nil
        case .number(_, let literal), .string(let literal):
            guard let value = Int64(literal.trimmingSpaces()) else {
                throw StoreError.invalidData("\(column) is not an integer")
            }
            return value
        default: throw StoreError.invalidData("\(column) is not an integer")
        }
    }

    /// A JSON object written as text (or inline), its scalar values rendered as text.
    func settings(_ column: String) throws -> [String: String] {
        let object: JSONObject
        switch self[column] {
        case nil, .null: return [:]
        case .object(let inline): object = inline
        case .string(let text):
            if text.trimmingSpaces().isEmpty { return [:] }
            guard case .object(let parsed) = try Self.parse(Array(text.utf8)) else {
                throw StoreError.invalidData("\(column) is not a JSON object")
            }
            object = parsed
        default: throw StoreError.invalidData("\(column) is not a JSON object")
        }
        var settings: [String: String] = [:]
        for (name, value) in object {
            switch value {
            case .null: continue
            case .string(let text): settings[name] = text
            case .number(_, let literal): settings[name] = literal
            case .bool(let flag): settings[name] = flag ? "true" : "false"
            case .array, .object:
                var writer = JSONBytesWriter()
                writer.value(value)
                settings[name] = String(decoding: writer.bytes, as: UTF8.self)
            }
        }
        return settings
    }
}

extension String {
    fileprivate func trimmingSpaces() -> Substring {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return self[first...last]
    }
}

// MARK: - JSON output

/// A value to write, with numbers as literal text so ids and decimals are written exactly.
private indirect enum JSONValue {
    case null
    case bool(Bool)
    case number(String)
    case string(String)
    case array([JSONValue])
    /// An object with its keys in the given order.
    case orderedObject([(String, JSONValue)])

    static func optionalString(_ text: String?) -> JSONValue { text.map(JSONValue.string) ?? .null }

    static func double(_ value: Double) -> JSONValue { value.isFinite ? .number("\(value)") : .null }
}

/// Renders `JSONValue`s through the shared `JSONBytesWriter` (no whitespace, keys in the order given).
private struct JSONWriter {
    private var output = JSONBytesWriter()
    var bytes: [UInt8] { output.bytes }

    mutating func object(_ fields: [(String, JSONValue)]) {
        value(.orderedObject(fields))
    }

    mutating func value(_ value: JSONValue) {
        switch value {
        case .null: output.null()
        case .bool(let flag): output.bool(flag)
        case .number(let literal): output.literal(literal)
        case .string(let text): output.string(text)
        case .array(let elements):
            output.beginArray()
            for element in elements { self.value(element) }
            output.endArray()
        case .orderedObject(let fields):
            output.beginObject()
            for (name, fieldValue) in fields {
                output.key(name)
                self.value(fieldValue)
            }
            output.endObject()
        }
    }
}
