public import AdapterSupport
public import Application
public import Domain

/// The local-mode system of record: customers, accounts, products and orders in memory, where every write
/// comes back as the change event Debezium would produce from SQL Server, published on `cdc.<Table>`
/// through the injected bus in `ChangeEventCodec`'s format.
///
/// - An insert is an `c` event, an update a `u` event (`__event_serial_no` 2, as SQL Server's update pair),
///   a delete the rewritten before-image (`d`, `"__deleted":"true"`) followed by a tombstone, both carrying
///   the `__op` header.
/// - Each write gets a new LSN, strictly increasing and fixed-width (`%08x:%08x:%04x`), seeded from the
///   clock (1,024 LSNs per millisecond), so versions keep increasing across restarts of the process.
/// - Writes are serialised: events leave in LSN order, and a write becomes visible to `customer(_:tenantId:)`
///   only after its event was published. If publishing fails the write is not applied and the error
///   (e.g. `StoreError.unavailable`) is rethrown.
public actor InMemorySourceOfTruth: SourceOfTruth {
    private let bus: any EventBus
    private let clock: any WallClock
    private var records: [ReferenceKey: ReferenceRecord] = [:]
    private var lastLSN: UInt64 = 0
    private var writing = false
    private var queued: [CheckedContinuation<Void, Never>] = []

    /// Whether `upsert` and `delete` are accepted; a read-only instance imitates production SQL Server.
    public nonisolated let isWritable: Bool

    /// Creates an empty source.
    ///
    /// - Parameters:
    ///   - bus: where change events are published.
    ///   - clock: seeds LSNs and stamps `__source_ts_ms`.
    ///   - isWritable: `false` to refuse writes like production.
    public init(bus: any EventBus, clock: any WallClock = SystemWallClock(), isWritable: Bool = true) {
        self.bus = bus
        self.clock = clock
        self.isWritable = isWritable
    }

    /// The customer, if it exists in `tenantId`.
    public func customer(_ id: CustomerID, tenantId: TenantID) async throws -> Customer? {
        guard case .customer(let customer)? = records[.customer(id)], customer.tenantId == tenantId else {
            return nil
        }
        return customer
    }

    /// Inserts or updates the record (its `version` is ignored: the source assigns versions) and publishes
    /// its change event before returning.
    ///
    /// - Throws: `StoreError.unavailable` when not writable; `.conflict` when the key exists in another
    ///   tenant; the bus's error when publishing fails.
    public func upsert(_ record: ReferenceRecord) async throws {
        guard isWritable else { throw StoreError.unavailable("the source of truth is read-only") }
        await acquire()
        defer { release() }
        let key = record.key
        let existing = records[key]
        if let existing, existing.tenantId != record.tenantId {
            throw StoreError.conflict("\(key.table) key belongs to another tenant")
        }
        let lsn = nextLSN()
        let operation: ChangeEventCodec.Operation = existing == nil ? .create : .update
        let position = ChangeEventCodec.SourcePosition(
            commitLSN: Self.format(lsn, slot: 3),
            changeLSN: Self.format(lsn, slot: 2),
            eventSerialNo: operation == .update ? 2 : 1,
            timestamp: clock.now()
        )
        let event = ChangeEventCodec.encode(record, operation: operation, position: position)
        try await bus.publish(
            [
                OutgoingMessage(
                    key: event.key,
                    value: event.value,
                    headers: [ChangeEventCodec.operationHeader: operation.rawValue]
                )
            ],
            to: .cdc(key.table)
        )
        records[key] = record.withVersion(
            ChangeEventCodec.version(
                operation: operation,
                commitLSN: position.commitLSN,
                changeLSN: position.changeLSN,
                eventSerialNo: position.eventSerialNo
            )
        )
    }

    /// Deletes the record of `tenantId` and publishes the delete event and its tombstone before returning.
    ///
    /// - Returns: `false` (and publishes nothing) when no such record exists in `tenantId`.
    /// - Throws: `StoreError.unavailable` when not writable; the bus's error when publishing fails.
    public func delete(_ key: ReferenceKey, tenantId: TenantID) async throws -> Bool {
        guard isWritable else { throw StoreError.unavailable("the source of truth is read-only") }
        await acquire()
        defer { release() }
        guard let existing = records[key], existing.tenantId == tenantId else { return false }
        let lsn = nextLSN()
        let position = ChangeEventCodec.SourcePosition(
            commitLSN: Self.format(lsn, slot: 3),
            changeLSN: Self.format(lsn, slot: 2),
            eventSerialNo: 1,
            timestamp: clock.now()
        )
        let event = ChangeEventCodec.encode(existing, operation: .delete, position: position)
        let headers = [ChangeEventCodec.operationHeader: ChangeEventCodec.Operation.delete.rawValue]
        try await bus.publish(
            [
                OutgoingMessage(key: event.key, value: event.value, headers: headers),
                OutgoingMessage(key: event.key, value: nil, headers: headers),
            ],
            to: .cdc(key.table)
        )
        records[key] = nil
        return true
    }

    // MARK: Serialising writes

    /// Waits until no other write is in flight; the actor is re-entered while a write awaits the bus.
    private func acquire() async {
        if writing {
            await withCheckedContinuation { queued.append($0) }
        } else {
            writing = true
        }
    }

    /// Hands the write turn to the next queued writer (which then owns it), or frees it.
    private func release() {
        if queued.isEmpty {
            writing = false
        } else {
            queued.removeFirst().resume()
        }
    }

    // MARK: LSNs

    private func nextLSN() -> UInt64 {
        let seeded = UInt64(max(0, clock.now().millisecondsSinceEpoch)) << 10
        lastLSN = max(lastLSN + 1, seeded)
        return lastLSN
    }

    /// `%08x:%08x:%04x`: the high and low 32 bits of `value`, then `slot`.
    private static func format(_ value: UInt64, slot: UInt16) -> String {
        func hex(_ number: UInt64, width: Int) -> String {
            let digits = String(number, radix: 16)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(hex(value >> 32, width: 8)):\(hex(value & 0xFFFF_FFFF, width: 8)):\(hex(UInt64(slot), width: 4))"
    }
}

extension ReferenceRecord {
    fileprivate func withVersion(_ version: String?) -> ReferenceRecord {
        switch self {
        case .customer(var c):
            c.version = version
            return .customer(c)
        case .account(var a):
            a.version = version
            return .account(a)
        case .product(var p):
            p.version = version
            return .product(p)
        case .order(var o):
            o.version = version
            return .order(o)
        }
    }
}
