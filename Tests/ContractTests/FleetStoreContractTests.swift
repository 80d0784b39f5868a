import AdapterContracts
import Testing

@Suite("FleetStore contract")
struct FleetStoreContractTests {
    /// Every built-in fleet store keeps every rule of `FleetStore`.
    @Test(arguments: LocalKind.allCases)
    func contract(_ kind: LocalKind) async throws {
        try await FleetStoreContract { kind.makeFleetStore() }.run()
    }
}
