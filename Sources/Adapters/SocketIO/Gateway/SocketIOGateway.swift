public import Application
public import Domain
public import Hummingbird
public import Logging
import Synchronization
import WireFormat

/// The dashboards' live feed over Socket.IO (spec §6.2, §8.5–8.6, §10): the production `PushGateway`.
///
/// - **Authentication:** the REST API's JWT in the handshake `auth.token`; a missing, invalid or expired
///   token, or a role that may not watch the fleet, gets CONNECT_ERROR with the reason.
/// - **Rooms:** every socket is in its tenant's room; `subscribe-driver`/`subscribe-delivery` join a driver's
///   or a route's room after the ownership check. Room keys are prefixed with the tenant of the message
///   being sent, and sockets only ever join keys of their own tenant, so no event can reach another tenant.
/// - **Events:** `initial-state` on connect; `driver-position` (compact, tenant room) or, for clients that
///   ask for `batchMs` in their handshake, `driver-positions` arrays (latest per driver) every `batchMs`;
///   `driver-position-detailed` (driver room); `visit-event`, `driver-event`, `alert` (recoverable after a
///   reconnect). Client events `subscribe-driver`, `unsubscribe-driver`, `subscribe-delivery`,
///   `unsubscribe-delivery`, `get-route-history`, `get-driver-stats` answer through their ack with
///   `{ok: true, ...}` or `{ok: false, error: "..."}`.
/// - **Cost:** every broadcast is encoded once and the same bytes are queued on every socket; queues are
///   bounded (positions coalesce per driver, then the client is disconnected).
public final class SocketIOGateway: PushGateway {
    public struct Configuration: Sendable {
        public var pingInterval: Duration = .seconds(25)
        public var pingTimeout: Duration = .seconds(20)
        public var connectTimeout: Duration = .seconds(45)
        /// Connection state recovery window (`nil` disables recovery).
        public var recoveryWindow: Duration? = .seconds(120)
        /// Recovery shared with the other instances (`tracker.push.fanout=redis`): sessions and recoverable
        /// events live in the shared store and offsets come with `deliver(_:to:offset:)`.
        package var sharedRecovery: (any SharedRecovery)?
        /// `Access-Control-Allow-Origin` for polling (`nil`: same-origin only).
        public var corsOrigin: String?
        /// The smallest and largest `batchMs` a client may ask for.
        public var batchRange: ClosedRange<Int> = 50...10_000
        public var limits = EngineServer.Limits()

        public init() {}
    }

    /// Who a socket is.
    final class Client: Sendable {
        let principal: Principal
        let batchMs: Int?
        init(principal: Principal, batchMs: Int?) {
            self.principal = principal
            self.batchMs = batchMs
        }
    }

    public let engine: EngineServer
    let io: SocketIOServer
    let configuration: Configuration
    let authenticate: @Sendable (String) async throws -> Principal
    let positions: PositionQueries
    let drivers: DriverManagement
    let routes: RoutePlanning
    let logger: Logger
    let batches = Mutex<[BatchKey: Batch]>([:])
    /// `initial-state` payloads per tenant, reused for a second: a reconnect storm of 500 dashboards costs
    /// one read and one encoding, not 500 (positions change every second anyway and live updates follow).
    let stopped = Mutex(false)
    let initialStates = Mutex<[TenantID: (expires: ContinuousClock.Instant, json: [UInt8])]>([:])

    struct BatchKey: Hashable {
        var tenant: TenantID
        var intervalMs: Int
    }
    struct Batch {
        /// Latest payload per message key, in first-arrival order.
        var latest: [String: [UInt8]] = [:]
        var order: [String] = []
        var unkeyed = 0
        var due: ContinuousClock.Instant
        var members = 0
    }

