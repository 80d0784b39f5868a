import AdapterSupport
public import Application
public import Domain
public import Logging

/// The local-mode system of record in a SQLite "core" database (its own file, e.g.
/// `<data-dir>/core.sqlite`, since in production this is SQL Server): tables `Customers`, `Accounts`,
/// `Products` and `Orders` whose changes are captured by triggers into `core_changes` (like SQL Server's CDC
/// tables) and relayed as Debezium change events on `cdc.<Table>` through the injected bus.
///
/// - **Capture:** `AFTER INSERT/UPDATE/DELETE` triggers record every change, with its before/after row
///   image and a strictly increasing LSN, in the writing transaction, whoever wrote it: this adapter, or
///   another application with plain SQL.
/// - **Relay:** pending change rows are published in LSN order in `ChangeEventCodec`'s flattened
///   `ExtractNewRecordState` shape (insert `c`, update `u` with `__event_serial_no` 2, delete the rewritten
///   before-image `d` followed by a tombstone; all with the `__op` header), then marked relayed. At least
///   once: a crash between publish and mark publishes them again, which the reference store's version
///   guard makes harmless.
/// - `upsert`/`delete` write the table, then relay, so the event is published before they return. Writes
///   made by other applications are relayed by the next write, by `relayPending()` or by `run(pollInterval:)`.
/// - Opening relays whatever was left pending by a crash.
/// - `customer(_:tenantId:)` reads the table (the returned record has no version).
public final class SQLiteSourceOfTruth: SourceOfTruth {
    /// Whether `upsert` and `delete` are accepted; a read-only instance imitates production SQL Server.
    public let isWritable: Bool
    let database: SQLiteDatabase
    private let bus: any EventBus
    private let ownsDatabase: Bool
    private let logger: Logger
    private let gate = RelayGate()

    /// Opens (creating if needed) the core database at `path` (`":memory:"` for one that lives as long as
    /// this object) and relays the changes left pending.
    ///
    /// - Throws: `SQLiteOpenError` when the file is not a usable tracker database (nothing is overwritten);
    ///   `StoreError` for other SQLite failures; the bus's error when relaying fails.
    public convenience init(
        path: String,
        bus: any EventBus,
        isWritable: Bool = true,
        logger: Logger = Logger(label: "tracker.sqlite.core")
    ) async throws {
        let database = try await offCooperativePool {
            try SQLiteDatabase(path: path, readers: 1, migrations: CoreSchema.migrations, logger: logger)
        }
        do {
            try await self.init(
                database: database,
                ownsDatabase: true,
                bus: bus,
                isWritable: isWritable,
                logger: logger
            )
        } catch {
            await offCooperativePool { database.close() }
            throw error
        }
    }

    /// Opens the source in an already open database, applying the `core` migrations, and relays the changes
    /// left pending.
    package init(
        database: SQLiteDatabase,
        ownsDatabase: Bool = false,
        bus: any EventBus,
        isWritable: Bool = true,
        logger: Logger
    ) async throws {
        self.database = database
        self.ownsDatabase = ownsDatabase
        self.bus = bus
        self.isWritable = isWritable
        self.logger = logger
        try await offCooperativePool { try database.migrate(CoreSchema.migrations) }
        try await relayPending()
    }

    /// Closes the database if this source opened it (later calls throw `StoreError.closed`). Pending changes
    /// stay in `core_changes` and are relayed when the file is opened again.
    public func close() async {
        guard ownsDatabase else { return }
        let database = self.database
        await offCooperativePool { database.close() }
    }

    // MARK: SourceOfTruth

    /// The customer, if it exists in `tenantId`.
    public func customer(_ id: CustomerID, tenantId: TenantID) async throws -> Customer? {
        let row = try await database.read { conn in
            try conn.queryFirst(
                """
                SELECT CustomerId, TenantId, Name, Phone, Address, Latitude, Longitude, GeofenceRadiusMeters,
                    CustomerType
                FROM Customers WHERE CustomerId = ?1 AND TenantId = ?2
                """,
                [.text(id.rawValue), .text(tenantId.rawValue)]
            )
        }
        guard let row else { return nil }
        return Customer(
            id: CustomerID(row.text(0) ?? id.rawValue),
            tenantId: TenantID(row.text(1) ?? tenantId.rawValue),
            name: row.text(2) ?? "",
            phone: row.text(3),
            address: row.text(4),
            location: Coordinate(latitude: row.double(5) ?? 0, longitude: row.double(6) ?? 0),
            geofenceRadiusMeters: row.double(7) ?? Customer.defaultGeofenceRadiusMeters,
            customerType: row.text(8)
        )
    }

    /// Inserts or updates the record (its `version` is ignored: the source assigns LSNs) and publishes its
    /// change event before returning.
    ///
    /// - Throws: `StoreError.unavailable` when not writable; `.conflict` when the key exists in another
    ///   tenant; the bus's error when publishing fails (the row is written and its event stays pending, to
    ///   be relayed by the next write or `relayPending()`).
    public func upsert(_ record: ReferenceRecord) async throws {
        guard isWritable else { throw StoreError.unavailable("the source of truth is read-only") }
        let key = record.key
        guard let table = CoreSchema.table(key.table) else { throw StoreError.invalidData("unknown table") }
        let values = CoreSchema.values(of: record)
        let tenant = record.tenantId.rawValue
        let sql = CoreSchema.upsertSQL(table)
        let select = "SELECT TenantId FROM \(table.name) WHERE \(table.idColumn) = ?1"
        try await database.write { conn in
            if let existing = try conn.queryFirst(select, [.text(key.coreIdText)])?.text(0), existing != tenant {
                throw StoreError.conflict("\(table.name) key belongs to another tenant")
            }
            try conn.run(sql, values)
        }
        try await relayPending()
    }

