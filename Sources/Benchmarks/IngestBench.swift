import Application
package import ArgumentParser
import AsyncHTTPClient
import Composition
import Configuration
import Domain
import HTTPAdapters
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import Simulation

/// Webhook ingest throughput next to a hello-world POST on the same server, in the same run (goal ≥ 0.5×).
///
/// The server is the real one (in-memory adapters, enrichment and push flows running); the load generator is
/// in the same process, so both figures pay the same client cost and the ratio is what matters.
package struct IngestBench: AsyncParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Webhook requests/s vs a hello-world POST on the same server."
    )

    @Option(help: "Seconds per measurement.")
    package var seconds: Int = 10

    @Option(help: "Concurrent connections of the load generator.")
    package var connections: Int = 32

    @Option(help: "Simulated devices posting.")
    package var drivers: Int = 1000

    @Option(help: "Alternating rounds of (hello, webhook).")
    package var rounds: Int = 2

    package func validate() throws {
        guard seconds > 0, (1...512).contains(connections), (1...20_000).contains(drivers), rounds > 0 else {
            throw ValidationError("--seconds, --rounds > 0; --connections 1–512; --drivers 1–20000")
        }
    }

    package func run() async throws {
        var configuration = try TrackerConfiguration(overrides: [
            "http.port": .init(.int(0), isSecret: false), "tracker.in.memory": .init(.bool(true), isSecret: false),
        ])
        configuration.logLevel = "error"
        var logger = makeLogger(level: "error")
        logger.logLevel = .error
        let runtime = try await TrackerRuntime.start(configuration: configuration, logger: logger)
        let now = runtime.system.adapters.clock.now()
        let scenario = DemoScenario.make(drivers: drivers, date: CalendarDate(containing: now), now: now)
        try await DemoSeeder.seed(scenario, into: runtime.system, logger: logger)
        let bodies = Self.webhookBodies(scenario: scenario, start: now - .seconds(120), ticks: 100)

        let router = makeRouter(services: runtime.system.httpServices())
        router.post("/bench/hello") { _, _ in "ok" }
        let port = PortSignal()
        let http = makeHTTPApplication(system: runtime.system, router: router) { port.set($0) }
        let secret = configuration.secrets.webhook
        let seconds = seconds
        let connections = connections
        let rounds = rounds
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await http.runService() }
            group.addTask { try await runtime.system.backgroundService().run() }
            let listening = try await port.wait()
            let base = "http://127.0.0.1:\(listening)"
            print(
                "ingest bench: \(drivers) devices, \(connections) connections, \(seconds) s per measurement, "
                    + "\(rounds) rounds, 2 cores shared by server and load generator"
            )
            var hello: [LoadGenerator.Result] = []
            var webhook: [LoadGenerator.Result] = []
            for round in 1...rounds {
                let h = try await LoadGenerator.run(
                    url: base + "/bench/hello",
                    headers: [:],
                    bodies: [Array("{\"hello\":\"world\"}".utf8)],
                    connections: connections,
                    duration: .seconds(seconds)
                )
                print("round \(round) hello-world POST: \(h)")
                let w = try await LoadGenerator.run(
                    url: base + "/api/traccar/positions",
                    headers: ["Authorization": "Bearer \(secret)"],
                    bodies: bodies,
                    connections: connections,
                    duration: .seconds(seconds)
                )
                print("round \(round) webhook POST:     \(w)")
                hello.append(h)
                webhook.append(w)
            }
            let h = hello.map(\.requestsPerSecond).max() ?? 0
            let w = webhook.map(\.requestsPerSecond).max() ?? 0
            print(
                "ingest: webhook \(Int(w)) req/s vs hello-world \(Int(h)) req/s: ratio \(format(w / max(h, 1))) "
                    + "(goal ≥ 0.5); non-2xx \(webhook.map(\.failures).reduce(0, +))"
            )
            group.cancelAll()
        }
    }

    static func webhookBodies(scenario: DemoScenario, start: Timestamp, ticks: Int) -> [[UInt8]] {
        var simulator = DriverSimulator(scenario: scenario, start: start)
        var bodies: [[UInt8]] = []
        var time = start
        for tick in 0..<ticks {
            let fixes = simulator.tick(now: time, interval: tick == 0 ? .zero : .seconds(1))
            for (index, fix) in fixes.enumerated() {
                bodies.append(TraccarWebhookBody.encode(fix, deviceNumericId: index + 1, name: "Bench \(index + 1)"))
            }
            time = time + .seconds(1)
        }
        return bodies
    }
}

/// A closed-loop HTTP load generator: `connections` workers each send the next body as soon as the
/// previous answer arrived, for `duration`.
package enum LoadGenerator {
    package struct Result: CustomStringConvertible {
        package var requests: Int
        package var failures: Int
        package var seconds: Double
        package var p50Milliseconds: Double
        package var p99Milliseconds: Double
        package var requestsPerSecond: Double { Double(requests) / seconds }
        package var description: String {
            "\(Int(requestsPerSecond)) req/s (\(requests) requests, \(failures) non-2xx), "
                + "latency p50 \(format(p50Milliseconds)) ms p99 \(format(p99Milliseconds)) ms"
        }
    }

    package static func run(
        url: String,
        headers: [String: String],
        bodies: [[UInt8]],
        connections: Int,
        duration: Duration
    ) async throws -> Result {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = .init(
            idleTimeout: .seconds(60),
            concurrentHTTP1ConnectionsPerHostSoftLimit: connections
        )
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let clock = ContinuousClock()
        let deadline = clock.now + duration
        let started = clock.now
        let perWorker = try await withThrowingTaskGroup(of: ([Double], Int).self) { group in
            for worker in 0..<connections {
                group.addTask {
                    var sequence = worker
                    var latencies: [Double] = []
                    var failures = 0
                    while clock.now < deadline {
                        let i = sequence
                        sequence += connections
                        var request = HTTPClientRequest(url: url)
                        request.method = .POST
                        request.headers.add(name: "Content-Type", value: "application/json")
                        for (name, value) in headers { request.headers.add(name: name, value: value) }
                        request.body = .bytes(ByteBuffer(bytes: bodies[i % bodies.count]))
                        let sent = clock.now
                        do {
                            let response = try await client.execute(request, timeout: .seconds(10))
                            _ = try await response.body.collect(upTo: 1 << 20)
                            if !(200..<300).contains(response.status.code) { failures += 1 }
                        } catch {
                            failures += 1
                        }
                        let d = clock.now - sent
                        latencies.append(Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15)
                    }
                    return (latencies, failures)
                }
            }
            var all: [([Double], Int)] = []
            for try await worker in group { all.append(worker) }
            return all
        }
        let elapsed = clock.now - started
        try await client.shutdown()
        var latencies = perWorker.flatMap(\.0)
        latencies.sort()
        func percentile(_ p: Double) -> Double {
            latencies.isEmpty ? 0 : latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))]
        }
        return Result(
            requests: latencies.count,
            failures: perWorker.map(\.1).reduce(0, +),
            seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18,
            p50Milliseconds: percentile(0.5),
            p99Milliseconds: percentile(0.99)
        )
    }
}
