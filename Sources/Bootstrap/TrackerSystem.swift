import Application
import Domain
import InMemoryAdapters
import Logging
import ServiceLifecycle
import HTTPAdapters
import SocketIOAdapters

/// The composition root's object graph: adapters chosen by configuration, the use cases over them, and the
/// background services (consumer loops, stale sweep) that run the data flows of spec §4.
///
/// Local mode wires the in-memory adapter set; production adapters are wired by the same code through
/// the same ports (one function per technology when they land).
struct TrackerSystem: Sendable {
    struct Adapters: Sendable {
        var bus: any EventBus
        var fleet: any FleetStore
        var reference: any ReferenceStore
        var customerCache: any CustomerCache
        var history: any HistoryStore
        var latest: any LatestPositionCache
        var sourceOfTruth: any SourceOfTruth
        var clock: any WallClock
    }

    let adapters: Adapters
    let configuration: TrackerConfiguration
    let logger: Logger
    /// Adapter-specific background work (e.g. relaying changes other applications wrote to local mode's core
    /// database); run next to the consumer loops.
    var adapterFlows: [@Sendable () async throws -> Void] = []

    let customers: CustomerDirectory
    let ingest: IngestTraccar
    let enrich: EnrichPositions
    let applyChanges: ApplyChangeEvent
    let fanout: PushFanout
    let drivers: DriverManagement
    let positions: PositionQueries
    let routes: RoutePlanning
    let visits: VisitLifecycle
    let customerAdmin: CustomerAdministration
    let staleSweep: StaleDeviceSweep
    /// JWTs of the REST API and the Socket.io gateway.
    let tokens: TokenAuthority
    /// The dashboards' live feed (the push gateway of every mode).
    let socketIO: SocketIOGateway

    init(adapters: Adapters, configuration: TrackerConfiguration, logger: Logger) {
        self.adapters = adapters
        self.configuration = configuration
        self.logger = logger
        let a = adapters
        customers = CustomerDirectory(shared: a.customerCache, store: a.reference, sourceOfTruth: a.sourceOfTruth,
                                      clock: a.clock, logger: logger)
        ingest = IngestTraccar(fleet: a.fleet, bus: a.bus, clock: a.clock, routing: configuration.routing,
                               logger: logger)
        enrich = EnrichPositions(fleet: a.fleet, history: a.history, latest: a.latest, customers: customers,
                                 bus: a.bus, logger: logger)
        applyChanges = ApplyChangeEvent(store: a.reference, fleet: a.fleet, customers: customers, clock: a.clock,
                                        logger: logger)
        drivers = DriverManagement(fleet: a.fleet)
        positions = PositionQueries(fleet: a.fleet, latest: a.latest, history: a.history)
        routes = RoutePlanning(fleet: a.fleet, customers: customers)
        let tokens = TokenAuthority(secret: configuration.jwtSecret)
        self.tokens = tokens
        var gateway = SocketIOGateway.Configuration()
        gateway.pingInterval = configuration.socketIOPingInterval
        gateway.pingTimeout = configuration.socketIOPingTimeout
        gateway.corsOrigin = configuration.socketIOCorsOrigin
        gateway.recoveryWindow = configuration.socketIORecovery
        socketIO = SocketIOGateway(configuration: gateway, authenticate: { try await tokens.verify($0) },
                                   positions: positions, drivers: drivers, routes: routes, logger: logger)
        fanout = PushFanout(gateway: socketIO)
        visits = VisitLifecycle(fleet: a.fleet, history: a.history, bus: a.bus, clock: a.clock)
        customerAdmin = CustomerAdministration(sourceOfTruth: a.sourceOfTruth)
        staleSweep = StaleDeviceSweep(fleet: a.fleet, bus: a.bus, clock: a.clock)
    }

    /// The whole system on in-memory adapters (tests, `--in-memory`).
    static func inMemory(configuration: TrackerConfiguration, logger: Logger,
                         clock: any WallClock = SystemWallClock()) -> TrackerSystem {
        let bus = InMemoryEventBus()
        let adapters = Adapters(
            bus: bus, fleet: InMemoryFleetStore(), reference: InMemoryReferenceStore(),
            customerCache: InMemoryCustomerCache(clock: clock), history: InMemoryHistoryStore(),
            latest: InMemoryLatestPositionCache(clock: clock), sourceOfTruth: InMemorySourceOfTruth(bus: bus),
            clock: clock)
        return TrackerSystem(adapters: adapters, configuration: configuration, logger: logger)
    }

    /// The consumer loops of this instance. Enrichment and CDC groups are shared by all instances; the push
    /// group is per instance so each one sees every event for its own sockets.
    func consumerLoops() -> [ConsumerLoop] {
        let bus = adapters.bus
        return [
            ConsumerLoop(bus: bus, configuration: .init(topics: configuration.routing.allPositionTopics,
                                                        group: "tracker-enrichment"),
                         logger: logger, handler: enrich.handle),
            ConsumerLoop(bus: bus, configuration: .init(topics: ApplyChangeEvent.topics, group: "tracker-cdc"),
                         logger: logger, handler: applyChanges.handle),
            ConsumerLoop(bus: bus, configuration: .init(topics: PushFanout.topics,
                                                        group: "tracker-push-\(configuration.instanceId)",
                                                        startAtEnd: true),
                         logger: logger, handler: fanout.handle),
        ]
    }

    /// Background work as one service: every consumer loop plus the periodic stale-device sweep.
    func backgroundService() -> BackgroundFlows {
        let history = adapters.history, clock = adapters.clock, retention = configuration.historyRetention
        let logger = logger
        let periodic: [BackgroundFlows.Periodic] = [
            .init(every: configuration.staleSweepInterval) { try await staleSweep.run() },
            // Retention (spec §5.2: 365 days), pruned in batches by the store.
            .init(every: .seconds(3600)) {
                let removed = try await history.prune(olderThan: clock.now() - retention)
                if removed > 0 { logger.info("history pruned", metadata: ["rows": "\(removed)"]) }
            },
        ]
        return BackgroundFlows(loops: consumerLoops(), periodic: periodic, extra: adapterFlows, logger: logger)
    }
}

/// Runs the consumer loops and the stale sweep until graceful shutdown. A loop that fails is logged and
/// restarted after a pause, so a broker outage does not take the process down.
struct BackgroundFlows: Service {
    /// Work repeated at a fixed interval (first run one interval after start).
    struct Periodic: Sendable {
        var every: Duration
        var work: @Sendable () async throws -> Void
    }

    let loops: [ConsumerLoop]
    let periodic: [Periodic]
    let extra: [@Sendable () async throws -> Void]
    let logger: Logger

    func run() async throws {
        try await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                for loop in loops {
                    group.addTask { await Self.keepRunning(logger: logger) { try await loop.run() } }
                }
                for task in periodic {
                    group.addTask {
                        await Self.keepRunning(logger: logger) {
                            while !Task.isCancelled {
                                try await Task.sleep(for: task.every)
                                try await task.work()
                            }
                        }
                    }
                }
                for flow in extra {
                    group.addTask { await Self.keepRunning(logger: logger) { try await flow() } }
                }
                await group.waitForAll()
            }
        }
    }

    static func keepRunning(logger: Logger, _ body: @Sendable () async throws -> Void) async {
        while !Task.isCancelled {
            do {
                try await body()
                if Task.isCancelled { return }
            } catch is CancellationError {
                return
            } catch {
                logger.warning("background flow failed; restarting in 1 s", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }
}
