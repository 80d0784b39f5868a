import Application
package import ArgumentParser
import AsyncHTTPClient
import Domain
import Foundation
import HTTPAdapters
import Logging
import NIOCore
import NIOHTTP1
import Simulation
import SocketIOAdapters

/// `tracker-dev loadtest`: the seed's load end to end: simulated drivers post real Traccar webhooks at 1 Hz,
/// Socket.IO dashboards (batched as the dispatcher dashboard asks, and unbatched ones) receive them; measures
/// fix → dashboard latency and delivery per dashboard against what the webhooks acknowledged, the webhooks'
/// latency, and CPU and memory of every server process and of the generator itself, every second. Writes
/// `loadtest.json` and `loadtest.html` and prints a verdict against the goals (exit 1 when it fails).
///
/// Local mode (default): starts `tracker-dev serve` (SQLite in a temporary directory) and measures it.
/// `--stack DIR`: the production topology of `scripts/production --data DIR` (its `stack.env`): the load goes
/// through nginx, and every instance, PostgreSQL, Redis, the broker and nginx are sampled.
package struct LoadTestCommand: AsyncParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "loadtest",
        abstract: "Drivers and dashboards end to end: latency, delivery, CPU and memory of every process; a report."
    )

    @Option(help: "Simulated drivers posting a Traccar webhook per fix at 1 Hz.") var drivers = 1000
    @Option(help: "Socket.IO dashboards of the tenant.") var dashboards = 500
    @Option(help: "Of the dashboards, those taking one event per position (no batchMs).") var unbatched = 50
    @Option(help: "The other dashboards' batchMs (the dispatcher dashboard's own is 1000).") var batchMs = 1000
    @Option(help: "Measured seconds, after a 5 s warm-up.") var seconds = 60
    @Option(help: "A running scripts/production stack's data directory (its stack.env); default: local mode.")
    var stack: String?
    @Option(help: "Directory for loadtest.json and loadtest.html.") var report = "loadtest-report"
    @Option(help: "p99 goal for batched dashboards: batchMs plus this (ms). Default: 100 local, 250 on --stack.")
    var marginMs: Int?
    @Option(help: "Cores the generator may use; above 90 % of them its figures are not the server's.")
    var generatorCores = 1.0
    @Option(help: "Fault (with --stack): kill -9 the first instance this many seconds into the window.")
    var killInstanceAt: Int?

    package func validate() throws {
        guard (1...20_000).contains(drivers), (1...5_000).contains(dashboards), (0...dashboards).contains(unbatched),
            (1...60_000).contains(batchMs), (5...86_400).contains(seconds), generatorCores > 0,
            (0..<seconds).contains(killInstanceAt ?? 0)
        else {
            throw ValidationError(
                "--drivers 1-20000, --dashboards 1-5000, --unbatched 0-dashboards, --batch-ms 1-60000, --seconds 5-86400, "
                    + "--kill-instance-at within the window"
            )
        }
        if killInstanceAt != nil, stack == nil {
            throw ValidationError("--kill-instance-at needs --stack: local mode has one instance")
        }
    }

    package func run() async throws {
        let logger = Logger(label: "loadtest") { _ in SwiftLogNoOpLogHandler() }
        let target = try await LoadTarget.open(stack: stack)
        defer { target.close() }
        let now = Timestamp(secondsSinceEpoch: Date().timeIntervalSince1970)
        let scenario = DemoScenario.make(drivers: drivers, date: CalendarDate(containing: now), now: now)
        let tokens = TokenAuthority(secret: target.jwtSecret)
        func token(_ role: Role) async throws -> String {
            try await tokens.mint(
                principal: Principal(tenantId: scenario.tenantId, role: role, subject: "loadtest"),
                ttl: .seconds(Int64(seconds) + 3600)
            )
        }
        let admin = try await token(.admin)
        let seeded = try await SimulationRunner.seed(via: target.url, token: admin, scenario: scenario) {
            _ in
        }
        print(
            "loadtest: \(target.mode) at \(target.url); seeded \(seeded.driversCreated) drivers (tenant \(scenario.tenantId))"
        )

        // Dashboards.
        let recorder = LoadRecorder()
        let dispatcher = try await token(.dispatcher)
        let clock = ContinuousClock()
        let connectStart = clock.now
        let fleet = Dashboards()
        for index in 0..<dashboards {
            let batched = index >= unbatched
            let auth = batched ? #"{"token":"\#(dispatcher)","batchMs":\#(batchMs)}"# : #"{"token":"\#(dispatcher)"}"#
            let slot = recorder.addClient(batched: batched)
            fleet.start(index: index, url: target.url, auth: auth, logger: logger) { event, packet in
                if event == "driver-position" || event == "driver-positions" {
                    recorder.record(client: slot, packet: packet)
                } else if event == "initial-state" {
                    recorder.recordInitialState(client: slot, packet: packet)
                }
            }
            if index % 50 == 49 { await fleet.waitConnected(index + 1, timeout: .seconds(10)) }
        }
        await fleet.waitConnected(dashboards, timeout: .seconds(30))
        let connectedAtStart = fleet.connected
        print(
            "loadtest: \(connectedAtStart)/\(dashboards) dashboards connected in \((clock.now - connectStart).milliseconds) ms"
        )

        // Drivers.
        var simulationConfiguration = SimulationRunner.Configuration(
            url: target.url,
            secret: target.webhookSecret,
            interval: .seconds(1),
            duration: .seconds(seconds + 8),
            maxInFlight: 64,
            progressEvery: .seconds(3600),
            slices: min(20, drivers)
        )
        simulationConfiguration.onSlice = { fixTime, acknowledged in
            recorder.acknowledged(fixTime: fixTime, drivers: acknowledged.map(\.rawValue))
        }
        let simulation = SimulationRunner(scenario: scenario, configuration: simulationConfiguration, log: { _ in })
        let simulationTask = Task { await simulation.run() }
        try await Task.sleep(for: .seconds(5))

        // The measured window, sampled every second.
        var sampler = ProcessSampler()
        let generatorName = "load generator"
        _ = sampler.sample(target.processes() + [(generatorName, getpid())])
        recorder.start(at: Int64(Date().timeIntervalSince1970 * 1000))
        _ = recorder.takeSecond()
        let startedAt = ISO8601DateFormatter().string(from: Date())
        var timeline: [LoadTestReport.SecondRow] = []
        var next = clock.now
        var markers: [LoadTestReport.Marker] = []
        var killedAt: Int64?
        for t in 0..<seconds {
            if t == killInstanceAt, let (name, pid) = target.processes().first(where: { $0.name == "tracker-1" }) {
                kill(pid, SIGKILL)
                killedAt = Int64(Date().timeIntervalSince1970 * 1000)
                markers.append(.init(t: t, label: "kill -9 \(name)"))
                print("  \(t) s: kill -9 \(name) (pid \(pid))")
            }
            next += .seconds(1)
            try await Task.sleep(until: next, clock: clock)
            var readings = sampler.sample(target.processes() + [(generatorName, getpid())])
            let generator = readings.removeValue(forKey: generatorName)!
            let row = LoadTestReport.SecondRow(
                t: t,
                feed: recorder.takeSecond(),
                processes: readings,
                generator: generator
            )
            timeline.append(row)
            if t % 5 == 4 || t == seconds - 1 {
                let serverCPU = readings.values.reduce(0) { $0 + $1.cpu }
                print(
                    "  \(t + 1) s: \(row.feed.acknowledged) positions/s acknowledged, "
                        + "\(row.feed.delivered / max(1, dashboards)) per dashboard; p99 \(Int(row.feed.p99Ms)) ms; "
                        + "servers \(Int(serverCPU * 100)) % CPU, generator \(Int(generator.cpu * 100)) %"
                )
            }
        }
        recorder.stop(at: Int64(Date().timeIntervalSince1970 * 1000))
        // Positions of the window's last second still on their way (a batch interval, then some).
        try await Task.sleep(for: .milliseconds(batchMs + 2_000))
        let result = await simulationTask.value
        let disconnects = fleet.disconnects
        let connectedAtEnd = fleet.connected
        let recovery = killedAt.flatMap { killed in fleet.lastReconnect.map { Int($0 - killed) } }
        await fleet.closeAll()
        let history = try await HistoryCheck.run(url: target.url, token: admin, owed: recorder.owedFixes)
        print(
            "  history: \(history.missing) of \(history.checked) acknowledged positions missing"
                + (disconnects > 0
                    ? "; \(disconnects) dashboard connections lost, "
                        + (recovery.map { "all back \($0) ms after the fault" } ?? "not all back") : "")
        )

        let summary = summarize(
            timeline: timeline,
            recorder: recorder,
            result: result,
            target: target,
            startedAt: startedAt,
            connected: min(connectedAtStart, connectedAtEnd),
            markers: markers,
            history: history,
            reconnects: .init(disconnects: disconnects, recoveredAfterMs: recovery)
        )
        let directory = URL(fileURLWithPath: report)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try summary.writeJSON(to: directory.appendingPathComponent("loadtest.json"))
        try summary.writeHTML(to: directory.appendingPathComponent("loadtest.html"))
        for kind in summary.latencyMs.keys.sorted() {
            let l = summary.latencyMs[kind]!
            let c = summary.completeness[kind]!
            print(
                "  \(kind): p50 \(Int(l["p50"] ?? 0)) ms, p99 \(Int(l["p99"] ?? 0)) ms, max \(Int(l["max"] ?? 0)) ms; "
                    + "lowest delivered share \(String(format: "%.3f", c.lowestShare * 100)) % of \(c.dashboards)"
            )
        }
        for name in summary.processes.keys.sorted() {
            let p = summary.processes[name]!
            print("  \(name): CPU mean \(Int(p.meanCPU * 100)) %, peak RSS \(Int(p.peakRSSMB)) MB")
        }
        print(
            "  load generator: CPU mean \(Int(summary.generator.meanCPU * 100)) %"
                + (summary.generatorSaturated ? " (saturated)" : "")
        )
        print("loadtest: \(summary.verdict.pass ? "PASS" : "FAIL"); report in \(directory.path)/loadtest.html")
        for note in summary.verdict.notes { print("  - \(note)") }
        if !summary.verdict.pass { throw ExitCode(1) }
    }

    private func summarize(
        timeline: [LoadTestReport.SecondRow],
        recorder: LoadRecorder,
        result: SimulationRunner.Result,
        target: LoadTarget,
        startedAt: String,
        connected: Int,
        markers: [LoadTestReport.Marker],
        history: HistoryCheck.Result,
        reconnects: LoadTestReport.Reconnects
    ) -> LoadTestReport {
        var processes: [String: LoadTestReport.ProcessSummary] = [:]
        let names = Set(timeline.flatMap { $0.processes.keys })
        func summary(_ readings: [ProcessSampler.Reading]) -> LoadTestReport.ProcessSummary {
            LoadTestReport.ProcessSummary(
                meanCPU: readings.map(\.cpu).reduce(0, +) / Double(max(1, readings.count)),
                peakCPU: readings.map(\.cpu).max() ?? 0,
                peakRSSMB: readings.map(\.rssMB).max() ?? 0
            )
        }
        for name in names { processes[name] = summary(timeline.compactMap { $0.processes[name] }) }
        let generator = summary(timeline.map(\.generator))
        let saturated = generator.meanCPU >= 0.9 * generatorCores
        var latency: [String: [String: Double]] = [:]
        var completeness: [String: LoadRecorder.Completeness] = [:]
        if dashboards > unbatched {
            latency["batched (\(batchMs) ms)"] = recorder.latency(batched: true)
            completeness["batched (\(batchMs) ms)"] = recorder.completeness(batched: true)
        }
        if unbatched > 0 {
            latency["unbatched"] = recorder.latency(batched: false)
            completeness["unbatched"] = recorder.completeness(batched: false)
        }
        let margin = marginMs ?? (stack == nil ? 100 : 250)
        var notes: [String] = []
        var pass = true
        if connected < dashboards {
            pass = false
            notes.append("only \(connected) of \(dashboards) dashboards connected")
        }
        if history.missing > 0 {
            pass = false
            notes.append("\(history.missing) of \(history.checked) acknowledged positions missing from history")
        } else {
            notes.append("history holds all \(history.checked) acknowledged positions of the window")
        }
        if reconnects.disconnects > 0 {
            notes.append(
                "\(reconnects.disconnects) dashboard connections lost, "
                    + (reconnects.recoveredAfterMs.map { "every one back \($0) ms after the fault" } ?? "not all back")
            )
        }
        if let p99 = recorder.latency(batched: true)["p99"], dashboards > unbatched {
            let goal = Double(batchMs + margin)
            if p99 > goal { pass = false }
            notes.append("batched p99 \(Int(p99)) ms against the goal of \(Int(goal)) ms (batchMs + \(margin))")
        }
        for (kind, c) in completeness.sorted(by: { $0.key < $1.key }) where c.incomplete > 0 {
            pass = false
            notes.append(
                "\(c.incomplete) \(kind) dashboards missed owed positions (lowest share \(String(format: "%.3f", c.lowestShare * 100)) %)"
            )
        }
        let owed = recorder.owed
        if result.stats.failed > 0 {
            notes.append(
                "\(result.stats.failed) of \(result.stats.sent) webhooks failed: \(result.stats.firstRejection ?? result.stats.firstError ?? "")"
            )
        }
        if saturated {
            pass = false
            notes.append(
                "the load generator used \(Int(generator.meanCPU * 100)) % of one core (its share: \(Int(generatorCores * 100)) %): "
                    + "saturated, so these are not the server's figures"
            )
        }
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let serverCPU = processes.values.reduce(0) { $0 + $1.meanCPU }
        notes.append("servers used \(String(format: "%.2f", serverCPU)) cores on average of the machine's \(cores)")
        return LoadTestReport(
            setup: .init(
                mode: target.mode,
                target: target.url,
                drivers: drivers,
                dashboards: dashboards,
                unbatched: unbatched,
                batchMs: batchMs,
                seconds: seconds,
                startedAt: startedAt,
                machineCores: cores
            ),
            timeline: timeline,
            latencyMs: latency,
            completeness: completeness,
            owedPositions: owed.positions,
            webhooks: .init(
                sent: result.stats.sent,
                acknowledged: result.stats.ok,
                failed: result.stats.failed,
                p50Ms: result.stats.p50Milliseconds,
                p99Ms: result.stats.p99Milliseconds
            ),
            processes: processes,
            generator: generator,
            generatorSaturated: saturated,
            verdict: .init(pass: pass, notes: notes),
            markers: markers,
            history: history,
            reconnects: reconnects
        )
    }
}

