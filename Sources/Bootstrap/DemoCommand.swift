import Application
import ArgumentParser
import Domain
import Foundation
import HTTPAdapters
import Logging
import ServiceLifecycle
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

    func validate() throws {
        guard (1...20_000).contains(drivers) else { throw ValidationError("--drivers must be within 1–20000") }
        guard let step = SimulateCommand.parseDuration(interval), step >= .milliseconds(100) else {
            throw ValidationError("--interval must be a duration of at least 100ms, e.g. 1s or 500ms")
        }
    }

    func run() async throws {
        var configuration = options.makeConfiguration()
        configuration.dashboard.demoBasemap = DemoBasemapSlot()
        let logger = makeLogger(level: configuration.logLevel)
        try await reportingStartupFailures {
            try await runDemo(configuration: configuration, logger: logger)
        }
    }

    private func runDemo(configuration: TrackerConfiguration, logger: Logger) async throws {
        let runtime = try await TrackerRuntime.start(configuration: configuration, logger: logger)
        let now = runtime.system.adapters.clock.now()
        let scenario = DemoScenario.make(drivers: drivers, date: CalendarDate(containing: now), now: now, seed: seed)
        try await DemoSeeder.seed(scenario, into: runtime.system, logger: logger)
        configuration.dashboard.demoBasemap?.set(scenario)

        let port = PortSignal()
        let step = SimulateCommand.parseDuration(interval) ?? .seconds(1)
        let simulator = DemoSimulatorService(scenario: scenario, port: port, secret: configuration.webhookSecret,
                                             host: configuration.host, interval: step)
        let token = try await TokenAuthority(secret: configuration.jwtSecret)
            .mint(principal: Principal(tenantId: scenario.tenantId, role: .dispatcher, subject: "demo-dispatcher"),
                  ttl: .seconds(12 * 3600))
        try await runtime.run(extra: [simulator]) { listening in
            port.set(listening)
            let base = "http://\(configuration.host):\(listening)"
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

/// Writes the demo tenant through the same use cases the API uses: customers into the local source of
/// truth (they reach the read model through the change-event flow), then drivers and routes.
enum DemoSeeder {
    static func seed(_ scenario: DemoScenario, into system: TrackerSystem, logger: Logger) async throws {
        let admin = Principal(tenantId: scenario.tenantId, role: .admin, subject: "demo-seeder")
        for (id, input) in scenario.customers {
            _ = try await system.customerAdmin.upsert(input, id: id, as: admin)
        }
        for driver in scenario.drivers {
            do {
                _ = try await system.drivers.create(driver, as: admin)
            } catch let error as UseCaseError where error.code == .conflict {
                continue  // already seeded (durable mode restart)
            }
        }
        for route in scenario.routes {
            do {
                _ = try await system.routes.create(route, as: admin)
            } catch let error as UseCaseError where error.code == .conflict {
                continue
            }
        }
        logger.info("demo tenant seeded", metadata: [
            "customers": "\(scenario.customers.count)", "drivers": "\(scenario.drivers.count)",
            "routes": "\(scenario.routes.count)",
        ])
    }
}

/// The port the server listens on, known only once it runs (port 0 picks a free one).
final class PortSignal: Sendable {
    private let value = Mutex<Int?>(nil)
    func set(_ port: Int) { value.withLock { $0 = port } }

    func wait() async throws -> Int {
        while true {
            if let port = value.withLock({ $0 }) { return port }
            try await Task.sleep(for: .milliseconds(20))
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

    func run() async throws {
        try await cancelWhenGracefulShutdown {
            let port = try await port.wait()
            let target = host == "0.0.0.0" ? "127.0.0.1" : host
            let runner = SimulationRunner(scenario: scenario, configuration: .init(
                url: "http://\(target):\(port)", secret: secret, interval: interval))
            _ = await runner.run()
        }
    }
}
