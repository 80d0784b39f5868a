/// Tuning of the arrival estimates.
public struct ETAPolicy: Sendable, Hashable {
    /// Road distance ≈ great-circle distance × `roadFactor`.
    public var roadFactor: Double = 1.3
    /// Weight of the newest moving sample in the speed EWMA.
    public var smoothingAlpha: Double = 0.3
    /// The speed assumed when the driver is stopped or crawling, so ETAs stay finite and plausible.
    public var floorSpeedKmh: Double = 15
    /// Samples below this speed count as stopped: they neither update the EWMA nor make the driver `moving`.
    public var movingThresholdKmh: Double = 3

    public init(
        roadFactor: Double = 1.3,
        smoothingAlpha: Double = 0.3,
        floorSpeedKmh: Double = 15,
        movingThresholdKmh: Double = 3
    ) {
        self.roadFactor = roadFactor
        self.smoothingAlpha = smoothingAlpha
        self.floorSpeedKmh = floorSpeedKmh
        self.movingThresholdKmh = movingThresholdKmh
    }
}

/// One remaining stop, in the order the driver will visit them.
public struct ETAStop: Hashable, Sendable {
    public var visitId: VisitID
    public var customerId: CustomerID
    public var sequenceNumber: Int
    public var location: Coordinate
    public var serviceDurationSeconds: Int
    public var timeWindow: TimeWindow?
    /// The driver is at this stop now (arrived or in progress, not departed).
    public var arrived: Bool
    /// When the driver arrived, if `arrived`: reported as the stop's ETA and used to compute the service time left.
    public var arrivedAt: Timestamp?

    public init(
        visitId: VisitID,
        customerId: CustomerID,
        sequenceNumber: Int,
        location: Coordinate,
        serviceDurationSeconds: Int,
        timeWindow: TimeWindow? = nil,
        arrived: Bool = false,
        arrivedAt: Timestamp? = nil
    ) {
        self.visitId = visitId
        self.customerId = customerId
        self.sequenceNumber = sequenceNumber
        self.location = location
        self.serviceDurationSeconds = serviceDurationSeconds
        self.timeWindow = timeWindow
        self.arrived = arrived
        self.arrivedAt = arrivedAt
    }
}

/// Arrival estimates along the remaining stops of a route.
///
/// Travel time of a leg = great-circle distance × `roadFactor` ÷ max(smoothed speed, `floorSpeedKmh`). Walking the
/// stops in the given order, each stop's ETA is the arrival time; the driver then **waits for the window to open**
/// when early (service starts at max(arrival, window start)), serves for `serviceDurationSeconds`, and leaves for the
/// next stop. A stop is `late` when its ETA is after its window's end. A stop the driver is at (`arrived`) reports its
/// `arrivedAt` (or `now`) as ETA, is late only if that was after the window, and holds the driver until its service
/// would end (counted from max(arrivedAt, window start)), or releases them now if that has already passed.
public struct ETAEstimator: Sendable {
    public var policy: ETAPolicy

    public init(policy: ETAPolicy = .init()) {
        self.policy = policy
    }

    /// The speed EWMA after one more sample. Samples below `movingThresholdKmh` (or not finite) keep `previous`
    /// (0 when there is none); the first moving sample seeds the average.
    public func smoothedSpeed(previous: Double?, current speedKmh: Double) -> Double {
        let previous = previous ?? 0
        guard speedKmh.isFinite, speedKmh >= policy.movingThresholdKmh else { return previous }
        // Every moving sample is ≥ the threshold, so a smaller previous value means "no moving sample yet".
        guard previous >= policy.movingThresholdKmh, previous.isFinite else { return speedKmh }
        return policy.smoothingAlpha * speedKmh + (1 - policy.smoothingAlpha) * previous
    }

