package import Domain
import Foundation

/// Drives every driver of a `DemoScenario` along the street grid from stop to stop. Pure and deterministic:
/// no I/O, no clock; the caller passes the time and step.
///
/// Each driver accelerates to a cruise speed that changes every few seconds (vehicle-dependent, 25–50 km/h),
/// slows for turns and the last 60 m before a stop, sometimes waits at a red light (never near a pending stop,
/// so waiting cannot look like an arrival), dwells 45–180 s exactly at the customer (GPS noise aside), then
/// drives on. After the last stop it drives to its depot and parks with the ignition off.
package struct DriverSimulator: Sendable {
    /// What a driver is doing.
    package enum Phase: Hashable, Sendable {
        case driving
        case waitingAtLight(remainingSeconds: Double)
        case dwelling(stopIndex: Int, remainingSeconds: Double)
        case parked
    }

    /// A point along a leg where the driver must be at most `maxSpeed` m/s; a red light has `maxSpeed` 0 and
    /// a positive `waitSeconds`.
    package struct Constraint: Hashable, Sendable {
        package var at: Double
        package var maxSpeed: Double
        package var waitSeconds: Double = 0
    }

    /// One drive between two spots.
    package struct Leg: Hashable, Sendable {
        package enum Destination: Hashable, Sendable {
            case stop(Int)
            case depot
        }
        package var path: [LocalPoint]
        /// Distance along the path at each vertex.
        package var cumulative: [Double]
        package var destination: Destination
        package var constraints: [Constraint]
        package var nextConstraint = 0
        package var length: Double { cumulative.last ?? 0 }

        /// The position `s` metres along the path and the heading of the segment there.
        package func locate(_ s: Double) -> (LocalPoint, course: Double) {
            var i = 1
            while i < cumulative.count - 1, cumulative[i] < s { i += 1 }
            guard i < path.count else { return (path[0], 0) }
            let a = path[i - 1]
            let b = path[i]
            let segment = cumulative[i] - cumulative[i - 1]
            let t = segment > 0 ? max(0, min(1, (s - cumulative[i - 1]) / segment)) : 1
            let course = atan2(b.x - a.x, b.y - a.y) * 180 / .pi
            return (LocalPoint(x: a.x + t * (b.x - a.x), y: a.y + t * (b.y - a.y)), course < 0 ? course + 360 : course)
        }
    }

    /// The full state of one simulated driver.
    package struct DriverState: Sendable {
        package var plan: DemoScenario.DriverPlan
        package var rng: SplitMix64
        package var phase: Phase = .driving
        package var leg: Leg?
        package var along: Double = 0
        package var position: LocalPoint
        package var course: Double = 0
        /// Metres per second.
        package var speed: Double = 0
        package var cruise: Double
        package var cruiseChangeIn: Double = 0
        /// Cruise speeds in m/s for this vehicle.
        package var cruiseRange: ClosedRange<Double>
        package var acceleration: Double
        package var battery: Double
        /// Percent per second.
        package var drain: Double
        package var gpsSigma: Double
        package var altitude: Double
        package var odometer: Double = 0
        package var odometerAtLastFix: Double = 0
        package var ignition = true
        /// Index of the next stop to drive to (== stops.count when only the depot is left).
        package var nextStop = 0
    }

    package static let deceleration = 1.8
    package static let maxSubstep = 0.25

    package let frame: LocalFrame
    package let grid: StreetGrid
    private(set) var drivers: [DriverState]
    private(set) var lastTick: Timestamp

    package init(scenario: DemoScenario, start: Timestamp) {
        frame = scenario.frame
        grid = scenario.grid
        lastTick = start
        let root = SplitMix64(seed: scenario.seed ^ 0x5157_4C41_5449_4F4E)
        drivers = scenario.plans.enumerated().map { index, plan in
            var r = root.derived(UInt64(index) + 1)
            let kmh: ClosedRange<Double> =
                switch plan.vehicleType {
                case .truck: 25...40
                case .van: 25...50
                case .car, .motorcycle: 30...50
                case .bicycle: 12...22
                }
            let range = (kmh.lowerBound / 3.6)...(kmh.upperBound / 3.6)
            // About one driver in eight starts with a nearly empty phone, so low-battery alerts show up.
            let battery = r.chance(0.12) ? r.double(in: 12...22) : r.double(in: 60...100)
            return DriverState(
                plan: plan,
                rng: r,
                position: plan.start.point,
                cruise: r.double(in: range),
                cruiseRange: range,
                acceleration: plan.vehicleType == .truck ? r.double(in: 0.8...1.2) : r.double(in: 1.3...2.2),
                battery: battery,
                drain: r.double(in: 0.0008...0.003),
                gpsSigma: r.double(in: 2.2...3.2),
                altitude: r.double(in: 32...48)
            )
        }
        let grid = grid
        for i in drivers.indices { Self.startNextLeg(&drivers[i], grid: grid) }
    }

    /// Advances every driver by `interval` and returns one fix per driver stamped `now`, in `scenario.drivers`
    /// order.
    package mutating func tick(now: Timestamp, interval: Duration) -> [SimulatedFix] {
        let dt = max(0, interval.secondsValue)
        lastTick = now
        var states = drivers
        drivers = []  // moved out, so the loop below mutates without copying
        var fixes: [SimulatedFix] = []
        fixes.reserveCapacity(states.count)
        for i in states.indices {
            var remaining = dt
            while remaining > 1e-9 {
                let step = min(Self.maxSubstep, remaining)
                advance(&states[i], by: step)
                remaining -= step
            }
            states[i].battery = max(1, states[i].battery - states[i].drain * dt)
            fixes.append(report(&states[i], at: now))
        }
        drivers = states
        return fixes
    }

    // MARK: Motion

    private func advance(_ d: inout DriverState, by dt: Double) {
        switch d.phase {
        case .parked:
            return
        case .dwelling(let stopIndex, let remaining):
            if remaining - dt > 0 {
                d.phase = .dwelling(stopIndex: stopIndex, remainingSeconds: remaining - dt)
            } else {
                Self.startNextLeg(&d, grid: grid)
            }
        case .waitingAtLight(let remaining):
            if remaining - dt > 0 {
                d.phase = .waitingAtLight(remainingSeconds: remaining - dt)
            } else {
                d.phase = .driving
                d.leg?.nextConstraint += 1
            }
        case .driving:
            drive(&d, by: dt)
        }
    }

    private func drive(_ d: inout DriverState, by dt: Double) {
        guard var leg = d.leg else { return }
        d.cruiseChangeIn -= dt
        if d.cruiseChangeIn <= 0 {
            d.cruise = d.rng.double(in: d.cruiseRange)
            d.cruiseChangeIn = d.rng.double(in: 8...25)
        }
        // Highest speed from which every constraint ahead can still be met.
        var allowed = d.cruise
        var k = leg.nextConstraint
        while k < leg.constraints.count, leg.constraints[k].at - d.along < 400 {
            let c = leg.constraints[k]
            allowed = min(
                allowed,
                (c.maxSpeed * c.maxSpeed + 2 * Self.deceleration * max(0, c.at - d.along)).squareRoot()
            )
            k += 1
        }
        allowed = max(allowed, 0.5)
        let newSpeed = d.speed < allowed ? min(allowed, d.speed + d.acceleration * dt) : allowed
        var ds = (d.speed + newSpeed) / 2 * dt
        d.speed = newSpeed

        var arrived = false
        while leg.nextConstraint < leg.constraints.count, d.along + ds >= leg.constraints[leg.nextConstraint].at {
            let c = leg.constraints[leg.nextConstraint]
            guard c.maxSpeed == 0 else {
                leg.nextConstraint += 1
                continue
            }
            ds = max(0, c.at - d.along)
            d.speed = 0
            if c.waitSeconds > 0 {
                d.phase = .waitingAtLight(remainingSeconds: c.waitSeconds)
            } else {
                arrived = true
            }
            break
        }
        d.along = min(leg.length, d.along + ds)
        d.odometer += ds
        let (point, course) = leg.locate(d.along)
        d.position = point
        if ds > 0 { d.course = course }
        d.leg = leg
        if arrived { arrive(&d) }
    }

    private static func startNextLeg(_ d: inout DriverState, grid: StreetGrid) {
        let stops = d.plan.stops
        // Leaving the start, or the stop just served.
        let from = d.nextStop == 0 ? d.plan.start : stops[d.nextStop - 1].spot
        let destination: Leg.Destination = d.nextStop < stops.count ? .stop(d.nextStop) : .depot
        let to = d.nextStop < stops.count ? stops[d.nextStop].spot : d.plan.depot
        let path = grid.path(from: from, to: to)
        var cumulative: [Double] = [0]
        for (a, b) in zip(path, path.dropFirst()) {
            cumulative.append(cumulative[cumulative.count - 1] + a.distance(to: b))
        }
        let length = cumulative[cumulative.count - 1]

        // Stops still pending while driving this leg: no red-light wait may happen near their geofences.
        let pending = stops.dropFirst(d.nextStop)
        var constraints: [Constraint] = []
        for (i, (a, b)) in zip(path, path.dropFirst()).enumerated() {
            for crossing in grid.crossings(from: a, to: b) where d.rng.chance(0.22) {
                let at = cumulative[i] + a.distance(to: crossing)
                let clear = pending.allSatisfy { crossing.distance(to: $0.spot.point) > $0.radiusMeters + 80 }
                if clear, at > 30, at < length - 80 {
                    constraints.append(Constraint(at: at, maxSpeed: 0, waitSeconds: d.rng.double(in: 8...25)))
                }
            }
            if i + 1 < path.count - 1 {  // a turn at the end of this segment
                constraints.append(Constraint(at: cumulative[i + 1], maxSpeed: d.rng.double(in: 4.5...6)))
            }
        }
        if length > 80 { constraints.append(Constraint(at: length - 60, maxSpeed: d.rng.double(in: 4...5.5))) }
        constraints.append(Constraint(at: length, maxSpeed: 0))
        constraints.sort { $0.at < $1.at }

        d.leg = Leg(path: path, cumulative: cumulative, destination: destination, constraints: constraints)
        d.along = 0
        d.speed = 0
        d.position = from.point
        d.phase = .driving
        d.ignition = true
    }

    private func arrive(_ d: inout DriverState) {
        guard let leg = d.leg else { return }
        d.speed = 0
        d.position = leg.path[leg.path.count - 1]
        d.leg = nil
        switch leg.destination {
        case .stop(let index):
            d.phase = .dwelling(stopIndex: index, remainingSeconds: d.rng.double(in: 45...180))
            d.nextStop = index + 1
            d.ignition = false
        case .depot:
            d.phase = .parked
            d.nextStop = d.plan.stops.count + 1
            d.ignition = false
        }
    }

    // MARK: Reporting

    private func report(_ d: inout DriverState, at now: Timestamp) -> SimulatedFix {
        var p = d.position
        p.x += d.rng.gaussian() * d.gpsSigma
        p.y += d.rng.gaussian() * d.gpsSigma
        if d.rng.chance(0.004) {  // multipath outlier
            let angle = d.rng.double(in: 0...(2 * .pi))
            let distance = d.rng.double(in: 20...40)
            p.x += cos(angle) * distance
            p.y += sin(angle) * distance
        }
        let coordinate = frame.coordinate(p)
        let moving = d.speed > 0.05
        let speed = moving ? min(d.cruiseRange.upperBound, max(0.1, d.speed + d.rng.gaussian() * 0.15)) : 0
        var course = moving ? d.course + d.rng.gaussian() * 1.5 : d.course
        course = course.truncatingRemainder(dividingBy: 360)
        if course < 0 { course += 360 }
        let distance = d.odometer - d.odometerAtLastFix
        d.odometerAtLastFix = d.odometer
        return SimulatedFix(
            deviceId: d.plan.deviceId,
            fixTime: now,
            latitude: Self.round(coordinate.latitude, 6),
            longitude: Self.round(coordinate.longitude, 6),
            altitude: Self.round(d.altitude + d.rng.gaussian() * 1.5, 1),
            speedKnots: Self.round(speed / 0.514444, 3),
            course: Self.round(course, 1),
            batteryLevel: max(1, d.battery.rounded(.down)),
            ignition: d.ignition,
            motion: moving,
            distanceMeters: Self.round(distance, 2),
            totalDistanceMeters: Self.round(d.odometer, 2)
        )
    }

    package static func round(_ value: Double, _ digits: Int) -> Double {
        let scale = [1.0, 10, 100, 1_000, 10_000, 100_000, 1_000_000][digits]
        return (value * scale).rounded() / scale
    }
}

extension DriverSimulator {
    /// The phase of every driver, in `scenario.drivers` order (for tests and progress output).
    package var phases: [Phase] { drivers.map(\.phase) }
    /// How many drivers are parked at their depot after the last stop.
    package var parkedCount: Int { drivers.reduce(0) { $0 + ($1.phase == .parked ? 1 : 0) } }
}
