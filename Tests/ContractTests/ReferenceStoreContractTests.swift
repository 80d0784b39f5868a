import AdapterContracts
import Testing

@Suite("ReferenceStore contract")
struct ReferenceStoreContractTests {
    /// Every built-in reference store keeps every rule of `ReferenceStore`.
    @Test(arguments: LocalKind.allCases)
    func contract(_ kind: LocalKind) async throws {
        try await ReferenceStoreContract { kind.makeReferenceStore() }.run()
    }
}
