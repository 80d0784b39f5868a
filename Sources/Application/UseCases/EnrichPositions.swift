public import Domain
public import Logging

/// Spec §4.1 steps 5–6: consumes raw positions, joins them with driver, route, visits and customers,
/// runs the domain's enrichment (geofence arrival/departure, ETA, alerts), then writes the results:
/// visit transitions (compare-and-set), the driver snapshot, the latest-position cache, history, and the
/// `gps.positions.enriched`, `visits.events` and `drivers.events` topics.
///
/// Idempotent per message: a redelivered position appends nothing new to history (same driver and fix
/// time), an older snapshot never replaces a newer one, and visit transitions are compare-and-set.
public struct EnrichPositions: Sendable {
    public struct Configuration: Sendable {
        public var policy: EnrichmentPolicy
        /// Latest-position cache TTL (spec: 5 min).
        public var latestTTL: Duration

        public init(policy: EnrichmentPolicy = .init(), latestTTL: Duration = .seconds(300)) {
            self.policy = policy
            self.latestTTL = latestTTL
        }
    }

    let fleet: any FleetStore
    let history: any HistoryStore
    let latest: any LatestPositionCache
    let customers: CustomerDirectory
    let bus: any EventBus
    let enricher: Enricher
    let configuration: Configuration
    let logger: Logger

    public init(
        fleet: any FleetStore,
        history: any HistoryStore,
        latest: any LatestPositionCache,
        customers: CustomerDirectory,
        bus: any EventBus,
        configuration: Configuration = .init(),
        logger: Logger
    ) {
        self.fleet = fleet
        self.history = history
        self.latest = latest
        self.customers = customers
        self.bus = bus
        self.enricher = Enricher(policy: configuration.policy)
        self.configuration = configuration
        self.logger = logger
    }

    /// Consumer handler for a batch of `gps.positions` messages.
    ///
    /// Snapshots are written last, after history and the published events: if anything before fails, the
    /// batch is retried from the stored snapshots and its events are produced again (at-least-once), instead
    /// of being lost because the snapshot already claimed the fix. Within a batch a driver's later positions
    /// see its earlier ones through `pending`.
    ///
    /// A late fix (older than the driver's latest: Traccar forwarding buffered offline data) goes to history
    /// in its place on the track and nowhere else: not on `gps.positions.enriched` (no live push), not in the
    /// snapshot or the latest-position cache, and the enricher raises no event for it.
    public func handle(_ messages: [BusMessage]) async throws {
        var enriched: [EnrichedPosition] = []
        var live: [EnrichedPosition] = []
        var events: [DomainEvent] = []
        var pending: [DriverID: DriverSnapshot] = [:]
        enriched.reserveCapacity(messages.count)
        for message in messages {
            let raw = try JSONPayload.decode(RawPosition.self, from: message.value)
            guard let output = try await enrich(raw, pending: pending[raw.driverId]) else { continue }
            enriched.append(output.position)
            events.append(contentsOf: output.events)
            if output.isLatest {
                pending[raw.driverId] = output.snapshot
                live.append(output.position)
            }
        }
        try await history.append(enriched)
        try await publish(enriched: live, events: events, bus: bus)
        try await fleet.saveSnapshots(Array(pending.values))
        try? await latest.put(pending.values.map(\.position), ttl: configuration.latestTTL)
    }

