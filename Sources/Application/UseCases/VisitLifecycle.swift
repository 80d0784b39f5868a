public import Domain

/// Visit transitions requested by drivers and dispatchers (spec §4.3 steps 3–7): checks the principal,
/// applies the domain state machine, writes with compare-and-set, publishes the event on `visits.events`
/// and records closed visits in history for analytics.
public struct VisitLifecycle: Sendable {
    let fleet: any FleetStore
    let history: any HistoryStore
    let bus: any EventBus
    let clock: any WallClock

    public init(fleet: any FleetStore, history: any HistoryStore, bus: any EventBus, clock: any WallClock) {
        self.fleet = fleet
        self.history = history
        self.bus = bus
        self.clock = clock
    }

    public func perform(
        _ action: VisitAction,
        on visitId: VisitID,
        as principal: Principal
    ) async throws
        -> PlannedVisit
    {
        guard var visit = try await fleet.visit(visitId, tenantId: principal.tenantId),
            let driver = try await fleet.driver(visit.driverId, tenantId: principal.tenantId)
        else { throw UseCaseError(.notFound, "no visit \(visitId)") }
        try authorize { () throws(AccessDenied) in try AccessPolicy.actOnVisit(principal, visit: visit, driver: driver)
        }
        let before = visit.status
        let now = clock.now()
        let event: VisitEvent
        do {
            event = try visit.apply(action, at: now)
        } catch {
            // A retried request whose first attempt changed the state but failed before publishing: the visit
            // is already where the action leads, so finish the job (record and publish are idempotent).
            guard let kind = Self.repeatedKind(action, status: visit.status) else {
                throw UseCaseError(.conflict, "a \(error.from.rawValue) visit cannot \(error.action)")
            }
            let repeated = VisitEvent(
                kind: kind,
                tenantId: visit.tenantId,
                visitId: visit.id,
                routeId: visit.routeId,
                driverId: visit.driverId,
                customerId: visit.customerId,
                at: visit.completedAt ?? visit.startedAt ?? visit.arrivedAt ?? now,
                status: visit.status,
                outOfSequence: visit.outOfSequence
            )
            try await finish(visit, event: repeated, now: now)
            return visit
        }
        do {
            try await fleet.updateVisit(visit, expectedStatus: before)
        } catch let error as StoreError where error.code == .conflict {
            throw UseCaseError(.conflict, "the visit changed meanwhile; reload and retry")
        }
        try await finish(visit, event: event, now: now)
        return visit
    }

    /// Records a closed visit for analytics and publishes the event; both idempotent.
    private func finish(_ visit: PlannedVisit, event: VisitEvent, now: Timestamp) async throws {
        if [.completed, .failed, .skipped].contains(visit.status) {
            let now = visit.completedAt ?? now
            let onTime = visit.timeWindow.map { window in (visit.arrivedAt ?? now) <= window.end } ?? true
            try await history.recordVisitCompletion(
                VisitCompletionRecord(
                    visitId: visit.id,
                    tenantId: visit.tenantId,
                    driverId: visit.driverId,
                    routeId: visit.routeId,
                    customerId: visit.customerId,
                    status: visit.status,
                    arrivedAt: visit.arrivedAt,
                    closedAt: now,
                    onTime: onTime
                )
            )
        }
        try await publish(events: [.visit(event)], bus: bus)
    }

    /// The event of `action` when the visit already has the status the action leads to.
    static func repeatedKind(_ action: VisitAction, status: VisitStatus) -> VisitEvent.Kind? {
        switch (action, status) {
        case (.arrive, .arrived): .arrived
        case (.start, .inProgress): .started
        case (.complete, .completed): .completed
        case (.fail, .failed): .failed
        case (.skip, .skipped): .skipped
        case (.cancel, .cancelled): .cancelled
        default: nil
        }
    }
}
