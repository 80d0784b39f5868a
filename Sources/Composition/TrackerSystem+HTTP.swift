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
            readiness: { [consumerHealth, syncMonitor, socketIO] in
                await Self.dependencyChecks(adapters, consumerHealth, syncMonitor, socketIO)
            },
            metrics: { PrometheusExport.render() },
            bodyLimit: configuration.http.bodyLimit,
            logger: logger
        )
        services.cdcHealth = { [syncMonitor] in try await syncMonitor.check() }
        services.dashboard = dashboardSettings()
        services.instanceId = configuration.instanceId
        return services
    }
}

extension TrackerSystem {
    /// `/health/ready`'s lines: the database answers (else down: every route needs it); the bus's consumers run
    /// (else degraded: reads still work, webhooks answer 503 one by one); the shared cache answers (else
    /// degraded: reads fall back to the stores); no CDC table is failing or near the source's retention (else
    /// degraded: enrichment uses older customer data; lagging is named, not degraded); the Socket.IO gateway has not shut down (else down: dashboards cannot connect).
    static func dependencyChecks(
        _ adapters: Adapters,
        _ consumers: ConsumerHealth,
        _ monitor: SyncMonitor,
        _ socketIO: SocketIOGateway
    ) async -> [DependencyCheck] {
        var checks: [DependencyCheck] = []
        var report: SyncMonitor.Report?
        do {
            report = try await monitor.check()
            checks.append(DependencyCheck("database", .up, "the fleet store answers"))
        } catch {
            checks.append(DependencyCheck("database", .down, "the fleet store does not answer: \(Self.reason(error))"))
        }
        let paused = consumers.pausedGroups()
        checks.append(
            paused.isEmpty
                ? DependencyCheck("bus", .up, "every consumer runs")
                : DependencyCheck(
                    "bus",
                    .degraded,
                    "paused by an outage: " + paused.map { "\($0.group) (\($0.reason))" }.joined(separator: ", ")
                )
        )
        do {
            _ = try await adapters.latest.latest(driverId: "health-check", tenantId: "health-check")
            checks.append(DependencyCheck("cache", .up, "the latest-position cache answers"))
        } catch {
            checks.append(
                DependencyCheck("cache", .degraded, "reads fall back to the stores: \(Self.reason(error))")
            )
        }
        if let report {
            // Failing, or lagging towards the source's retention: degraded. Lagging alone is named, not degraded:
            // a quiet source (a night without customer changes) reads as lagging too.
            let failing = report.tables.filter { $0.status == .failing || $0.warning != nil }
            let lagging = report.tables.filter { $0.status == .lagging && $0.warning == nil }
            let describe = { (lines: [SyncMonitor.TableReport]) in
                lines.map { "\($0.table) \($0.warning == nil ? $0.status.rawValue : "near retention")" }
                    .joined(separator: ", ")
            }
            if !failing.isEmpty {
                checks.append(DependencyCheck("cdc", .degraded, describe(failing + lagging) + " (see /health/cdc)"))
            } else if !lagging.isEmpty {
                checks.append(
                    DependencyCheck("cdc", .up, describe(lagging) + ": no change taken lately (see /health/cdc)")
                )
            } else {
                checks.append(DependencyCheck("cdc", .up, "\(report.status.rawValue): no table lagging or failing"))
            }
        } else {
            checks.append(DependencyCheck("cdc", .degraded, "sync state unreadable"))
        }
        checks.append(
            socketIO.isStopped
                ? DependencyCheck("socketio", .down, "the gateway has shut down")
                : DependencyCheck("socketio", .up, "\(socketIO.connectionCount) sessions")
        )
        return checks
    }

    private static func reason(_ error: any Error) -> String {
        (error as? StoreError).map { "\($0.code)" } ?? "error"
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
