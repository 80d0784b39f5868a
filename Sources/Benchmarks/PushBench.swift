import Application
package import ArgumentParser
import AsyncHTTPClient
import Composition
import Domain
package import Foundation
import HTTPAdapters
import Logging
import NIOCore
import NIOHTTP1
import Simulation
import SocketIOAdapters
import Synchronization

/// End-to-end fan-out: simulated drivers post Traccar webhooks at 1 Hz to a tracker (or a peer server),
/// `clients` Socket.IO dashboards of the tenant receive the positions; prints latency from fix to receipt,
/// delivered/expected, and the server's CPU and RSS.
///
/// By default it starts `tracker serve` (local mode, SQLite in a temporary directory) as a child process, so
/// the server's CPU and memory are measured apart from the load generator's. `--target`/`--server-pid`
/// measure another server doing the same job (the python-socketio peer of `scripts/bench-push`).
package struct PushBench: AsyncParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "push",
        abstract: "Webhook → Socket.IO dashboards: latency, delivery, server CPU and RSS."
    )

    @Option(help: "Simulated drivers posting at 1 Hz.") var drivers = 1000
    @Option(help: "Socket.IO clients (dashboards) in the tenant.") var clients = 500
    @Option(help: "Clients ask for driver-positions batches every N ms (0: one driver-position per fix).")
    package var batchMs = 100
    @Option(help: "Measured seconds (after a 5 s warm-up).") var seconds = 30
    @Option(help: "A running server to measure instead of starting tracker serve (then also --server-pid).")
    package var target: String?
    @Option(help: "PID of --target, for CPU and RSS.") var serverPid: Int32?
    @Option(help: "Webhook secret of --target.") var secret = "bench-webhook-secret"
    @Flag(help: "Then restart the server and reconnect every client at once (reconnect storm).")
    package var restart = false

    package func validate() throws {
        guard (1...20_000).contains(drivers), (1...20_000).contains(clients), (0...10_000).contains(batchMs),
            seconds > 0
        else { throw ValidationError("--drivers and --clients 1–20000, --batch-ms 0–10000, --seconds > 0") }
        if target != nil, serverPid == nil { throw ValidationError("--target needs --server-pid") }
        if target != nil, restart {
            throw ValidationError("--restart restarts the tracker it started; not with --target")
        }
    }

    package func run() async throws {
        let logger = Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() }
        let jwtSecret = "bench-jwt-secret"
        var child: Process?
        let url: String
        let pid: Int32
        let port = Int.random(in: 20_000...40_000)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("push-bench-\(getpid())")
        try? FileManager.default.removeItem(at: directory)
        if let target {
            url = target
            pid = serverPid!
        } else {
            let process = try await Self.startServer(
                port: port,
                directory: directory,
                webhookSecret: secret,
                jwtSecret: jwtSecret
            )
            child = process
            url = "http://127.0.0.1:\(port)"
            pid = process.processIdentifier
        }
        defer {
            child?.terminate()
            try? FileManager.default.removeItem(at: directory)
        }
        let now = Timestamp(secondsSinceEpoch: Date().timeIntervalSince1970)
        let scenario = DemoScenario.make(drivers: drivers, date: CalendarDate(containing: now), now: now)
        let tokens = TokenAuthority(secret: jwtSecret)
        let admin = try await tokens.mint(
            principal: Principal(tenantId: scenario.tenantId, role: .admin, subject: "bench"),
            ttl: .seconds(3600)
        )
        let viewer = try await tokens.mint(
            principal: Principal(
                tenantId: scenario.tenantId,
                role: .dispatcher,
                subject: "bench"
            ),
            ttl: .seconds(3600)
        )
        if target == nil {
            let report = try await SimulationRunner.seed(via: url, token: admin, scenario: scenario) { _ in }
            print("push bench: seeded \(report.driversCreated) drivers, \(report.routesCreated) routes at \(url)")
        }

        // Dashboards.
        let recorder = LatencyRecorder()
        let auth = batchMs > 0 ? #"{"token":"\#(viewer)","batchMs":\#(batchMs)}"# : #"{"token":"\#(viewer)"}"#
        let clock = ContinuousClock()
        let connectStart = clock.now
        let connected = try await withThrowingTaskGroup(of: SocketIOClient?.self) { group in
            var result: [SocketIOClient] = []
            for index in 0..<clients {
                if index >= 50, let client = try await group.next() { client.map { result.append($0) } }
                group.addTask {
                    try? await SocketIOClient.connect(url: url, auth: auth, logger: logger) { event, packet in
                        if event == "driver-position" || event == "driver-positions" { recorder.record(packet) }
                    }
                }
            }
            for try await client in group { client.map { result.append($0) } }
            return result
        }
        print(
            "push bench: \(connected.count)/\(clients) clients connected in \(Self.ms(clock.now - connectStart)) ms"
                + (batchMs > 0 ? ", batches every \(batchMs) ms" : ", one event per position")
        )

        // Drivers.
        let simulation = SimulationRunner(
            scenario: scenario,
            configuration: .init(
                url: url,
                secret: secret,
                interval: .seconds(1),
                duration: .seconds(seconds + 7),
                maxInFlight: 64,
                progressEvery: .seconds(3600),
                slices: min(20, drivers)
            ),
            log: { _ in }
        )
        let simulationTask = Task { await simulation.run() }
        try await Task.sleep(for: .seconds(5))
        let windowStart = Int64(Date().timeIntervalSince1970 * 1000)
        recorder.start(from: windowStart)
        let cpuStart = Self.cpuSeconds(pid: pid)
        let wallStart = clock.now
        var rssPeak = 0
        for _ in 0..<seconds {
            try await Task.sleep(for: .seconds(1))
            rssPeak = max(rssPeak, Self.rssKiB(pid: pid))
        }
        let windowEnd = Int64(Date().timeIntervalSince1970 * 1000)
        let cpu = (Self.cpuSeconds(pid: pid) - cpuStart) / (clock.now - wallStart).secondsValue
        recorder.stop(at: windowEnd)
        try await Task.sleep(for: .seconds(2))  // in-flight deliveries of the window's last fixes
        let result = await simulationTask.value
        let summary = recorder.summary()
        // Each tick posts its fixes in 20 slices, each stamped with its own fix time.
        let expected = summary.fixTimes * drivers / min(20, drivers) * connected.count
        print("push bench: \(drivers) drivers × 1 Hz → \(connected.count) clients, \(seconds) s measured")
        print("  webhooks: \(result.stats.ok) ok, \(result.stats.sent - result.stats.ok) failed")
        print(
            "  delivered \(summary.delivered) / expected \(expected) positions "
                + "(\(Self.percent(Double(summary.delivered) / Double(max(expected, 1)))))"
                + "; \(Int(Double(summary.delivered) / Double(seconds))) positions/s to clients"
        )
        print(
            "  latency fix → client receipt: p50 \(summary.p50) ms, p90 \(summary.p90) ms, p99 \(summary.p99) ms, "
                + "max \(summary.max) ms"
        )
        print("  server: CPU \(Self.percent(cpu)) of one core, RSS peak \(rssPeak / 1024) MB")
        for client in connected { await client.close() }
        guard restart, let running = child else { return }

        // Reconnect storm: restart the server, then every client reconnects at the same moment.
        running.terminate()
        running.waitUntilExit()
        let restarted = try await Self.startServer(
            port: port,
            directory: directory,
            webhookSecret: secret,
            jwtSecret: jwtSecret
        )
        child = restarted
        let storm = clock.now
        let back = Tally()
        let states = Tally()
        let again = await withTaskGroup(of: SocketIOClient?.self) { group in
            for _ in 0..<connected.count {
                group.addTask {
                    let client = try? await SocketIOClient.connect(url: url, auth: auth, logger: logger) { event, _ in
                        if event == "initial-state" { states.add() }
                    }
                    if client != nil { back.add() }
                    return client
                }
            }
            var clients: [SocketIOClient] = []
            for await client in group { client.map { clients.append($0) } }
            return clients
        }
        let allBack = clock.now - storm
        try await Task.sleep(for: .milliseconds(500))
        print(
            "  reconnect storm after a restart: \(back.count)/\(connected.count) clients back in "
                + "\(Self.ms(allBack)) ms, \(states.count) initial states received"
        )
        for client in again { await client.close() }
    }

    package static func startServer(
        port: Int,
        directory: URL,
        webhookSecret: String,
        jwtSecret: String
    ) async throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
        process.arguments = ["serve", "--data-dir", directory.path, "--port", "\(port)", "--host", "127.0.0.1"]
        var environment = ProcessInfo.processInfo.environment
        environment["TRACKER_WEBHOOK_SECRET"] = webhookSecret
        environment["TRACKER_JWT_SECRET"] = jwtSecret
        environment["LOG_LEVEL"] = "warning"
        process.environment = environment
        try process.run()
        // Ready when the health endpoint answers.
        for _ in 0..<300 {
            let request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/health/live")
            if let response = try? await HTTPClient.shared.execute(request, timeout: .seconds(1)),
                response.status == .ok
            {
                return process
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        process.terminate()
        throw ValidationError("tracker serve did not start on port \(port)")
    }

    package static func cpuSeconds(pid: Int32) -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return 0 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // utime and stime are fields 14 and 15 of the line; here counted after the ")" (field 3 is index 0).
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    package static func rssKiB(pid: Int32) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
        }
        return 0
    }

    package static func ms(_ duration: Duration) -> Int { Int(duration.milliseconds) }
    package static func percent(_ value: Double) -> String { String(format: "%.1f %%", value * 100) }
}

