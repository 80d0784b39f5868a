/// Something that happens to a planned visit, from the geofence or from the driver's app.
public enum VisitAction: Hashable, Sendable {
    /// Geofence (or manual) arrival; `outOfSequence` when a lower-sequence visit is still pending.
    case arrive(outOfSequence: Bool)
    /// Geofence departure: records `departedAt` without changing the status.
    case depart
    case start
    case complete(VisitCompletion?)
    case fail(reason: String?)
    case skip(reason: String?)
    case cancel

    /// The action's name as used in errors and logs.
    public var name: String {
        switch self {
        case .arrive: "arrive"
        case .depart: "depart"
        case .start: "start"
        case .complete: "complete"
        case .fail: "fail"
        case .skip: "skip"
        case .cancel: "cancel"
        }
    }
}

/// An action the visit's current status does not allow.
public struct VisitTransitionError: Error, Hashable, Sendable, CustomStringConvertible {
    public var from: VisitStatus
    /// `VisitAction.name`.
    public var action: String

    public init(from: VisitStatus, action: String) {
        self.from = from
        self.action = action
    }

    public var description: String { "cannot \(action) a visit that is \(from.rawValue)" }
}

extension PlannedVisit {
    /// Applies `action` at `at` and returns the event to publish; on error the visit is unchanged.
    ///
    /// | from \ action | arrive | depart | start | complete | fail | skip | cancel |
    /// |---|---|---|---|---|---|---|---|
    /// | pending | arrived | – | – | – | – | skipped | cancelled |
    /// | arrived | – | arrived (departedAt) | in_progress | – | – | skipped | cancelled |
    /// | in_progress | – | in_progress (departedAt) | – | completed | failed | – | cancelled |
    /// | terminal | – | – | – | – | – | – | – |
    ///
    /// Fields: arrive sets `arrivedAt` and `outOfSequence`; depart sets `departedAt` (again on every departure);
    /// start sets `startedAt`; complete, fail and skip set `completedAt`; complete stores its `VisitCompletion`; fail
    /// and skip store their reason as `completion.failureReason` (keeping any other completion fields). Cancel
    /// changes only the status.
    public mutating func apply(_ action: VisitAction, at: Timestamp) throws(VisitTransitionError) -> VisitEvent {
        let kind: VisitEvent.Kind
        switch (status, action) {
        case (.pending, .arrive(let outOfSequence)):
            status = .arrived
            arrivedAt = at
            self.outOfSequence = outOfSequence
            kind = .arrived
        case (.arrived, .depart), (.inProgress, .depart):
            departedAt = at
            kind = .departed
        case (.arrived, .start):
            status = .inProgress
            startedAt = at
            kind = .started
        case (.inProgress, .complete(let details)):
            status = .completed
            completedAt = at
            completion = details
            kind = .completed
        case (.inProgress, .fail(let reason)):
            status = .failed
            completedAt = at
            setReason(reason)
            kind = .failed
        case (.pending, .skip(let reason)), (.arrived, .skip(let reason)):
            status = .skipped
            completedAt = at
            setReason(reason)
            kind = .skipped
        case (.pending, .cancel), (.arrived, .cancel), (.inProgress, .cancel):
            status = .cancelled
            kind = .cancelled
        default:
            throw VisitTransitionError(from: status, action: action.name)
        }
        return VisitEvent(
            kind: kind,
            tenantId: tenantId,
            visitId: id,
            routeId: routeId,
            driverId: driverId,
            customerId: customerId,
            at: at,
            status: status,
            outOfSequence: outOfSequence
        )
    }

    private mutating func setReason(_ reason: String?) {
        guard let reason else { return }
        var details = completion ?? VisitCompletion()
        details.failureReason = reason
        completion = details
    }
}

extension Route {
    /// This route with `totalStops`, `completedStops` and `status` derived from its visits.
    ///
    /// `totalStops` counts non-cancelled visits; `completedStops` counts completed, failed and skipped ones. Status:
    /// `cancelled` when every visit is cancelled; `completed` when every non-cancelled visit is terminal;
    /// `in_progress` when some visit has left `pending`; `planned` otherwise. With no visits the status is kept.
    public func recomputed(from visits: [PlannedVisit]) -> Route {
        var copy = self
        var total = 0
        var closed = 0
        var progressed = false
        for visit in visits {
            switch visit.status {
            case .cancelled: continue
            case .pending: break
            case .arrived, .inProgress: progressed = true
            case .completed, .failed, .skipped:
                progressed = true
                closed += 1
            }
            total += 1
        }
        copy.totalStops = total
        copy.completedStops = closed
        if visits.isEmpty {
            return copy
        } else if total == 0 {
            copy.status = .cancelled
        } else if closed == total {
            copy.status = .completed
        } else if progressed {
            copy.status = .inProgress
        } else {
            copy.status = .planned
        }
        return copy
    }

    /// The pending visit with the lowest sequence number (first in `visits` on ties), in any order of `visits`.
    public static func nextPending(in visits: [PlannedVisit]) -> PlannedVisit? {
        var best: PlannedVisit?
        for visit in visits where visit.status == .pending {
            if let current = best, current.sequenceNumber <= visit.sequenceNumber { continue }
            best = visit
        }
        return best
    }
}
