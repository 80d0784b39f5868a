package import ArgumentParser
import Composition
package import Domain
import Simulation

/// `tracker bench ...`: benchmarks that print figures (never timed unit tests).
package struct BenchCommand: AsyncParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Run a benchmark and print its figures.",
        subcommands: [
            EnrichBench.self, IngestBench.self, CodecBench.self, HistoryBench.self, BusBench.self, PushBench.self,
            KafkaBench.self, RedisBench.self, CDCBench.self,
        ]
    )
}

/// Enrichment cost per position against a 50-stop route (goal ≤ 5 µs).
package struct EnrichBench: AsyncParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "enrich",
        abstract: "Time the pure enrichment function per position (50-stop route)."
    )

    @Option(help: "Positions to enrich per round.")
    package var positions: Int = 200_000

    @Option(help: "Rounds (the best and median are reported).")
    package var rounds: Int = 5

    @Option(help: "Stops on the route.")
    package var stops: Int = 50

    package func validate() throws {
        guard positions > 0, rounds > 0, (1...500).contains(stops) else {
            throw ValidationError("--positions and --rounds must be positive, --stops within 1–500")
        }
    }

    package func run() async throws {
        let fixture = EnrichmentFixture(stops: stops)
        let enricher = Enricher()
        var perPosition: [Double] = []
        var sink = 0.0
        for round in 1...rounds {
            var previous: DriverSnapshot? = nil
            let clock = ContinuousClock()
            let start = clock.now
            for i in 0..<positions {
                let output = enricher.enrich(fixture.input(index: i, previous: previous))
                previous = output.snapshot
                sink += output.position.distanceToNextMeters ?? 0
            }
            let elapsed = clock.now - start
            let ns = Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9
            perPosition.append(ns / Double(positions))
            print("round \(round): \(format(ns / Double(positions) / 1000)) µs/position")
        }
        perPosition.sort()
        print(
            "enrich: \(stops)-stop route, \(positions) positions × \(rounds) rounds: best "
                + "\(format(perPosition[0] / 1000)) µs, median \(format(perPosition[perPosition.count / 2] / 1000)) µs "
                + "per position (goal ≤ 5 µs) [checksum \(Int(sink) % 1000)]"
        )
    }
}

/// The `p` quantile (0...1) of ascending `sorted` values; 0 when empty.
package func percentile(_ sorted: [Double], _ p: Double) -> Double {
    sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
}

package func format(_ value: Double, digits: Int = 2) -> String {
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let rounded = (value * scale).rounded() / scale
    return "\(rounded)"
}

/// A driver on a 50-stop route moving along it at 1 Hz.
package struct EnrichmentFixture {
    package let driver: Driver
    package let route: Route
    package let visits: [PlannedVisit]
    package let customers: [CustomerID: Customer]
    package let path: [Coordinate]

    package init(stops: Int) {
        let tenant: TenantID = "bench"
        let date = CalendarDate(year: 2026, month: 11, day: 29)
        driver = Driver(id: "drv-bench", tenantId: tenant, deviceId: "dev-bench", name: "Bench Driver")
        var customers: [CustomerID: Customer] = [:]
        var visits: [PlannedVisit] = []
        let origin = Coordinate(latitude: 52.52, longitude: 13.405)
        for i in 0..<stops {
            let id = CustomerID("c\(i)")
            let location = Geo.destination(
                from: origin,
                bearingDegrees: Double(i * 37 % 360),
                distanceMeters: 500 + Double(i) * 120
            )
            customers[id] = Customer(id: id, tenantId: tenant, name: "Customer \(i)", location: location)
            visits.append(
                PlannedVisit(
                    id: VisitID("v\(i)"),
                    tenantId: tenant,
                    routeId: "r-bench",
                    driverId: driver.id,
                    customerId: id,
                    sequenceNumber: i + 1,
                    scheduledDate: date,
                    timeWindow: TimeWindow(
                        start: date.startOfDay + .seconds(8 * 3600),
                        end: date.startOfDay + .seconds(18 * 3600)
                    )
                )
            )
        }
        self.customers = customers
        self.visits = visits
        route = Route(id: "r-bench", tenantId: tenant, driverId: driver.id, scheduledDate: date)
            .recomputed(from: visits)
        path = (0..<3600).map { Geo.destination(from: origin, bearingDegrees: 90, distanceMeters: Double($0) * 11) }
    }

    package func input(index: Int, previous: DriverSnapshot?) -> EnrichmentInput {
        let point = path[index % path.count]
        let raw = RawPosition(
            tenantId: driver.tenantId,
            driverId: driver.id,
            deviceId: driver.deviceId,
            fixTime: route.scheduledDate.startOfDay + .seconds(8 * 3600 + index),
            latitude: point.latitude,
            longitude: point.longitude,
            speedKmh: 40,
            course: 90,
            batteryLevel: 80
        )
        return EnrichmentInput(
            raw: raw,
            driver: driver,
            route: route,
            visits: visits,
            customers: customers,
            previous: previous
        )
    }
}