    /// - Parameter authenticate: verifies a JWT and returns its principal; its error's description is sent to
    ///   the client.
    public init(
        configuration: Configuration = .init(),
        authenticate: @escaping @Sendable (String) async throws -> Principal,
        positions: PositionQueries,
        drivers: DriverManagement,
        routes: RoutePlanning,
        logger: Logger
    ) {
        self.configuration = configuration
        self.authenticate = authenticate
        self.positions = positions
        self.drivers = drivers
        self.routes = routes
        self.logger = logger
        let holder = GatewayHolder()
        var namespace = SocketNamespace(
            name: "/",
            authorize: { auth, _ in await holder.gateway?.authorize(auth) ?? .reject(message: "server starting") },
            connected: { socket in await holder.gateway?.connected(socket) },
            events: { socket, event, ack in await holder.gateway?.handle(event, from: socket, ack: ack) },
            disconnected: { socket, _ in holder.gateway?.disconnected(socket) }
        )
        // A recovered session belongs to the same tenant and subject only.
        namespace.owner = { context in
            (context as? Client).map { "\($0.principal.tenantId.rawValue)|\($0.principal.subject)" }
        }
        var limits = configuration.limits
        limits.pingInterval = configuration.pingInterval
        limits.pingTimeout = configuration.pingTimeout
        io = SocketIOServer(
            options: .init(
                connectTimeout: configuration.connectTimeout,
                recoveryWindow: configuration.recoveryWindow,
                shared: configuration.sharedRecovery
            ),
            namespaces: [namespace],
            logger: logger
        )
        engine = EngineServer(limits: limits, corsOrigin: configuration.corsOrigin, handler: io, logger: logger)
        holder.set(self)
    }

    /// Registers `/socket.io` on `router`; upgrades go through `webSocketRoutes`.
    public func addRoutes<Context: RequestContext>(to router: Router<Context>) {
        engine.addRoutes(to: router, path: "/socket.io")
    }

    public var webSocketRoutes: EngineWebSocketRoutes { EngineWebSocketRoutes([("/socket.io", engine)]) }

    /// Heartbeats and batch flushing until cancelled; then disconnects every client so that pending polls
    /// end at once (shutdown) and clients reconnect to the next instance.
    public func run() async {
        defer { stopped.withLock { $0 = true } }
        async let heartbeat: Void = engine.runHeartbeat()
        async let flushing: Void = runBatches()
        async let sessions: Void = runSharedSessions()
        _ = await (heartbeat, flushing, sessions)
        closeAll()
    }

    /// Disconnects every client without a close packet, so both the JS and the python client reconnect
    /// (python-engineio does not reconnect after a server `1`).
    public func closeAll() { engine.closeAll(notifyClient: false) }

    /// Open Engine.IO sessions.
    public var connectionCount: Int { engine.sessionCount }

    /// Whether `run()` has ended (shutdown: every client was disconnected).
    public var isStopped: Bool { stopped.withLock { $0 } }

    /// A server-side subscription (Socket.IO's `io.in(socketId).socketsJoin(room)`): joins the socket to
    /// `room` within its own tenant. `false` for an unknown socket or another tenant's tenant room.
    public func join(socketId: String, room: Room) -> Bool {
        guard let socket = io.sockets(in: [socketId]).first, let client = socket.context as? Client else {
            return false
        }
        let tenant = client.principal.tenantId
        if case .tenant(let owner) = room {
            return owner == tenant  // joined on connect
        }
        socket.join(Self.key(tenant, room.name))
        return true
    }

    // MARK: Room keys

    package static func key(_ tenant: TenantID, _ room: String) -> String { "\(tenant.rawValue)|\(room)" }
    static func livePositionsKey(_ tenant: TenantID) -> String { key(tenant, "positions") }
    static func batchKey(_ tenant: TenantID, _ ms: Int) -> String { key(tenant, "positions/\(ms)") }

    // MARK: PushGateway

    public func broadcast(_ message: PushMessage, to room: Room) async {
        await broadcast(message, to: [room])
    }

    public func broadcast(_ message: PushMessage, to rooms: [Room]) async {
        deliver(message, to: rooms, offset: nil)
    }

    /// Delivers a message to this instance's sockets; `offset` is the shared recovery offset of an event
    /// (from the shared push log, the same on every instance).
    public func deliver(_ message: PushMessage, to rooms: [Room], offset: String?) {
        let tenant = message.tenantId
        if message.event == "driver-position", rooms == [.tenant(tenant)] {
            publishPosition(message)
            return
        }
        let keys = rooms.map { Self.key(tenant, $0.name) }
        if let key = message.key {
            // A state update: latest wins for a congested receiver, nothing to replay after a reconnect.
            io.broadcast(message.event, [message.json], to: keys, coalesceKey: "\(message.event):\(key)")
        } else {
            io.broadcast(message.event, [message.json], to: keys, recoverable: true, offset: offset)
        }
    }

    /// A compact position: now to live sockets (coalescing per driver), later in batches to the others.
    private func publishPosition(_ message: PushMessage) {
        io.broadcast(
            "driver-position",
            [message.json],
            to: [Self.livePositionsKey(message.tenantId)],
            coalesceKey: message.key.map { "driver-position:\($0)" }
        )
        batches.withLock { batches in
            for (key, var batch) in batches where key.tenant == message.tenantId {
                let id: String
                if let key = message.key {
                    id = key
                } else {
                    batch.unkeyed += 1
                    id = "#\(batch.unkeyed)"  // no key: nothing supersedes it
                }
                if batch.latest.updateValue(message.json, forKey: id) == nil { batch.order.append(id) }
                batches[key] = batch
            }
        }
    }

