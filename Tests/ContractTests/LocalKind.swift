import AdapterContracts
import Application
import Domain
import InMemoryAdapters

/// The built-in adapters that run in-process, without external services. SQLite joins later.
enum LocalKind: String, CaseIterable, CustomStringConvertible, Sendable {
    case inMemory

    var description: String { rawValue }

    func makeEventBus() -> any EventBus {
        switch self {
        case .inMemory: InMemoryEventBus()
        }
    }

    /// What the contract may assume of this kind's bus.
    var eventBusCapabilities: EventBusContract.Capabilities {
        switch self {
        case .inMemory: .init(partitionsPerTopic: 8, deliveryTimeout: .seconds(5), quietPeriod: .milliseconds(50))
        }
    }

    func makeFleetStore() -> any FleetStore {
        switch self {
        case .inMemory: InMemoryFleetStore()
        }
    }

    func makeReferenceStore() -> any ReferenceStore {
        switch self {
        case .inMemory: InMemoryReferenceStore()
        }
    }

    func makeCustomerCache(clock: ContractClock) -> any CustomerCache {
        switch self {
        case .inMemory: InMemoryCustomerCache(clock: clock)
        }
    }

    func makeHistoryStore() -> any HistoryStore {
        switch self {
        case .inMemory: InMemoryHistoryStore()
        }
    }

    func makeLatestPositionCache(clock: ContractClock) -> any LatestPositionCache {
        switch self {
        case .inMemory: InMemoryLatestPositionCache(clock: clock)
        }
    }

    func makePushGateway() -> (gateway: any PushGateway, probe: any PushProbe) {
        switch self {
        case .inMemory:
            let gateway = InMemoryPushGateway()
            return (gateway, InMemoryPushProbe(gateway: gateway))
        }
    }

    func makeSourceOfTruth() -> (source: any SourceOfTruth, bus: any EventBus) {
        switch self {
        case .inMemory:
            let bus = InMemoryEventBus()
            return (InMemorySourceOfTruth(bus: bus), bus)
        }
    }
}
