/// All tuning of the enrichment pipeline.
public struct EnrichmentPolicy: Sendable, Hashable {
    public var geofence = GeofencePolicy()
    public var eta = ETAPolicy()
    public var alerts = AlertPolicy()

    public init(geofence: GeofencePolicy = .init(), eta: ETAPolicy = .init(), alerts: AlertPolicy = .init()) {
        self.geofence = geofence
        self.eta = eta
        self.alerts = alerts
    }
}

/// Everything `Enricher` needs for one fix; the caller loads it, the enricher does no I/O.
public struct EnrichmentInput: Sendable {
    /// A fix that passed `PositionValidator`.
    public var raw: RawPosition
    public var driver: Driver
    /// The driver's active route, if any.
    public var route: Route?
    /// The visits of `route`, in any order (sorted by sequence number is cheapest). Ignored without a route.
    public var visits: [PlannedVisit]
    /// At least the customers of the open visits; a visit whose customer is missing gets no geofence and no ETA.
    public var customers: [CustomerID: Customer]
    /// The driver's latest state before this fix; nil for their first fix ever.
    public var previous: DriverSnapshot?

    public init(
        raw: RawPosition,
        driver: Driver,
        route: Route? = nil,
        visits: [PlannedVisit] = [],
        customers: [CustomerID: Customer] = [:],
        previous: DriverSnapshot? = nil
    ) {
        self.raw = raw
        self.driver = driver
        self.route = route
        self.visits = visits
        self.customers = customers
        self.previous = previous
    }
}

/// The result of enriching one fix: what to store, what changed and what to announce.
public struct EnrichmentOutput: Sendable, Hashable {
    /// The enriched fix, stored as history in every case.
    public var position: EnrichedPosition
    /// The new latest state; equals `previous` when the fix is not newer than it.
    public var snapshot: DriverSnapshot
    /// False for a fix not newer than `previous` (out of order or duplicate): store history, not the snapshot.
    public var isLatest: Bool
    /// Visits whose status or timestamps changed (geofence arrival or departure), to be saved.
    public var changedVisits: [PlannedVisit]
    /// The route recomputed from the visits, when that differs from the input route (visits changed, or its stored
    /// counts were stale); nil when there is nothing to save.
    public var route: Route?
    /// In order: visit events, driver events (`online` when the previous state was offline or absent), alerts.
    public var events: [DomainEvent]

    public init(
        position: EnrichedPosition,
        snapshot: DriverSnapshot,
        isLatest: Bool,
        changedVisits: [PlannedVisit] = [],
        route: Route? = nil,
        events: [DomainEvent] = []
    ) {
        self.position = position
        self.snapshot = snapshot
        self.isLatest = isLatest
        self.changedVisits = changedVisits
        self.route = route
        self.events = events
    }
}

/// Turns a raw fix into an enriched position plus the visit changes and events it causes. Pure and deterministic.
///
/// For the latest fix: steps the geofence detector over the open visits (pending, arrived, in progress) of the
/// route; an arrival at a pending visit applies `.arrive` (`outOfSequence` when a lower-sequence visit is still
/// pending), re-entering an arrived visit only marks the driver at the customer; a departure applies `.depart` when
/// the visit is still open. Fixes with `valid == false` (no GPS lock, stale coordinates) leave the geofence phase as
/// it was. Activity: `atCustomer` while `.inside`, else `moving` at or above the moving threshold, else `stopped`.
/// Next visit: the lowest-sequence pending one. ETAs: the visit the driver is at first, then the other open visits by
/// sequence (see `ETAEstimator`). Alerts per `AlertPolicy`.
///
/// An older or duplicate fix is enriched for history against the same route (activity from speed only) and changes
/// nothing: no geofence step, no visit changes, no events, the previous snapshot.
public struct Enricher: Sendable {
    public var policy: EnrichmentPolicy

    public init(policy: EnrichmentPolicy = .init()) {
        self.policy = policy
    }

