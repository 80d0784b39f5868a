import Domain
import Testing

@Suite("Visit state machine")
struct VisitStateMachineTests {
    static let actions: [VisitAction] = [
        .arrive(outOfSequence: true), .depart, .start,
        .complete(VisitCompletion(notes: "left at door", signedBy: "Bo")),
        .fail(reason: "closed"), .skip(reason: "no access"), .cancel,
    ]

    /// The legal moves: (from, action name) → (new status, event kind). Everything else must throw.
    static let legal: [String: (VisitStatus, VisitEvent.Kind)] = [
        "pending.arrive": (.arrived, .arrived),
        "arrived.depart": (.arrived, .departed),
        "in_progress.depart": (.inProgress, .departed),
        "arrived.start": (.inProgress, .started),
        "in_progress.complete": (.completed, .completed),
        "in_progress.fail": (.failed, .failed),
        "pending.skip": (.skipped, .skipped),
        "arrived.skip": (.skipped, .skipped),
        "pending.cancel": (.cancelled, .cancelled),
        "arrived.cancel": (.cancelled, .cancelled),
        "in_progress.cancel": (.cancelled, .cancelled),
    ]

    /// Every (status, action) pair: legal ones set the right status, fields and event; illegal ones throw
    /// `VisitTransitionError` naming both and leave the visit untouched.
    @Test(arguments: VisitStatus.allCases, actions)
    func transition(from status: VisitStatus, action: VisitAction) throws {
        let at = Fixture.at(120)
        let before = Fixture.visit("v1", customer: "c1", sequence: 3, status: status)
        var visit = before
        guard let (newStatus, kind) = Self.legal["\(status.rawValue).\(action.name)"] else {
            #expect(throws: VisitTransitionError(from: status, action: action.name)) {
                try visit.apply(action, at: at)
            }
            #expect(visit == before)
            return
        }
        let event = try visit.apply(action, at: at)
        #expect(visit.status == newStatus)
        #expect(
            event
                == VisitEvent(
                    kind: kind,
                    tenantId: Fixture.tenant,
                    visitId: "v1",
                    routeId: Fixture.route.id,
                    driverId: Fixture.driverId,
                    customerId: "c1",
                    at: at,
                    status: newStatus,
                    outOfSequence: visit.outOfSequence
                )
        )
        var expected = before
        expected.status = newStatus
        switch action {
        case .arrive(let outOfSequence):
            expected.arrivedAt = at
            expected.outOfSequence = outOfSequence
            #expect(event.outOfSequence)
        case .depart: expected.departedAt = at
        case .start: expected.startedAt = at
        case .complete(let completion):
            expected.completedAt = at
            expected.completion = completion
        case .fail(let reason), .skip(let reason):
            expected.completedAt = at
            expected.completion = VisitCompletion(failureReason: reason)
        case .cancel: break
        }
        #expect(visit == expected)
    }

    /// The card's happy path, step by step.
    @Test func happyPath() throws {
        var visit = Fixture.visit("v1", customer: "c1", sequence: 1)
        let kinds = try [
            visit.apply(.arrive(outOfSequence: false), at: Fixture.at(0)),
            visit.apply(.start, at: Fixture.at(10)),
            visit.apply(.depart, at: Fixture.at(20)),
            visit.apply(.complete(nil), at: Fixture.at(30)),
        ].map(\.kind)
        #expect(kinds == [.arrived, .started, .departed, .completed])
        #expect(visit.arrivedAt == Fixture.at(0) && visit.startedAt == Fixture.at(10))
        #expect(visit.departedAt == Fixture.at(20) && visit.completedAt == Fixture.at(30))
        #expect(visit.status.isTerminal)
    }

    /// A failure reason is merged into existing completion details, and a nil reason keeps them as they were.
    @Test func failureReasonMerges() throws {
        var visit = Fixture.visit("v1", customer: "c1", sequence: 1, status: .inProgress)
        visit.completion = VisitCompletion(notes: "dog")
        _ = try visit.apply(.fail(reason: "nobody home"), at: Fixture.t0)
        #expect(visit.completion == VisitCompletion(notes: "dog", failureReason: "nobody home"))
        var skipped = Fixture.visit("v2", customer: "c1", sequence: 2)
        _ = try skipped.apply(.skip(reason: nil), at: Fixture.t0)
        #expect(skipped.completion == nil)
    }

    /// The error describes itself without ids.
    @Test func errorDescription() {
        let error = VisitTransitionError(from: .completed, action: "start")
        #expect(error.description == "cannot start a visit that is completed")
    }
}

@Suite("Route recomputation")
struct RouteRecomputationTests {
    /// Visit statuses → (totalStops, completedStops, route status).
    static let cases: [([VisitStatus], Int, Int, RouteStatus)] = [
        ([.pending, .pending], 2, 0, .planned),
        ([.pending, .cancelled], 1, 0, .planned),
        ([.arrived, .pending], 2, 0, .inProgress),
        ([.inProgress, .pending], 2, 0, .inProgress),
        ([.completed, .pending], 2, 1, .inProgress),
        ([.skipped, .pending, .cancelled], 2, 1, .inProgress),
        ([.completed, .failed, .skipped], 3, 3, .completed),
        ([.completed, .cancelled], 1, 1, .completed),
        ([.cancelled, .cancelled], 0, 0, .cancelled),
        ([.completed, .arrived], 2, 1, .inProgress),
    ]

    /// Counts and status follow from the visits.
    @Test(arguments: cases)
    func recompute(statuses: [VisitStatus], total: Int, completed: Int, status: RouteStatus) {
        let visits = statuses.enumerated().map { index, status in
            Fixture.visit(VisitID("v\(index)"), customer: "c", sequence: index + 1, status: status)
        }
        let route = Fixture.route.recomputed(from: visits)
        #expect(route.totalStops == total)
        #expect(route.completedStops == completed)
        #expect(route.status == status)
        #expect(route.id == Fixture.route.id)
    }

    /// A route without visits keeps its status.
    @Test(arguments: RouteStatus.allCases)
    func emptyKeepsStatus(status: RouteStatus) {
        var route = Fixture.route
        route.status = status
        route.totalStops = 4
        let recomputed = route.recomputed(from: [])
        #expect(recomputed.status == status)
        #expect(recomputed.totalStops == 0 && recomputed.completedStops == 0)
    }

    /// The next pending visit is the lowest sequence among pending ones, whatever the array order.
    @Test func nextPending() {
        let visits = [
            Fixture.visit("v5", customer: "c", sequence: 5),
            Fixture.visit("v1", customer: "c", sequence: 1, status: .completed),
            Fixture.visit("v3", customer: "c", sequence: 3),
            Fixture.visit("v2", customer: "c", sequence: 2, status: .arrived),
        ]
        #expect(Route.nextPending(in: visits)?.id == "v3")
        #expect(Route.nextPending(in: []) == nil)
        #expect(Route.nextPending(in: [visits[1], visits[3]]) == nil)
    }
}
