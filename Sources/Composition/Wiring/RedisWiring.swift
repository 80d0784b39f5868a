package import Application
import Domain
package import Logging
package import RedisAdapters
package import ServiceLifecycle
package import SocketIOAdapters

/// The shared caches on Redis (`tracker.cache=redis`): latest positions (TTL 5 min, newest wins across
/// instances) and level 2 of the customer cache. Nothing durable lives only in Redis: callers fall back to
/// the next level on a miss or an outage. The client (pinged every 10 s) and the subscriber (customer
/// invalidations) are services, closed after the flows.
package enum RedisWiring {
    /// Why `settings` cannot run `tracker.cache=redis`, or nil (checked before anything is opened).
    package static func refusal(_ settings: RedisSettings) -> String? {
        settings.url == nil
            ? "tracker.cache=redis needs tracker.redis.url (TRACKER_REDIS_URL), e.g. redis://user:password@host:6379/0"
            : nil
    }

    package static func caches(
        _ settings: RedisSettings,
        clock: any WallClock,
        logger: Logger
    ) throws
        -> (customers: any CustomerCache, latest: any LatestPositionCache, services: [any Service])
    {
        guard let url = settings.url else { throw StartupFailure(message: refusal(settings) ?? "no URL") }
        let client: RedisClient
        let subscriber: RedisSubscriber
        do {
            client = try RedisClient(url: url, timeout: settings.timeout, logger: logger)
            // Customer invalidations from every instance clear this instance's level 1.
            subscriber = try RedisSubscriber(
                url: url,
                channels: [RedisCustomerCache.channel],
                timeout: settings.timeout,
                logger: logger
            )
        } catch let error as StoreError {
            throw StartupFailure(message: error.detail)
        }
        logger.info("caches on Redis", metadata: ["redis.target": "\(client.target)"])
        return (
            RedisCustomerCache(client: client, subscriber: subscriber),
            RedisLatestPositionCache(client: client, clock: clock),
            [client, subscriber]
        )
    }

    /// `tracker.push.fanout=redis`: the shared push log (events kept for `recoveryWindow`), the gateway the
    /// push flow publishes to, the shared recovery of the Socket.IO gateway, and the tail of the log on a
    /// connection of its own. Returns the parts and the services that keep the publishing client open.
    package static func sharedPush(
        _ settings: RedisSettings,
        recoveryWindow: Duration,
        logger: Logger
    ) throws -> (push: TrackerSystem.SharedPush, services: [any Service]) {
        guard let url = settings.url else { throw StartupFailure(message: refusal(settings) ?? "no URL") }
        let client: RedisClient
        let tailClient: RedisClient
        do {
            client = try RedisClient(url: url, timeout: settings.timeout, logger: logger)
            // The tail's own connection: XREAD BLOCK would hold up every other command of a shared one.
            tailClient = try RedisClient(url: url, timeout: settings.timeout + .seconds(1), logger: logger)
        } catch let error as StoreError {
            throw StartupFailure(message: error.detail)
        }
        let log = RedisPushLog(client: client, recoveryWindow: recoveryWindow)
        let tailLog = RedisPushLog(client: tailClient, recoveryWindow: recoveryWindow)
        let push = TrackerSystem.SharedPush(
            publish: { local in RedisPushFanout(log: log, fallback: local, logger: logger) },
            recovery: RedisSharedRecovery(log: log),
            tail: { deliver in RedisPushTail(log: tailLog, logger: logger, deliver: deliver) }
        )
        logger.info("live pushes shared through Redis streams", metadata: ["redis.target": "\(client.target)"])
        return (push, [client])
    }
}

/// Socket.IO connection state recovery on the shared push log: sessions as JSON under their pid, packets from
/// the events stream (room names turned into the gateway's tenant-scoped room keys). Redis being down makes
/// recovery fail (a fresh session), never the connection.
package struct RedisSharedRecovery: SharedRecovery {
    let log: RedisPushLog

    package init(log: RedisPushLog) { self.log = log }

    package func save(_ sessions: [SharedSession], ttl: Duration) async {
        let records = sessions.compactMap { session in
            (try? JSONPayload.encode(session)).map { (pid: session.pid, record: $0) }
        }
        try? await log.saveSessions(records, ttl: ttl)
    }

    package func forget(_ pids: [String]) async {
        try? await log.forgetSessions(pids)
    }

    package func claim(pid: String) async -> SharedSession? {
        guard let bytes = try? await log.claimSession(pid) else { return nil }
        return try? JSONPayload.decode(SharedSession.self, from: bytes)
    }

    package func packets(after offset: String) async -> [SharedPacket]? {
        guard let entries = try? await log.events(after: offset) else { return nil }
        return entries.map { entry in
            SharedPacket(
                offset: entry.id,
                event: entry.message.event,
                args: [entry.message.json],
                rooms: entry.rooms.map { SocketIOGateway.key(entry.message.tenantId, $0.name) }
            )
        }
    }
}
