import AdapterContracts
import Testing

@Suite("EventBus contract")
struct EventBusContractTests {
    /// Every built-in bus keeps every rule of `EventBus`.
    @Test(.temporaryDatabases, arguments: LocalKind.eventBuses)
    func contract(_ kind: LocalKind) async throws {
        try await EventBusContract(capabilities: kind.eventBusCapabilities) { try await kind.makeEventBus() }.run()
    }
}
