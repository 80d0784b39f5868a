/// Great-circle geometry on a spherical Earth (good to about 0.5 % against the WGS84 ellipsoid).
public enum Geo {
    /// The IUGG mean Earth radius.
    public static let earthRadiusMeters = 6_371_008.8

    /// The haversine great-circle distance between two points, in metres.
    ///
    /// Symmetric, zero for identical points and at most π·R (antipodes). Latitudes outside ±90° are not rejected
    /// here; validate positions first (`PositionValidator`).
    public static func distanceMeters(_ a: Coordinate, _ b: Coordinate) -> Double {
        let lat1 = a.latitude * Trig.degreesToRadians
        let lat2 = b.latitude * Trig.degreesToRadians
        return haversine(
            lat1: lat1,
            cosLat1: Trig.cos(lat1),
            lon1: a.longitude * Trig.degreesToRadians,
            lat2: lat2,
            cosLat2: Trig.cos(lat2),
            lon2: b.longitude * Trig.degreesToRadians
        )
    }

    /// The initial bearing of the great circle from `from` to `to`, in degrees clockwise from north in [0, 360).
    ///
    /// 0 when the points coincide.
    public static func bearingDegrees(from: Coordinate, to: Coordinate) -> Double {
        let lat1 = from.latitude * Trig.degreesToRadians
        let lat2 = to.latitude * Trig.degreesToRadians
        let dLon = (to.longitude - from.longitude) * Trig.degreesToRadians
        let y = Trig.sin(dLon) * Trig.cos(lat2)
        let x = Trig.cos(lat1) * Trig.sin(lat2) - Trig.sin(lat1) * Trig.cos(lat2) * Trig.cos(dLon)
        return normalizedDegrees(Trig.atan2(y, x) * Trig.radiansToDegrees)
    }

    /// The point reached by travelling `distanceMeters` along the great circle leaving `from` at `bearingDegrees`.
    ///
    /// The longitude is normalised to [-180, 180). Used by the simulator and tests to place fixes.
    public static func destination(from: Coordinate, bearingDegrees: Double, distanceMeters: Double) -> Coordinate {
        let delta = distanceMeters / earthRadiusMeters
        let theta = bearingDegrees * Trig.degreesToRadians
        let lat1 = from.latitude * Trig.degreesToRadians
        let lon1 = from.longitude * Trig.degreesToRadians
        let sinLat1 = Trig.sin(lat1)
        let cosLat1 = Trig.cos(lat1)
        let sinDelta = Trig.sin(delta)
        let cosDelta = Trig.cos(delta)
        let sinLat2 = min(1, max(-1, sinLat1 * cosDelta + cosLat1 * sinDelta * Trig.cos(theta)))
        let lat2 = Trig.asin(sinLat2)
        let lon2 = lon1 + Trig.atan2(Trig.sin(theta) * sinDelta * cosLat1, cosDelta - sinLat1 * sinLat2)
        var longitude = lon2 * Trig.radiansToDegrees
        longitude = normalizedDegrees(longitude + 180) - 180
        return Coordinate(latitude: lat2 * Trig.radiansToDegrees, longitude: longitude)
    }

    /// `degrees` folded into [0, 360); NaN stays NaN.
    public static func normalizedDegrees(_ degrees: Double) -> Double {
        guard degrees.isFinite else { return degrees.isNaN ? degrees : .nan }
        if degrees >= 0, degrees < 360 { return degrees }
        var d = degrees.truncatingRemainder(dividingBy: 360)
        if d < 0 { d += 360 }
        return d >= 360 ? 0 : d  // -1e-20 + 360 rounds to 360
    }

    /// Haversine on radians with the cosines of the latitudes supplied, so a caller walking a route computes each
    /// stop's cosine once instead of twice.
    @usableFromInline
    static func haversine(
        lat1: Double,
        cosLat1: Double,
        lon1: Double,
        lat2: Double,
        cosLat2: Double,
        lon2: Double
    ) -> Double {
        let sinHalfDLat = Trig.sin((lat2 - lat1) * 0.5)
        let sinHalfDLon = Trig.sin((lon2 - lon1) * 0.5)
        var h = sinHalfDLat * sinHalfDLat + cosLat1 * cosLat2 * sinHalfDLon * sinHalfDLon
        h = min(1, max(0, h))
        let x = h.squareRoot()
        if x < 0.01 {
            // Up to ~127 km (every leg of a delivery route): asin(x) by its Taylor series, whose first omitted term
            // (63/2816·x¹¹) is below 3e-22 relative. Spares the division and table lookup of atan2.
            let x2 = x * x
            let series = 1 + x2 * (1.0 / 6 + x2 * (3.0 / 40 + x2 * (5.0 / 112 + x2 * (35.0 / 1152))))
            return 2 * earthRadiusMeters * (x * series)
        }
        return 2 * earthRadiusMeters * Trig.atan2(x, (1 - h).squareRoot())
    }
}