    /// ETAs for `stops`, in the order given, for a driver at `from` at `now`.
    public func estimate(
        from: Coordinate,
        at now: Timestamp,
        smoothedSpeedKmh: Double,
        stops: [ETAStop]
    ) -> [StopETA] {
        var result: [StopETA] = []
        result.reserveCapacity(stops.count)
        walk(
            from: from,
            at: now,
            smoothedSpeedKmh: smoothedSpeedKmh,
            count: stops.count,
            leg: { index in
                let s = stops[index]
                return Leg(
                    location: s.location,
                    serviceDurationSeconds: s.serviceDurationSeconds,
                    timeWindow: s.timeWindow,
                    arrived: s.arrived,
                    arrivedAt: s.arrivedAt
                )
            },
            emit: { index, eta, late in
                result.append(
                    StopETA(
                        visitId: stops[index].visitId,
                        customerId: stops[index].customerId,
                        sequenceNumber: stops[index].sequenceNumber,
                        eta: eta,
                        late: late
                    )
                )
            }
        )
        return result
    }

    /// The numbers of one stop: no identifiers, so the walk retains nothing.
    struct Leg {
        var location: Coordinate
        var serviceDurationSeconds: Int
        var timeWindow: TimeWindow?
        var arrived: Bool
        var arrivedAt: Timestamp?
    }

    /// The walk behind `estimate`: reads stop `i` through `leg` and reports its ETA through `emit`, so the enricher
    /// can feed it straight from its visits without building `ETAStop`s.
    @inline(__always)
    func walk(
        from: Coordinate,
        at now: Timestamp,
        smoothedSpeedKmh: Double,
        count: Int,
        leg: (Int) -> Leg,
        emit: (Int, Timestamp, Bool) -> Void
    ) {
        let speed = smoothedSpeedKmh.isFinite ? max(smoothedSpeedKmh, policy.floorSpeedKmh) : policy.floorSpeedKmh
        let msPerMeter = policy.roadFactor / (speed / 3.6) * 1000
        let nowMs = Double(now.millisecondsSinceEpoch)
        var clock = nowMs  // milliseconds; exact in a Double well beyond any route's span
        // Leg lengths use a local equirectangular projection around the driver (one cosine per call, none per
        // stop): within a delivery area (tens of km) it is within 0.5 % of haversine, far inside the road
        // factor's own uncertainty, and it keeps a 50-stop ETA walk well under a microsecond.
        let metersPerRadian = Geo.earthRadiusMeters
        let cosLat = Trig.cos(from.latitude * Trig.degreesToRadians)
        var lat = from.latitude * Trig.degreesToRadians
        var lon = from.longitude * Trig.degreesToRadians
        for index in 0..<count {
            let s = leg(index)
            let stopLat = s.location.latitude * Trig.degreesToRadians
            let stopLon = s.location.longitude * Trig.degreesToRadians
            let eta: Timestamp
            let arrivalMs: Double
            if s.arrived {
                eta = s.arrivedAt ?? now
                arrivalMs = Double(eta.millisecondsSinceEpoch)
                clock = max(clock, nowMs)
            } else {
                let dx = (stopLon - lon) * cosLat
                let dy = stopLat - lat
                let meters = (dx * dx + dy * dy).squareRoot() * metersPerRadian
                clock += meters * msPerMeter
                arrivalMs = clock
                eta = Timestamp(millisecondsSinceEpoch: Self.roundedMilliseconds(clock))
            }
            emit(index, eta, s.timeWindow.map { eta > $0.end } ?? false)
            var serviceStart = arrivalMs
            if let window = s.timeWindow {
                serviceStart = max(serviceStart, Double(window.start.millisecondsSinceEpoch))
            }
            // For the stop the driver is at, only the service time still left delays the next legs.
            clock = max(clock, serviceStart + Double(max(0, s.serviceDurationSeconds)) * 1000)
            lat = stopLat
            lon = stopLon
        }
    }

    /// Nearest whole millisecond without a libm call (`rounded()` is one on baseline x86-64).
    @inline(__always)
    static func roundedMilliseconds(_ ms: Double) -> Int64 {
        guard ms >= 0, ms < 9e15 else { return Int64(ms.rounded()) }
        return Int64(ms + 0.5)
    }
}
