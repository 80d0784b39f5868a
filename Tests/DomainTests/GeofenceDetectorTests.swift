import Domain
import Testing

@Suite("Geofence detector")
struct GeofenceDetectorTests {
    static let center = Fixture.depot
    static let shop = GeofenceCandidate(visitId: "v1", customerId: "c1", center: center, radiusMeters: 100)
    static let detector = GeofenceDetector(policy: GeofencePolicy())

    /// One fix: seconds after t0, metres north of the shop, and what the detector must answer.
    struct Step {
        var seconds: Double
        var meters: Double
        var phase: GeofencePhase
        var transition: GeofenceTransition? = nil
    }

    /// Feeds `steps` in order from `start`, checking every answer.
    static func run(
        _ steps: [Step],
        from start: GeofencePhase = .outside,
        candidates: [GeofenceCandidate] = [shop],
        detector: GeofenceDetector = detector,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        var phase = start
        for (index, step) in steps.enumerated() {
            let result = detector.step(
                phase: phase,
                position: Fixture.offset(center, step.meters),
                at: Fixture.at(step.seconds),
                candidates: candidates
            )
            #expect(result.phase == step.phase, "step \(index) at \(step.seconds) s", sourceLocation: sourceLocation)
            #expect(
                result.transition == step.transition,
                "step \(index) at \(step.seconds) s",
                sourceLocation: sourceLocation
            )
            phase = result.phase
        }
    }

    /// A single jittery fix inside the circle never arrives.
    @Test func singleFixInsideDoesNotArrive() {
        Self.run([
            Step(seconds: 0, meters: 300, phase: .outside),
            Step(seconds: 1, meters: 50, phase: .entering(visitId: "v1", since: Fixture.at(1))),
            Step(seconds: 2, meters: 300, phase: .outside),
            Step(seconds: 60, meters: 300, phase: .outside),
        ])
    }

    /// Arrival happens exactly when the dwell time (30 s) has elapsed inside, not a millisecond before.
    @Test func arrivesExactlyAfterDwell() {
        let entering = GeofencePhase.entering(visitId: "v1", since: Fixture.at(10))
        Self.run([
            Step(seconds: 10, meters: 99, phase: entering),
            Step(seconds: 25, meters: 40, phase: entering),
            Step(seconds: 39.999, meters: 10, phase: entering),
            Step(seconds: 40, meters: 10, phase: .inside(visitId: "v1"), transition: .arrived("v1")),
            Step(seconds: 41, meters: 10, phase: .inside(visitId: "v1")),
        ])
    }

    /// The radius edge counts as inside.
    @Test func radiusEdgeIsInside() {
        let result = Self.detector.step(
            phase: .outside,
            position: Fixture.offset(Self.center, 99.999),
            at: Fixture.t0,
            candidates: [Self.shop]
        )
        #expect(result.phase == .entering(visitId: "v1", since: Fixture.t0))
    }

    /// Leaving before the dwell time resets the count: the next entry starts over.
    @Test func leavingBeforeDwellResets() {
        Self.run([
            Step(seconds: 0, meters: 50, phase: .entering(visitId: "v1", since: Fixture.at(0))),
            Step(seconds: 20, meters: 50, phase: .entering(visitId: "v1", since: Fixture.at(0))),
            Step(seconds: 25, meters: 101, phase: .outside),
            Step(seconds: 26, meters: 50, phase: .entering(visitId: "v1", since: Fixture.at(26))),
            Step(seconds: 30, meters: 50, phase: .entering(visitId: "v1", since: Fixture.at(26))),
            Step(seconds: 56, meters: 50, phase: .inside(visitId: "v1"), transition: .arrived("v1")),
        ])
    }

    /// Inside the 125 m hysteresis ring stays inside; beyond it departs only after 30 s, and coming back cancels.
    @Test func hysteresisRingAndDepartureDwell() {
        Self.run(
            [
                Step(seconds: 0, meters: 110, phase: .inside(visitId: "v1")),
                Step(seconds: 1, meters: 124.9, phase: .inside(visitId: "v1")),
                Step(seconds: 2, meters: 130, phase: .leaving(visitId: "v1", since: Fixture.at(2))),
                Step(seconds: 20, meters: 500, phase: .leaving(visitId: "v1", since: Fixture.at(2))),
                Step(seconds: 21, meters: 120, phase: .inside(visitId: "v1")),
                Step(seconds: 22, meters: 130, phase: .leaving(visitId: "v1", since: Fixture.at(22))),
                Step(seconds: 51.999, meters: 200, phase: .leaving(visitId: "v1", since: Fixture.at(22))),
                Step(seconds: 52, meters: 200, phase: .outside, transition: .departed("v1")),
                Step(seconds: 53, meters: 300, phase: .outside),
            ],
            from: .inside(visitId: "v1")
        )
    }

    /// When circles overlap, the nearest centre wins, and ties go to the earlier candidate.
    @Test func nearestOfOverlappingCircles() {
        let a = GeofenceCandidate(visitId: "a", customerId: "ca", center: Self.center, radiusMeters: 100)
        let b = GeofenceCandidate(
            visitId: "b",
            customerId: "cb",
            center: Fixture.offset(Self.center, 60),
            radiusMeters: 100
        )
        let nearB = Self.detector.step(
            phase: .outside,
            position: Fixture.offset(Self.center, 40),
            at: Fixture.t0,
            candidates: [a, b]
        )
        #expect(nearB.phase == .entering(visitId: "b", since: Fixture.t0))
        let nearA = Self.detector.step(
            phase: .outside,
            position: Fixture.offset(Self.center, 20),
            at: Fixture.t0,
            candidates: [a, b]
        )
        #expect(nearA.phase == .entering(visitId: "a", since: Fixture.t0))
        var twin = a
        twin.visitId = "a2"
        let tie = Self.detector.step(phase: .outside, position: Self.center, at: Fixture.t0, candidates: [twin, a])
        #expect(tie.phase == .entering(visitId: "a2", since: Fixture.t0))
    }

    /// Moving from one circle into a nearer overlapping one restarts the dwell count for the nearer visit.
    @Test func switchingToNearerCircleRestartsDwell() {
        let a = GeofenceCandidate(visitId: "a", customerId: "ca", center: Self.center, radiusMeters: 100)
        let b = GeofenceCandidate(
            visitId: "b",
            customerId: "cb",
            center: Fixture.offset(Self.center, 150),
            radiusMeters: 100
        )
        Self.run(
            [
                Step(seconds: 0, meters: 60, phase: .entering(visitId: "a", since: Fixture.at(0))),
                Step(seconds: 20, meters: 90, phase: .entering(visitId: "b", since: Fixture.at(20))),
                Step(seconds: 35, meters: 150, phase: .entering(visitId: "b", since: Fixture.at(20))),
                Step(seconds: 50, meters: 150, phase: .inside(visitId: "b"), transition: .arrived("b")),
            ],
            candidates: [a, b]
        )
    }

    /// A visit that disappears from the candidates while entering is forgotten.
    @Test func enteringVisitRemoved() {
        let result = Self.detector.step(
            phase: .entering(visitId: "v1", since: Fixture.t0),
            position: Self.center,
            at: Fixture.at(40),
            candidates: []
        )
        #expect(result.phase == .outside)
        #expect(result.transition == nil)
    }

    /// A visit closed while inside (passed with `acceptsArrival: false`) still measures its departure.
    @Test func closedVisitStillDeparts() {
        var closed = Self.shop
        closed.acceptsArrival = false
        Self.run(
            [
                Step(seconds: 0, meters: 10, phase: .inside(visitId: "v1")),
                Step(seconds: 10, meters: 200, phase: .leaving(visitId: "v1", since: Fixture.at(10))),
                Step(seconds: 40, meters: 400, phase: .outside, transition: .departed("v1")),
                Step(seconds: 41, meters: 10, phase: .outside),
            ],
            from: .inside(visitId: "v1"),
            candidates: [closed]
        )
    }

    /// A visit closed while inside hands over to another open visit at the same place (a second stop at the
    /// customer), without a departure; a farther open circle does not take over.
    @Test func closedVisitHandsOverToSecondVisitAtSamePlace() {
        var closed = Self.shop
        closed.acceptsArrival = false
        let second = GeofenceCandidate(visitId: "v2", customerId: "c1", center: Self.center, radiusMeters: 100)
        let neighbour = GeofenceCandidate(
            visitId: "v3",
            customerId: "c3",
            center: Fixture.offset(Self.center, 80),
            radiusMeters: 100
        )
        let handOver = Self.detector.step(
            phase: .inside(visitId: "v1"),
            position: Fixture.offset(Self.center, 5),
            at: Fixture.t0,
            candidates: [closed, second]
        )
        #expect(handOver.phase == .entering(visitId: "v2", since: Fixture.t0))
        #expect(handOver.transition == nil)
        let stay = Self.detector.step(
            phase: .inside(visitId: "v1"),
            position: Fixture.offset(Self.center, 5),
            at: Fixture.t0,
            candidates: [closed, neighbour]
        )
        #expect(stay.phase == .inside(visitId: "v1"))
    }

    /// A visit that vanished entirely while inside or leaving resets to outside without a departure.
    @Test(arguments: [GeofencePhase.inside(visitId: "v1"), .leaving(visitId: "v1", since: Fixture.t0)])
    func insideVisitRemoved(phase: GeofencePhase) {
        let result = Self.detector.step(phase: phase, position: Self.center, at: Fixture.at(5), candidates: [])
        #expect(result.phase == .outside)
        #expect(result.transition == nil)
    }

    /// With a zero dwell the first fix inside arrives and the first fix beyond the ring departs.
    @Test func zeroDwell() {
        let detector = GeofenceDetector(policy: GeofencePolicy(dwell: .zero, exitHysteresis: 1))
        Self.run(
            [
                Step(seconds: 0, meters: 50, phase: .inside(visitId: "v1"), transition: .arrived("v1")),
                Step(seconds: 1, meters: 101, phase: .outside, transition: .departed("v1")),
            ],
            detector: detector
        )
    }

    /// Default policy values.
    @Test func defaults() {
        #expect(GeofencePolicy().dwell == .seconds(30))
        #expect(GeofencePolicy().exitHysteresis == 1.25)
    }
}
