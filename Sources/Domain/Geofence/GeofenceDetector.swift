/// Tuning of arrival and departure detection.
public struct GeofencePolicy: Sendable, Hashable {
    /// How long the driver must stay inside a circle before arriving, and outside the exit ring before departing.
    public var dwell: Duration = .seconds(30)
    /// The exit ring is `radius × exitHysteresis`, so GPS jitter at the edge does not flap arrive/depart.
    public var exitHysteresis: Double = 1.25

    public init(dwell: Duration = .seconds(30), exitHysteresis: Double = 1.25) {
        self.dwell = dwell
        self.exitHysteresis = exitHysteresis
    }
}

/// A circle the driver may arrive at: one open visit of the active route at its customer's location.
public struct GeofenceCandidate: Hashable, Sendable {
    public var visitId: VisitID
    public var customerId: CustomerID
    public var center: Coordinate
    public var radiusMeters: Double
    /// False for a visit the driver is `.inside` that has since been closed (completed through the API): its circle
    /// still measures the departure, but it can no longer be arrived at.
    public var acceptsArrival: Bool

    public init(
        visitId: VisitID,
        customerId: CustomerID,
        center: Coordinate,
        radiusMeters: Double,
        acceptsArrival: Bool = true
    ) {
        self.visitId = visitId
        self.customerId = customerId
        self.center = center
        self.radiusMeters = radiusMeters
        self.acceptsArrival = acceptsArrival
    }
}

/// What a fix made the detector decide.
public enum GeofenceTransition: Hashable, Sendable {
    /// The driver stayed inside the visit's circle for the dwell time.
    case arrived(VisitID)
    /// The driver stayed outside the visit's exit ring for the dwell time.
    case departed(VisitID)
}

/// Arrival/departure detection with dwell time and exit hysteresis, one fix at a time.
///
/// A pure transition function over `GeofencePhase`; the caller persists the phase with the driver snapshot and feeds
/// fixes in time order. Rules:
/// - From `.outside`, entering the radius of a candidate that accepts arrival starts `.entering` (the nearest circle
///   wins when several overlap; ties go to the earlier candidate, so pass them in sequence order).
/// - `.entering(v)` arrives once the driver has been inside continuously for `dwell` (`at - since >= dwell`). Leaving
///   every circle returns to `.outside`; if another circle becomes the nearest, the count restarts for it. A visit
///   that is no longer a candidate is forgotten.
/// - `.inside(v)` starts `.leaving` once beyond `radius × exitHysteresis`; coming back within that ring cancels it;
///   `dwell` outside departs (then, if inside another circle, `.entering` it starts at once).
/// - If `v` of `.inside`/`.leaving` was closed (candidate with `acceptsArrival == false`) and the driver sits inside
///   another open circle at least as near as `v`'s centre (a second visit at the same customer), that visit starts
///   `.entering`, without a departure. If `v` is no longer a candidate at all, nothing is left to measure: the phase
///   resets to `.outside` (or `.entering` another circle), without a departure.
public struct GeofenceDetector: Sendable {
    public var policy: GeofencePolicy

    public init(policy: GeofencePolicy = .init()) {
        self.policy = policy
    }

