package import Application
package import Domain
import Foundation

/// Runs a `DriverSimulator` in real time, posting every fix as a Traccar webhook, and prints progress.
package struct SimulationRunner: Sendable {
    package struct Configuration: Sendable {
        /// The tracker's base URL, e.g. `http://localhost:8080`.
        package var url: String
        /// The webhook secret (`Authorization: Bearer <secret>`).
        package var secret: String
        /// Time between two fixes of one driver.
        package var interval: Duration = .seconds(1)
        /// Stop after this long; nil runs until the task is cancelled.
        package var duration: Duration?
        package var maxInFlight = 64
        package var progressEvery: Duration = .seconds(5)
        /// Post each tick's fixes in this many slices spread over the interval, each fix stamped when its
        /// slice is sent (as Traccar forwards positions as they arrive); 1 posts every fix at the tick.
        package var slices = 1
        /// Positions per request: 1 posts each on its own, as Traccar's position forwarding does; more sends
        /// them as JSON arrays (the webhook's batch form), which costs the load generator far less.
        package var batch = 1
        /// Called after each slice with its fix time (ms since the epoch) and the drivers whose position the
        /// server acknowledged (2xx): what dashboards and history are owed. Nil: not called.
        package var onSlice: (@Sendable (_ fixTime: Int64, _ acknowledged: [DriverID]) -> Void)?

        package init(
            url: String,
            secret: String,
            interval: Duration = .seconds(1),
            duration: Duration? = nil,
            maxInFlight: Int = 64,
            progressEvery: Duration = .seconds(5),
            slices: Int = 1,
            batch: Int = 1
        ) {
            self.slices = slices
            self.batch = max(1, batch)
            self.url = url
            self.secret = secret
            self.interval = interval
            self.duration = duration
            self.maxInFlight = maxInFlight
            self.progressEvery = progressEvery
        }
    }

    /// What a run did.
    package struct Result: Hashable, Sendable {
        package var elapsed: Duration
        package var ticks: Int
        package var stats: WebhookPoster.Stats
        /// Drivers parked at their depot after their last stop when the run ended.
        package var parkedDrivers: Int
    }

    package let scenario: DemoScenario
    package let configuration: Configuration
    /// Where progress lines go (stderr by default).
    package let log: @Sendable (String) -> Void
    /// The wall clock stamping fixes.
    package let wallClock: @Sendable () -> Timestamp

    package init(
        scenario: DemoScenario,
        configuration: Configuration,
        log: @escaping @Sendable (String) -> Void = SimulationRunner.printToStandardError,
        wallClock: @escaping @Sendable () -> Timestamp = { Timestamp(secondsSinceEpoch: Date().timeIntervalSince1970) }
    ) {
        self.scenario = scenario
        self.configuration = configuration
        self.log = log
        self.wallClock = wallClock
    }

    /// Posts fixes every `interval` until `duration` has passed or the calling task is cancelled; returns the
    /// final statistics (also printed).
    package func run() async -> Result {
        let poster = WebhookPoster(
            baseURL: configuration.url,
            secret: configuration.secret,
            maxInFlight: configuration.maxInFlight,
            timeout: max(.seconds(5), configuration.interval * 5)
        )
        let devices = scenario.drivers.enumerated().map { index, driver in
            (
                id: index + 1, name: Self.deviceName(driver, number: index + 1),
                category: (driver.vehicleType ?? .van).rawValue
            )
        }
        let clock = ContinuousClock()
        let started = clock.now
        var previous = wallClock()
        var simulator = DriverSimulator(scenario: scenario, start: previous)
        var step: Duration = .zero  // the first tick reports the start positions
        var ticks = 0
        var nextTick = started
        var nextProgress = started + configuration.progressEvery
        var reportedRejection = false
        var reportedError = false

        let perRequest = configuration.batch > 1 ? ", up to \(configuration.batch) per request" : ""
        log(
            "sim: \(scenario.drivers.count) drivers, one fix each every \(Self.format(configuration.interval)) to \(poster.endpoint)\(perRequest)"
        )
        let driverIds = scenario.drivers.map { $0.id ?? DriverID($0.deviceId.rawValue) }
        while !Task.isCancelled {
            let fixes = simulator.tick(now: previous, interval: step)
            let slices = max(1, min(configuration.slices, fixes.count))
            let tickStart = clock.now
            for slice in 0..<slices {
                let range = (fixes.count * slice / slices)..<(fixes.count * (slice + 1) / slices)
                if slice > 0 {
                    try? await Task.sleep(until: tickStart + configuration.interval * slice / slices, clock: clock)
                }
                let stamp = slices > 1 ? wallClock() : previous
                var bodies: [[UInt8]] = []
                bodies.reserveCapacity(range.count)
                for index in range {
                    var fix = fixes[index]
                    fix.fixTime = stamp
                    let device = devices[index]
                    bodies.append(
                        TraccarWebhookBody.encode(
                            fix,
                            deviceNumericId: device.id,
                            name: device.name,
                            category: device.category
                        )
                    )
                }
                let acknowledged = await poster.post(all: bodies, batch: configuration.batch)
                if let onSlice = configuration.onSlice {
                    onSlice(
                        stamp.millisecondsSinceEpoch,
                        zip(range, acknowledged).compactMap { $1 ? driverIds[$0] : nil }
                    )
                }
            }
            ticks += 1

            let stats = poster.stats()
            if !reportedRejection, let rejection = stats.firstRejection {
                reportedRejection = true
                log("sim: the tracker rejected a position: \(rejection)")
            }
            if !reportedError, let error = stats.firstError {
                reportedError = true
                log("sim: a request failed: \(error) (counting and continuing)")
            }
            if clock.now >= nextProgress {
                log(Self.progressLine(elapsed: clock.now - started, stats: stats))
                nextProgress = clock.now + configuration.progressEvery
            }

            nextTick += configuration.interval
            if let duration = configuration.duration, nextTick - started >= duration {
                try? await Task.sleep(until: started + duration, clock: clock)  // report the full duration
                break
            }
            if nextTick < clock.now { nextTick = clock.now }  // behind: skip, do not burst
            do {
                try await Task.sleep(until: nextTick, clock: clock)
            } catch {
                break  // cancelled
            }
            // Step by the wall time that really passed (clamped), so speeds stay true when a tick runs late.
            var now = wallClock()
            if now <= previous { now = previous + .milliseconds(1) }
            step = min(now - previous, configuration.interval * 5)
            previous = now
        }
        let stats = poster.stats()
        await poster.shutdown()
        let elapsed = clock.now - started
        log(Self.progressLine(elapsed: elapsed, stats: stats) + " (done, \(simulator.parkedCount) parked)")
        return Result(elapsed: elapsed, ticks: ticks, stats: stats, parkedDrivers: simulator.parkedCount)
    }

    // MARK: Formatting

    /// `sim: 60s elapsed, 59,000 sent, 59,000 ok, 0 failed, p50 3.1 ms p99 12.0 ms`
    package static func progressLine(elapsed: Duration, stats: WebhookPoster.Stats) -> String {
        func ms(_ value: Double?) -> String {
            guard let value else { return "–" }
            return String(format: "%.1f ms", value)
        }
        return
            "sim: \(Int(elapsed.secondsValue.rounded()))s elapsed, \(grouped(stats.sent)) sent, \(grouped(stats.ok)) ok, "
            + "\(grouped(stats.failed)) failed, p50 \(ms(stats.p50Milliseconds)) p99 \(ms(stats.p99Milliseconds))"
    }

    /// `59000` → `59,000`.
    package static func grouped(_ value: Int) -> String {
        let digits = String(value.magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0, (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return value < 0 ? "-" + out : out
    }

    package static func format(_ duration: Duration) -> String {
        let ms = duration.milliseconds
        if ms % 60_000 == 0, ms >= 60_000 { return "\(ms / 60_000)m" }
        if ms % 1_000 == 0 { return "\(ms / 1_000)s" }
        return "\(ms)ms"
    }

    /// The Traccar device name: vehicle and plate, e.g. `Van B-DT 1001`.
    package static func deviceName(_ driver: NewDriver, number: Int) -> String {
        let type = (driver.vehicleType ?? .van).rawValue
        return type.prefix(1).uppercased() + type.dropFirst() + " " + (driver.vehiclePlate ?? "#\(number)")
    }

    @Sendable static func printToStandardError(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}
