import AdapterContracts
import Testing

@Suite("CustomerCache contract")
struct CustomerCacheContractTests {
    /// Every built-in customer cache keeps every rule of `CustomerCache`.
    @Test(arguments: LocalKind.customerCaches)
    func contract(_ kind: LocalKind) async throws {
        try await CustomerCacheContract { clock in kind.makeCustomerCache(clock: clock) }.run()
    }
}
