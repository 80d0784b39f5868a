import AdapterContracts
import AdapterSupport
import Application
import Domain
import Hummingbird
import InMemoryAdapters
import Logging
import SocketIOAdapters
import Synchronization
import WireFormat

/// A `SocketIOGateway` served over HTTP on a free loopback port, with in-memory use cases behind it.
/// Tokens are `tenant:<id>` (a stand-in verifier; the JWT path is covered by the HTTP and system tests).
final class SocketIOTestServer: Sendable {
    let gateway: SocketIOGateway
    let url: String
    private let task: Task<Void, Never>
    private let heartbeat: Task<Void, Never>

    static func start(configuration: SocketIOGateway.Configuration = .init()) async throws -> SocketIOTestServer {
        let logger = Logger(label: "socketio-test")
        let fleet = InMemoryFleetStore()
        let clock = SystemWallClock()
        let positions = PositionQueries(
            fleet: fleet,
            latest: InMemoryLatestPositionCache(clock: clock),
            history: InMemoryHistoryStore()
        )
        let bus = InMemoryEventBus()
        let customers = CustomerDirectory(
            shared: InMemoryCustomerCache(clock: clock),
            store: InMemoryReferenceStore(),
            sourceOfTruth: InMemorySourceOfTruth(bus: bus),
            clock: clock,
            logger: logger
        )
        let gateway = SocketIOGateway(
            configuration: configuration,
            authenticate: { token in
                guard token.hasPrefix("tenant:") else { throw BadToken() }
                return Principal(tenantId: TenantID(String(token.dropFirst(7))), role: .dispatcher, subject: "probe")
            },
            positions: positions,
            drivers: DriverManagement(fleet: fleet),
            routes: RoutePlanning(fleet: fleet, customers: customers),
            logger: logger
        )
        let router = Router()
        gateway.addRoutes(to: router)
        let port = AsyncStream<Int>.makeStream()
        let app = Application(
            router: router,
            server: gateway.webSocketRoutes.serverBuilder(),
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in
                port.continuation.yield(channel.localAddress?.port ?? 0)
                port.continuation.finish()
            },
            logger: logger
        )
        let task = Task<Void, Never> { _ = try? await app.runService() }
        let heartbeat = Task { await gateway.run() }
        var bound = 0
        for await p in port.stream { bound = p }
        return SocketIOTestServer(gateway: gateway, url: "http://127.0.0.1:\(bound)", task: task, heartbeat: heartbeat)
    }

    private init(gateway: SocketIOGateway, url: String, task: Task<Void, Never>, heartbeat: Task<Void, Never>) {
        self.gateway = gateway
        self.url = url
        self.task = task
        self.heartbeat = heartbeat
    }

    func stop() {
        gateway.closeAll()
        task.cancel()
        heartbeat.cancel()
    }
}

/// Observes a `SocketIOGateway` for `PushGatewayContract` through real Socket.IO connections over
/// WebSocket; rooms are joined server-side (`join(socketId:room:)`), as the ownership checks of the
/// client events need fleet data the contract does not have.
struct SocketIOPushProbe: PushProbe {
    let server: SocketIOTestServer

    func connect(tenantId: TenantID, consuming: Bool) async throws -> any PushProbeConnection {
        let collector = Collector()
        // One ordered stream into the collector: a task per message could reorder them.
        let (received, feed) = AsyncStream<PushMessage>.makeStream()
        Task { for await message in received { await collector.add(message) } }
        let client = try await SocketIOClient.connect(
            url: server.url,
            auth: #"{"token":"tenant:\#(tenantId.rawValue)"}"#,
            reading: consuming,
            logger: Logger(label: "probe")
        ) { event, packet in
            guard event != "initial-state",
                let message = Self.message(event: event, packet: Array(packet.utf8.dropFirst(2)), tenant: tenantId)
            else { return }
            feed.yield(message)
        }
        return SocketIOProbeConnection(server: server, client: client, collector: collector, feed: feed)
    }

    /// The push message carried by `["event", payload, (offset)]`.
    static func message(event: String, packet: [UInt8], tenant: TenantID) -> PushMessage? {
        guard case .array(let elements)? = try? JSONBytesReader.parse(packet), elements.count >= 2 else { return nil }
        var writer = JSONBytesWriter()
        writer.value(elements[1])
        return PushMessage(event: event, json: writer.bytes, tenantId: tenant)
    }
}

private struct SocketIOProbeConnection: PushProbeConnection {
    let server: SocketIOTestServer
    let client: SocketIOClient
    let collector: Collector
    let feed: AsyncStream<PushMessage>.Continuation

    func join(_ room: Room) async throws -> Bool {
        server.gateway.join(socketId: client.socketId, room: room)
    }

    func messages(until isLast: @escaping @Sendable (PushMessage) -> Bool, timeout: Duration) async -> [PushMessage] {
        await collector.wait(until: isLast, timeout: timeout)
    }

    func disconnect() async {
        await client.close()
        feed.finish()
    }
}

private struct BadToken: Error, CustomStringConvertible {
    var description: String { "bad token" }
}
