import AdapterContracts
import Testing

@Suite("LatestPositionCache contract")
struct LatestPositionCacheContractTests {
    /// Every built-in latest-position cache keeps every rule of `LatestPositionCache`.
    @Test(arguments: LocalKind.latestPositionCaches)
    func contract(_ kind: LocalKind) async throws {
        try await LatestPositionCacheContract { clock in kind.makeLatestPositionCache(clock: clock) }.run()
    }
}
