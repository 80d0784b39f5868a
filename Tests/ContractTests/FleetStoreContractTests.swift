import AdapterContracts
import Testing

@Suite("FleetStore contract")
struct FleetStoreContractTests {
    /// Every built-in fleet store keeps every rule of `FleetStore`.
    @Test(.temporaryDatabases, arguments: LocalKind.fleetStores)
    func contract(_ kind: LocalKind) async throws {
        try await FleetStoreContract { try kind.makeFleetStore() }.run()
    }
}
