package import Application
package import Domain
import Foundation

/// A deterministic demo tenant: a Manhattan street grid around a city centre, customers on its streets,
/// drivers with devices, and one route per driver for one day.
///
/// Everything derives from `seed` (and `now` for the time windows), so the same arguments always give the
/// same data. The simulator (`DriverSimulator`) drives exactly the street paths this scenario was checked
/// against: a route's later stops never lie on an earlier leg, so no visit is "arrived" out of sequence.
package struct DemoScenario: Sendable {
    /// Berlin Mitte, the default centre.
    package static let berlin = Coordinate(latitude: 52.5200, longitude: 13.4050)
    package static let defaultTenantId: TenantID = "demo"

    /// One stop of a driver's plan, with what the simulator needs to drive there.
    package struct Stop: Hashable, Sendable {
        package var visitId: VisitID
        package var customerId: CustomerID
        package var spot: StreetGrid.Spot
        package var radiusMeters: Double
        package var location: Coordinate
    }

    /// Where a driver starts, which stops it drives to in order, and where it parks afterwards.
    package struct DriverPlan: Hashable, Sendable {
        package var driverId: DriverID
        package var deviceId: DeviceID
        package var vehicleType: VehicleType
        package var start: StreetGrid.Spot
        package var stops: [Stop]
        package var depot: StreetGrid.Spot
    }

    package let tenantId: TenantID
    package let seed: UInt64
    package let date: CalendarDate
    package let frame: LocalFrame
    package let grid: StreetGrid
    package let customers: [(id: CustomerID, input: NewCustomer)]
    package let drivers: [NewDriver]
    package let routes: [NewRoute]
    /// Every street as one segment across the grid, for a dashboard basemap.
    package let streets: [(from: Coordinate, to: Coordinate)]
    /// The depots drivers return to after their last stop.
    package let depots: [Coordinate]
    /// One plan per driver, in `drivers` order.
    package let plans: [DriverPlan]

    package var center: Coordinate { frame.center }

    /// Builds the scenario for `drivers` drivers with routes on `date`, time windows placed around the
    /// estimated arrival times when driving starts at `now`.
    package static func make(
        drivers: Int,
        date: CalendarDate,
        now: Timestamp,
        seed: UInt64 = 42,
        center: Coordinate = DemoScenario.berlin,
        tenantId: TenantID = DemoScenario.defaultTenantId
    )
        -> DemoScenario
    {
        var builder = Builder(driverCount: max(0, drivers), date: date, now: now, seed: seed, center: center)
        return builder.build(tenantId: tenantId)
    }
}

// MARK: - Generation

extension DemoScenario {
    /// Minimum straight-line distance between any two customers of one route.
    package static let minStopSpacingMeters: Double = 300
    /// Minimum distance between any two customers of the tenant.
    package static let minCustomerSpacingMeters: Double = 40

    private struct Builder {
        let driverCount: Int
        let date: CalendarDate
        let now: Timestamp
        let seed: UInt64
        let frame: LocalFrame
        var rng: SplitMix64
        let grid: StreetGrid
        /// Spatial hash of all customer positions (100 m cells).
        var occupied: [Int64: [LocalPoint]] = [:]

        init(driverCount: Int, date: CalendarDate, now: Timestamp, seed: UInt64, center: Coordinate) {
            self.driverCount = driverCount
            self.date = date
            self.now = now
            self.seed = seed
            self.frame = LocalFrame(center: center)
            self.rng = SplitMix64(seed: seed)
            let halfExtent = 1_500 + 650 * Double(max(1, driverCount)).squareRoot()
            var gridRNG = rng.derived(1)
            self.grid = StreetGrid.make(halfExtent: halfExtent, blockRange: 150...250, rng: &gridRNG)
        }

