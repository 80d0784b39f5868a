import Domain
import Testing

@Suite("Position validation")
struct PositionValidationTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var latitude = 52.5
        var longitude = 13.4
        var speedKmh = 30.0
        var course = 90.0
        var battery: Double?
        var fixAfterNowSeconds = 0.0
        /// The field expected in the error; nil when the fix is valid.
        var rejects: String?

        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "typical fix"),
        Case(name: "latitude -90", latitude: -90),
        Case(name: "latitude 90", latitude: 90),
        Case(name: "latitude 90.000001", latitude: 90.000_001, rejects: "latitude"),
        Case(name: "latitude -90.000001", latitude: -90.000_001, rejects: "latitude"),
        Case(name: "latitude NaN", latitude: .nan, rejects: "latitude"),
        Case(name: "latitude +inf", latitude: .infinity, rejects: "latitude"),
        Case(name: "longitude -180", longitude: -180),
        Case(name: "longitude 180", longitude: 180),
        Case(name: "longitude 180.0001", longitude: 180.0001, rejects: "longitude"),
        Case(name: "longitude -181", longitude: -181, rejects: "longitude"),
        Case(name: "longitude NaN", longitude: .nan, rejects: "longitude"),
        Case(name: "longitude -inf", longitude: -.infinity, rejects: "longitude"),
        Case(name: "speed 0", speedKmh: 0),
        Case(name: "speed -0.1", speedKmh: -0.1, rejects: "speedKmh"),
        Case(name: "speed NaN", speedKmh: .nan, rejects: "speedKmh"),
        Case(name: "speed inf", speedKmh: .infinity, rejects: "speedKmh"),
        Case(name: "course 0", course: 0),
        Case(name: "course 360", course: 360),
        Case(name: "course -10 (folded later)", course: -10),
        Case(name: "course NaN", course: .nan, rejects: "course"),
        Case(name: "course inf", course: .infinity, rejects: "course"),
        Case(name: "battery absent", battery: nil),
        Case(name: "battery 0", battery: 0),
        Case(name: "battery 100", battery: 100),
        Case(name: "battery 100.5", battery: 100.5, rejects: "batteryLevel"),
        Case(name: "battery -1", battery: -1, rejects: "batteryLevel"),
        Case(name: "battery NaN", battery: .nan, rejects: "batteryLevel"),
        Case(name: "fix an hour old", fixAfterNowSeconds: -3600),
        Case(name: "fix exactly 5 min ahead", fixAfterNowSeconds: 300),
        Case(name: "fix 5 min 1 ms ahead", fixAfterNowSeconds: 300.001, rejects: "fixTime"),
        Case(name: "fix a day ahead", fixAfterNowSeconds: 86_400, rejects: "fixTime"),
        Case(name: "fix 400 days old", fixAfterNowSeconds: -400 * 86_400, rejects: "fixTime"),
        Case(name: "fix exactly the retention (365 days) old", fixAfterNowSeconds: -365 * 86_400),
        Case(name: "fix 365 days 1 ms old", fixAfterNowSeconds: -365 * 86_400 - 0.001, rejects: "fixTime"),
        Case(name: "NaN latitude reported before NaN speed", latitude: .nan, speedKmh: .nan, rejects: "latitude"),
    ]

    /// Every rule accepts its edge values and rejects just beyond them, naming the field.
    @Test(arguments: cases)
    func validate(_ c: Case) {
        let now = Fixture.t0
        var raw = Fixture.raw(
            Coordinate(latitude: c.latitude, longitude: c.longitude),
            at: now + .milliseconds(Int64((c.fixAfterNowSeconds * 1000).rounded())),
            speedKmh: c.speedKmh,
            course: c.course,
            battery: c.battery
        )
        raw.batteryLevel = c.battery
        do throws(PositionValidationError) {
            try PositionValidator.validate(raw, now: now)
            #expect(c.rejects == nil, "accepted, expected rejection of \(c.rejects ?? "")")
        } catch {
            #expect(error.field == c.rejects)
            #expect(!error.reason.isEmpty)
            #expect(error.description.contains(error.field))
        }
    }

    /// A fix time is refused as a clock error: ahead of the server, or before the retention window (a device
    /// clock reset to 1970); a shorter configured retention moves the limit. Other fields carry no clock error.
    @Test func clockErrors() {
        let now = Fixture.t0
        func error(
            at time: Timestamp,
            retention: Duration = PositionValidator.defaultRetention
        )
            -> PositionValidationError?
        {
            do throws(PositionValidationError) {
                try PositionValidator.validate(
                    Fixture.raw(Coordinate(latitude: 52.5, longitude: 13.4), at: time),
                    now: now,
                    retention: retention
                )
                return nil
            } catch {
                return error
            }
        }
        #expect(error(at: Timestamp(millisecondsSinceEpoch: 0))?.clock == .beforeRetention, "1970")
        #expect(error(at: now + .seconds(3600))?.clock == .future)
        #expect(error(at: now - .seconds(3600)) == nil, "an hour old: history")
        #expect(error(at: now - .seconds(8 * 86_400), retention: .seconds(7 * 86_400))?.clock == .beforeRetention)
        #expect(error(at: now - .seconds(6 * 86_400), retention: .seconds(7 * 86_400)) == nil)
        #expect(error(at: Timestamp(millisecondsSinceEpoch: 0))?.reason.contains("365 days") == true)
    }

    /// The skew allowance is 5 minutes.
    @Test func maxFutureSkew() {
        #expect(PositionValidator.maxFutureSkew == .seconds(300))
    }

    /// Knots convert at exactly 1.852 km/h.
    @Test(arguments: [(0.0, 0.0), (1, 1.852), (10, 18.52), (54, 100.008)])
    func knots(knots: Double, kmh: Double) {
        #expect((Speed.kmh(fromKnots: knots) - kmh).magnitude < 1e-12)
    }
}