    /// Shared recovery: saves changed sessions every second and refreshes all every 30 s, so that the sessions
    /// of a crashed instance outlive it by at least the recovery window.
    private func runSharedSessions() async {
        guard configuration.sharedRecovery != nil, let window = configuration.recoveryWindow else { return }
        var tick = 0
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(1))
            tick += 1
            await io.flushSharedSessions(everything: tick % 30 == 0, liveTTL: window + .seconds(45))
        }
        await io.flushSharedSessions(everything: false, liveTTL: window + .seconds(45))
    }

    private func runBatches() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(10))
            let now = ContinuousClock.now
            let due: [(BatchKey, [[UInt8]])] = batches.withLock { batches in
                var due: [(BatchKey, [[UInt8]])] = []
                for (key, var batch) in batches where batch.due <= now {
                    if !batch.order.isEmpty { due.append((key, batch.order.compactMap { batch.latest[$0] })) }
                    batch.latest.removeAll(keepingCapacity: true)
                    batch.order.removeAll(keepingCapacity: true)
                    batch.due = now + .milliseconds(key.intervalMs)
                    batches[key] = batch
                }
                return due
            }
            for (key, items) in due {
                var array: [UInt8] = [UInt8(ascii: "[")]
                array.reserveCapacity(items.reduce(2) { $0 + $1.count + 1 })
                for (index, item) in items.enumerated() {
                    if index > 0 { array.append(UInt8(ascii: ",")) }
                    array.append(contentsOf: item)
                }
                array.append(UInt8(ascii: "]"))
                io.broadcast(
                    "driver-positions",
                    [array],
                    to: [Self.batchKey(key.tenant, key.intervalMs)],
                    coalesceKey: "batch"
                )
            }
        }
    }

    // MARK: Connection

    func authorize(_ auth: JSONTree) async -> ConnectDecision {
        guard let token = auth["token"]?.string, !token.isEmpty else {
            return .reject(message: "unauthorized: missing auth.token (the REST API's JWT)")
        }
        let principal: Principal
        do {
            principal = try await authenticate(token)
        } catch {
            return .reject(message: "unauthorized: \(error)")
        }
        do {
            try AccessPolicy.subscribe(principal, tenant: principal.tenantId)
        } catch {
            return .reject(message: "forbidden: \(error.reason)")
        }
        var batchMs: Int?
        if let requested = auth["batchMs"] {
            guard let value = requested.int64.map(Int.init), configuration.batchRange.contains(value) else {
                return .reject(
                    message: "invalid batchMs: expected an integer in \(configuration.batchRange) milliseconds"
                )
            }
            batchMs = value
        }
        return .accept(context: Client(principal: principal, batchMs: batchMs))
    }

    func connected(_ socket: SocketIOSocket) async {
        guard let client = socket.context as? Client else { return }
        let tenant = client.principal.tenantId
        // Joined first, read second, sent first: a position published meanwhile is held behind the state.
        socket.hold()
        defer { socket.release() }
        socket.join(Self.key(tenant, Room.tenant(tenant).name))
        if let ms = client.batchMs {
            socket.join(Self.batchKey(tenant, ms))
            batches.withLock { batches in
                let key = BatchKey(tenant: tenant, intervalMs: ms)
                batches[key, default: Batch(due: .now + .milliseconds(ms))].members += 1
            }
        } else {
            socket.join(Self.livePositionsKey(tenant))
        }
        do {
            socket.emit("initial-state", [try await initialState(for: client.principal)])
        } catch {
            logger.warning("initial-state failed", metadata: ["error": "\(error)"])
            socket.emit("initial-state", [Array(#"{"positions":[],"error":"initial state unavailable"}"#.utf8)])
        }
    }

    /// `{"positions":[...]}` for the principal's tenant, at most a second old.
    func initialState(for principal: Principal) async throws -> [UInt8] {
        let tenant = principal.tenantId
        if let cached = initialStates.withLock({ $0[tenant] }), cached.expires > .now { return cached.json }
        let state = try await positions.initialStateJSON(as: principal)
        var writer = JSONBytesWriter(capacity: state.count + 32)
        writer.beginObject()
        writer.key("positions")
        writer.raw(state)
        writer.endObject()
        let json = writer.bytes
        initialStates.withLock { $0[tenant] = (.now + .seconds(1), json) }
        return json
    }

    func disconnected(_ socket: SocketIOSocket) {
        guard let client = socket.context as? Client, let ms = client.batchMs else { return }
        batches.withLock { batches in
            let key = BatchKey(tenant: client.principal.tenantId, intervalMs: ms)
            batches[key]?.members -= 1
            if batches[key]?.members ?? 0 <= 0 { batches[key] = nil }
        }
    }

    // MARK: Client events

    func handle(_ event: SocketEvent, from socket: SocketIOSocket, ack: SocketAck?) async {
        guard let client = socket.context as? Client else { return }
        let principal = client.principal
        let tenant = principal.tenantId
        let input = event.args.first
        func reply(_ result: Result<[(String, [UInt8])], any Error>) {
            var writer = JSONBytesWriter()
            writer.beginObject()
            switch result {
            case .success(let fields):
                writer.field("ok", true)
                for (name, json) in fields {
                    writer.key(name)
                    writer.raw(json)
                }
            case .failure(let error):
                writer.field("ok", false)
                writer.field("error", Self.describe(error))
            }
            writer.endObject()
            ack?([writer.bytes])
        }
        do {
            switch event.name {
            case "subscribe-driver", "unsubscribe-driver":
                let id = try DriverID(Self.string(input, "driverId"))
                if event.name == "subscribe-driver" {
                    _ = try await drivers.get(id, as: principal)
                    socket.join(Self.key(tenant, Room.driver(id).name))
                } else {
                    socket.leave(Self.key(tenant, Room.driver(id).name))
                }
                reply(.success([("driverId", Self.quoted(id.rawValue))]))
            case "subscribe-delivery", "unsubscribe-delivery":
                let id = try RouteID(Self.string(input, "routeId"))
                if event.name == "subscribe-delivery" {
                    _ = try await routes.get(id, as: principal)
                    socket.join(Self.key(tenant, Room.delivery(id).name))
                } else {
                    socket.leave(Self.key(tenant, Room.delivery(id).name))
                }
                reply(.success([("routeId", Self.quoted(id.rawValue))]))
            case "get-route-history":
                let id = try DriverID(Self.string(input, "driverId"))
                let from = try Self.timestamp(input, "from")
                let to = try Self.timestamp(input, "to")
                let maxPoints = input?["maxPoints"]?.int64.map(Int.init) ?? PositionQueries.defaultMaxPoints
                let points = try await positions.history(
                    driverId: id,
                    from: from,
                    to: to,
                    maxPoints: maxPoints,
                    as: principal
                )
                reply(.success([("points", try JSONPayload.encode(points))]))
            case "get-driver-stats":
                let id = try DriverID(Self.string(input, "driverId"))
                guard let from = CalendarDate(try Self.string(input, "from")),
                    let to = CalendarDate(try Self.string(input, "to"))
                else { throw UseCaseError(.invalid, "from and to must be dates (YYYY-MM-DD)") }
                let stats = try await positions.stats(driverId: id, from: from, to: to, as: principal)
                reply(.success([("stats", try JSONPayload.encode(stats))]))
            default:
                throw UseCaseError(.invalid, "unknown event \(event.name)")
            }
        } catch {
            reply(.failure(error))
        }
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? UseCaseError { return error.reason }
        return "\(error)"
    }

    static func string(_ input: JSONTree?, _ field: String) throws -> String {
        guard let value = input?[field]?.string, !value.isEmpty else {
            throw UseCaseError(.invalid, "\(field) is required (a string)", field: field)
        }
        return value
    }

    /// Epoch milliseconds, as a number or a numeric string.
    static func timestamp(_ input: JSONTree?, _ field: String) throws -> Timestamp {
        if let ms = input?[field]?.int64 ?? input?[field]?.string.flatMap({ Int64($0) }) {
            return Timestamp(millisecondsSinceEpoch: ms)
        }
        throw UseCaseError(.invalid, "\(field) is required (epoch milliseconds)", field: field)
    }

    static func quoted(_ text: String) -> [UInt8] {
        var bytes: [UInt8] = []
        JSONBytesWriter.appendString(text, to: &bytes)
        return bytes
    }
}

/// Lets the namespace handlers reach the gateway that owns them (set once, after initialisation).
private final class GatewayHolder: Sendable {
    private let value = Mutex<SocketIOGateway?>(nil)
    var gateway: SocketIOGateway? { value.withLock { $0 } }
    func set(_ gateway: SocketIOGateway) { value.withLock { $0 = gateway } }
}
