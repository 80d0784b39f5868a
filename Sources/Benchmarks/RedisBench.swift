import AdapterSupport
import Application
package import ArgumentParser
import Composition
import Domain
import Foundation
import Logging
import RedisAdapters
import SocketIOAdapters
import Synchronization

/// `tracker bench redis`: the Redis adapters' figures (issue 12): latest-position writes of 1,000 drivers per
/// second, a tenant's 1,000 latest positions read, broadcast latency from one instance's publish to another
/// instance's tail, and the recovery replay of 500 reconnecting dashboards.
package struct RedisBench: AsyncParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "redis",
        abstract: "Measure the Redis caches, the shared push log and shared recovery."
    )

    @Option(help: "Redis to measure (default: $TRACKER_REDIS_URL); keys are prefixed by a run id and deleted.")
    package var redisUrl: String?

    @Option(help: "Drivers of the tenant.")
    package var drivers: Int = 1_000

    @Option(help: "Rounds of writes and reads (the median is reported).")
    package var rounds: Int = 20

    @Option(help: "Broadcasts per second in the latency run, for --seconds.")
    package var rate: Int = 1_000

    @Option(help: "Seconds of the latency run.")
    package var seconds: Int = 10

    @Option(help: "Reconnecting dashboards in the recovery run.")
    package var clients: Int = 500

    @Option(help: "Events each of them missed.")
    package var missed: Int = 20

    package func validate() throws {
        guard drivers > 0, rounds > 0, rate > 0, seconds > 0, clients > 0, missed > 0 else {
            throw ValidationError("every count must be positive")
        }
    }

    package func run() async throws {
        guard let url = redisUrl ?? ProcessInfo.processInfo.environment["TRACKER_REDIS_URL"] else {
            throw ValidationError("pass --redis-url or set TRACKER_REDIS_URL")
        }
        let logger = Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() }
        let client = try RedisClient(url: url, logger: logger)
        defer { Task { await client.shutdown() } }
        let version = try await client.command("INFO", "server")
        let server =
            version.bytes.flatMap { bytes in
                String(decoding: bytes, as: UTF8.self).split(whereSeparator: \.isNewline)
                    .first { $0.hasPrefix("redis_version:") }
            }.map(String.init) ?? "redis_version:?"
        print("Redis bench (\(server), \(client.target))")
        try await latestRuns(client: client)
        try await broadcastRun(url: url, logger: logger)
        try await recoveryRun(client: client)
    }

    // MARK: Latest positions

    private func latestRuns(client: RedisClient) async throws {
        let cache = RedisLatestPositionCache(client: client, clock: SystemWallClock())
        let tenant = TenantID("bench-\(UInt32.random(in: 0...UInt32.max))")
        let start = Timestamp(secondsSinceEpoch: Date().timeIntervalSince1970)
        func batch(_ second: Int) -> [EnrichedPosition] {
            (0..<drivers).map { n in
                EnrichedPosition(
                    tenantId: tenant,
                    driverId: DriverID("d\(n)"),
                    deviceId: DeviceID("dev\(n)"),
                    driverName: "Driver \(n)",
                    fixTime: start + .seconds(second),
                    latitude: 52.5 + Double(n) * 1e-4,
                    longitude: 13.4,
                    speedKmh: 30,
                    smoothedSpeedKmh: 30,
                    heading: 90,
                    activity: .moving,
                    late: false,
                    completedStops: 0,
                    totalStops: 10,
                    remainingStops: []
                )
            }
        }
        var batched: [Duration] = []
        for round in 0..<rounds {
            let positions = batch(round)
            batched.append(try await Self.time { try await cache.put(positions, ttl: .seconds(300)) })
        }
        var oneByOne: [Duration] = []
        for round in 0..<min(rounds, 5) {
            let positions = batch(rounds + round)
            oneByOne.append(
                try await Self.time { for p in positions { try await cache.put(p, ttl: .seconds(300)) } }
            )
        }
        let write = Self.median(batched)
        print(
            "latest positions: \(drivers) drivers written in one pipeline: median \(Self.ms(write)) ms per round "
                + "→ at 1 Hz at most \(String(format: "%.1f", Self.milliseconds(write) / 10)) % of one core, client and server "
                + "together; one by one: \(Self.ms(Self.median(oneByOne))) ms"
        )
        var reads: [Duration] = []
        var count = 0
        for _ in 0..<rounds {
            reads.append(try await Self.time { count = try await cache.all(tenantId: tenant).count })
        }
        var encodedReads: [Duration] = []
        for _ in 0..<rounds {
            encodedReads.append(try await Self.time { count = try await cache.allEncoded(tenantId: tenant).count })
        }
        print(
            "latest positions: a tenant's \(count) drivers read as stored JSON (the initial-state path): median "
                + "\(Self.ms(Self.median(encodedReads))) ms (min \(Self.ms(encodedReads.min()!)), max "
                + "\(Self.ms(encodedReads.max()!))) (goal ≤ 5 ms: "
                + "\(Self.median(encodedReads) <= .milliseconds(5) ? "met" : "NOT met")); decoded to positions: median "
                + "\(Self.ms(Self.median(reads))) ms (min \(Self.ms(reads.min()!)), max \(Self.ms(reads.max()!)))"
        )
        _ = try await client.pipeline(
            [[Array("DEL".utf8), Array("tracker:lpi:\(tenant.rawValue.utf8.count):\(tenant.rawValue)".utf8)]]
                + (0..<drivers).map { n in
                    [
                        Array("DEL".utf8),
                        Array("tracker:lp:\(tenant.rawValue.utf8.count):\(tenant.rawValue):d\(n)".utf8),
                    ]
                }
        )
    }

    // MARK: Broadcast latency

    /// Instance A publishes (`RedisPushFanout`), instance B tails (`RedisPushTail` on its own connection):
    /// the time from publish to delivery at B.
    private func broadcastRun(url: String, logger: Logger) async throws {
        let publisherClient = try RedisClient(url: url, logger: logger)
        let tailClient = try RedisClient(url: url, timeout: .seconds(3), logger: logger)
        let publisher = RedisPushFanout(log: RedisPushLog(client: publisherClient), logger: logger)
        let clock = ContinuousClock()
        let origin = clock.now
        let latencies = Mutex<[Duration]>([])
        let tenant = TenantID("bench-\(UInt32.random(in: 0...UInt32.max))")
        let tail = RedisPushTail(log: RedisPushLog(client: tailClient), logger: logger) { message, _, _ in
            guard message.tenantId == tenant, let text = String(bytes: message.json, encoding: .utf8),
                let sentNs = Int64(text)
            else { return }
            let latency = (clock.now - origin) - .nanoseconds(sentNs)
            latencies.withLock { $0.append(latency) }
        }
        let tailing = Task { try await tail.run() }
        try await Task.sleep(for: .milliseconds(500))  // the tail has found the streams' ends
        let total = rate * seconds
        let interval = Duration.seconds(1) / rate
        let start = clock.now
        for n in 0..<total {
            let due = start + interval * n
            if clock.now < due { try await Task.sleep(until: due, clock: clock) }
            let sent = clock.now - origin
            let ns = sent.components.seconds * 1_000_000_000 + sent.components.attoseconds / 1_000_000_000
            await publisher.broadcast(
                PushMessage(event: "visit-event", json: Array("\(ns)".utf8), tenantId: tenant),
                to: [.tenant(tenant)]
            )
        }
        for _ in 0..<50 where latencies.withLock({ $0.count }) < total { try await Task.sleep(for: .milliseconds(100)) }
        tailing.cancel()
        _ = try? await tailing.value
        await publisherClient.shutdown()
        let sorted = latencies.withLock { $0 }.sorted()
        guard !sorted.isEmpty else {
            print("broadcast across instances: nothing delivered")
            return
        }
        func percentile(_ p: Double) -> Duration { sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }
        print(
            "broadcast across instances: \(sorted.count)/\(total) events at \(rate)/s, publish → other instance's "
                + "tail: p50 \(Self.ms(percentile(0.5))) ms, p99 \(Self.ms(percentile(0.99))) ms, "
                + "max \(Self.ms(sorted.last!)) ms"
        )
    }

    // MARK: Recovery

    /// `clients` sessions saved by a dead instance, `missed` events after their offset, then every client
    /// reconnecting to one instance at once: claim the session and read what it missed.
    private func recoveryRun(client: RedisClient) async throws {
        let log = RedisPushLog(client: client)
        let recovery = RedisSharedRecovery(log: log)
        let tenant = TenantID("bench-\(UInt32.random(in: 0...UInt32.max))")
        let fanout = RedisPushFanout(log: log, logger: Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() })
        await fanout.broadcast(
            PushMessage(event: "visit-event", json: Array("0".utf8), tenantId: tenant),
            to: [.tenant(tenant)]
        )
        let (_, offset) = try await log.ends()
        let pids = (0..<clients).map { "bench-\(tenant.rawValue)-\($0)" }
        await recovery.save(
            pids.map {
                SharedSession(
                    pid: $0,
                    socketId: $0,
                    namespace: "/",
                    rooms: ["\(tenant.rawValue)|tenant:\(tenant.rawValue)"],
                    owner: "o"
                )
            },
            ttl: .seconds(120)
        )
        for n in 1...missed {
            await fanout.broadcast(
                PushMessage(event: "visit-event", json: Array("\(n)".utf8), tenantId: tenant),
                to: [.tenant(tenant)]
            )
        }
        let missed = self.missed
        var restored = 0
        let elapsed = await Self.time {
            restored = await withTaskGroup(of: Bool.self) { group in
                for pid in pids {
                    group.addTask {
                        guard await recovery.claim(pid: pid) != nil,
                            let packets = await recovery.packets(after: offset)
                        else { return false }
                        return packets.count >= missed
                    }
                }
                return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
        }
        print(
            "recovery: \(restored)/\(clients) dashboards reconnecting at once restored with "
                + "\(missed) missed events each in \(Self.ms(elapsed)) ms (one Redis connection)"
        )
    }

    // MARK: Helpers

    private static func time(_ work: () async throws -> Void) async rethrows -> Duration {
        let clock = ContinuousClock()
        let start = clock.now
        try await work()
        return clock.now - start
    }

    private static func median(_ values: [Duration]) -> Duration { values.sorted()[values.count / 2] }

    private static func milliseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
    }

    private static func ms(_ duration: Duration) -> String {
        let value = milliseconds(duration)
        return String(format: value < 10 ? "%.2f" : "%.0f", value)
    }
}
