import AdapterContracts
import Testing

@Suite("PushGateway contract")
struct PushGatewayContractTests {
    /// Every built-in push gateway keeps every rule of `PushGateway`.
    @Test(arguments: LocalKind.pushGateways)
    func contract(_ kind: LocalKind) async throws {
        try await PushGatewayContract { kind.makePushGateway() }.run()
    }
}