    /// Enriches one fix. Never fails: a fix that cannot be placed on the route still gets speed and activity.
    public func enrich(_ input: EnrichmentInput) -> EnrichmentOutput {
        let raw = input.raw
        let previous = input.previous
        let isLatest = previous.map { raw.fixTime > $0.position.fixTime } ?? true

        var visits = input.route.map { _ in input.visits } ?? []
        if !Self.isSortedBySequence(visits) { visits.sort { $0.sequenceNumber < $1.sequenceNumber } }

        // One customer lookup per open visit, reused by the geofence, the next-visit distance and the ETAs. Fields
        // are read in place: copying a `PlannedVisit` or `Customer` retains every string in it.
        let customers = input.customers
        var open: [OpenStop] = []
        open.reserveCapacity(visits.count)
        for index in visits.indices where visits[index].status.isOpen {
            guard let slot = customers.index(forKey: visits[index].customerId) else { continue }
            open.append(
                OpenStop(
                    visitIndex: index,
                    location: customers.values[slot].location,
                    radiusMeters: customers.values[slot].geofenceRadiusMeters
                )
            )
        }

        let probe = Probe(raw.coordinate)
        var phase = previous?.geofence ?? .outside
        var transition: GeofenceTransition?
        var changedVisits: [PlannedVisit] = []
        var visitEvents: [DomainEvent] = []
        if isLatest, raw.valid {
            let candidates = geofenceCandidates(
                phase: phase,
                probe: probe,
                open: open,
                visits: visits,
                customers: customers
            )
            let detector = GeofenceDetector(policy: policy.geofence)
            (phase, transition) = detector.step(
                phase: phase,
                position: raw.coordinate,
                at: raw.fixTime,
                candidates: candidates
            )
            if let transition {
                applyTransition(
                    transition,
                    to: &visits,
                    at: raw.fixTime,
                    changed: &changedVisits,
                    events: &visitEvents
                )
            }
        }
        let context = routeContext(
            visits: visits,
            open: open,
            customers: customers,
            probe: probe,
            raw: raw,
            previous: previous,
            phase: isLatest ? phase : nil
        )
        let recomputed = input.route?.recomputed(from: visits)

        let activity: DriverActivity
        if isLatest, case .inside = phase {
            activity = .atCustomer
        } else if raw.speedKmh >= policy.eta.movingThresholdKmh {
            activity = .moving
        } else {
            activity = .stopped
        }

        let position = EnrichedPosition(
            tenantId: raw.tenantId,
            driverId: raw.driverId,
            deviceId: raw.deviceId,
            driverName: input.driver.name,
            fixTime: raw.fixTime,
            latitude: raw.latitude,
            longitude: raw.longitude,
            speedKmh: raw.speedKmh,
            smoothedSpeedKmh: context.smoothedSpeedKmh,
            heading: Geo.normalizedDegrees(raw.course),
            batteryLevel: raw.batteryLevel,
            ignition: raw.ignition,
            activity: activity,
            routeId: input.route?.id,
            currentVisitId: context.currentVisitId,
            nextVisitId: context.nextVisitId,
            nextCustomerId: context.nextCustomerId,
            nextCustomerName: context.nextCustomerName,
            distanceToNextMeters: context.distanceToNextMeters,
            etaToNext: context.etaToNext,
            late: context.firstLate != nil,
            completedStops: recomputed?.completedStops ?? 0,
            totalStops: recomputed?.totalStops ?? 0,
            remainingStops: context.remaining
        )

        if let previous, !isLatest {
            return EnrichmentOutput(position: position, snapshot: previous, isLatest: false)
        }

        // Events: visits, then driver, then alerts.
        var events = visitEvents
        if (previous.map { $0.position.activity == .offline }) ?? true {
            events.append(
                .driver(
                    DriverEvent(
                        kind: .online,
                        tenantId: raw.tenantId,
                        driverId: raw.driverId,
                        at: raw.fixTime
                    )
                )
            )
        }
        var active = previous?.activeAlerts ?? []
        if !active.isEmpty { active.remove(.deviceStale) }
        let alerts = policy.alerts
        if let transition {
            let visitId: VisitID
            switch transition {
            case .arrived(let id), .departed(let id): visitId = id
            }
            let customerId = visits.firstIndex { $0.id == visitId }.map { visits[$0].customerId }
            events.append(
                .alert(
                    alerts.geofence(
                        transition,
                        customerId: customerId,
                        tenantId: raw.tenantId,
                        driverId: raw.driverId,
                        at: raw.fixTime
                    )
                )
            )
        }
        if let alert = alerts.overspeed(raw, vehicleType: input.driver.vehicleType, active: &active) {
            events.append(.alert(alert))
        }
        if let alert = alerts.lowBattery(raw, active: &active) { events.append(.alert(alert)) }
        if let alert = alerts.lateForWindow(
            raw,
            firstLateStop: context.firstLate?.stop,
            minutesLate: context.firstLate?.minutesLate,
            active: &active
        ) {
            events.append(.alert(alert))
        }
        if let alert = alerts.alarm(raw, active: &active) { events.append(.alert(alert)) }

        let snapshot = DriverSnapshot(position: position, geofence: phase, activeAlerts: active)
        var route: Route?
        if let recomputed, recomputed != input.route { route = recomputed }
        return EnrichmentOutput(
            position: position,
            snapshot: snapshot,
            isLatest: true,
            changedVisits: changedVisits,
            route: route,
            events: events
        )
    }