        mutating func build(tenantId: TenantID) -> DemoScenario {
            // Route and visit ids carry the day, so a durable store keeps each day's plan apart.
            let day = date.description.replacingOccurrences(of: "-", with: "")
            var depotRNG = rng.derived(2)
            let depotCount = max(1, (driverCount + 24) / 25)
            var depotSpots: [StreetGrid.Spot] = []
            for _ in 0..<depotCount { depotSpots.append(randomSpot(rng: &depotRNG, inset: 300)) }
            var depotSlots = [Int](repeating: 0, count: depotCount)

            var customers: [(id: CustomerID, input: NewCustomer)] = []
            var drivers: [NewDriver] = []
            var routes: [NewRoute] = []
            var plans: [DriverPlan] = []
            var customerNumber = 0

            for index in 0..<driverCount {
                var r = rng.derived(1_000 + UInt64(index))
                let number = index + 1
                let driverId = DriverID("drv-\(Self.pad(number, 4))")
                let deviceId = DeviceID("dev-\(Self.pad(number, 4))")
                let vehicle: VehicleType = {
                    let roll = r.double(in: 0...1)
                    return roll < 0.70 ? .van : roll < 0.82 ? .car : roll < 0.94 ? .truck : .motorcycle
                }()
                let name = "\(r.pick(Names.first)) \(r.pick(Names.last))"
                drivers.append(
                    NewDriver(
                        id: driverId,
                        deviceId: deviceId,
                        name: name,
                        phone: "+49 15\(r.int(in: 1...9)) \(Self.pad(r.int(in: 0...9_999_999), 7))",
                        vehiclePlate: "B-DT \(1000 + number)",
                        vehicleType: vehicle
                    )
                )

                let (start, stopSpots) = planStops(count: r.int(in: 5...8), rng: &r)
                var stops: [Stop] = []
                var visits: [NewVisit] = []
                // Estimated arrival per stop when driving starts now (~27 km/h average, mean dwell).
                var eta = now.secondsSinceEpoch
                var previous = start
                for (k, spotAndRadius) in stopSpots.enumerated() {
                    customerNumber += 1
                    let (spot, radius) = spotAndRadius
                    let customerId = CustomerID("cust-\(Self.pad(customerNumber, 5))")
                    let location = frame.coordinate(spot.point)
                    let kind = r.pick(Names.businesses)
                    customers.append(
                        (
                            customerId,
                            NewCustomer(
                                name: "\(kind.prefix) \(r.pick(Names.last))",
                                phone: "+49 30 \(Self.pad(r.int(in: 0...99_999_999), 8))",
                                address: address(of: spot),
                                latitude: Self.round6(location.latitude),
                                longitude: Self.round6(location.longitude),
                                geofenceRadiusMeters: radius,
                                customerType: kind.type
                            )
                        )
                    )
                    let visitId = VisitID("visit-\(day)-\(Self.pad(number, 4))-\(Self.pad(k + 1, 2))")
                    stops.append(
                        Stop(
                            visitId: visitId,
                            customerId: customerId,
                            spot: spot,
                            radiusMeters: radius,
                            location: Coordinate(
                                latitude: Self.round6(location.latitude),
                                longitude: Self.round6(location.longitude)
                            )
                        )
                    )

                    eta += StreetGrid.length(grid.path(from: previous, to: spot)) / 7.5 + 15
                    visits.append(
                        NewVisit(
                            id: visitId,
                            customerId: customerId,
                            sequenceNumber: k + 1,
                            visitType: {
                                let v = r.double(in: 0...1)
                                return v < 0.8 ? .delivery : v < 0.92 ? .pickup : .service
                            }(),
                            timeWindow: timeWindow(around: eta, rng: &r),
                            serviceDurationSeconds: r.int(in: 24...120) * 5
                        )
                    )
                    eta += 110
                    previous = spot
                }
                routes.append(
                    NewRoute(
                        id: RouteID("route-\(day)-\(Self.pad(number, 4))"),
                        driverId: driverId,
                        scheduledDate: date,
                        visits: visits
                    )
                )

                // Park at the depot nearest to the last stop, 8 m apart along its street.
                let last = stopSpots.last?.0.point ?? start.point
                let depotIndex =
                    depotSpots.indices.min {
                        depotSpots[$0].point.distance(to: last) < depotSpots[$1].point.distance(to: last)
                    } ?? 0
                let slot = depotSlots[depotIndex]
                depotSlots[depotIndex] += 1
                let base = depotSpots[depotIndex]
                let shift = Double((slot % 40) / 2 + 1) * 8 * (slot % 2 == 0 ? 1 : -1)
                let depot = clamp(base, shiftedBy: shift)
                plans.append(
                    DriverPlan(
                        driverId: driverId,
                        deviceId: deviceId,
                        vehicleType: vehicle,
                        start: start,
                        stops: stops,
                        depot: depot
                    )
                )
            }

            var streets: [(from: Coordinate, to: Coordinate)] = []
            for x in grid.xs {
                streets.append(
                    (
                        frame.coordinate(LocalPoint(x: x, y: grid.minY)),
                        frame.coordinate(LocalPoint(x: x, y: grid.maxY))
                    )
                )
            }
            for y in grid.ys {
                streets.append(
                    (
                        frame.coordinate(LocalPoint(x: grid.minX, y: y)),
                        frame.coordinate(LocalPoint(x: grid.maxX, y: y))
                    )
                )
            }
            return DemoScenario(
                tenantId: tenantId,
                seed: seed,
                date: date,
                frame: frame,
                grid: grid,
                customers: customers,
                drivers: drivers,
                routes: routes,
                streets: streets,
                depots: depotSpots.map { frame.coordinate($0.point) },
                plans: plans
            )
        }

