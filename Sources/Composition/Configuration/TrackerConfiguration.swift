package import Application
package import Configuration
import Domain

/// Every setting of the `tracker` process, read once at start-up, by concern: each section reads its keys
/// from a reader scoped to its prefix.
///
/// Sources in precedence order: command-line flags, environment variables (`http.port` is `HTTP_PORT`),
/// built-in defaults. The README lists every key.
package struct TrackerConfiguration: Sendable {
    /// `http.*`: the listener.
    package var http: HTTPSettings
    /// `tracker.webhook.secret`, `tracker.jwt.secret`: the two secrets.
    package var secrets: SecretSettings
    /// `tracker.broker|store|cache|source`: which adapter serves each port.
    package var plan: AdapterPlan
    /// `tracker.data.dir`, `tracker.sqlite.*`, `tracker.bus.*`: local mode's files.
    package var sqlite: SQLiteSettings
    /// `tracker.kafka.*`, `kafka.*`: the Kafka bus.
    package var kafka: KafkaSettings
    /// `tracker.postgres.*`, `tracker.history.url`: the shared PostgreSQL stores.
    package var postgres: PostgresSettings
    /// `tracker.redis.*`: the shared caches.
    package var redis: RedisSettings
    /// `tracker.sqlserver.*`: the read-only SQL Server source of truth.
    package var sqlserver: SQLServerSettings
    /// `socketio.*`: the dashboards' live feed.
    package var socketIO: SocketIOSettings
    /// `dashboard.*`, `tracker.dev.*`: the dispatcher dashboard.
    package var dashboard: DashboardConfiguration
    /// `tracker.dedicated.tenants`, `tracker.stale.sweep.seconds`, `tracker.history.retention.days`: the flows.
    package var flows: FlowSettings
    /// `tracker.instance.id` / `TRACKER_INSTANCE_ID` (default `$HOSTNAME`, else `local`), as the plan allows it:
    /// names this instance's push consumer group (and its CDC group when each instance keeps its read model).
    package var instanceId: String
    /// The consumer group applying change events to the read model (see `AdapterPlan.cdcGroup`).
    package var cdcGroup: String
    /// `log.level` / `LOG_LEVEL`: trace, debug, info, notice, warning, error, critical. Default info.
    package var logLevel: String

    package static let developmentWebhookSecret = SecretSettings.developmentWebhookSecret
    package static let developmentJWTSecret = SecretSettings.developmentJWTSecret

    /// Reads the configuration; `overrides` are the flags given on the command line. An unknown adapter name
    /// throws a `StartupFailure` naming the key.
    package init(
        overrides: [AbsoluteConfigKey: ConfigValue] = [:],
        environment: [String: String]? = nil
    )
        throws(StartupFailure)
    {
        let env =
            environment.map { EnvironmentVariablesProvider(environmentVariables: $0) }
            ?? EnvironmentVariablesProvider()
        let config = ConfigReader(providers: [InMemoryProvider(name: "flags", values: overrides), env])
        http = HTTPSettings(config: config.scoped(to: "http"))
        secrets = SecretSettings(config: config.scoped(to: "tracker"))
        plan = try AdapterPlan(config: config)
        sqlite = SQLiteSettings(config: config.scoped(to: "tracker"))
        kafka = KafkaSettings(config: config, environment: environment)
        postgres = PostgresSettings(config: config.scoped(to: "tracker"))
        redis = RedisSettings(config: config.scoped(to: "tracker"))
        sqlserver = SQLServerSettings(config: config.scoped(to: "tracker"))
        socketIO = SocketIOSettings(config: config.scoped(to: "socketio"))
        dashboard = DashboardConfiguration(config: config)
        flows = FlowSettings(config: config.scoped(to: "tracker"))
        let configured = config.string(
            forKey: "tracker.instance.id",
            default: config.string(forKey: "hostname", default: "local")
        )
        instanceId = plan.instanceId(configured: configured)
        cdcGroup = plan.cdcGroup(instanceId: instanceId)
        logLevel = config.string(forKey: "log.level", default: "info")
    }

    /// The in-memory system's configuration (tests): defaults, or the given environment, with the plan forced.
    package static func inMemory(environment: [String: String] = [:]) -> TrackerConfiguration {
        var environment = environment
        environment["TRACKER_IN_MEMORY"] = "true"
        // Only adapter names can fail, and none is given here.
        return (try? TrackerConfiguration(environment: environment))!
    }
}

/// `http.host` (default `127.0.0.1`), `http.port` (`8080`), `http.body.limit` (1 MiB; 413 above).
package struct HTTPSettings: Sendable {
    package var host: String
    package var port: Int
    package var bodyLimit: Int

    package init(config: ConfigReader) {
        host = config.string(forKey: "host", default: "127.0.0.1")
        port = config.int(forKey: "port", default: 8080)
        bodyLimit = config.int(forKey: "body.limit", default: 1 << 20)
    }
}

