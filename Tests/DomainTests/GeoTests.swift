import Domain
import Foundation
import Testing

@Suite("Geo")
struct GeoTests {
    static let berlin = Coordinate(latitude: 52.5200, longitude: 13.4050)
    static let munich = Coordinate(latitude: 48.1351, longitude: 11.5820)
    static let london = Coordinate(latitude: 51.5007, longitude: -0.1246)
    static let newYork = Coordinate(latitude: 40.6892, longitude: -74.0445)

    /// Known city distances within 0.5 % (the spherical model's error against the ellipsoid).
    @Test(arguments: [
        (berlin, munich, 504_000.0),
        (london, newYork, 5_570_000.0),
    ])
    func knownDistances(a: Coordinate, b: Coordinate, meters: Double) {
        let d = Geo.distanceMeters(a, b)
        #expect((d - meters).magnitude / meters < 0.005, "\(d)")
    }

    /// Identical points are 0 m apart; antipodes are half the circumference.
    @Test func extremes() {
        #expect(Geo.distanceMeters(Self.berlin, Self.berlin) == 0)
        let halfCircumference = Double.pi * Geo.earthRadiusMeters
        let antipodes: [(Coordinate, Coordinate)] = [
            (Coordinate(latitude: 0, longitude: 0), Coordinate(latitude: 0, longitude: 180)),
            (Coordinate(latitude: 90, longitude: 0), Coordinate(latitude: -90, longitude: 0)),
            (Coordinate(latitude: 10, longitude: 20), Coordinate(latitude: -10, longitude: -160)),
        ]
        for (a, b) in antipodes {
            // Haversine is ill-conditioned at the antipode (1 − h loses digits): decimetres out of 20 000 km.
            #expect((Geo.distanceMeters(a, b) - halfCircumference).magnitude < 0.5)
        }
        // Across the antimeridian is short, not the long way round.
        let d = Geo.distanceMeters(Self.point(0, 179.999), Self.point(0, -179.999))
        #expect((d - 0.002 * .pi / 180 * Geo.earthRadiusMeters).magnitude < 1e-6)
    }

    /// The Foundation-free haversine matches a libm one to 1e-9 relative on random pairs.
    @Test func matchesLibmHaversine() {
        func reference(_ a: Coordinate, _ b: Coordinate) -> Double {
            let p1 = a.latitude * .pi / 180
            let p2 = b.latitude * .pi / 180
            let dp = p2 - p1
            let dl = (b.longitude - a.longitude) * .pi / 180
            let h =
                Foundation.sin(dp / 2) * Foundation.sin(dp / 2)
                + Foundation.cos(p1) * Foundation.cos(p2) * Foundation.sin(dl / 2) * Foundation.sin(dl / 2)
            return 2 * Geo.earthRadiusMeters * Foundation.atan2(h.squareRoot(), (1 - h).squareRoot())
        }
        var rng = SplitMix64(seed: 42)
        for _ in 0..<20_000 {
            let a = Self.point(.random(in: -90...90, using: &rng), .random(in: -180...180, using: &rng))
            let b = Self.point(.random(in: -90...90, using: &rng), .random(in: -180...180, using: &rng))
            let expected = reference(a, b)
            #expect((Geo.distanceMeters(a, b) - expected).magnitude <= expected * 1e-9 + 1e-9)
        }
    }

    static let bearings: [(Coordinate, Coordinate, Double)] = [
        (point(0, 0), point(1, 0), 0), (point(0, 0), point(0, 1), 90), (point(0, 0), point(-1, 0), 180),
        (point(0, 0), point(0, -1), 270), (point(0, 179.5), point(0, -179.5), 90),
    ]

    static func point(_ latitude: Double, _ longitude: Double) -> Coordinate {
        Coordinate(latitude: latitude, longitude: longitude)
    }

    /// Bearings at the equator, including across the antimeridian.
    @Test(arguments: bearings)
    func bearing(from: Coordinate, to: Coordinate, degrees: Double) {
        #expect((Geo.bearingDegrees(from: from, to: to) - degrees).magnitude < 1e-9)
    }

    /// Going a distance along a bearing lands that distance away, on that bearing, with the longitude normalised.
    @Test func destinationRoundTrip() {
        var rng = SplitMix64(seed: 7)
        for _ in 0..<5_000 {
            let from = Self.point(.random(in: -80...80, using: &rng), .random(in: -180...180, using: &rng))
            let bearing = Double.random(in: 0..<360, using: &rng)
            let meters = Double.random(in: 1...2_000_000, using: &rng)
            let to = Geo.destination(from: from, bearingDegrees: bearing, distanceMeters: meters)
            #expect((-180...180).contains(to.longitude))
            #expect((Geo.distanceMeters(from, to) - meters).magnitude < 1e-6 * meters + 1e-6)
            var diff = (Geo.bearingDegrees(from: from, to: to) - bearing).magnitude
            diff = min(diff, 360 - diff)
            #expect(diff < 1e-6)
        }
    }

    /// Headings fold into [0, 360).
    @Test(arguments: [(0.0, 0.0), (360, 0), (370, 10), (-10, 350), (-720, 0), (359.5, 359.5), (1e-300, 1e-300)])
    func normalizedDegrees(input: Double, expected: Double) {
        let value = Geo.normalizedDegrees(input)
        #expect(value == expected)
        #expect(value >= 0 && value < 360)
    }
}
