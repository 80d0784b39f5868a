import AdapterContracts
import Testing

@Suite("ReferenceStore contract")
struct ReferenceStoreContractTests {
    /// Every built-in reference store keeps every rule of `ReferenceStore`.
    @Test(.temporaryDatabases, arguments: LocalKind.referenceStores)
    func contract(_ kind: LocalKind) async throws {
        try await ReferenceStoreContract { try kind.makeReferenceStore() }.run()
    }
}