    /// Advances `phase` by the fix at `position`, `at`. `candidates` are the open visits of the active route in
    /// sequence order.
    public func step(
        phase: GeofencePhase,
        position: Coordinate,
        at: Timestamp,
        candidates: [GeofenceCandidate]
    ) -> (phase: GeofencePhase, transition: GeofenceTransition?) {
        let probe = Probe(position)
        switch phase {
        case .outside:
            return enter(probe, at: at, candidates: candidates)

        case .entering(let visitId, let since):
            guard let nearest = nearestContaining(probe, candidates) else { return (.outside, nil) }
            let candidate = candidates[nearest.index]
            guard candidate.visitId == visitId else { return start(candidate.visitId, at: at) }
            if at - since >= policy.dwell { return (.inside(visitId: visitId), .arrived(visitId)) }
            return (phase, nil)

        case .inside(let visitId), .leaving(let visitId, _):
            guard let index = candidates.firstIndex(where: { $0.visitId == visitId }) else {
                return enter(probe, at: at, candidates: candidates, allowImmediateArrival: false)
            }
            let candidate = candidates[index]
            let distance = probe.distance(to: candidate.center)
            if !candidate.acceptsArrival, let other = nearestContaining(probe, candidates),
                other.distance <= distance
            {
                return start(candidates[other.index].visitId, at: at, allowImmediateArrival: false)
            }
            if distance <= candidate.radiusMeters * policy.exitHysteresis { return (.inside(visitId: visitId), nil) }
            let since: Timestamp
            if case .leaving(_, let leavingSince) = phase { since = leavingSince } else { since = at }
            guard at - since >= policy.dwell else { return (.leaving(visitId: visitId, since: since), nil) }
            let next = enter(probe, at: at, candidates: candidates, allowImmediateArrival: false)
            return (next.phase, .departed(visitId))
        }
    }

    private func enter(
        _ probe: Probe,
        at: Timestamp,
        candidates: [GeofenceCandidate],
        allowImmediateArrival: Bool = true
    ) -> (phase: GeofencePhase, transition: GeofenceTransition?) {
        guard let nearest = nearestContaining(probe, candidates) else { return (.outside, nil) }
        return start(candidates[nearest.index].visitId, at: at, allowImmediateArrival: allowImmediateArrival)
    }

    private func start(
        _ visitId: VisitID,
        at: Timestamp,
        allowImmediateArrival: Bool = true
    ) -> (phase: GeofencePhase, transition: GeofenceTransition?) {
        // A zero dwell arrives on the first fix inside; after a departure it waits one fix so a step reports at most
        // one transition.
        if allowImmediateArrival, policy.dwell <= .zero { return (.inside(visitId: visitId), .arrived(visitId)) }
        return (.entering(visitId: visitId, since: at), nil)
    }

    /// The nearest arrivable candidate whose circle contains the probe (first one on ties).
    private func nearestContaining(
        _ probe: Probe,
        _ candidates: [GeofenceCandidate]
    )
        -> (index: Int, distance: Double)?
    {
        var best: (index: Int, distance: Double)?
        for index in candidates.indices {
            let candidate = candidates[index]
            guard candidate.acceptsArrival, probe.mayBeWithin(candidate.radiusMeters, of: candidate.center) else {
                continue
            }
            let distance = probe.distance(to: candidate.center)
            if distance <= candidate.radiusMeters, distance < (best?.distance ?? .infinity) {
                best = (index, distance)
            }
        }
        return best
    }
}

/// A fix with its trigonometry done once, for measuring against many circles.
struct Probe {
    let latitude: Double
    let longitude: Double
    let cosLatitude: Double

    init(_ position: Coordinate) {
        latitude = position.latitude * Trig.degreesToRadians
        longitude = position.longitude * Trig.degreesToRadians
        cosLatitude = Trig.cos(latitude)
    }

    /// False when `center` is certainly farther than `meters`, judged by latitude alone (no trigonometry): the
    /// great-circle distance is at least the meridian distance between the two latitudes.
    func mayBeWithin(_ meters: Double, of center: Coordinate) -> Bool {
        let dLat = (center.latitude * Trig.degreesToRadians - latitude).magnitude
        return dLat * Geo.earthRadiusMeters <= meters * 1.000_001 + 0.01
    }

    func distance(to center: Coordinate) -> Double {
        let lat = center.latitude * Trig.degreesToRadians
        return Geo.haversine(
            lat1: latitude,
            cosLat1: cosLatitude,
            lon1: longitude,
            lat2: lat,
            cosLat2: Trig.cos(lat),
            lon2: center.longitude * Trig.degreesToRadians
        )
    }
}
