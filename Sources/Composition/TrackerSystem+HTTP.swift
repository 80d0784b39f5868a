import Application
import Domain
package import HTTPAdapters
package import Hummingbird
import Logging
import SocketIOAdapters

extension TrackerSystem {
    /// The HTTP adapter's view of the system.
    package func httpServices() -> HTTPServices {
        let adapters = adapters
        var services = HTTPServices(
            ingest: ingest,
            drivers: drivers,
            positions: positions,
            routes: routes,
            visits: visits,
            customers: customerAdmin,
            tokens: tokens,
            webhookSecret: configuration.secrets.webhook,
            clock: adapters.clock,
            readiness: {
                // The fleet store answers a read (it backs every API route and the webhook's device lookup).
                let fleetStore = (try? await adapters.fleet.syncStates()) != nil
                return ["fleetStore": fleetStore]
            },
            metrics: { PrometheusExport.render() },
            bodyLimit: configuration.http.bodyLimit,
            logger: logger
        )
        // The shared cache answers a read; when it does not, reads fall back to the stores (degraded, ready).
        services.optionalChecks = {
            do {
                _ = try await adapters.latest.latest(driverId: "health-check", tenantId: "health-check")
                return ["cache": true]
            } catch {
                return ["cache": false]
            }
        }
        services.dashboard = dashboardSettings()
        return services
    }
}

/// The Hummingbird application serving the API on the configured address.
package func makeHTTPApplication(
    system: TrackerSystem,
    router: Router<BasicRequestContext>? = nil,
    onListening: (@Sendable (Int) async -> Void)? = nil
) -> some ApplicationProtocol {
    let router = router ?? makeRouter(services: system.httpServices())
    system.socketIO.addRoutes(to: router)
    return Application(
        router: router,
        server: system.socketIO.webSocketRoutes.serverBuilder(),
        configuration: .init(
            address: .hostname(system.configuration.http.host, port: system.configuration.http.port),
            serverName: "distribution-tracker"
        ),
        onServerRunning: { channel in
            let port = channel.localAddress?.port ?? system.configuration.http.port
            system.logger.info("listening", metadata: ["url": "http://\(system.configuration.http.host):\(port)"])
            await onListening?(port)
        },
        logger: system.logger
    )
}
