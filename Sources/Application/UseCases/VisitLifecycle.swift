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

    public func perform(_ action: VisitAction, on visitId: VisitID, as principal: Principal) async throws
        -> PlannedVisit
    {
        guard var visit = try await fleet.visit(visitId, tenantId: principal.tenantId),
              let driver = try await fleet.driver(visit.driverId, tenantId: principal.tenantId)
        else { throw UseCaseError(.notFound, "no visit \(visitId)") }
        try authorize { () throws(AccessDenied) in try AccessPolicy.actOnVisit(principal, visit: visit, driver: driver) }
        let before = visit.status
        let now = clock.now()
        let event: VisitEvent
        do {
            event = try visit.apply(action, at: now)
        } catch {
            throw UseCaseError(.conflict, "a \(error.from.rawValue) visit cannot \(error.action)")
        }
        do {
            try await fleet.updateVisit(visit, expectedStatus: before)
        } catch let error as StoreError where error.code == .conflict {
            throw UseCaseError(.conflict, "the visit changed meanwhile; reload and retry")
        }
        if [.completed, .failed, .skipped].contains(visit.status) {
            let onTime = visit.timeWindow.map { window in (visit.arrivedAt ?? now) <= window.end } ?? true
            try await history.recordVisitCompletion(VisitCompletionRecord(
                visitId: visit.id, tenantId: visit.tenantId, driverId: visit.driverId, routeId: visit.routeId,
                customerId: visit.customerId, status: visit.status, arrivedAt: visit.arrivedAt, closedAt: now,
                onTime: onTime))
        }
        try await publish(events: [.visit(event)], bus: bus)
        return visit
    }
}
