import AdapterContracts
import Testing

@Suite("EventBus contract")
struct EventBusContractTests {
    /// Every built-in bus keeps every rule of `EventBus`.
    @Test(arguments: LocalKind.allCases)
    func contract(_ kind: LocalKind) async throws {
        try await EventBusContract(capabilities: kind.eventBusCapabilities) { kind.makeEventBus() }.run()
    }
}