/// What a load test runs against: a `tracker-dev serve` it started (local mode), or a `scripts/production` stack.
struct LoadTarget: Sendable {
    var mode: String
    var url: String
    var webhookSecret: String
    var jwtSecret: String
    /// The stack's `stack.env`, read again at every sample (an instance that was restarted has a new pid).
    var stackEnv: String?
    var child: Process?
    /// Local mode's data directory, removed by `close`.
    var directory: URL?

    static func open(stack: String?) async throws -> LoadTarget {
        if let stack {
            let path = URL(fileURLWithPath: stack).appendingPathComponent("stack.env").path
            let env = try Self.read(path)
            guard let url = env["TRACKER_URL"], let webhook = env["TRACKER_WEBHOOK_SECRET"],
                let jwt = env["TRACKER_JWT_SECRET"]
            else { throw ValidationError("\(path) lacks TRACKER_URL or the secrets: is the stack running?") }
            return LoadTarget(
                mode: "production topology",
                url: url,
                webhookSecret: webhook,
                jwtSecret: jwt,
                stackEnv: path
            )
        }
        let port = Int.random(in: 20_000...40_000)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("loadtest-\(getpid())")
        try? FileManager.default.removeItem(at: directory)
        let webhook = "loadtest-webhook-secret"
        let jwt = "loadtest-jwt-secret-0123456789abcdef"
        let process = try await PushBench.startServer(
            port: port,
            directory: directory,
            webhookSecret: webhook,
            jwtSecret: jwt
        )
        return LoadTarget(
            mode: "local mode",
            url: "http://127.0.0.1:\(port)",
            webhookSecret: webhook,
            jwtSecret: jwt,
            child: process,
            directory: directory
        )
    }

