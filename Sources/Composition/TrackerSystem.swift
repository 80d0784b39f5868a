package import Application
import Domain
package import HTTPAdapters
package import Logging
package import ServiceLifecycle
package import SocketIOAdapters

/// The composition root's object graph: adapters chosen by configuration, the use cases over them, and the
/// background services (consumer loops, stale sweep) that run the data flows of spec §4.
///
/// Which adapter serves each port is decided in `Wiring/` (one file per technology, chosen by `AdapterPlan`);
/// this type only builds the use cases over the ports and lists the services the process runs.
package struct TrackerSystem: Sendable {
    package struct Adapters: Sendable {
        package var bus: any EventBus
        package var fleet: any FleetStore
        package var reference: any ReferenceStore
        package var customerCache: any CustomerCache
        package var history: any HistoryStore
        package var latest: any LatestPositionCache
        package var sourceOfTruth: any SourceOfTruth
        package var clock: any WallClock
        /// Live pushes shared through Redis (`tracker.push.fanout=redis`), nil for per-instance push groups.
        package var sharedPush: SharedPush? = nil
    }

    /// The parts of `tracker.push.fanout=redis`.
    package struct SharedPush: Sendable {
        /// Where the push flow publishes (the shared log), given this instance's gateway as the fallback.
        package var publish: @Sendable (any PushGateway) -> any PushGateway
        /// Sessions and events of connection state recovery, for the Socket.IO gateway.
        package var recovery: any SharedRecovery
        /// A service tailing the shared log into a delivery function (this instance's gateway).
        package var tail: @Sendable (@escaping @Sendable (PushMessage, [Room], String?) async -> Void) -> any Service
    }

    package let adapters: Adapters
    package let configuration: TrackerConfiguration
    package let logger: Logger
    /// The services that keep the adapters open (databases, the bus's producer, the core relay), in start
    /// order: the service group starts them before the flows and stops them after, in reverse.
    package var adapterServices: [any Service] = []

    package let customers: CustomerDirectory
    package let ingest: IngestTraccar
    package let enrich: EnrichPositions
    package let applyChanges: ApplyChangeEvent
    package let fanout: PushFanout
    package let drivers: DriverManagement
    package let positions: PositionQueries
    package let routes: RoutePlanning
    package let visits: VisitLifecycle
    package let customerAdmin: CustomerAdministration
    package let staleSweep: StaleDeviceSweep
    /// CDC lag per source table (`/health/cdc`, gauges, the `cdc` readiness line).
    package let syncMonitor: SyncMonitor
    /// Which consumer loops are paused by an outage (the `bus` readiness line).
    package let consumerHealth = ConsumerHealth()
    /// JWTs of the REST API and the Socket.io gateway.
    package let tokens: TokenAuthority
    /// The dashboards' live feed (the push gateway of every mode).
    package let socketIO: SocketIOGateway

    package init(adapters: Adapters, configuration: TrackerConfiguration, logger: Logger) {
        self.adapters = adapters
        self.configuration = configuration
        self.logger = logger
        let a = adapters
        customers = CustomerDirectory(
            shared: a.customerCache,
            store: a.reference,
            sourceOfTruth: a.sourceOfTruth,
            clock: a.clock,
            logger: logger
        )
        ingest = IngestTraccar(
            fleet: a.fleet,
            bus: a.bus,
            clock: a.clock,
            routing: configuration.flows.routing,
            retention: configuration.flows.historyRetention,
            logger: logger
        )
        enrich = EnrichPositions(
            fleet: a.fleet,
            history: a.history,
            latest: a.latest,
            customers: customers,
            bus: a.bus,
            logger: logger
        )
        applyChanges = ApplyChangeEvent(
            store: a.reference,
            fleet: a.fleet,
            customers: customers,
            clock: a.clock,
            logger: logger
        )
        drivers = DriverManagement(fleet: a.fleet)
        positions = PositionQueries(fleet: a.fleet, latest: a.latest, history: a.history)
        routes = RoutePlanning(fleet: a.fleet, customers: customers)
        let tokens = TokenAuthority(secret: configuration.secrets.jwt)
        self.tokens = tokens
        var gateway = SocketIOGateway.Configuration()
        gateway.pingInterval = configuration.socketIO.pingInterval
        gateway.pingTimeout = configuration.socketIO.pingTimeout
        gateway.corsOrigin = configuration.socketIO.corsOrigin
        gateway.recoveryWindow = configuration.socketIO.recovery
        gateway.sharedRecovery = a.sharedPush?.recovery
        socketIO = SocketIOGateway(
            configuration: gateway,
            authenticate: { try await tokens.verify($0) },
            positions: positions,
            drivers: drivers,
            routes: routes,
            logger: logger
        )
        fanout = PushFanout(gateway: a.sharedPush?.publish(socketIO) ?? socketIO)
        visits = VisitLifecycle(fleet: a.fleet, history: a.history, bus: a.bus, clock: a.clock)
        customerAdmin = CustomerAdministration(sourceOfTruth: a.sourceOfTruth, reference: a.reference)
        staleSweep = StaleDeviceSweep(fleet: a.fleet, bus: a.bus, clock: a.clock)
        syncMonitor = SyncMonitor(fleet: a.fleet, clock: a.clock, configuration: configuration.flows.syncMonitor)
    }

    /// The consumer loops of this instance. The enrichment group is shared by all instances, the CDC group is
    /// `configuration.cdcGroup`; the push group is per instance so each one sees every event for its own sockets,
    /// or, with pushes shared through Redis, one for all (each event is published to the shared log once).
    package func consumerLoops() -> [ConsumerLoop] {
        let bus = adapters.bus
        return [
            ConsumerLoop(
                bus: bus,
                configuration: .init(
                    topics: configuration.flows.routing.allPositionTopics,
                    group: "tracker-enrichment"
                ),
                logger: logger,
                handler: enrich.handle
            ),
            ConsumerLoop(
                bus: bus,
                configuration: .init(topics: ApplyChangeEvent.topics, group: configuration.cdcGroup),
                logger: logger,
                onDeadLetter: applyChanges.recordFailure,
                handler: applyChanges.handle
            ),
            ConsumerLoop(
                bus: bus,
                configuration: .init(
                    topics: PushFanout.topics,
                    group: adapters.sharedPush == nil ? "tracker-push-\(configuration.instanceId)" : "tracker-push",
                    startAtEnd: true
                ),
                logger: logger,
                handler: fanout.handle
            ),
        ]
    }

    /// The data flows as services: every consumer loop, the stale sweep and history retention.
    package func flowServices() -> [any Service] {
        let history = adapters.history
        let clock = adapters.clock
        let retention = configuration.flows.historyRetention
        let logger = logger
        // Push first and enrichment last: shutdown runs in reverse, so enrichment drains (and publishes its last
        // enriched positions) before the push loop drains them to the sockets.
        let consumers: [any Service] = consumerLoops().reversed().map {
            ConsumerService(loop: $0, group: $0.configuration.group, logger: logger, health: consumerHealth)
        }
        let socketIO = socketIO
        let tail: [any Service] =
            adapters.sharedPush.map { shared in
                [shared.tail { message, rooms, offset in socketIO.deliver(message, to: rooms, offset: offset) }]
            } ?? []
        return consumers + tail + [
            PeriodicService(name: "stale sweep", every: configuration.flows.staleSweepInterval, logger: logger) {
                try await staleSweep.run()
            },
            // Level-1 customer copies dropped as any instance invalidates (a no-op for a per-process cache).
            SubscriptionService(name: "customer cache invalidations") { [customers] in
                await customers.followInvalidations()
            },
            // CDC lag: `lagging` recorded in sync_state, gauges and cache counters for /metrics.
            PeriodicService(name: "cdc monitor", every: .seconds(5), logger: logger) { [syncMonitor, customers] in
                SyncMetrics.record(try await syncMonitor.check(), cache: customers.stats)
            },
            // Retention (spec §5.2: 365 days), pruned in batches by the store.
            PeriodicService(name: "history retention", every: .seconds(3600), logger: logger) {
                let removed = try await history.prune(olderThan: clock.now() - retention)
                if removed > 0 { logger.info("history pruned", metadata: ["rows": "\(removed)"]) }
            },
        ]
    }

    /// The flows as one service (benchmarks and tests that run them next to their own server).
    package func backgroundService() -> some Service {
        FlowGroup(services: flowServices())
    }
}

/// Runs services side by side until graceful shutdown, which reaches each of them.
package struct FlowGroup: Service {
    package let services: [any Service]

    package func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for service in services { group.addTask { try await service.run() } }
            try await group.waitForAll()
        }
    }
}
