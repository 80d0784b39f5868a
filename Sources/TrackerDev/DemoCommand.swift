import Application
import ArgumentParser
import Benchmarks
import Composition
import Domain
import Foundation
import HTTPAdapters
import Logging
import ServiceLifecycle
import Simulation
import Synchronization

/// `tracker demo`: `serve` plus a seeded demo tenant and the built-in simulator posting real webhooks.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Serve with a demo tenant (customers, drivers, today's routes) and simulated drivers."
    )

    @OptionGroup var options: ServerOptions

    @Option(help: "Number of simulated drivers.")
    var drivers: Int = 1000

    @Option(help: "Interval between two fixes of a driver, e.g. 1s or 500ms.")
    var interval: String = "1s"

    @Option(help: "Seed of the generated scenario.")
    var seed: UInt64 = 42

    @Option(help: "Positions per webhook request: 1 (default) as Traccar forwards them, more as JSON arrays.")
    var batch: Int = 1

    func validate() throws {
        guard (1...20_000).contains(drivers) else { throw ValidationError("--drivers must be within 1–20000") }
        guard (1...1_000).contains(batch) else { throw ValidationError("--batch must be within 1–1000") }
        guard let step = SimulateCommand.parseDuration(interval), step >= .milliseconds(100) else {
            throw ValidationError("--interval must be a duration of at least 100ms, e.g. 1s or 500ms")
        }
    }

    func run() async throws {
        try await reportingStartupFailures {
            var configuration = try options.makeConfiguration()
            let basemap = DemoBasemapSlot()
            configuration.dashboard.demoBasemap = { basemap.json(for: $0) }
            let logger = makeLogger(level: configuration.logLevel)
            try await runDemo(configuration: configuration, basemap: basemap, logger: logger)
        }
    }

    private func runDemo(configuration: TrackerConfiguration, basemap: DemoBasemapSlot, logger: Logger) async throws {
        let runtime = try await TrackerRuntime.start(configuration: configuration, logger: logger)
        let now = runtime.system.adapters.clock.now()
        let scenario = DemoScenario.make(drivers: drivers, date: CalendarDate(containing: now), now: now, seed: seed)
        try await DemoSeeder.seed(scenario, into: runtime.system, logger: logger)
        basemap.set(scenario)

        let port = PortSignal()
        let step = SimulateCommand.parseDuration(interval) ?? .seconds(1)
        let simulator = DemoSimulatorService(
            scenario: scenario,
            port: port,
            secret: configuration.secrets.webhook,
            host: configuration.http.host,
            interval: step,
            batch: batch
        )
        let token = try await TokenAuthority(secret: configuration.secrets.jwt)
            .mint(
                principal: Principal(tenantId: scenario.tenantId, role: .dispatcher, subject: "demo-dispatcher"),
                ttl: .seconds(12 * 3600)
            )
        try await runtime.run(extra: [simulator]) { listening in
            port.set(listening)
            let base = "http://\(configuration.http.host):\(listening)"
            let banner = """
                Distribution Tracker demo: \(scenario.drivers.count) drivers, \(scenario.customers.count) customers, \
                tenant '\(scenario.tenantId)'
                  Dashboard: \(base)/   (open in a browser; "Sign in (development)")
                  API:    \(base)/api/drivers   (OpenAPI: \(base)/openapi.yaml)
                  token:  \(token)
                  try:    curl -H "Authorization: Bearer $TOKEN" \(base)/api/drivers/\(scenario.drivers.first?.id?.rawValue ?? "drv-0001")/position

                """
            // Unbuffered, so a supervising script sees the URL and token at once.
            FileHandle.standardOutput.write(Data(banner.utf8))
        }
    }
}

/// Runs the simulator against this process's own webhook once the server listens.
struct DemoSimulatorService: Service {
    let scenario: DemoScenario
    let port: PortSignal
    let secret: String
    let host: String
    let interval: Duration
    let batch: Int

    func run() async throws {
        try await cancelWhenGracefulShutdown {
            let port = try await port.wait()
            let target = host == "0.0.0.0" ? "127.0.0.1" : host
            let runner = SimulationRunner(
                scenario: scenario,
                configuration: .init(
                    url: "http://\(target):\(port)",
                    secret: secret,
                    interval: interval,
                    batch: batch
                )
            )
            _ = await runner.run()
        }
    }
}
