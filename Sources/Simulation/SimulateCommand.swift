package import ArgumentParser
import Dispatch
import Domain
package import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `tracker simulate`: N simulated drivers posting Traccar webhooks to a running tracker.
package struct SimulateCommand: AsyncParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Simulate delivery drivers that post Traccar webhooks to a running tracker.",
        discussion: """
            Builds the deterministic demo tenant 'demo' (street grid around Berlin, ~6 customers and one route \
            per driver for today), optionally creates it over the REST API (--token), then posts one Traccar 6.x \
            position per driver every --interval to <url>/api/traccar/positions until --duration has passed or \
            Ctrl-C. Durations: 500ms, 1s, 1.5s, 2m, 1h.
            """
    )

    @Option(help: "Number of simulated drivers (1–100000).")
    package var drivers: Int = 10

    @Option(help: "Time between two fixes of one driver, e.g. 1s, 500ms, 2m.")
    package var interval: String = "1s"

    @Option(help: "Base URL of the tracker, e.g. http://localhost:8080.")
    package var url: String

    @Option(help: "Stop after this long, e.g. 60s or 10m (default: run until Ctrl-C).")
    package var duration: String?

    @Option(help: "Webhook secret sent as 'Authorization: Bearer <secret>' (default: $TRACKER_WEBHOOK_SECRET).")
    package var secret: String?

    @Option(help: "Bearer token for creating customers, drivers and routes over the REST API first.")
    package var token: String?

    @Flag(help: "Do not create customers, drivers and routes (they exist already).")
    package var noSeed = false

    @Option(help: "Seed of the deterministic scenario.")
    package var seed: UInt64 = 42

    @Option(help: "Webhook requests in flight at most.")
    package var concurrency: Int = 64

    @Option(help: "Positions per webhook request: 1 (default) as Traccar forwards them, more as JSON arrays.")
    package var batch: Int = 1

    package func validate() throws {
        guard (1...100_000).contains(drivers) else {
            throw ValidationError("--drivers must be between 1 and 100000, got \(drivers)")
        }
        guard let interval = Self.parseDuration(interval) else {
            throw ValidationError("--interval: expected a duration like 1s, 500ms or 2m, got '\(interval)'")
        }
        guard interval >= .milliseconds(10), interval <= .seconds(3_600) else {
            throw ValidationError("--interval must be between 10ms and 1h, got '\(self.interval)'")
        }
        if let duration {
            guard let parsed = Self.parseDuration(duration) else {
                throw ValidationError("--duration: expected a duration like 60s, 10m or 1h, got '\(duration)'")
            }
            guard parsed > .zero else { throw ValidationError("--duration must be positive, got '\(duration)'") }
        }
        guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(),
            ["http", "https"].contains(scheme),
            let host = parsed.host, !host.isEmpty
        else {
            throw ValidationError("--url: expected the tracker's base URL like http://localhost:8080, got '\(url)'")
        }
        guard resolvedSecret != nil else {
            throw ValidationError("a webhook secret is required: pass --secret or set TRACKER_WEBHOOK_SECRET")
        }
        if token != nil, noSeed {
            throw ValidationError(
                "--token and --no-seed exclude each other: --token seeds the demo tenant, --no-seed skips it"
            )
        }
        if let token, token.isEmpty { throw ValidationError("--token must not be empty") }
        guard (1...4_096).contains(concurrency) else {
            throw ValidationError("--concurrency must be between 1 and 4096, got \(concurrency)")
        }
        guard (1...1_000).contains(batch) else {
            throw ValidationError("--batch must be between 1 and 1000, got \(batch)")
        }
    }

    package var resolvedSecret: String? {
        let value = secret ?? ProcessInfo.processInfo.environment["TRACKER_WEBHOOK_SECRET"]
        return value.flatMap { $0.isEmpty ? nil : $0 }
    }

    package func run() async throws {
        let log = SimulationRunner.printToStandardError
        let now = Timestamp(secondsSinceEpoch: Date().timeIntervalSince1970)
        let scenario = DemoScenario.make(drivers: drivers, date: CalendarDate(containing: now), now: now, seed: seed)
        log(
            "sim: scenario '\(scenario.tenantId)' seed \(seed): \(scenario.drivers.count) drivers, "
                + "\(scenario.customers.count) customers, \(scenario.routes.count) routes for \(scenario.date)"
        )

        if let token {
            let report = try await SimulationRunner.seed(via: url, token: token, scenario: scenario, log: log)
            if report.failures > 0 { log("sim: seeding had \(report.failures) failures; simulating anyway") }
        } else if !noSeed {
            log("sim: no --token given, not seeding (pass --token to create the demo tenant's data, or --no-seed)")
        }

        let configuration = SimulationRunner.Configuration(
            url: url,
            secret: resolvedSecret ?? "",
            interval: Self.parseDuration(interval) ?? .seconds(1),
            duration: duration.flatMap(Self.parseDuration),
            maxInFlight: concurrency,
            batch: batch
        )
        let runner = SimulationRunner(scenario: scenario, configuration: configuration, log: log)
        let task = Task { await runner.run() }
        let signals = Self.cancelOnSignals([SIGINT, SIGTERM], task: task)
        let result = await task.value
        for source in signals { source.cancel() }
        if result.stats.sent > 0, result.stats.ok == 0 {
            throw Failure(
                description: "no position was accepted by \(url): "
                    + (result.stats.firstRejection ?? result.stats.firstError ?? "unknown failure")
            )
        }
    }

    /// A run that achieved nothing (printed as `Error: …`, exit code 1).
    package struct Failure: Error, CustomStringConvertible {
        package var description: String
    }

    /// Cancels `task` on the first of `signals` (so the run ends cleanly and prints its totals).
    package static func cancelOnSignals(
        _ signals: [Int32],
        task: Task<SimulationRunner.Result, Never>
    )
        -> [any DispatchSourceSignal]
    {
        signals.map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                task.cancel()
                signal(number, SIG_DFL)  // a second Ctrl-C ends the process at once
            }
            source.resume()
            return source
        }
    }

    /// Parses `500ms`, `1s`, `1.5s`, `2m`, `1h`; nil for anything else.
    package static func parseDuration(_ text: String) -> Duration? {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        let units: [(suffix: String, milliseconds: Double)] = [
            ("ms", 1), ("s", 1_000), ("m", 60_000), ("h", 3_600_000),
        ]
        for unit in units where trimmed.hasSuffix(unit.suffix) {
            let number = trimmed.dropLast(unit.suffix.count)
            guard !number.isEmpty, number.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
                let value = Double(number), value.isFinite
            else { continue }
            let milliseconds = (value * unit.milliseconds).rounded()
            guard milliseconds <= 86_400_000 * 365 else { return nil }
            return .milliseconds(Int64(milliseconds))
        }
        return nil
    }
}