        // MARK: Stops

        /// A start spot and `count` stops (with geofence radii) for one driver: stops ≥ 300 m apart, ≥ 40 m
        /// from every other customer, and no later stop within its radius + 40 m of an earlier leg's path.
        mutating func planStops(
            count: Int,
            rng r: inout SplitMix64
        )
            -> (start: StreetGrid.Spot, stops: [(StreetGrid.Spot, Double)])
        {
            var fallback: (StreetGrid.Spot, [(StreetGrid.Spot, Double)])?
            for _ in 0..<40 {
                let first = randomSpot(rng: &r, inset: 600)
                guard isFree(first.point) else { continue }
                let start = startSpot(near: first, rng: &r)
                var stops: [(StreetGrid.Spot, Double)] = [(first, (r.double(in: 60...120)).rounded())]
                var legs: [[LocalPoint]] = [grid.path(from: start, to: first)]
                while stops.count < count {
                    var placed = false
                    for _ in 0..<200 {
                        let candidate = nearbySpot(stops[stops.count - 1].0.point, rng: &r)
                        let radius = (r.double(in: 60...120)).rounded()
                        guard isFree(candidate.point),
                            stops.allSatisfy({ groundDistance($0.0.point, candidate.point) >= minStopSpacing }),
                            // Every earlier leg (driven while this stop is pending) keeps clear of its geofence.
                            legs.allSatisfy({
                                StreetGrid.distance(from: candidate.point, to: $0) >= radius + 40
                            })
                        else { continue }
                        legs.append(grid.path(from: stops[stops.count - 1].0, to: candidate))
                        stops.append((candidate, radius))
                        placed = true
                        break
                    }
                    if !placed { break }
                }
                if stops.count == count {
                    for (spot, _) in stops { occupy(spot.point) }
                    return (start, stops)
                }
                if fallback == nil || stops.count > fallback!.1.count { fallback = (start, stops) }
            }
            // Crowded grid (should not happen with the default sizing): use the longest plan found.
            let (start, stops) = fallback ?? (randomSpot(rng: &r, inset: 600), [])
            for (spot, _) in stops { occupy(spot.point) }
            return (start, stops)
        }

        var minStopSpacing: Double { DemoScenario.minStopSpacingMeters + 2 }

        /// Great-circle distance, free of the projection's distortion far from the centre.
        func groundDistance(_ a: LocalPoint, _ b: LocalPoint) -> Double {
            Geo.distanceMeters(frame.coordinate(a), frame.coordinate(b))
        }

