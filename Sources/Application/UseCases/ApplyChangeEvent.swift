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

    /// Consumer handler for a batch of `cdc.*` messages.
    public func handle(_ messages: [BusMessage]) async throws {
        var progress: [String: String?] = [:]
        for message in messages {
            guard
                let change = try ChangeEventCodec.decode(
                    topic: message.topic,
                    key: message.key,
                    value: message.value
                )
            else { continue }  // a tombstone after a rewritten delete carries nothing new
            let applied = try await store.apply(change)
            if applied, case .customer(let id) = change.key {
                let tenant: TenantID? =
                    switch change {
                    case .upsert(let record): record.tenantId
                    case .delete(_, let tenantId, _): tenantId
                    }
                if let tenant { await customers.invalidate(id, tenantId: tenant) }
            }
            progress[change.key.table] = change.version
        }
        let now = clock.now()
        for (table, version) in progress {
            try await fleet.saveSyncState(
                SyncState(
                    tableName: table,
                    lastVersion: version,
                    lastSyncedAt: now,
                    status: .healthy
                )
            )
        }
    }
}