/// `tracker.webhook.secret` (secret: the bearer token Traccar sends) and `tracker.jwt.secret` (secret: the HS256
/// key of the REST and Socket.IO tokens). Unset: development values, with a warning at start.
package struct SecretSettings: Sendable {
    package static let developmentWebhookSecret = "dev-webhook-secret"
    package static let developmentJWTSecret = "dev-jwt-secret-change-me-0123456789"

    package var webhook: String
    package var jwt: String
    /// True when either secret fell back to its development default.
    package var usesDevelopmentDefaults: Bool

    package init(config: ConfigReader) {
        let webhook = config.string(forKey: "webhook.secret", isSecret: true)
        let jwt = config.string(forKey: "jwt.secret", isSecret: true)
        self.webhook = webhook ?? Self.developmentWebhookSecret
        self.jwt = jwt ?? Self.developmentJWTSecret
        usesDevelopmentDefaults = webhook == nil || jwt == nil
    }
}

/// Local mode's files (read under `tracker.`):
/// - `tracker.data.dir` (default `./data`): `tracker.sqlite` (fleet, read model, history), `bus.sqlite` (the
///   event log), `core.sqlite` (the local source of truth).
/// - `tracker.sqlite.durability`: `process-crash` (default: an acknowledged write survives `kill -9`;
///   `synchronous=NORMAL` in WAL mode) or `power-loss` (fsync per commit).
/// - `tracker.bus.retention.seconds` (default 60): the log keeps a message this long after every group
///   committed it (uncommitted messages are always kept).
package struct SQLiteSettings: Sendable {
    package var dataDirectory: String
    package var powerLossDurability: Bool
    package var busRetention: Duration

    package init(config: ConfigReader) {
        dataDirectory = config.string(forKey: "data.dir", default: "./data")
        powerLossDurability = config.string(forKey: "sqlite.durability", default: "process-crash") == "power-loss"
        busRetention = .seconds(max(1, config.int(forKey: "bus.retention.seconds", default: 60)))
    }
}

/// `socketio.ping.interval.ms` (25000) and `socketio.ping.timeout.ms` (20000): the Engine.IO heartbeat;
/// `socketio.cors.origin` (unset: same origin only); `socketio.recovery.seconds` (120; 0 disables).
package struct SocketIOSettings: Sendable {
    package var pingInterval: Duration
    package var pingTimeout: Duration
    package var corsOrigin: String?
    package var recovery: Duration?

    package init(config: ConfigReader) {
        pingInterval = .milliseconds(max(50, config.int(forKey: "ping.interval.ms", default: 25_000)))
        pingTimeout = .milliseconds(max(50, config.int(forKey: "ping.timeout.ms", default: 20_000)))
        let origin = config.string(forKey: "cors.origin", default: "")
        corsOrigin = origin.isEmpty ? nil : origin
        let recovery = config.int(forKey: "recovery.seconds", default: 120)
        self.recovery = recovery > 0 ? .seconds(recovery) : nil
    }
}

/// The data flows (read under `tracker.`): `tracker.dedicated.tenants` (comma-separated premium tenants with
/// their own `gps.positions.<tenant>`), `tracker.stale.sweep.seconds` (15), `tracker.history.retention.days`
/// (365, pruned hourly); change data capture monitoring: `tracker.cdc.lag.threshold.seconds` (30: a table whose
/// newest applied change is older is `lagging`), `tracker.cdc.retention.hours` (120: the source's CDC retention)
/// and `tracker.cdc.retention.warning.hours` (24: lag from which `/health/cdc` warns that retention is close).
package struct FlowSettings: Sendable {
    package var routing: TopicRouting
    package var staleSweepInterval: Duration
    package var historyRetention: Duration
    package var syncMonitor: SyncMonitor.Configuration

    package init(config: ConfigReader) {
        let dedicated = config.string(forKey: "dedicated.tenants", default: "")
        routing = TopicRouting(
            dedicatedTenants: Set(
                dedicated.split(separator: ",").map { TenantID(String($0).trimmingSpaces()) }.filter {
                    !$0.rawValue.isEmpty
                }
            )
        )
        staleSweepInterval = .seconds(config.int(forKey: "stale.sweep.seconds", default: 15))
        historyRetention = .seconds(86_400 * max(1, config.int(forKey: "history.retention.days", default: 365)))
        syncMonitor = SyncMonitor.Configuration()
        syncMonitor.lagThreshold = .seconds(max(1, config.int(forKey: "cdc.lag.threshold.seconds", default: 30)))
        syncMonitor.sourceRetention = .seconds(3600 * max(1, config.int(forKey: "cdc.retention.hours", default: 120)))
        syncMonitor.retentionWarning = .seconds(
            3600 * max(1, config.int(forKey: "cdc.retention.warning.hours", default: 24))
        )
    }
}

extension String {
    /// The string without leading and trailing spaces and tabs.
    package func trimmingSpaces() -> String {
        var view = Substring(self)
        while let first = view.first, first == " " || first == "\t" { view.removeFirst() }
        while let last = view.last, last == " " || last == "\t" { view.removeLast() }
        return String(view)
    }
}
