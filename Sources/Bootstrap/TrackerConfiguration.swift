import Application
import Configuration
import Domain

/// Every setting of the `tracker` process, read once at start-up.
///
/// Sources in precedence order: command-line flags, environment variables (`http.port` is `HTTP_PORT`),
/// built-in defaults. The README lists every key.
struct TrackerConfiguration: Sendable {
    /// `http.host` / `HTTP_HOST`: the address to listen on. Default `127.0.0.1`.
    var host: String
    /// `http.port` / `HTTP_PORT`: the port to listen on. Default `8080`.
    var port: Int
    /// `http.body.limit` / `HTTP_BODY_LIMIT`: maximum request body in bytes. Default 1 MiB.
    var bodyLimit: Int
    /// `tracker.webhook.secret` / `TRACKER_WEBHOOK_SECRET` (secret): the bearer token Traccar sends.
    var webhookSecret: String
    /// `tracker.jwt.secret` / `TRACKER_JWT_SECRET` (secret): HS256 key of the REST and Socket.io tokens.
    var jwtSecret: String
    /// True when either secret fell back to its development default (a warning is logged).
    var usesDevelopmentSecrets: Bool
    /// `tracker.data.dir` / `TRACKER_DATA_DIR`: where local mode keeps its files. Default `./data`.
    var dataDirectory: String
    /// `tracker.in.memory` / `TRACKER_IN_MEMORY`: keep everything in memory (lost on exit).
    var inMemory: Bool
    /// `tracker.sqlite.durability` / `TRACKER_SQLITE_DURABILITY`: `process-crash` (default: an acknowledged
    /// write survives `kill -9`; SQLite `synchronous=NORMAL` in WAL mode) or `power-loss` (fsync per commit).
    var powerLossDurability: Bool
    /// `tracker.instance.id` / `TRACKER_INSTANCE_ID`: names this instance's push consumer group.
    /// Default: `HOSTNAME`, else `local`.
    var instanceId: String
    /// `tracker.dedicated.tenants` / `TRACKER_DEDICATED_TENANTS`: comma-separated premium tenants whose
    /// positions use `gps.positions.<tenant>` (spec §10).
    var routing: TopicRouting
    /// `tracker.stale.sweep.seconds` / `TRACKER_STALE_SWEEP_SECONDS`: how often drivers without fixes are
    /// checked for the offline rule. Default 15.
    var staleSweepInterval: Duration
    /// `tracker.bus.retention.seconds` / `TRACKER_BUS_RETENTION_SECONDS`: local mode's event log keeps a
    /// message this long after every consumer group committed it (uncommitted messages are always kept).
    /// Default 60: at 1,000 drivers × 1 Hz the log holds about 200 MB at steady state.
    var busRetention: Duration
    /// `tracker.history.retention.days` / `TRACKER_HISTORY_RETENTION_DAYS`: history older than this is pruned
    /// hourly. Default 365.
    var historyRetention: Duration
    /// `log.level` / `LOG_LEVEL`: trace, debug, info, notice, warning, error, critical. Default info.
    var logLevel: String
    /// `socketio.ping.interval.ms` / `SOCKETIO_PING_INTERVAL_MS` (default 25000) and `socketio.ping.timeout.ms`
    /// (default 20000): the Engine.IO heartbeat.
    var socketIOPingInterval: Duration
    var socketIOPingTimeout: Duration
    /// `socketio.cors.origin` / `SOCKETIO_CORS_ORIGIN`: `Access-Control-Allow-Origin` for the polling transport
    /// (`*` or an origin); unset: same origin only (the dashboard is served by the tracker itself).
    var socketIOCorsOrigin: String?
    /// `socketio.recovery.seconds` / `SOCKETIO_RECOVERY_SECONDS`: how long a disconnected dashboard can
    /// reconnect and receive the visit events, alerts and driver events it missed (default 120; 0 disables).
    var socketIORecovery: Duration?
    /// Kafka settings (`tracker.broker=kafka`); see `KafkaSettings`.
    var kafka: KafkaSettings
    /// The consumer group applying change events to the reference read model: shared by all instances when
    /// they share the read model; one per instance when each keeps its own (SQLite stores on a shared Kafka).
    var cdcGroup = "tracker-cdc"
    /// `dashboard.*`, `tracker.dev.*`: the dispatcher dashboard (see `DashboardConfiguration`).
    var dashboard: DashboardConfiguration

    static let developmentWebhookSecret = "dev-webhook-secret"
    static let developmentJWTSecret = "dev-jwt-secret-change-me-0123456789"

    /// Reads the configuration; `overrides` are the flags given on the command line.
    init(overrides: [AbsoluteConfigKey: ConfigValue] = [:], environment: [String: String]? = nil) {
        let env = environment.map { EnvironmentVariablesProvider(environmentVariables: $0) }
            ?? EnvironmentVariablesProvider()
        let config = ConfigReader(providers: [InMemoryProvider(name: "flags", values: overrides), env])
        host = config.string(forKey: "http.host", default: "127.0.0.1")
        port = config.int(forKey: "http.port", default: 8080)
        bodyLimit = config.int(forKey: "http.body.limit", default: 1 << 20)
        let webhook = config.string(forKey: "tracker.webhook.secret", isSecret: true)
        let jwt = config.string(forKey: "tracker.jwt.secret", isSecret: true)
        webhookSecret = webhook ?? Self.developmentWebhookSecret
        jwtSecret = jwt ?? Self.developmentJWTSecret
        usesDevelopmentSecrets = webhook == nil || jwt == nil
        dataDirectory = config.string(forKey: "tracker.data.dir", default: "./data")
        inMemory = config.bool(forKey: "tracker.in.memory", default: false)
        powerLossDurability = config.string(forKey: "tracker.sqlite.durability", default: "process-crash") == "power-loss"
        instanceId = config.string(forKey: "tracker.instance.id", default: config.string(forKey: "hostname", default: "local"))
        let dedicated = config.string(forKey: "tracker.dedicated.tenants", default: "")
        routing = TopicRouting(dedicatedTenants: Set(
            dedicated.split(separator: ",").map { TenantID(String($0).trimmingSpaces()) }.filter { !$0.rawValue.isEmpty }))
        staleSweepInterval = .seconds(config.int(forKey: "tracker.stale.sweep.seconds", default: 15))
        busRetention = .seconds(max(1, config.int(forKey: "tracker.bus.retention.seconds", default: 60)))
        historyRetention = .seconds(86_400 * max(1, config.int(forKey: "tracker.history.retention.days", default: 365)))
        logLevel = config.string(forKey: "log.level", default: "info")
        socketIOPingInterval = .milliseconds(max(50, config.int(forKey: "socketio.ping.interval.ms", default: 25_000)))
        socketIOPingTimeout = .milliseconds(max(50, config.int(forKey: "socketio.ping.timeout.ms", default: 20_000)))
        let origin = config.string(forKey: "socketio.cors.origin", default: "")
        socketIOCorsOrigin = origin.isEmpty ? nil : origin
        let recovery = config.int(forKey: "socketio.recovery.seconds", default: 120)
        socketIORecovery = recovery > 0 ? .seconds(recovery) : nil
        kafka = KafkaSettings(config: config, environment: environment)
        dashboard = DashboardConfiguration(config: config)
    }
}

extension String {
    /// The string without leading and trailing spaces and tabs.
    func trimmingSpaces() -> String {
        var view = Substring(self)
        while let first = view.first, first == " " || first == "\t" { view.removeFirst() }
        while let last = view.last, last == " " || last == "\t" { view.removeLast() }
        return String(view)
    }
}