        /// A spot on the first stop's street, 150–500 m away, so the first arrival happens within a minute or two.
        mutating func startSpot(near first: StreetGrid.Spot, rng r: inout SplitMix64) -> StreetGrid.Spot {
            let distance = r.double(in: 150...500).rounded()
            let (along, lo, hi): (Double, Double, Double) =
                switch first.street {
                case .vertical: (first.point.y, grid.minY, grid.maxY)
                case .horizontal: (first.point.x, grid.minX, grid.maxX)
                }
            var sign: Double = r.chance(0.5) ? 1 : -1
            if along + sign * distance > hi - 20 || along + sign * distance < lo + 20 { sign = -sign }
            return grid.spot(on: first.street, at: along + sign * distance)
        }

        /// A spot on a random street 350–1400 m from `p`.
        mutating func nearbySpot(_ p: LocalPoint, rng r: inout SplitMix64) -> StreetGrid.Spot {
            for _ in 0..<50 {
                let vertical = r.chance(0.5)
                let lines = vertical ? grid.xs : grid.ys
                let across = vertical ? p.x : p.y
                let candidates = lines.indices.filter { abs(lines[$0] - across) <= 1_100 }
                guard !candidates.isEmpty else { continue }
                let line = r.pick(candidates)
                let along = (vertical ? p.y : p.x) + r.double(in: -1_100...1_100)
                let (lo, hi) = vertical ? (grid.minY, grid.maxY) : (grid.minX, grid.maxX)
                guard along > lo + 60, along < hi - 60 else { continue }
                let spot = grid.spot(on: vertical ? .vertical(line) : .horizontal(line), at: along.rounded())
                let d = spot.point.distance(to: p)
                if d >= 350, d <= 1_400 { return spot }
            }
            return randomSpot(rng: &r, inset: 600)
        }

        /// A random spot at least `inset` metres inside the grid's edge.
        func randomSpot(rng r: inout SplitMix64, inset: Double) -> StreetGrid.Spot {
            let vertical = r.chance(0.5)
            let lines = vertical ? grid.xs : grid.ys
            let (lo, hi) = vertical ? (grid.minY, grid.maxY) : (grid.minX, grid.maxX)
            let inner = lines.indices.filter {
                lines[$0] > lines[0] + inset && lines[$0] < lines[lines.count - 1] - inset
            }
            let line = inner.isEmpty ? lines.count / 2 : r.pick(inner)
            let along = r.double(in: (lo + inset)...max(lo + inset, hi - inset)).rounded()
            return grid.spot(on: vertical ? .vertical(line) : .horizontal(line), at: along)
        }

        func clamp(_ spot: StreetGrid.Spot, shiftedBy shift: Double) -> StreetGrid.Spot {
            switch spot.street {
            case .vertical:
                grid.spot(on: spot.street, at: min(grid.maxY - 10, max(grid.minY + 10, spot.point.y + shift)))
            case .horizontal:
                grid.spot(on: spot.street, at: min(grid.maxX - 10, max(grid.minX + 10, spot.point.x + shift)))
            }
        }

        // MARK: Spacing between all customers

        private static func cell(_ x: Double, _ y: Double) -> Int64 {
            (Int64((x / 100).rounded(.down)) << 32) ^ (Int64((y / 100).rounded(.down)) & 0xFFFF_FFFF)
        }

        func isFree(_ p: LocalPoint) -> Bool {
            for dx in -1...1 {
                for dy in -1...1 {
                    let key = Self.cell(p.x + Double(dx) * 100, p.y + Double(dy) * 100)
                    if occupied[key]?.contains(where: { $0.distance(to: p) < DemoScenario.minCustomerSpacingMeters })
                        == true
                    {
                        return false
                    }
                }
            }
            return true
        }

        mutating func occupy(_ p: LocalPoint) { occupied[Self.cell(p.x, p.y), default: []].append(p) }

        // MARK: Text

