package import Domain

/// One GPS report of a simulated device, in Traccar's units (speed in knots, course in degrees from north).
package struct SimulatedFix: Hashable, Sendable {
    package var deviceId: DeviceID
    package var fixTime: Timestamp
    package var latitude: Double
    package var longitude: Double
    /// Metres above sea level.
    package var altitude: Double
    package var speedKnots: Double
    /// 0–360°, clockwise from north.
    package var course: Double
    /// Percent, 0–100.
    package var batteryLevel: Double
    package var ignition: Bool
    package var motion: Bool
    /// Metres driven since the previous fix (Traccar's `distance` attribute).
    package var distanceMeters: Double
    /// Metres driven since the simulation started (Traccar's `totalDistance` attribute).
    package var totalDistanceMeters: Double

    package var speedKmh: Double { speedKnots * 1.852 }
    package var coordinate: Coordinate { Coordinate(latitude: latitude, longitude: longitude) }
}
