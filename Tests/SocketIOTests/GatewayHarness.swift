import AdapterSupport
import Application
import Domain
import InMemoryAdapters
import Logging
import NIOCore
import Synchronization

@testable import SocketIOAdapters

/// A Socket.IO gateway over in-memory stores, driven through the protocol path without a network.
struct GatewayHarness {
    let gateway: SocketIOGateway

    init(latest: any LatestPositionCache = InMemoryLatestPositionCache(clock: SystemWallClock())) {
        let logger = Logger(label: "gateway-harness")
        let fleet = InMemoryFleetStore()
        let clock = SystemWallClock()
        let bus = InMemoryEventBus()
        let customers = CustomerDirectory(
            shared: InMemoryCustomerCache(clock: clock),
            store: InMemoryReferenceStore(),
            sourceOfTruth: InMemorySourceOfTruth(bus: bus),
            clock: clock,
            logger: logger
        )
        gateway = SocketIOGateway(
            authenticate: { token in
                Principal(
                    tenantId: TenantID(String(token.dropFirst("tenant:".count))),
                    role: .dispatcher,
                    subject: "user"
                )
            },
            positions: PositionQueries(
                fleet: fleet,
                latest: latest,
                history: InMemoryHistoryStore()
            ),
            drivers: DriverManagement(fleet: fleet),
            routes: RoutePlanning(fleet: fleet, customers: customers),
            logger: logger
        )
    }

    /// Opens a socket through the protocol path (Engine.IO open + Socket.IO CONNECT with auth).
    func connect(tenant: String, batchMs: Int?) async -> (EngineSession, String) {
        let session = gateway.engine.open(transport: .websocket, query: [:], headers: [:])
        await gateway.io.engineOpened(session)
        let batch = batchMs.map { #","batchMs":\#($0)"# } ?? ""
        await gateway.io.engine(session, received: .text(#"0{"token":"tenant:\#(tenant)"\#(batch)}"#))
        let reply = drain(session).first { $0.hasPrefix("40") } ?? ""
        let sid = String(reply.dropFirst(#"40{"sid":""#.count).prefix { $0 != "\"" })
        return (session, sid)
    }

    func drain(_ session: EngineSession) -> [String] {
        session.takeQueuedFrames().map { String(buffer: $0.payload) }
    }
}