    /// Deletes the record of `tenantId` and publishes the delete event and its tombstone before returning.
    ///
    /// - Returns: `false` (and publishes nothing for it) when no such record exists in `tenantId`.
    /// - Throws: `StoreError.unavailable` when not writable; the bus's error when publishing fails.
    public func delete(_ key: ReferenceKey, tenantId: TenantID) async throws -> Bool {
        guard isWritable else { throw StoreError.unavailable("the source of truth is read-only") }
        guard let table = CoreSchema.table(key.table) else { throw StoreError.invalidData("unknown table") }
        let sql = "DELETE FROM \(table.name) WHERE \(table.idColumn) = ?1 AND TenantId = ?2"
        let id = key.coreIdText
        let deleted = try await database.write { conn in
            try conn.run(sql, [.text(id), .text(tenantId.rawValue)])
            return conn.changes > 0
        }
        try await relayPending()
        return deleted
    }

    // MARK: Relay

    /// Publishes every pending change row in LSN order, then marks it relayed. Serialised: concurrent calls
    /// wait for each other, so events leave in LSN order. Returns how many change rows were relayed.
    ///
    /// - Throws: the bus's error (the rows stay pending).
    @discardableResult
    public func relayPending() async throws -> Int {
        await gate.acquire()
        do {
            let count = try await relayLocked()
            await gate.release()
            return count
        } catch {
            await gate.release()
            throw error
        }
    }

    /// Relays pending changes every `pollInterval` (for changes written by other applications) until the
    /// task is cancelled. Relay failures are logged and retried at the next tick.
    public func run(pollInterval: Duration = .seconds(1)) async {
        while !Task.isCancelled {
            do {
                try await relayPending()
            } catch {
                logger.debug("core relay failed", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: pollInterval)
        }
    }

    /// How many change rows wait for the relay (for metrics and tests).
    public func pendingChangeCount() async throws -> Int {
        try await database.read { conn in
            try conn.queryFirst("SELECT count(*) FROM core_changes WHERE relayed = 0")?.int(0) ?? 0
        }
    }

    private func relayLocked() async throws -> Int {
        var total = 0
        while true {
            let rows = try await database.read { conn in
                try conn.query(
                    """
                    SELECT lsn, table_name, operation, primary_key, before_image, after_image, source_ts_ms
                    FROM core_changes WHERE relayed = 0 ORDER BY lsn LIMIT 500
                    """
                ).map(ChangeRow.init)
            }
            guard let last = rows.last else { return total }
            // Consecutive rows of one table go out as one batch (one transaction on the SQLite bus).
            var start = 0
            while start < rows.count {
                var end = start + 1
                while end < rows.count, rows[end].table == rows[start].table { end += 1 }
                let messages = rows[start..<end].flatMap { messagesFor($0) }
                if !messages.isEmpty { try await bus.publish(messages, to: .cdc(rows[start].table)) }
                start = end
            }
            try await database.write { conn in
                try conn.run(
                    "UPDATE core_changes SET relayed = 1 WHERE relayed = 0 AND lsn <= ?1",
                    [.integer(last.lsn)]
                )
            }
            total += rows.count
        }
    }

    /// The bus messages of one change row: the event, plus a tombstone after a delete. A row whose image
    /// cannot be decoded is skipped (and logged), so it cannot block the relay.
    private func messagesFor(_ row: ChangeRow) -> [OutgoingMessage] {
        guard let operation = ChangeEventCodec.Operation(rawValue: row.operation),
            let image = operation == .delete ? row.before : row.after
        else {
            logger.debug("core change row without image skipped", metadata: ["core.lsn": "\(row.lsn)"])
            return []
        }
        let record: ReferenceRecord
        do {
            guard
                case .upsert(let decoded)? = try ChangeEventCodec.decode(
                    topic: .cdc(row.table),
                    key: "",
                    value: Array(image.utf8)
                )
            else { throw StoreError.invalidData("row image is not a record") }
            record = decoded
        } catch {
            logger.debug(
                "core change row skipped",
                metadata: ["core.lsn": "\(row.lsn)", "error": "\(error)"]
            )
            return []
        }
        let position = ChangeEventCodec.SourcePosition(
            commitLSN: CoreSchema.formatLSN(row.lsn, slot: 3),
            changeLSN: CoreSchema.formatLSN(row.lsn, slot: 2),
            eventSerialNo: operation == .update ? 2 : 1,
            timestamp: Timestamp(millisecondsSinceEpoch: row.timestamp)
        )
        let event = ChangeEventCodec.encode(record, operation: operation, position: position)
        let headers = [ChangeEventCodec.operationHeader: operation.rawValue]
        var messages = [OutgoingMessage(key: event.key, value: event.value, headers: headers)]
        if operation == .delete { messages.append(OutgoingMessage(key: event.key, value: nil, headers: headers)) }
        return messages
    }
}

/// One row of `core_changes`.
private struct ChangeRow: Sendable {
    var lsn: Int64
    var table: String
    var operation: String
    var before: String?
    var after: String?
    var timestamp: Int64

    init(_ row: SQLiteRow) {
        lsn = row.int64(0) ?? 0
        table = row.text(1) ?? ""
        operation = row.text(2) ?? ""
        before = row.text(4)
        after = row.text(5)
        timestamp = row.int64(6) ?? 0
    }
}

/// An async mutex: one relay at a time, waiters served in order.
private actor RelayGate {
    private var busy = false
    private var queued: [CheckedContinuation<Void, Never>] = []

    func acquire() async {
        if busy {
            await withCheckedContinuation { queued.append($0) }
        } else {
            busy = true
        }
    }

    func release() {
        if queued.isEmpty {
            busy = false
        } else {
            queued.removeFirst().resume()
        }
    }
}
