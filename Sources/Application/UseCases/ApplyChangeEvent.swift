import Domain
public import Logging

/// Spec §4.2 step 5: a change event from `cdc.<Table>` updates the local read model, invalidates the
/// customer cache levels and records sync progress in `sync_state`.
///
/// Idempotent and order-guarded: the reference store ignores changes not newer than what it has.
public struct ApplyChangeEvent: Sendable {
    /// The source tables whose change topics are consumed.
    public static let tables = ["Customers", "Accounts", "Products", "Orders"]
    public static var topics: [Topic] { tables.map(Topic.cdc) }

    let store: any ReferenceStore
    let fleet: any FleetStore
    let customers: CustomerDirectory
    let clock: any WallClock
    let logger: Logger

    public init(
        store: any ReferenceStore,
        fleet: any FleetStore,
        customers: CustomerDirectory,
        clock: any WallClock,
        logger: Logger
    ) {
        self.store = store
        self.fleet = fleet
        self.customers = customers
        self.clock = clock
        self.logger = logger
    }

    /// Consumer handler for a batch of `cdc.*` messages: decoded first (a message that cannot be decoded fails
    /// the batch before anything is applied; the consumer then goes message by message), applied in one store
    /// call, then the customer caches invalidated and the progress recorded per table.
    public func handle(_ messages: [BusMessage]) async throws {
        var events: [ChangeEventCodec.Event] = []
        events.reserveCapacity(messages.count)
        for message in messages {
            // A tombstone after a rewritten delete carries nothing new.
            if let event = try ChangeEventCodec.decodeEvent(
                topic: message.topic,
                key: message.key,
                value: message.value
            ) {
                events.append(event)
            }
        }
        guard !events.isEmpty else { return }
        let applied = try await store.apply(events.map(\.change))
        let now = clock.now()
        var progress: [String: SyncProgress] = [:]
        var changedCustomers: [CustomerVersion] = []
        for (event, applied) in zip(events, applied) {
            let change = event.change
            if applied, case .customer(let id) = change.key {
                let tenant: TenantID? =
                    switch change {
                    case .upsert(let record): record.tenantId
                    case .delete(_, let tenantId, _): tenantId
                    }
                if let tenant {
                    changedCustomers.append(CustomerVersion(id, tenantId: tenant, version: change.version))
                }
            }
            let table = change.key.table
            var step = progress[table] ?? SyncProgress(tableName: table, at: now)
            if applied { step.applied += 1 }
            step.lastVersion = max(step.lastVersion ?? "", change.version ?? "").nonEmpty
            if let source = event.sourceTimestamp {
                step.sourceTimestamp = max(step.sourceTimestamp ?? source, source)
            }
            step.snapshot = event.isSnapshot
            progress[table] = step
        }
        await customers.invalidate(changedCustomers)
        for step in progress.values { try await fleet.recordSync(step) }
    }

    /// Records a dead-lettered event in its table's sync state (`failing`, with the reason), so the failure
    /// shows on `/health/cdc` until a later event of the table applies.
    public func recordFailure(_ message: BusMessage, reason: String) async {
        guard message.topic.name.hasPrefix("cdc.") else { return }
        let table = String(message.topic.name.dropFirst(4))
        let failure = SyncProgress(tableName: table, failure: String(reason.prefix(500)), at: clock.now())
        do {
            try await fleet.recordSync(failure)
        } catch {
            logger.warning("sync state not updated", metadata: ["table": "\(table)", "error": "\(error)"])
        }
    }
}

extension String {
    fileprivate var nonEmpty: String? { isEmpty ? nil : self }
}
