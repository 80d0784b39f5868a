import Domain

/// One GPS report of a simulated device, in Traccar's units (speed in knots, course in degrees from north).
struct SimulatedFix: Hashable, Sendable {
    var deviceId: DeviceID
    var fixTime: Timestamp
    var latitude: Double
    var longitude: Double
    /// Metres above sea level.
    var altitude: Double
    var speedKnots: Double
    /// 0–360°, clockwise from north.
    var course: Double
    /// Percent, 0–100.
    var batteryLevel: Double
    var ignition: Bool
    var motion: Bool
    /// Metres driven since the previous fix (Traccar's `distance` attribute).
    var distanceMeters: Double
    /// Metres driven since the simulation started (Traccar's `totalDistance` attribute).
    var totalDistanceMeters: Double

    var speedKmh: Double { speedKnots * 1.852 }
    var coordinate: Coordinate { Coordinate(latitude: latitude, longitude: longitude) }
}
