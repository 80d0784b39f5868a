public import Application
public import Logging

/// Everything the HTTP adapter needs from the composition root: the use cases its routes call, the two
/// authenticators, health and metrics hooks, and limits.
public struct HTTPServices: Sendable {
    /// `POST /api/traccar/*`.
    public var ingest: IngestTraccar
    /// `/api/drivers`, `/api/drivers/{id}`.
    public var drivers: DriverManagement
    /// `/api/drivers/{id}/position|history|stats`.
    public var positions: PositionQueries
    /// `/api/routes`.
    public var routes: RoutePlanning
    /// `/api/visits/{id}/*`.
    public var visits: VisitLifecycle
    /// `/api/customers/{id}`.
    public var customers: CustomerAdministration

    /// Verifies the REST API's JWTs.
    public var tokens: TokenAuthority
    /// Checks Traccar's `Authorization: Bearer <secret>` on `/api/traccar/*`.
    public var webhook: WebhookAuthenticator
    /// "Now" for default query ranges and the webhook's fix-time check.
    public var clock: any WallClock
    /// The dependencies `/health/ready` reports, each with a reason: a `down` one makes it answer 503, a
    /// `degraded` one is named under `degraded` and it still answers 200.
    public var readiness: @Sendable () async -> [DependencyCheck]
    /// The change-data-capture report of `/health/cdc`; nil where the system has none (404).
    public var cdcHealth: (@Sendable () async throws -> SyncMonitor.Report)?
    /// The Prometheus exposition text served on `/metrics`.
    public var metrics: @Sendable () async -> String
    /// Largest accepted request body in bytes (413 above). Default 1 MiB.
    public var bodyLimit: Int
    /// Logs unexpected (500) errors with the request id; everything else at debug.
    public var logger: Logger
    /// The dispatcher dashboard: files, tiles, development sign-in, demo basemap. Default: none of them.
    public var dashboard = DashboardSettings()
    /// This instance's `tracker.instance.id`, sent as `X-Tracker-Instance` on every response: what a load
    /// balancer keeps Socket.IO long-polling sessions on (deploy/nginx/), and which instance answered. Nil: none.
    public var instanceId: String?

    /// - Parameter webhookSecret: `TRACKER_WEBHOOK_SECRET`; an empty secret refuses every webhook call.
    public init(
        ingest: IngestTraccar,
        drivers: DriverManagement,
        positions: PositionQueries,
        routes: RoutePlanning,
        visits: VisitLifecycle,
        customers: CustomerAdministration,
        tokens: TokenAuthority,
        webhookSecret: String,
        clock: any WallClock,
        readiness: @escaping @Sendable () async -> [DependencyCheck] = { [] },
        metrics: @escaping @Sendable () async -> String = { "" },
        bodyLimit: Int = 1 << 20,
        logger: Logger
    ) {
        self.ingest = ingest
        self.drivers = drivers
        self.positions = positions
        self.routes = routes
        self.visits = visits
        self.customers = customers
        self.tokens = tokens
        self.webhook = WebhookAuthenticator(secret: webhookSecret)
        self.clock = clock
        self.readiness = readiness
        self.metrics = metrics
        self.bodyLimit = max(1, bodyLimit)
        self.logger = logger
    }
}

/// One dependency's state on `/health/ready`.
public struct DependencyCheck: Hashable, Sendable {
    public enum Status: String, Hashable, Sendable {
        /// Working.
        case up
        /// Not working, and the instance still serves (reads fall back, a feed is late): 200, named.
        case degraded
        /// The instance cannot serve: 503.
        case down
    }

    /// `bus`, `database`, `cache`, `cdc`, `socketio`...
    public var name: String
    public var status: Status
    /// Why, in a few words (never a secret or a URL).
    public var reason: String

    public init(_ name: String, _ status: Status, _ reason: String) {
        self.name = name
        self.status = status
        self.reason = reason
    }
}
