import AdapterContracts
import AdapterSupport
import Application
import Composition
import Domain
import Logging
import RedisAdapters
import SocketIOAdapters
import Synchronization
import Testing
import WireFormat

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The Redis server of the tests: `TRACKER_TEST_REDIS_URL` (scripts/test starts one with scripts/test-redis).
enum TestRedis {
    static var url: String? { ProcessInfo.processInfo.environment["TRACKER_TEST_REDIS_URL"] }
    /// Run the tests when the URL is set, or in CI (where they then fail).
    static var enabled: Bool { url != nil || ProcessInfo.processInfo.environment["CI"] != nil }

    static func requireURL() throws -> String {
        try #require(url, "TRACKER_TEST_REDIS_URL is not set (CI must run scripts/test, which starts Redis)")
    }
}

/// The cache contracts against a real Redis 7 (expiry is the server's: the contracts sleep). TTLs of 2 s: with
/// 400 ms, a put and its read-back were once further apart than that on a loaded CI machine.
@Suite("Redis adapter contracts", .enabled(if: TestRedis.enabled, "set TRACKER_TEST_REDIS_URL"))
struct RedisContractTests {
    private let logger = Logger(label: "redis-tests", factory: { _ in SwiftLogNoOpLogHandler() })

    @Test func latestPositionCache() async throws {
        let client = try RedisClient(url: try TestRedis.requireURL(), logger: logger)
        try await LatestPositionCacheContract(capabilities: .init(time: .realTime(ttl: .seconds(6)))) { _ in
            RedisLatestPositionCache(client: client, clock: SystemWallClock())
        }.run()
        await client.shutdown()
    }

    /// Each cache the contract makes is another instance: a client and a subscriber of its own.
    @Test func customerCache() async throws {
        let url = try TestRedis.requireURL()
        let logger = self.logger
        let made = Mutex<[(RedisClient, RedisSubscriber)]>([])
        try await CustomerCacheContract(
            capabilities: .init(time: .realTime(ttl: .seconds(6)), sharedAcrossInstances: true)
        ) { _ in
            let client = try RedisClient(url: url, logger: logger)
            let subscriber = try RedisSubscriber(url: url, channels: [RedisCustomerCache.channel], logger: logger)
            made.withLock { $0.append((client, subscriber)) }
            return RedisCustomerCache(client: client, subscriber: subscriber)
        }.run()
        for (client, subscriber) in made.withLock({ $0 }) {
            await subscriber.shutdown()
            await client.shutdown()
        }
    }

