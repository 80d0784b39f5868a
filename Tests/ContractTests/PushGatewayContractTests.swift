import AdapterContracts
import Synchronization
import Testing

@Suite("PushGateway contract")
struct PushGatewayContractTests {
    /// Every built-in push gateway keeps every rule of `PushGateway`.
    @Test(arguments: LocalKind.pushGateways)
    func contract(_ kind: LocalKind) async throws {
        try await PushGatewayContract { kind.makePushGateway() }.run()
    }

    /// The Socket.IO gateway, observed through real Socket.IO clients over WebSocket.
    @Test func socketIO() async throws {
        let servers = Servers()
        try await PushGatewayContract(capabilities: .init(deliveryTimeout: .seconds(10), broadcastBudget: .seconds(5)))
        {
            let server = try await SocketIOTestServer.start()
            servers.add(server)
            return (server.gateway, SocketIOPushProbe(server: server))
        }.run()
        servers.stopAll()
    }
}

/// The servers a contract run started, stopped at its end.
final class Servers: Sendable {
    private let started = Mutex<[SocketIOTestServer]>([])
    func add(_ server: SocketIOTestServer) { started.withLock { $0.append(server) } }
    func stopAll() { for server in started.withLock({ $0 }) { server.stop() } }
}
