import Domain
import Testing

@Suite("ETA estimator")
struct ETAEstimatorTests {
    static let estimator = ETAEstimator(policy: ETAPolicy())
    static let origin = Fixture.depot

    static func stop(
        _ id: VisitID,
        _ location: Coordinate,
        service: Int = 300,
        window: TimeWindow? = nil,
        arrived: Bool = false,
        arrivedAt: Timestamp? = nil
    ) -> ETAStop {
        ETAStop(
            visitId: id,
            customerId: CustomerID(id.rawValue),
            sequenceNumber: 1,
            location: location,
            serviceDurationSeconds: service,
            timeWindow: window,
            arrived: arrived,
            arrivedAt: arrivedAt
        )
    }

    /// Seconds to drive `meters` at `kmh` with the default road factor.
    static func drive(_ meters: Double, kmh: Double) -> Double { meters * 1.3 / (kmh / 3.6) }

    /// Leg lengths come from a local projection, within 0.1 % of great-circle distance at city scale.
    static func close(_ eta: Timestamp, _ expected: Timestamp) -> Bool {
        let travel = Double((expected.millisecondsSinceEpoch - Fixture.t0.millisecondsSinceEpoch).magnitude)
        let error = Double((eta.millisecondsSinceEpoch - expected.millisecondsSinceEpoch).magnitude)
        return error <= max(1, travel * 0.001)
    }

    /// The first stop's ETA is the distance × 1.3 at the smoothed speed.
    @Test func roadFactor() {
        let target = Fixture.offset(Self.origin, 10_000, bearing: 45)
        let etas = Self.estimator.estimate(
            from: Self.origin,
            at: Fixture.t0,
            smoothedSpeedKmh: 60,
            stops: [Self.stop("v1", target)]
        )
        let expected = Fixture.at(Self.drive(Geo.distanceMeters(Self.origin, target), kmh: 60))
        #expect(etas.count == 1)
        #expect(Self.close(etas[0].eta, expected))
        #expect(Self.close(etas[0].eta, Fixture.at(780)))
        #expect(etas[0].late == false)
        #expect(etas[0].visitId == "v1" && etas[0].customerId == "v1" && etas[0].sequenceNumber == 1)
    }

    /// Stopped or crawling drivers are assumed to move at the 15 km/h floor.
    @Test(arguments: [0.0, 3, 14.9, .nan])
    func floorSpeed(speed: Double) {
        let target = Fixture.offset(Self.origin, 1_000)
        let etas = Self.estimator.estimate(
            from: Self.origin,
            at: Fixture.t0,
            smoothedSpeedKmh: speed,
            stops: [Self.stop("v1", target)]
        )
        #expect(Self.close(etas[0].eta, Fixture.at(Self.drive(Geo.distanceMeters(Self.origin, target), kmh: 15))))
    }

    /// Later stops add the service time at the previous stop plus the leg between stops.
    @Test func serviceTimeAccumulates() {
        let a = Fixture.offset(Self.origin, 2_000)
        let b = Fixture.offset(a, 3_000, bearing: 90)
        let c = Fixture.offset(b, 1_000, bearing: 180)
        let etas = Self.estimator.estimate(
            from: Self.origin,
            at: Fixture.t0,
            smoothedSpeedKmh: 30,
            stops: [
                Self.stop("a", a, service: 600), Self.stop("b", b, service: 120), Self.stop("c", c),
            ]
        )
        let tA = Self.drive(Geo.distanceMeters(Self.origin, a), kmh: 30)
        let tB = tA + 600 + Self.drive(Geo.distanceMeters(a, b), kmh: 30)
        let tC = tB + 120 + Self.drive(Geo.distanceMeters(b, c), kmh: 30)
        #expect(etas.map(\.visitId) == ["a", "b", "c"])
        #expect(Self.close(etas[0].eta, Fixture.at(tA)))
        #expect(Self.close(etas[1].eta, Fixture.at(tB)))
        #expect(Self.close(etas[2].eta, Fixture.at(tC)))
    }

