import AdapterContracts
import Testing

@Suite("HistoryStore contract")
struct HistoryStoreContractTests {
    /// Every built-in history store keeps every rule of `HistoryStore`.
    @Test(arguments: LocalKind.allCases)
    func contract(_ kind: LocalKind) async throws {
        try await HistoryStoreContract { kind.makeHistoryStore() }.run()
    }
}