    /// Two clients (two instances) racing fixes of one driver: whatever the order, the newest fix stays.
    @Test func newestFixWinsAcrossClients() async throws {
        let url = try TestRedis.requireURL()
        let clients = try (0..<2).map { _ in try RedisClient(url: url, logger: logger) }
        let caches = clients.map { RedisLatestPositionCache(client: $0, clock: SystemWallClock()) }
        let tenant = TenantID("race-\(UInt32.random(in: 0...UInt32.max))")
        let base = Timestamp(millisecondsSinceEpoch: 1_710_460_800_000)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, cache) in caches.enumerated() {
                group.addTask {
                    for second in (0..<200).shuffled() where second % 2 == index {
                        var fix = EnrichedPosition(
                            tenantId: tenant,
                            driverId: "d",
                            deviceId: "dev",
                            driverName: "d",
                            fixTime: base + .seconds(second),
                            latitude: 1,
                            longitude: 2,
                            speedKmh: 3,
                            smoothedSpeedKmh: 3,
                            heading: 4,
                            activity: .moving,
                            late: false,
                            completedStops: 0,
                            totalStops: 0,
                            remainingStops: []
                        )
                        fix.heading = Double(second)
                        try await cache.put(fix, ttl: .seconds(60))
                    }
                }
            }
            try await group.waitForAll()
        }
        let stored = try await caches[0].latest(driverId: "d", tenantId: tenant)
        #expect(stored?.fixTime == base + .seconds(199), "op: racing puts, key: newest fix kept")
        #expect(try await caches[1].all(tenantId: tenant).map(\.driverId) == ["d"], "op: all, key: one driver")
        for client in clients { await client.shutdown() }
    }

    /// A stopped server is `.unavailable` quickly (no hang); the URL is parsed with user, password and
    /// database, and a wrong password is refused without repeating it.
    @Test func failuresAndURLs() async throws {
        let down = try RedisClient(url: "redis://127.0.0.1:1/0", timeout: .milliseconds(500), logger: logger)
        let clock = ContinuousClock()
        let started = clock.now
        await #expect(throws: StoreError.self) { try await down.checkHealth() }
        #expect(clock.now - started < .seconds(5), "op: connect refused, key: fails fast (no hang)")
        await down.shutdown()
        let endpoint = try RedisEndpoint(url: "redis://app:s%40cret@cache.internal:6380/3")
        #expect(endpoint.user == "app" && endpoint.password == "s@cret" && endpoint.host == "cache.internal")
        #expect(endpoint.port == 6380 && endpoint.database == 3 && endpoint.target == "cache.internal:6380/3")
        #expect(throws: StoreError.self) { try RedisEndpoint(url: "http://x") }
        #expect(throws: StoreError.self) { try RedisEndpoint(url: "redis://x:99999") }
        let url = try TestRedis.requireURL()
        let wrong = try RedisClient(
            url: url.replacing("redis://", with: "redis://:wrong-secret@"),
            logger: logger
        )
        let refused = await #expect(throws: StoreError.self) { try await wrong.checkHealth() }
        #expect(refused?.detail.contains("wrong-secret") == false, "op: AUTH refused, key: password not repeated")
        await wrong.shutdown()
    }

    /// `PushGateway` across instances (`tracker.push.fanout=redis`): the gateway under test is instance Y's
    /// `RedisPushFanout`, the probe's sockets are on instance X, whose `RedisPushTail` delivers the shared log
    /// to its Socket.IO gateway. Every rule then holds across instances: room delivery, once per socket,
    /// tenant isolation, order, no blocking on a stalled receiver.
    @Test func pushGatewayAcrossInstances() async throws {
        let url = try TestRedis.requireURL()
        let logger = self.logger
        let started = Mutex<[(SocketIOTestServer, Task<Void, any Error>, RedisClient)]>([])
        try await PushGatewayContract(
            capabilities: .init(deliveryTimeout: .seconds(10), broadcastBudget: .seconds(5), membershipAtDelivery: true)
        ) {
            var configuration = SocketIOGateway.Configuration()
            let sharedClient = try RedisClient(url: url, logger: logger)
            let log = RedisPushLog(client: sharedClient)
            configuration.sharedRecovery = RedisSharedRecovery(log: log)
            let instanceX = try await SocketIOTestServer.start(configuration: configuration)
            let tailLog = RedisPushLog(client: try RedisClient(url: url, timeout: .seconds(3), logger: logger))
            let tail = RedisPushTail(log: tailLog, logger: logger, start: try await log.ends()) {
                message,
                rooms,
                offset in
                instanceX.gateway.deliver(message, to: rooms, offset: offset)
            }
            let tailing = Task { try await tail.run() }
            started.withLock { $0.append((instanceX, tailing, sharedClient)) }
            let instanceY = RedisPushFanout(log: RedisPushLog(client: sharedClient), logger: logger)
            return (instanceY, SocketIOPushProbe(server: instanceX))
        }.run()
        for (server, tailing, client) in started.withLock({ $0 }) {
            server.stop()
            tailing.cancel()
            await client.shutdown()
        }
    }

    /// Connection state recovery across instances: a dashboard on instance 1 that got an event, instance 1
    /// gone, two events published meanwhile, the dashboard reconnecting to instance 2 with its `pid` and last
    /// offset: the same socket id and the two events it missed, in order; another tenant's event is not among
    /// them.
    @Test func recoveryAfterReconnectElsewhere() async throws {
        let url = try TestRedis.requireURL()
        let logger = self.logger
        let client = try RedisClient(url: url, logger: logger)
        let log = RedisPushLog(client: client)
        var configuration = SocketIOGateway.Configuration()
        configuration.sharedRecovery = RedisSharedRecovery(log: log)
        var servers: [SocketIOTestServer] = []
        var tails: [Task<Void, any Error>] = []
        for _ in 0..<2 {
            let server = try await SocketIOTestServer.start(configuration: configuration)
            let tail = RedisPushTail(
                log: RedisPushLog(client: try RedisClient(url: url, timeout: .seconds(3), logger: logger)),
                logger: logger,
                start: try await log.ends()
            ) { message, rooms, offset in server.gateway.deliver(message, to: rooms, offset: offset) }
            servers.append(server)
            tails.append(Task { try await tail.run() })
        }
        defer {
            for server in servers { server.stop() }
            for tail in tails { tail.cancel() }
        }
        let publisher = RedisPushFanout(log: log, logger: logger)
        let tenant = TenantID("rec-\(UInt32.random(in: 0...UInt32.max))")
        let other = TenantID("rec-other-\(UInt32.random(in: 0...UInt32.max))")
        func event(_ n: Int, _ tenant: TenantID) -> PushMessage {
            PushMessage(event: "visit-event", json: Array("{\"n\":\(n)}".utf8), tenantId: tenant)
        }
        let received = Mutex<[String]>([])
        let first = try await SocketIOClient.connect(
            url: servers[0].url,
            auth: #"{"token":"tenant:\#(tenant.rawValue)"}"#,
            logger: logger
        ) { name, packet in if name == "visit-event" { received.withLock { $0.append(packet) } } }
        let pid = try #require(first.pid, "op: connect, key: a recovery pid")
        await publisher.broadcast(event(1, tenant), to: [.tenant(tenant)])
        for _ in 0..<100 where received.withLock({ $0.isEmpty }) { try await Task.sleep(for: .milliseconds(50)) }
        let offset = try #require(
            received.withLock { $0.first }.flatMap { packet -> String? in
                (try? JSONBytesReader.parse(Array(packet.utf8.dropFirst(2))))?.array?.last?.string
            },
            "op: recoverable event, key: carries an offset"
        )
        // The session is saved within a second of connecting.
        for _ in 0..<200 where try await client.command("EXISTS", "tracker:sio:s:\(pid)") != .integer(1) {
            try await Task.sleep(for: .milliseconds(50))
        }
        servers[0].stop()
        await publisher.broadcast(event(2, tenant), to: [.tenant(tenant)])
        await publisher.broadcast(event(3, other), to: [.tenant(other)])
        await publisher.broadcast(event(4, tenant), to: [.tenant(tenant)])
        let replayed = Mutex<[String]>([])
        let again = try await SocketIOClient.connect(
            url: servers[1].url,
            auth: #"{"token":"tenant:\#(tenant.rawValue)","pid":"\#(pid)","offset":"\#(offset)"}"#,
            logger: logger
        ) { name, packet in if name == "visit-event" { replayed.withLock { $0.append(packet) } } }
        #expect(again.socketId == first.socketId, "op: reconnect elsewhere, key: same socket id")
        for _ in 0..<100 where replayed.withLock({ $0.count }) < 2 { try await Task.sleep(for: .milliseconds(50)) }
        let numbers = replayed.withLock { $0 }.compactMap { packet in
            (try? JSONBytesReader.parse(Array(packet.utf8.dropFirst(2))))?.array?.dropFirst().first?["n"]?.int64
        }
        #expect(numbers == [2, 4], "op: recovery on another instance, key: the missed events of its tenant")
        await client.shutdown()
    }
}
