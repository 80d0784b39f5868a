import Domain
import Testing

@Suite("Properties (seeded random)")
struct PropertyTests {
    static let seeds: [UInt64] = [1, 2, 3, 0xDEAD_BEEF, 20_250_602]

    static func randomPoint(_ rng: inout SplitMix64) -> Coordinate {
        Coordinate(latitude: .random(in: -89.9...89.9, using: &rng), longitude: .random(in: -180...180, using: &rng))
    }

    /// Distance is symmetric, zero on the diagonal, bounded by π·R and satisfies the triangle inequality.
    @Test(arguments: seeds)
    func distanceIsAMetric(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let bound = Double.pi * Geo.earthRadiusMeters * (1 + 1e-12)
        for _ in 0..<5_000 {
            let a = Self.randomPoint(&rng)
            // Mix global and nearby points so short distances are exercised too.
            let b =
                Bool.random(using: &rng)
                ? Self.randomPoint(&rng)
                : Fixture.offset(a, .random(in: 0...5_000, using: &rng), bearing: .random(in: 0..<360, using: &rng))
            let c = Self.randomPoint(&rng)
            let ab = Geo.distanceMeters(a, b)
            #expect(ab == Geo.distanceMeters(b, a))
            #expect(Geo.distanceMeters(a, a) == 0)
            #expect(ab >= 0 && ab <= bound)
            #expect(ab <= Geo.distanceMeters(a, c) + Geo.distanceMeters(c, b) + 1e-6)
        }
    }

    /// No sequence of random fixes makes the detector arrive twice without a departure in between, or depart from
    /// a visit it did not arrive at.
    @Test(arguments: seeds)
    func detectorAlternatesArrivalAndDeparture(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let center = Fixture.depot
        let candidates = (0..<4).map { index in
            GeofenceCandidate(
                visitId: VisitID("v\(index)"),
                customerId: CustomerID("c\(index)"),
                center: Fixture.offset(
                    center,
                    .random(in: 0...250, using: &rng),
                    bearing: .random(in: 0..<360, using: &rng)
                ),
                radiusMeters: .random(in: 30...150, using: &rng)
            )
        }
        let detector = GeofenceDetector(policy: GeofencePolicy(dwell: .seconds(Int64.random(in: 0...40, using: &rng))))
        var phase = GeofencePhase.outside
        var position = center
        var seconds = 0.0
        var insideOf: VisitID?
        var arrivals = 0
        for _ in 0..<20_000 {
            seconds += .random(in: 0.2...15, using: &rng)
            position =
                Int.random(in: 0..<20, using: &rng) == 0
                ? Fixture.offset(center, .random(in: 0...600, using: &rng), bearing: .random(in: 0..<360, using: &rng))
                : Fixture.offset(position, .random(in: 0...40, using: &rng), bearing: .random(in: 0..<360, using: &rng))
            let result = detector.step(
                phase: phase,
                position: position,
                at: Fixture.at(seconds),
                candidates: candidates
            )
            switch result.transition {
            case .arrived(let id):
                #expect(insideOf == nil, "arrived at \(id) while inside \(insideOf?.rawValue ?? "")")
                #expect(result.phase == .inside(visitId: id))
                insideOf = id
                arrivals += 1
            case .departed(let id):
                #expect(insideOf == id)
                insideOf = nil
            case nil:
                break
            }
            phase = result.phase
        }
        #expect(arrivals > 10)  // the walk really exercises the detector
    }

    /// Through the enricher, random walks around a route give each visit at most one arrival, never an arrival
    /// at a non-pending visit, and geofence enter/exit alerts that alternate.
    @Test(arguments: seeds)
    func enricherVisitEventsStayConsistent(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let center = Fixture.depot
        let customers = (0..<5).map { index in
            Fixture.customer(
                CustomerID("c\(index)"),
                at: Fixture.offset(
                    center,
                    .random(in: 0...400, using: &rng),
                    bearing: .random(in: 0..<360, using: &rng)
                ),
                radius: .random(in: 40...120, using: &rng)
            )
        }
        let visits = (0..<5).map { Fixture.visit(VisitID("v\($0)"), customer: CustomerID("c\($0)"), sequence: $0 + 1) }
        var drive = Drive(visits: visits.shuffled(using: &rng), customers: customers)
        var position = center
        var seconds = 0.0
        for _ in 0..<4_000 {
            seconds += .random(in: 0...10, using: &rng)
            position =
                Int.random(in: 0..<30, using: &rng) == 0
                ? Fixture.offset(center, .random(in: 0...700, using: &rng), bearing: .random(in: 0..<360, using: &rng))
                : Fixture.offset(position, .random(in: 0...25, using: &rng), bearing: .random(in: 0..<360, using: &rng))
            drive.fix(position, at: seconds, speedKmh: .random(in: 0...50, using: &rng))
        }
        let arrivals = drive.visitEvents.filter { $0.kind == .arrived }
        #expect(Set(arrivals.map(\.visitId)).count == arrivals.count)
        #expect(!arrivals.isEmpty)
        let geofence = drive.alerts.filter { $0.kind == .geofenceEnter || $0.kind == .geofenceExit }
        for (index, alert) in geofence.enumerated() {
            #expect(alert.kind == (index.isMultiple(of: 2) ? .geofenceEnter : .geofenceExit))
            if !index.isMultiple(of: 2) { #expect(alert.visitId == geofence[index - 1].visitId) }
        }
        for event in drive.visitEvents where event.kind == .departed {
            #expect(drive.visit(event.visitId)?.arrivedAt != nil)
        }
    }
}