    /// Arriving before a window opens waits for it; the wait delays later stops, not the early stop's own ETA.
    @Test func earlyArrivalWaitsForWindow() {
        let a = Fixture.offset(Self.origin, 1_000)
        let b = Fixture.offset(a, 1_000)
        let window = TimeWindow(start: Fixture.at(3_600), end: Fixture.at(7_200))
        let etas = Self.estimator.estimate(
            from: Self.origin,
            at: Fixture.t0,
            smoothedSpeedKmh: 30,
            stops: [
                Self.stop("a", a, service: 300, window: window), Self.stop("b", b),
            ]
        )
        #expect(Self.close(etas[0].eta, Fixture.at(Self.drive(Geo.distanceMeters(Self.origin, a), kmh: 30))))
        #expect(Self.close(etas[1].eta, Fixture.at(3_600 + 300 + Self.drive(Geo.distanceMeters(a, b), kmh: 30))))
    }

    /// A stop is late when its ETA passes the window's end; exactly at the end is on time.
    @Test func lateFlag() {
        let target = Fixture.offset(Self.origin, 10_000, bearing: 45)
        let eta = Self.estimator.estimate(
            from: Self.origin,
            at: Fixture.t0,
            smoothedSpeedKmh: 60,
            stops: [Self.stop("v1", target)]
        )[0].eta
        for (end, late) in [(eta - .milliseconds(1), true), (eta, false), (eta + .seconds(60), false)] {
            let window = TimeWindow(start: Fixture.t0, end: end)
            let result = Self.estimator.estimate(
                from: Self.origin,
                at: Fixture.t0,
                smoothedSpeedKmh: 60,
                stops: [Self.stop("v1", target, window: window)]
            )
            #expect(result[0].late == late, "window end \(end) vs eta \(eta)")
        }
    }

    /// The stop the driver is at reports its arrival time and holds the driver only for the service time left.
    @Test func arrivedStop() {
        let here = Self.origin
        let next = Fixture.offset(here, 1_000)
        let now = Fixture.at(1_000)
        let etas = Self.estimator.estimate(
            from: here,
            at: now,
            smoothedSpeedKmh: 30,
            stops: [
                Self.stop("here", here, service: 300, arrived: true, arrivedAt: Fixture.at(900)),
                Self.stop("next", next),
            ]
        )
        #expect(etas[0].eta == Fixture.at(900))
        #expect(etas[0].late == false)
        // 100 s of service were done, 200 s remain.
        #expect(Self.close(etas[1].eta, Fixture.at(1_200 + Self.drive(Geo.distanceMeters(here, next), kmh: 30))))
        // Overstayed: leaves now.
        let overstayed = Self.estimator.estimate(
            from: here,
            at: Fixture.at(2_000),
            smoothedSpeedKmh: 30,
            stops: [
                Self.stop("here", here, service: 300, arrived: true, arrivedAt: Fixture.at(900)),
                Self.stop("next", next),
            ]
        )
        #expect(Self.close(overstayed[1].eta, Fixture.at(2_000 + Self.drive(Geo.distanceMeters(here, next), kmh: 30))))
    }

    /// No stops, no ETAs.
    @Test func empty() {
        #expect(Self.estimator.estimate(from: Self.origin, at: Fixture.t0, smoothedSpeedKmh: 30, stops: []).isEmpty)
    }

    /// The speed EWMA only learns from moving samples.
    @Test(
        arguments: [
            (nil, 50.0, 50.0), (50, 60, 53), (50, 2.9, 50), (nil, 1, 0), (0, 40, 40), (50, .nan, 50), (50, 3, 35.9),
        ] as [(Double?, Double, Double)]
    )
    func smoothing(previous: Double?, current: Double, expected: Double) {
        let value = Self.estimator.smoothedSpeed(previous: previous, current: current)
        #expect((value - expected).magnitude < 1e-9, "\(value)")
    }

    /// Default policy values.
    @Test func defaults() {
        let policy = ETAPolicy()
        #expect(policy.roadFactor == 1.3 && policy.smoothingAlpha == 0.3)
        #expect(policy.floorSpeedKmh == 15 && policy.movingThresholdKmh == 3)
    }
}