    /// The processes to sample, by name.
    func processes() -> [(name: String, pid: Int32)] {
        if let child { return [("tracker", child.processIdentifier)] }
        guard let stackEnv, let env = try? Self.read(stackEnv) else { return [] }
        var result: [(name: String, pid: Int32)] = []
        for (key, value) in env where key.hasSuffix("_PID") {
            guard let pid = Int32(value) else { continue }
            var name = String(key.dropFirst("TRACKER_".count).dropLast("_PID".count)).lowercased()
            if name.hasPrefix("instance_") { name = "tracker-" + name.dropFirst("instance_".count) }
            result.append((name.replacingOccurrences(of: "_", with: "-"), pid))
        }
        return result.sorted { $0.name < $1.name }
    }

    func close() {
        if let child {
            child.terminate()
            child.waitUntilExit()
        }
        if let directory { try? FileManager.default.removeItem(at: directory) }
    }

    static func read(_ path: String) throws -> [String: String] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            values[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        return values
    }
}

/// After a run: every position the webhooks acknowledged in the window must be in history (read back through
/// the REST API, per driver), once the pipeline has caught up (retried for up to 30 s).
package struct HistoryCheck {
    package struct Result: Codable, Sendable {
        package var checked: Int
        package var missing: Int
    }

    static func run(url: String, token: String, owed: [String: [Int64]]) async throws -> Result {
        let checked = owed.values.reduce(0) { $0 + $1.count }
        var remaining = owed
        let deadline = ContinuousClock.now + .seconds(30)
        while true {
            let missing = await missingPositions(url: url, token: token, owed: remaining)
            remaining = missing
            let count = missing.values.reduce(0) { $0 + $1.count }
            if count == 0 || ContinuousClock.now >= deadline { return Result(checked: checked, missing: count) }
            try await Task.sleep(for: .seconds(2))
        }
    }

    /// Per driver, the owed fix times its history lacks (a driver whose history cannot be read: all of them).
    private static func missingPositions(url: String, token: String, owed: [String: [Int64]]) async -> [String: [Int64]]
    {
        await withTaskGroup(of: (String, [Int64]).self) { group in
            var result: [String: [Int64]] = [:]
            var inFlight = 0
            for (driver, fixes) in owed where !fixes.isEmpty {
                if inFlight >= 16, let (driver, missing) = await group.next() {
                    inFlight -= 1
                    if !missing.isEmpty { result[driver] = missing }
                }
                inFlight += 1
                group.addTask {
                    let stored = await storedFixTimes(
                        url: url,
                        token: token,
                        driver: driver,
                        from: fixes.min()!,
                        to: fixes.max()!
                    )
                    return (driver, fixes.filter { !(stored?.contains($0) ?? false) })
                }
            }
            for await (driver, missing) in group where !missing.isEmpty { result[driver] = missing }
            return result
        }
    }

    private static func storedFixTimes(
        url: String,
        token: String,
        driver: String,
        from: Int64,
        to: Int64
    ) async
        -> Set<Int64>?
    {
        var request = HTTPClientRequest(
            url: "\(url)/api/drivers/\(driver)/history?from=\(from - 1)&to=\(to + 1)&maxPoints=10000"
        )
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        guard let response = try? await HTTPClient.shared.execute(request, timeout: .seconds(15)),
            response.status == .ok, let body = try? await response.body.collect(upTo: 64 << 20),
            let object = try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any],
            let points = object["points"] as? [[String: Any]]
        else { return nil }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let plain = ISO8601DateFormatter()
        return Set(
            points.compactMap { point -> Int64? in
                guard let text = point["fixTime"] as? String,
                    let date = formatter.date(from: text) ?? plain.date(from: text)
                else { return nil }
                return Int64((date.timeIntervalSince1970 * 1000).rounded())
            }
        )
    }
}
