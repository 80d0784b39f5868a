import AdapterSupport
package import Application
package import Logging
import SQLiteAdapters
import ServiceLifecycle

extension TrackerSystem {
    /// Builds the system the configuration's `AdapterPlan` describes: each port from its own technology's
    /// wiring, in dependency order (bus, stores, caches, source of truth). An impossible combination is
    /// refused before anything is opened.
    package static func build(
        configuration: TrackerConfiguration,
        logger: Logger,
        clock: any WallClock = SystemWallClock()
    ) async throws -> TrackerSystem {
        let plan = configuration.plan
        if let refusal = plan.refusal { throw StartupFailure(message: refusal) }
        if plan.store == .postgres, let refusal = PostgresWiring.refusal(configuration.postgres) {
            throw StartupFailure(message: refusal)
        }
        if plan.cache == .redis, let refusal = RedisWiring.refusal(configuration.redis) {
            throw StartupFailure(message: refusal)
        }
        if plan.source == .sqlserver, let refusal = SQLServerWiring.refusal(configuration.sqlserver) {
            throw StartupFailure(message: refusal)
        }
        logger.info(
            "adapters",
            metadata: [
                "plan": "\(plan)", "instance.id": "\(configuration.instanceId)",
                "cdc.group": "\(configuration.cdcGroup)",
            ]
        )
        // Services in start order; the group stops them in reverse, after the flows that use them.
        var services: [any Service] = []

        let bus: any EventBus
        switch plan.broker {
        case .memory:
            let wired = InMemoryWiring.bus()
            (bus, services) = (wired.bus, services + [wired.service])
        case .local:
            let wired = try await opening {
                try await SQLiteWiring.bus(configuration.sqlite, clock: clock, logger: logger)
            }
            (bus, services) = (wired.bus, services + [wired.service])
        case .kafka:
            let wired = try KafkaWiring.bus(configuration.kafka, instanceId: configuration.instanceId, logger: logger)
            (bus, services) = (wired.bus, services + [wired.service])
        }

        let fleet: any FleetStore
        let reference: any ReferenceStore
        let history: any HistoryStore
        switch plan.store {
        case .memory:
            (fleet, reference, history) = InMemoryWiring.stores()
        case .sqlite:
            let stores = try await opening { try await SQLiteWiring.stores(configuration.sqlite, logger: logger) }
            (fleet, reference, history) = (stores.fleet, stores.reference, stores.history)
            services.append(stores.service)
        case .postgres:
            let stores = try await PostgresWiring.stores(
                configuration.postgres,
                instanceId: configuration.instanceId,
                logger: logger
            )
            (fleet, reference, history) = (stores.fleet, stores.reference, stores.history)
            services += stores.services
        }

        let customerCache: any CustomerCache
        let latest: any LatestPositionCache
        switch plan.cache {
        case .memory: (customerCache, latest) = InMemoryWiring.caches(clock: clock)
        case .redis:
            let wired = try RedisWiring.caches(configuration.redis, clock: clock, logger: logger)
            (customerCache, latest) = (wired.customers, wired.latest)
            services += wired.services
        }
        var sharedPush: TrackerSystem.SharedPush?
        if plan.fanout == .redis {
            let wired = try RedisWiring.sharedPush(
                configuration.redis,
                recoveryWindow: configuration.socketIO.recovery ?? .seconds(120),
                logger: logger
            )
            sharedPush = wired.push
            services += wired.services
        }

        let source: any SourceOfTruth
        switch plan.source {
        case .memory:
            source = InMemoryWiring.source(bus: bus)
        case .local:
            let wired = try await opening {
                try await SQLiteWiring.source(configuration.sqlite, bus: bus, logger: logger)
            }
            source = wired.source
            services.append(wired.service)
        case .sqlserver:
            let wired = try SQLServerWiring.source(configuration.sqlserver, logger: logger)
            source = wired.source
            services.append(wired.service)
        }

        let adapters = Adapters(
            bus: bus,
            fleet: fleet,
            reference: reference,
            customerCache: customerCache,
            history: history,
            latest: latest,
            sourceOfTruth: source,
            clock: clock,
            sharedPush: sharedPush
        )
        var system = TrackerSystem(adapters: adapters, configuration: configuration, logger: logger)
        system.adapterServices = services
        return system
    }

    /// The whole system on in-memory adapters, without opening anything (tests).
    package static func inMemory(
        configuration: TrackerConfiguration,
        logger: Logger,
        clock: any WallClock = SystemWallClock()
    ) -> TrackerSystem {
        let bus = InMemoryWiring.bus()
        let (fleet, reference, history) = InMemoryWiring.stores()
        let (customerCache, latest) = InMemoryWiring.caches(clock: clock)
        let adapters = Adapters(
            bus: bus.bus,
            fleet: fleet,
            reference: reference,
            customerCache: customerCache,
            history: history,
            latest: latest,
            sourceOfTruth: InMemoryWiring.source(bus: bus.bus),
            clock: clock
        )
        var system = TrackerSystem(adapters: adapters, configuration: configuration, logger: logger)
        system.adapterServices = [bus.service]
        return system
    }

    /// Maps a data file the operator must fix (foreign, corrupt, newer) to a one-line start-up failure.
    private static func opening<T>(_ open: () async throws -> T) async throws -> T {
        do {
            return try await open()
        } catch let error as SQLiteOpenError {
            throw StartupFailure(message: error.description)
        }
    }
}