    /// Enriches one position and writes its visit transitions; nil when its driver no longer exists.
    /// `pending` is the driver's snapshot from earlier in the same batch, not yet stored.
    func enrich(_ raw: RawPosition, pending: DriverSnapshot?) async throws -> EnrichmentOutput? {
        guard let driver = try await fleet.driver(raw.driverId, tenantId: raw.tenantId) else {
            logger.debug("position for an unknown driver dropped", metadata: ["driver.id": "\(raw.driverId)"])
            return nil
        }
        let stored = pending == nil ? try await fleet.snapshot(driverId: driver.id, tenantId: driver.tenantId) : nil
        let previous = pending ?? stored
        // The fix the driver's snapshot already holds: a webhook retry (Traccar resends when an answer is lost),
        // whichever instance took it, since every copy lands on the driver's partition, or a redelivered batch
        // whose snapshot was saved (after its history rows and enriched events). Nothing new to store or tell.
        if let previous, previous.position.fixTime == raw.fixTime {
            logger.debug("duplicate fix skipped", metadata: ["driver.id": "\(raw.driverId)"])
            return nil
        }
        let route = try await activeRoute(for: driver, at: raw.fixTime)
        var visits: [PlannedVisit] = []
        if let route { visits = try await fleet.visits(routeId: route.id, tenantId: driver.tenantId) }
        let customerMap = try await customers.customers(visits.map { $0.customerId }, tenantId: driver.tenantId)
        var output = enricher.enrich(
            EnrichmentInput(
                raw: raw,
                driver: driver,
                route: route,
                visits: visits,
                customers: customerMap,
                previous: previous
            )
        )
        if !output.changedVisits.isEmpty {
            output.events = try await persistTransitions(output, previousVisits: visits)
        }
        return output
    }

    /// Writes auto-arrivals and departures with compare-and-set; a visit changed concurrently (e.g. the
    /// driver completed it from the app) keeps the other writer's state and its events are dropped.
    private func persistTransitions(
        _ output: EnrichmentOutput,
        previousVisits: [PlannedVisit]
    ) async throws
        -> [DomainEvent]
    {
        var lost: Set<VisitID> = []
        for visit in output.changedVisits {
            guard let before = previousVisits.first(where: { $0.id == visit.id }) else { continue }
            do {
                try await fleet.updateVisit(visit, expectedStatus: before.status)
            } catch let error as StoreError where error.code == .conflict || error.code == .notFound {
                lost.insert(visit.id)
            }
        }
        guard !lost.isEmpty else { return output.events }
        return output.events.filter {
            if case .visit(let e) = $0 { return !lost.contains(e.visitId) }
            return true
        }
    }

    /// Today's first route of the driver that is not finished.
    private func activeRoute(for driver: Driver, at time: Timestamp) async throws -> Route? {
        let routes = try await fleet.routes(
            tenantId: driver.tenantId,
            date: CalendarDate(containing: time),
            driverId: driver.id
        )
        return routes.first { $0.status == .planned || $0.status == .inProgress }
    }
}

/// Publishes enriched positions and domain events on their topics (shared by enrichment, the visit
/// lifecycle and the stale-device sweep).
func publish(enriched: [EnrichedPosition] = [], events: [DomainEvent], bus: any EventBus) async throws {
    if !enriched.isEmpty {
        let messages = try enriched.map {
            OutgoingMessage(
                key: $0.driverId.rawValue,
                value: try JSONPayload.encode($0),
                headers: Headers.make(tenant: $0.tenantId, type: "enriched-position")
            )
        }
        try await bus.publish(messages, to: .enrichedPositions)
    }
    var visitMessages: [OutgoingMessage] = []
    var driverMessages: [OutgoingMessage] = []
    for event in events {
        switch event {
        case .visit(let e):
            visitMessages.append(
                OutgoingMessage(
                    key: e.visitId.rawValue,
                    value: try JSONPayload.encode(event),
                    headers: Headers.make(tenant: e.tenantId, type: "visit-\(e.kind.rawValue)")
                )
            )
        case .driver(let e):
            driverMessages.append(
                OutgoingMessage(
                    key: e.driverId.rawValue,
                    value: try JSONPayload.encode(event),
                    headers: Headers.make(tenant: e.tenantId, type: "driver-\(e.kind.rawValue)")
                )
            )
        case .alert(let a):
            driverMessages.append(
                OutgoingMessage(
                    key: a.driverId.rawValue,
                    value: try JSONPayload.encode(event),
                    headers: Headers.make(tenant: a.tenantId, type: "alert-\(a.kind.rawValue)")
                )
            )
        }
    }
    if !visitMessages.isEmpty { try await bus.publish(visitMessages, to: .visitEvents) }
    if !driverMessages.isEmpty { try await bus.publish(driverMessages, to: .driverEvents) }
}