        func address(of spot: StreetGrid.Spot) -> String {
            let (name, along): (String, Double) =
                switch spot.street {
                case .vertical(let i): (Names.street(i, vertical: true), spot.point.y - grid.minY)
                case .horizontal(let j): (Names.street(j, vertical: false), spot.point.x - grid.minX)
                }
            return "\(name) \(Int(along / 12) % 180 + 1), Berlin"
        }

        /// A 1–2 h window around the estimated arrival; about one in five ends around it (tight or late).
        mutating func timeWindow(around eta: Double, rng r: inout SplitMix64) -> TimeWindow {
            let length = r.double(in: 60...120) * 60
            let start: Double
            if r.chance(0.2) {
                start = eta + r.double(in: -8...4) * 60 - length
            } else {
                start = eta - r.double(in: 10...min(70, length / 60 - 10)) * 60
            }
            let step = 300.0
            let s = (start / step).rounded(.down) * step
            let e = ((start + length) / step).rounded() * step
            return TimeWindow(
                start: Timestamp(secondsSinceEpoch: s),
                end: Timestamp(secondsSinceEpoch: max(e, s + 3_600))
            )
        }

        static func pad(_ value: Int, _ width: Int) -> String {
            let s = String(value)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }

        static func round6(_ v: Double) -> Double { (v * 1_000_000).rounded() / 1_000_000 }
    }
}

/// Word lists for plausible German names.
private enum Names {
    static let first = [
        "Anna", "Ben", "Clara", "David", "Elif", "Felix", "Greta", "Hannes", "Ida", "Jonas", "Katrin", "Lukas",
        "Mia", "Niklas", "Olga", "Paul", "Rosa", "Stefan", "Tarek", "Ute", "Viktor", "Wiebke", "Yusuf", "Zoe",
        "Murat", "Lena", "Tobias", "Sophie", "Erik", "Leonie", "Mehmet", "Johanna",
    ]
    static let last = [
        "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann",
        "Koch", "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Schwarz", "Zimmermann", "Braun", "Krüger",
        "Hofmann", "Hartmann", "Lange", "Schmitt", "Werner", "Krause", "Meier", "Lehmann", "Schmid", "Yılmaz",
        "Kaya", "Nowak", "Kowalski", "Öztürk", "Peters", "Vogel",
    ]
    static let businesses: [(prefix: String, type: String)] = [
        ("Bäckerei", "bakery"), ("Apotheke", "pharmacy"), ("Café", "cafe"), ("Blumen", "retail"),
        ("Getränke", "retail"), ("Praxis Dr.", "medical"), ("Kanzlei", "office"), ("Buchhandlung", "retail"),
        ("Elektro", "trade"), ("Optik", "retail"), ("Feinkost", "grocery"), ("Fahrräder", "retail"),
        ("Weinhandlung", "retail"), ("Autohaus", "trade"), ("Salon", "services"), ("Späti", "grocery"),
        ("Restaurant", "restaurant"), ("Bio-Markt", "grocery"), ("Tischlerei", "trade"), ("Hotel", "hospitality"),
    ]
    static let roots = [
        "Linden", "Kastanien", "Birken", "Ahorn", "Eichen", "Rosen", "Tulpen", "Garten", "Mühlen", "Brunnen",
        "Schul", "Kirch", "Markt", "Post", "Bahnhof", "Hafen", "Wald", "Feld", "Wiesen", "Berg", "See", "Fluss",
        "Schiller", "Goethe", "Lessing", "Heine", "Fontane", "Humboldt", "Kant", "Herder", "Brecht", "Mozart",
        "Bach", "Händel", "Dürer", "Menzel", "Liebermann", "Kollwitz", "Zille", "Virchow",
    ]

    static func street(_ index: Int, vertical: Bool) -> String {
        let suffixes = vertical ? ["straße", "allee", "ring"] : ["weg", "damm", "ufer"]
        return roots[index % roots.count] + suffixes[(index / roots.count) % suffixes.count]
    }
}