    /// The route-derived part of an enriched position.
    private struct RouteContext {
        var smoothedSpeedKmh: Double
        var currentVisitId: VisitID?
        var nextVisitId: VisitID?
        var nextCustomerId: CustomerID?
        var nextCustomerName: String?
        var distanceToNextMeters: Double?
        var etaToNext: Timestamp?
        var remaining: [StopETA] = []
        var firstLate: (stop: StopETA, minutesLate: Double?)?
    }

    /// Current and next visit, distance and ETAs. `phase` is nil for an out-of-order fix (no geofence context).
    private func routeContext(
        visits: [PlannedVisit],
        open: [OpenStop],
        customers: [CustomerID: Customer],
        probe: Probe,
        raw: RawPosition,
        previous: DriverSnapshot?,
        phase: GeofencePhase?
    ) -> RouteContext {
        let eta = ETAEstimator(policy: policy.eta)
        let smoothed: Double
        if case .none = phase, let previous {
            smoothed = previous.position.smoothedSpeedKmh  // an old fix does not feed the average
        } else {
            smoothed = eta.smoothedSpeed(previous: previous?.position.smoothedSpeedKmh, current: raw.speedKmh)
        }
        var context = RouteContext(smoothedSpeedKmh: smoothed)

        // `current`/`next` index `open`: the visit the driver is at, and the first (lowest-sequence) pending one.
        var current: Int?
        var next: Int?
        let phaseVisit = phase?.insideVisitId
        for openIndex in open.indices {
            let visitIndex = open[openIndex].visitIndex
            switch visits[visitIndex].status {
            case .pending:
                if next == nil { next = openIndex }
            case .arrived, .inProgress:
                if let phaseVisit {
                    if visits[visitIndex].id == phaseVisit { current = openIndex }
                } else if current == nil, visits[visitIndex].departedAt == nil {
                    current = openIndex
                }
            default: break
            }
        }
        // The next visit may have no known customer: it is still next, without distance or ETA.
        var nextVisitIndex: Int?
        for index in visits.indices where visits[index].status == .pending {  // not firstIndex(where:): it copies
            nextVisitIndex = index
            break
        }
        if let candidate = next, open[candidate].visitIndex != nextVisitIndex { next = nil }

        // ETAs: the current stop first, then the other open stops by sequence. `order` maps an ETA position to an
        // index of `open`.
        func order(_ position: Int) -> Int {
            guard let current else { return position }
            return position == 0 ? current : (position <= current ? position - 1 : position)
        }
        if !open.isEmpty {
            context.remaining.reserveCapacity(open.count)
            eta.walk(
                from: raw.coordinate,
                at: raw.fixTime,
                smoothedSpeedKmh: smoothed,
                count: open.count,
                leg: { position in
                    let openIndex = order(position)
                    let visitIndex = open[openIndex].visitIndex
                    let isCurrent = openIndex == current
                    return ETAEstimator.Leg(
                        location: open[openIndex].location,
                        serviceDurationSeconds: visits[visitIndex].serviceDurationSeconds,
                        timeWindow: visits[visitIndex].timeWindow,
                        arrived: isCurrent,
                        arrivedAt: isCurrent ? visits[visitIndex].arrivedAt : nil
                    )
                },
                emit: { position, stopETA, late in
                    let visitIndex = open[order(position)].visitIndex
                    let stop = StopETA(
                        visitId: visits[visitIndex].id,
                        customerId: visits[visitIndex].customerId,
                        sequenceNumber: visits[visitIndex].sequenceNumber,
                        eta: stopETA,
                        late: late
                    )
                    if late, context.firstLate == nil, let window = visits[visitIndex].timeWindow {
                        context.firstLate = (stop, (stopETA - window.end).secondsValue / 60)
                    }
                    context.remaining.append(stop)
                }
            )
        }

        context.currentVisitId = current.map { visits[open[$0].visitIndex].id }
        if let nextVisitIndex {
            context.nextVisitId = visits[nextVisitIndex].id
            context.nextCustomerId = visits[nextVisitIndex].customerId
            if let next {
                context.nextCustomerName = customers[visits[nextVisitIndex].customerId]?.name
                context.distanceToNextMeters = probe.distance(to: open[next].location)
                context.etaToNext = context.remaining[current.map { next < $0 ? next + 1 : next } ?? next].eta
            }
        }
        return context
    }

