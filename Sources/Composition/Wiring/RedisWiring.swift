package import Application
import Domain
package import Logging
import RedisAdapters
package import ServiceLifecycle

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
}
