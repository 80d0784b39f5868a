public import Hummingbird

/// One route of the HTTP API, as registered on the router and declared in `openapi.yaml`.
public struct APIRoute: Hashable, Sendable, CustomStringConvertible {
    /// How a route authenticates its caller.
    public enum Auth: Hashable, Sendable {
        /// Public (health, metrics, the OpenAPI document).
        case none
        /// `Authorization: Bearer <TRACKER_WEBHOOK_SECRET>` (Traccar).
        case webhookSecret
        /// `Authorization: Bearer <JWT>`.
        case jwt
        /// Public, but only enabled in local/demo mode (development sign-in); 403 otherwise.
        case development
    }

    /// Upper-case HTTP method (`GET`).
    public var method: String
    /// OpenAPI path template (`/api/drivers/{id}`).
    public var path: String
    public var auth: Auth

    public init(_ method: String, _ path: String, auth: Auth) {
        self.method = method
        self.path = path
        self.auth = auth
    }

    /// The same template in Hummingbird's syntax (`/api/drivers/:id`).
    public var routerPath: String {
        path.split(separator: "/", omittingEmptySubsequences: false).map { segment in
            segment.hasPrefix("{") && segment.hasSuffix("}") ? ":" + segment.dropFirst().dropLast() : segment
        }.joined(separator: "/")
    }

    public var description: String { "\(method) \(path)" }

    /// Whether `requestPath` matches this route's template (ignoring the method).
    func matches(path requestPath: String) -> Bool {
        let template = path.split(separator: "/")
        let actual = requestPath.split(separator: "/")
        guard template.count == actual.count else { return false }
        for (t, a) in zip(template, actual) where !(t.hasPrefix("{") || t == a) {
            return false
        }
        return true
    }
}

/// Every endpoint, in registration order.
enum Endpoint: CaseIterable, Sendable {
    case traccarPositions, traccarEvents
    case listDrivers, createDriver, getDriver, driverPosition, driverHistory, driverStats
    case putCustomer, deleteCustomer
    case createRoute, listRoutes, getRoute
    case visitArrive, visitStart, visitComplete, visitSkip, visitFail
    case healthLive, healthReady, healthCDC, metrics, openAPI
    case dashboardConfig, devToken, listCustomers, demoBasemap

    var route: APIRoute {
        switch self {
        case .traccarPositions: APIRoute("POST", "/api/traccar/positions", auth: .webhookSecret)
        case .traccarEvents: APIRoute("POST", "/api/traccar/events", auth: .webhookSecret)
        case .listDrivers: APIRoute("GET", "/api/drivers", auth: .jwt)
        case .createDriver: APIRoute("POST", "/api/drivers", auth: .jwt)
        case .getDriver: APIRoute("GET", "/api/drivers/{id}", auth: .jwt)
        case .driverPosition: APIRoute("GET", "/api/drivers/{id}/position", auth: .jwt)
        case .driverHistory: APIRoute("GET", "/api/drivers/{id}/history", auth: .jwt)
        case .driverStats: APIRoute("GET", "/api/drivers/{id}/stats", auth: .jwt)
        case .putCustomer: APIRoute("PUT", "/api/customers/{id}", auth: .jwt)
        case .deleteCustomer: APIRoute("DELETE", "/api/customers/{id}", auth: .jwt)
        case .createRoute: APIRoute("POST", "/api/routes", auth: .jwt)
        case .listRoutes: APIRoute("GET", "/api/routes", auth: .jwt)
        case .getRoute: APIRoute("GET", "/api/routes/{id}", auth: .jwt)
        case .visitArrive: APIRoute("POST", "/api/visits/{id}/arrive", auth: .jwt)
        case .visitStart: APIRoute("POST", "/api/visits/{id}/start", auth: .jwt)
        case .visitComplete: APIRoute("POST", "/api/visits/{id}/complete", auth: .jwt)
        case .visitSkip: APIRoute("POST", "/api/visits/{id}/skip", auth: .jwt)
        case .visitFail: APIRoute("POST", "/api/visits/{id}/fail", auth: .jwt)
        case .healthLive: APIRoute("GET", "/health/live", auth: .none)
        case .healthReady: APIRoute("GET", "/health/ready", auth: .none)
        case .healthCDC: APIRoute("GET", "/health/cdc", auth: .none)
        case .metrics: APIRoute("GET", "/metrics", auth: .none)
        case .openAPI: APIRoute("GET", "/openapi.yaml", auth: .none)
        case .dashboardConfig: APIRoute("GET", "/api/dashboard/config", auth: .none)
        case .devToken: APIRoute("POST", "/api/dev/token", auth: .development)
        case .listCustomers: APIRoute("GET", "/api/customers", auth: .jwt)
        case .demoBasemap: APIRoute("GET", "/api/demo/basemap", auth: .jwt)
        }
    }
}

/// The HTTP API of the tracking service.
public enum TrackerAPI {
    /// Every registered route; `openapi.yaml` declares exactly these (checked by a test).
    public static let routes: [APIRoute] = Endpoint.allCases.map(\.route)

    /// Builds the router: problem+json errors for every failure (unknown routes and 405 included), request
    /// latency metrics, authentication per route, and the endpoints of `routes`.
    ///
    /// The composition root wraps it in an `Application`:
    /// `Application(router: TrackerAPI.makeRouter(services: services), configuration: …)`.
    public static func makeRouter(services: HTTPServices) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self, options: .autoGenerateHeadEndpoints)
        // Order matters: metrics see the final status; the problem middleware turns every error into a response.
        if let instanceId = services.instanceId { router.add(middleware: InstanceHeaderMiddleware(id: instanceId)) }
        router.add(middleware: RequestMetricsMiddleware())
        router.add(middleware: ProblemMiddleware(logger: services.logger))
        let handlers = APIHandlers(services: services)
        for endpoint in Endpoint.allCases {
            let route = endpoint.route
            router.on(RouterPath(route.routerPath), method: HTTPRequest.Method(route.method) ?? .get) {
                request,
                context in
                try await handlers.handle(endpoint, request: request, context: context)
            }
        }
        // The dashboard's files, for GETs no route matched (added last: it only wraps the not-found responder).
        if let directory = services.dashboard.directory {
            router.add(
                middleware: DashboardFiles(
                    directory: directory,
                    tileOrigin: services.dashboard.tileOrigin,
                    logger: services.logger
                )
            )
        }
        return router
    }
}

/// Builds the router of the tracking service; see `TrackerAPI.makeRouter(services:)`.
public func makeRouter(services: HTTPServices) -> Router<BasicRequestContext> {
    TrackerAPI.makeRouter(services: services)
}
