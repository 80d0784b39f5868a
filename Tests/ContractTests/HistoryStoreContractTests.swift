import AdapterContracts
import Testing

@Suite("HistoryStore contract")
struct HistoryStoreContractTests {
    /// Every built-in history store keeps every rule of `HistoryStore`.
    @Test(.temporaryDatabases, arguments: LocalKind.historyStores)
    func contract(_ kind: LocalKind) async throws {
        try await HistoryStoreContract { try kind.makeHistoryStore() }.run()
    }
}
