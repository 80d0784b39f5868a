package import Configuration

/// Which adapter serves each port, chosen independently by configuration (ADR 0008):
///
/// - `tracker.broker` / `TRACKER_BROKER` (`--broker`): `local` (the SQLite event log in the data directory,
///   default), `kafka`, or `memory`.
/// - `tracker.store` / `TRACKER_STORE` (`--store`): fleet, reference read model and history: `sqlite` (default),
///   `memory`, or `postgres`.
/// - `tracker.cache` / `TRACKER_CACHE` (`--cache`): latest positions and the level-2 customer cache: `memory`
///   (default) or `redis`.
/// - `tracker.source` / `TRACKER_SOURCE` (`--source`): the source of truth for customers: `local` (SQLite
///   `core.sqlite` with change capture, default), `memory`, or `sqlserver` (read-only lookups over ODBC; needs
///   `tracker.broker=kafka`, where Debezium publishes SQL Server's changes).
/// - `tracker.push.fanout` / `TRACKER_PUSH_FANOUT`: how live pushes reach every instance's sockets: `bus`
///   (default: each instance consumes the bus with a push group of its own) or `redis` (one push group
///   publishes to a Redis stream that every instance tails; connection state recovery then works across
///   instances). `redis` needs `tracker.cache=redis`.
/// - `tracker.in.memory` / `TRACKER_IN_MEMORY` (`--in-memory`): shortcut for broker, store and source `memory`.
///
/// `validate()` refuses an impossible combination with a one-line reason before anything is opened.
package struct AdapterPlan: Sendable, Hashable, CustomStringConvertible {
    package enum Broker: String, Sendable, CaseIterable { case local, kafka, memory }
    package enum Store: String, Sendable, CaseIterable { case sqlite, memory, postgres }
    package enum Cache: String, Sendable, CaseIterable { case memory, redis }
    package enum Source: String, Sendable, CaseIterable { case local, memory, sqlserver }
    package enum Fanout: String, Sendable, CaseIterable { case bus, redis }

    package var broker: Broker
    package var store: Store
    package var cache: Cache
    package var source: Source
    package var fanout: Fanout

    package init(
        broker: Broker = .local,
        store: Store = .sqlite,
        cache: Cache = .memory,
        source: Source = .local,
        fanout: Fanout = .bus
    ) {
        self.broker = broker
        self.store = store
        self.cache = cache
        self.source = source
        self.fanout = fanout
    }

    /// The whole system in memory (tests, `--in-memory`).
    package static let inMemory = AdapterPlan(broker: .memory, store: .memory, cache: .memory, source: .memory)

    /// Reads the four keys (and the `tracker.in.memory` shortcut, which only changes keys left unset).
    package init(config: ConfigReader) throws(StartupFailure) {
        let inMemory = config.bool(forKey: "tracker.in.memory", default: false)
        func choice<T: RawRepresentable & CaseIterable>(_ key: String, _ fallback: T) throws(StartupFailure) -> T
        where T.RawValue == String {
            guard let text = config.string(forKey: ConfigKey(key)) else { return fallback }
            guard let value = T(rawValue: text.lowercased()) else {
                let allowed = T.allCases.map(\.rawValue).joined(separator: ", ")
                throw StartupFailure(message: "\(key) must be one of \(allowed) (got '\(text)')")
            }
            return value
        }
        broker = try choice("tracker.broker", inMemory ? Broker.memory : .local)
        store = try choice("tracker.store", inMemory ? Store.memory : .sqlite)
        cache = try choice("tracker.cache", Cache.memory)
        source = try choice("tracker.source", inMemory ? Source.memory : .local)
        fanout = try choice("tracker.push.fanout", Fanout.bus)
    }

    package var description: String {
        "broker=\(broker.rawValue) store=\(store.rawValue) cache=\(cache.rawValue) source=\(source.rawValue)"
            + (fanout == .bus ? "" : " fanout=\(fanout.rawValue)")
    }

    /// Why this combination cannot run, or nil when it can.
    package var refusal: String? {
        if source == .sqlserver, broker != .kafka {
            // Before the memory rule: this is the reason that matters for a memory bus too.
            return "tracker.source=sqlserver needs tracker.broker=kafka: SQL Server's changes reach the read model "
                + "only as Debezium events on Kafka's cdc.* topics; on the \(broker.rawValue) bus the read model would "
                + "never learn them and every lookup would fall through to SQL Server"
        }
        let memoryPorts = [broker == .memory, store == .memory, source == .memory]
        if memoryPorts.contains(true), memoryPorts.contains(false) {
            if broker == .kafka, store == .memory {
                return "tracker.store=memory with tracker.broker=kafka would lose on restart what Kafka's committed "
                    + "offsets say was consumed; use --store sqlite (or postgres)"
            }
            return "memory is all or nothing for the bus, the stores and the source of truth (got \(description)): "
                + "a durable part would keep what the others forget on restart; use --in-memory alone or none"
        }
        if fanout == .redis, cache != .redis {
            return "tracker.push.fanout=redis needs tracker.cache=redis (TRACKER_CACHE=redis and TRACKER_REDIS_URL)"
        }
        return nil
    }

    /// Whether every instance reads one shared fleet and reference read model (PostgreSQL), rather than
    /// each its own (SQLite files, memory).
    package var sharesReadModel: Bool { store == .postgres }

    /// Whether the bus lives in this process alone (SQLite log, memory): no other instance consumes it.
    package var busIsPrivate: Bool { broker != .kafka }

    /// The instance id in effect: a private bus has one consumer process, so its push group keeps one name
    /// across restarts (a group named after a changing host name would hold back the log's retention forever).
    package func instanceId(configured: String) -> String { busIsPrivate ? "local" : configured }

    /// The group applying change events to the read model: one for all instances when they share the read
    /// model (or when nobody else consumes the bus), one per instance when each keeps its own.
    package func cdcGroup(instanceId: String) -> String {
        sharesReadModel || busIsPrivate ? "tracker-cdc" : "tracker-cdc-\(instanceId)"
    }
}
