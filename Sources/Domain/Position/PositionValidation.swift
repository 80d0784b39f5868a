/// Speed unit conversions.
public enum Speed {
    /// Kilometres per hour from knots (Traccar reports speed in knots); 1 kn = 1.852 km/h exactly.
    public static func kmh(fromKnots knots: Double) -> Double { knots * 1.852 }
}

/// A GPS fix that cannot be used, naming the offending field.
public struct PositionValidationError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The `RawPosition` property at fault (`latitude`, `longitude`, `speedKmh`, `course`, `batteryLevel`,
    /// `fixTime`).
    public var field: String
    /// Why the value was rejected, without echoing the value itself.
    public var reason: String
    /// Set when `fixTime` is refused: the device's clock is wrong (ahead, or reset to 1970 / a GPS week
    /// rollover), or the fix is older than anything history keeps. Counted apart from other invalid fixes.
    public var clock: ClockError?

    /// Why a fix time is refused.
    public enum ClockError: String, Hashable, Sendable {
        /// More than `PositionValidator.maxFutureSkew` after the server's clock.
        case future
        /// Before the history retention window (a device clock reset, or data too old to keep).
        case beforeRetention = "before_retention"
    }

    public init(field: String, reason: String, clock: ClockError? = nil) {
        self.field = field
        self.reason = reason
        self.clock = clock
    }

    public var description: String { "invalid position \(field): \(reason)" }
}

/// The rules a fix must pass before it is enriched, stored or published.
public enum PositionValidator {
    /// How far `fixTime` may lie after the server's `now` (device clocks drift).
    public static let maxFutureSkew: Duration = .seconds(300)

    /// How long history keeps a fix by default (`tracker.history.retention.days`, 365).
    public static let defaultRetention: Duration = .seconds(365 * 86_400)

    /// Checks, in this order: latitude finite and in [-90, 90]; longitude finite and in [-180, 180]; speed finite
    /// and ≥ 0; course finite (any finite heading is accepted, enrichment folds it into [0, 360)); battery level, if
    /// present, finite and in [0, 100]; `fixTime` at most `maxFutureSkew` after `now` (exactly 5 minutes is
    /// accepted) and not before `now - retention` (exactly the retention is accepted). Older fixes within the
    /// retention are valid: they are stored as history in their place on the track (and change nothing live:
    /// `Enricher`). `valid == false` (Traccar's "no GPS lock") is not rejected here.
    public static func validate(
        _ p: RawPosition,
        now: Timestamp,
        retention: Duration = defaultRetention
    ) throws(PositionValidationError) {
        guard p.latitude.isFinite else { throw .init(field: "latitude", reason: "must be a finite number") }
        guard (-90.0...90.0).contains(p.latitude) else {
            throw .init(field: "latitude", reason: "must be between -90 and 90")
        }
        guard p.longitude.isFinite else { throw .init(field: "longitude", reason: "must be a finite number") }
        guard (-180.0...180.0).contains(p.longitude) else {
            throw .init(field: "longitude", reason: "must be between -180 and 180")
        }
        guard p.speedKmh.isFinite else { throw .init(field: "speedKmh", reason: "must be a finite number") }
        guard p.speedKmh >= 0 else { throw .init(field: "speedKmh", reason: "must not be negative") }
        guard p.course.isFinite else { throw .init(field: "course", reason: "must be a finite number") }
        if let battery = p.batteryLevel {
            guard battery.isFinite else { throw .init(field: "batteryLevel", reason: "must be a finite number") }
            guard (0.0...100.0).contains(battery) else {
                throw .init(field: "batteryLevel", reason: "must be between 0 and 100")
            }
        }
        guard p.fixTime <= now + maxFutureSkew else {
            throw .init(field: "fixTime", reason: "is more than 5 minutes in the future", clock: .future)
        }
        guard p.fixTime >= now - retention else {
            let days = retention.components.seconds / 86_400
            throw .init(
                field: "fixTime",
                reason: "is older than the history retention (\(days) days): a device clock reset?",
                clock: .beforeRetention
            )
        }
    }
}
