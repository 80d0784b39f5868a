import AdapterSupport
package import Application
package import InMemoryAdapters
package import ServiceLifecycle

/// The in-memory adapters: every port (`--in-memory`, tests) and the caches of every mode
/// (`tracker.cache=memory`). Nothing survives a restart; nothing owns threads or files.
package enum InMemoryWiring {
    package static func bus() -> (bus: InMemoryEventBus, service: any Service) {
        let bus = InMemoryEventBus()
        return (bus, ClosingService(name: "in-memory bus") { bus.close() })
    }

    package static func stores() -> (fleet: any FleetStore, reference: any ReferenceStore, history: any HistoryStore) {
        (InMemoryFleetStore(), InMemoryReferenceStore(), InMemoryHistoryStore())
    }

    package static func caches(clock: any WallClock) -> (customers: any CustomerCache, latest: any LatestPositionCache)
    {
        (InMemoryCustomerCache(clock: clock), InMemoryLatestPositionCache(clock: clock))
    }

    package static func source(bus: any EventBus) -> any SourceOfTruth { InMemorySourceOfTruth(bus: bus) }
}
