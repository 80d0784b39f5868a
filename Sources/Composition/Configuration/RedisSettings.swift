package import Configuration

/// The shared caches on Redis (`tracker.cache=redis`), read under `tracker.`:
///
/// - `tracker.redis.url` / `TRACKER_REDIS_URL` (secret): `redis://[user:password@]host[:port][/db]`. Required
///   with `--cache redis`. hiredis 0.14 speaks no TLS: reach a TLS-only Redis through a local TLS proxy.
/// - `tracker.redis.timeout.ms` (2000): connect, read and write timeout of every call.
///
/// The URL is never logged: the start-up line names host, port and database only.
package struct RedisSettings: Sendable {
    package var url: String?
    package var timeout: Duration

    package init(config: ConfigReader) {
        url = config.string(forKey: "redis.url", isSecret: true).flatMap { $0.isEmpty ? nil : $0 }
        timeout = .milliseconds(max(50, config.int(forKey: "redis.timeout.ms", default: 2_000)))
    }
}