/// A shared counter.
package final class Tally: Sendable {
    private let value = Mutex(0)
    package func add() { value.withLock { $0 += 1 } }
    package var count: Int { value.withLock { $0 } }
}

/// Latencies (1 ms buckets) of positions whose fix time is inside the measurement window.
package final class LatencyRecorder: Sendable {
    package struct Summary {
        var delivered: Int
        var fixTimes: Int
        var p50: Int
        var p90: Int
        var p99: Int
        var max: Int
    }
    private struct State {
        var window: (start: Int64, end: Int64)?
        var histogram = [Int](repeating: 0, count: 60_001)
        var delivered = 0
        var fixTimes = Set<Int64>()
    }
    private let state = Mutex(State())
    private static let marker = Array(#""fixTime":"#.utf8)

    package func start(from: Int64) { state.withLock { $0.window = (from, .max) } }
    package func stop(at end: Int64) { state.withLock { $0.window?.end = end } }

    /// Records every `"fixTime":<ms>` of a received packet.
    package func record(_ packet: String) {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let samples = Self.fixTimes(in: packet)
        state.withLock { state in
            guard let window = state.window else { return }
            for fix in samples where fix >= window.start && fix < window.end {
                state.delivered += 1
                state.fixTimes.insert(fix)
                state.histogram[Int(min(max(now - fix, 0), 60_000))] += 1
            }
        }
    }

    /// Every `"fixTime":<ms>` of a live-feed packet, in order (scanned in place, no copy, no JSON decoding).
    package static func fixTimes(in packet: String) -> [Int64] {
        var packet = packet
        var samples: [Int64] = []
        let marker = Self.marker
        packet.withUTF8 { bytes in
            let count = bytes.count
            let width = marker.count
            var i = 0
            while i + width < count {
                guard bytes[i] == 0x22, bytes[i + 1] == 0x66, bytes[i + 4] == 0x54 else {  // `"f..T`
                    i += 1
                    continue
                }
                var j = 2
                while j < width, bytes[i + j] == marker[j] { j += 1 }
                guard j == width else {
                    i += 1
                    continue
                }
                var k = i + width
                var value: Int64 = 0
                while k < count, bytes[k] >= 0x30, bytes[k] <= 0x39 {
                    value = value * 10 + Int64(bytes[k] - 0x30)
                    k += 1
                }
                samples.append(value)
                i = k
            }
        }
        return samples
    }

    package func summary() -> Summary {
        state.withLock { state in
            func quantile(_ q: Double) -> Int {
                let target = Int((Double(state.delivered) * q).rounded(.up))
                var seen = 0
                for (ms, n) in state.histogram.enumerated() {
                    seen += n
                    if seen >= Swift.max(target, 1) { return ms }
                }
                return 0
            }
            let max = state.histogram.lastIndex { $0 > 0 } ?? 0
            return Summary(
                delivered: state.delivered,
                fixTimes: state.fixTimes.count,
                p50: quantile(0.5),
                p90: quantile(0.9),
                p99: quantile(0.99),
                max: max
            )
        }
    }
}