    // MARK: Steps

    /// The circles worth measuring: open visits whose latitude band reaches the fix, plus the visit the driver is
    /// inside or leaving (always, so its departure is measured even after it was closed through the API).
    private func geofenceCandidates(
        phase: GeofencePhase,
        probe: Probe,
        open: [OpenStop],
        visits: [PlannedVisit],
        customers: [CustomerID: Customer]
    ) -> [GeofenceCandidate] {
        var candidates: [GeofenceCandidate] = []
        let tracked = phase.insideVisitId
        var trackedFound = false
        let hysteresis = max(1, policy.geofence.exitHysteresis)
        for stop in open {
            let isTracked = tracked != nil && visits[stop.visitIndex].id == tracked
            guard isTracked || probe.mayBeWithin(stop.radiusMeters * hysteresis, of: stop.location) else { continue }
            trackedFound = trackedFound || isTracked
            candidates.append(
                GeofenceCandidate(
                    visitId: visits[stop.visitIndex].id,
                    customerId: visits[stop.visitIndex].customerId,
                    center: stop.location,
                    radiusMeters: stop.radiusMeters
                )
            )
        }
        if let tracked, !trackedFound, let index = visits.firstIndex(where: { $0.id == tracked }),
            let customer = customers[visits[index].customerId]
        {
            candidates.append(
                GeofenceCandidate(
                    visitId: tracked,
                    customerId: visits[index].customerId,
                    center: customer.location,
                    radiusMeters: customer.geofenceRadiusMeters,
                    acceptsArrival: false
                )
            )
        }
        return candidates
    }

    private func applyTransition(
        _ transition: GeofenceTransition,
        to visits: inout [PlannedVisit],
        at: Timestamp,
        changed: inout [PlannedVisit],
        events: inout [DomainEvent]
    ) {
        switch transition {
        case .arrived(let visitId):
            guard let index = visits.firstIndex(where: { $0.id == visitId }), visits[index].status == .pending
            else { return }  // re-entering an arrived/in-progress visit changes nothing
            let sequence = visits[index].sequenceNumber
            let outOfSequence = visits.contains { $0.status == .pending && $0.sequenceNumber < sequence }
            apply(
                .arrive(outOfSequence: outOfSequence),
                to: &visits[index],
                at: at,
                changed: &changed,
                events: &events
            )
        case .departed(let visitId):
            guard let index = visits.firstIndex(where: { $0.id == visitId }) else { return }
            let status = visits[index].status
            guard status == .arrived || status == .inProgress else { return }  // closed meanwhile
            apply(.depart, to: &visits[index], at: at, changed: &changed, events: &events)
        }
    }

    private func apply(
        _ action: VisitAction,
        to visit: inout PlannedVisit,
        at: Timestamp,
        changed: inout [PlannedVisit],
        events: inout [DomainEvent]
    ) {
        do {
            let event = try visit.apply(action, at: at)
            changed.append(visit)
            events.append(.visit(event))
        } catch {
            // Guarded by the callers' status checks.
            preconditionFailure("Invalid transition: \(error)")
        }
    }

    private static func isSortedBySequence(_ visits: [PlannedVisit]) -> Bool {
        var last = Int.min
        for visit in visits {
            if visit.sequenceNumber < last { return false }
            last = visit.sequenceNumber
        }
        return true
    }
}

/// An open visit with a known customer location.
private struct OpenStop {
    var visitIndex: Int
    var location: Coordinate
    var radiusMeters: Double
}

extension VisitStatus {
    /// Pending, arrived or in progress: still on the driver's list.
    var isOpen: Bool { self == .pending || self == .arrived || self == .inProgress }
}

extension GeofencePhase {
    /// The visit of `.inside` or `.leaving`.
    var insideVisitId: VisitID? {
        switch self {
        case .inside(let visitId), .leaving(let visitId, _): visitId
        case .outside, .entering: nil
        }
    }
}
