import Application
package import Logging
import Synchronization
package import WireFormat

/// What a namespace's middleware decides about a CONNECT.
package enum ConnectDecision: Sendable {
    /// Accept; `context` is attached to the socket (who the client is).
    case accept(context: (any Sendable)?)
    /// Refuse with CONNECT_ERROR `{"message": message, "data": data}`.
    case reject(message: String, data: [UInt8]? = nil)
}

/// An event received from a client.
package struct SocketEvent: Sendable {
    package var name: String
    /// The arguments after the event name, binary placeholders left in place.
    package var args: [JSONTree]
    package var attachments: [[UInt8]]
}

/// Answers a client's event through its acknowledgement callback.
package struct SocketAck: Sendable {
    let send: @Sendable ([[UInt8]], [[UInt8]]) -> Void

    /// Acknowledges with `args` (each JSON text) and, when it has placeholders, binary `attachments`.
    package func callAsFunction(_ args: [[UInt8]], attachments: [[UInt8]] = []) {
        send(args, attachments)
    }
}

/// A namespace's handlers.
package struct SocketNamespace: Sendable {
    package var name: String
    /// Runs on CONNECT with the `auth` payload (`{}` when absent) and the socket's Engine.IO session.
    package var authorize: @Sendable (JSONTree, EngineSession) async -> ConnectDecision
    /// Runs after the CONNECT reply was queued, so anything it emits follows the reply.
    package var connected: @Sendable (SocketIOSocket) async -> Void
    package var events: @Sendable (SocketIOSocket, SocketEvent, SocketAck?) async -> Void
    package var disconnected: @Sendable (SocketIOSocket, String) -> Void
    /// Who owns a socket's context (for the tracker: tenant and subject). A recovery `pid` is honoured only
    /// for a CONNECT whose context has the same owner, so a session can never be taken over with another
    /// tenant's token. `nil` owners match each other (no authentication).
    package var owner: @Sendable ((any Sendable)?) -> String? = { _ in nil }

    package init(
        name: String,
        authorize: @escaping @Sendable (JSONTree, EngineSession) async -> ConnectDecision = { _, _ in
            .accept(context: nil)
        },
        connected: @escaping @Sendable (SocketIOSocket) async -> Void = { _ in },
        events: @escaping @Sendable (SocketIOSocket, SocketEvent, SocketAck?) async -> Void = { _, _, _ in },
        disconnected: @escaping @Sendable (SocketIOSocket, String) -> Void = { _, _ in }
    ) {
        self.name = name
        self.authorize = authorize
        self.connected = connected
        self.events = events
        self.disconnected = disconnected
    }
}

/// One client in one namespace.
package final class SocketIOSocket: Sendable {
    package let id: String
    package let namespace: String
    package let engine: EngineSession
    /// Set by the namespace's `authorize`.
    package let context: (any Sendable)?
    /// Whether this socket restored a previous session (connection state recovery).
    package let recovered: Bool
    let server: SocketIOServer
    let state = Mutex(SocketState())

    struct SocketState {
        var rooms: Set<String> = []
        var connected = true
        var nextAckId = 0
        var pendingAcks: [Int: @Sendable ([JSONTree]) -> Void] = [:]
        /// Broadcast frames kept back while the socket is held; nil when it is not.
        var held: [EngineFrame]?
    }

    init(
        id: String,
        namespace: String,
        engine: EngineSession,
        context: (any Sendable)?,
        recovered: Bool,
        server: SocketIOServer
    ) {
        self.id = id
        self.namespace = namespace
        self.engine = engine
        self.context = context
        self.recovered = recovered
        self.server = server
    }

    package var rooms: Set<String> { state.withLock { $0.rooms } }
    package var isConnected: Bool { state.withLock { $0.connected } }

    /// Emits an event to this client only. `args` are JSON texts; `attachments` are binary data referenced by
    /// placeholders in them. `ack` asks the client to acknowledge.
    package func emit(
        _ event: String,
        _ args: [[UInt8]],
        attachments: [[UInt8]] = [],
        ack: (@Sendable ([JSONTree]) -> Void)? = nil
    ) {
        var id: Int?
        if let ack {
            id = state.withLock { state in
                defer { state.nextAckId += 1 }
                state.pendingAcks[state.nextAckId] = ack
                return state.nextAckId
            }
        }
        let type: SocketPacketType = attachments.isEmpty ? .event : .binaryEvent
        let header = SocketCodec.encode(
            type,
            namespace: namespace,
            id: id,
            attachments: attachments.count,
            json: SocketCodec.eventArray(event, args)
        )
        engine.send([EngineFrame.message(header)] + attachments.map { EngineFrame.binary($0) })
    }

    /// Keeps broadcasts to this socket back until `release()`, while `emit` still goes out: a handler can join
    /// rooms, read a state and emit it first without losing what reached the rooms meanwhile.
    package func hold() {
        state.withLock { if $0.held == nil { $0.held = [] } }
    }

    /// Sends the broadcasts kept back since `hold()`, in order, and lets the next ones through. (Frames are
    /// sent outside the lock: a session closing on overflow calls back into the server.)
    package func release() {
        while true {
            let frames = state.withLock { state -> [EngineFrame]? in
                guard let held = state.held else { return nil }
                state.held = held.isEmpty ? nil : []
                return held.isEmpty ? nil : held
            }
            guard let frames else { return }
            engine.send(frames)
        }
    }

    /// Queues a broadcast frame, or keeps it back while held. False when the session refused it.
    func deliver(_ frame: EngineFrame) -> Bool {
        let now = state.withLock { state in
            guard state.held != nil else { return true }
            state.held!.append(frame)
            return false
        }
        return now ? engine.send(frame) : true
    }

    /// Joins rooms (broadcasts to them reach this socket from now on).
    package func join(_ room: String) { server.join(self, room) }
    package func leave(_ room: String) { server.leave(self, room) }

    /// Disconnects this socket from its namespace (`1` to the client); the Engine.IO session stays open.
    package func disconnect() {
        engine.send(.message(SocketCodec.encode(.disconnect, namespace: namespace, json: nil)))
        server.remove(self, reason: "server namespace disconnect", recoverable: false)
    }

    func resolveAck(_ id: Int, _ args: [JSONTree]) {
        let callback = state.withLock { $0.pendingAcks.removeValue(forKey: id) }
        callback?(args)
    }
}

/// A Socket.IO v5 server over an Engine.IO server: namespaces, CONNECT with auth, events, acks (both ways),
/// binary packets, rooms with encode-once broadcasts, and connection state recovery.
package final class SocketIOServer: EngineHandler {
    package struct Options: Sendable {
        /// A client that joins no namespace within this time is disconnected.
        package var connectTimeout: Duration = .seconds(45)
        /// Connection state recovery: how long a disconnected session's rooms and missed packets are kept
        /// (`nil` disables it).
        package var recoveryWindow: Duration? = .seconds(120)
        /// Most packets kept for recovery.
        package var recoveryBufferSize = 10_000
        /// Recovery shared with other servers (then nothing is kept in memory, and recoverable broadcasts
        /// carry the offset their caller gives).
        package var shared: (any SharedRecovery)?

        package init(
            connectTimeout: Duration = .seconds(45),
            recoveryWindow: Duration? = .seconds(120),
            shared: (any SharedRecovery)? = nil
        ) {
            self.connectTimeout = connectTimeout
            self.recoveryWindow = recoveryWindow
            self.shared = shared
        }
    }

    let options: Options
    let logger: Logger
    let namespaces: Mutex<[String: SocketNamespace]>
    let clients = Mutex<[String: Client]>([:])
    let registry = Mutex(Registry())
    let recovery = Mutex(RecoveryStore())
    let sharedSessions = Mutex(SharedSessions())

    /// Per Engine.IO session: joined namespaces and a binary packet waiting for its attachments.
    final class Client: Sendable {
        let engine: EngineSession
        let state = Mutex(ClientState())
        init(engine: EngineSession) { self.engine = engine }
    }

    struct ClientState {
        var sockets: [String: SocketIOSocket] = [:]
        var partial: SocketPacket?
        var connecting: Set<String> = []
        var everConnected = false
    }

    /// Room membership per namespace.
    struct Registry {
        var rooms: [String: [String: [String: SocketIOSocket]]] = [:]

        mutating func add(_ socket: SocketIOSocket, _ room: String) {
            rooms[socket.namespace, default: [:]][room, default: [:]][socket.id] = socket
        }

        mutating func remove(_ socket: SocketIOSocket, _ room: String) {
            rooms[socket.namespace]?[room]?[socket.id] = nil
            if rooms[socket.namespace]?[room]?.isEmpty == true { rooms[socket.namespace]?[room] = nil }
        }
    }

    package init(options: Options = .init(), namespaces: [SocketNamespace], logger: Logger) {
        self.options = options
        self.logger = logger
        self.namespaces = Mutex(Dictionary(uniqueKeysWithValues: namespaces.map { ($0.name, $0) }))
    }

    // MARK: EngineHandler

    package func engineOpened(_ session: EngineSession) async {
        clients.withLock { $0[session.id] = Client(engine: session) }
        let timeout = options.connectTimeout
        Task { [weak self] in
            try? await Task.sleep(for: timeout)
            guard let self, let client = self.clients.withLock({ $0[session.id] }) else { return }
            // Only a client that never joined a namespace times out; leaving the last one keeps the engine.
            if !client.state.withLock({ $0.everConnected }) { session.close(reason: "connect timeout") }
        }
    }

    package func engineClosed(_ session: EngineSession, reason: String) {
        guard let client = clients.withLock({ $0.removeValue(forKey: session.id) }) else { return }
        let sockets = client.state.withLock { Array($0.sockets.values) }
        // A lost connection (network blip, ping timeout) may be recovered; a DISCONNECT packet may not.
        for socket in sockets { remove(socket, reason: reason, recoverable: true) }
    }

    package func engine(_ session: EngineSession, received message: EngineMessage) async {
        guard let client = clients.withLock({ $0[session.id] }) else { return }
        let complete: SocketPacket?
        do {
            complete = try client.state.withLock { state -> SocketPacket? in
                switch message {
                case .binary(let bytes):
                    guard var partial = state.partial else { throw SocketPacketError("unexpected binary attachment") }
                    partial.attachments.append(bytes)
                    if partial.attachments.count == partial.expectedAttachments {
                        state.partial = nil
                        return partial
                    }
                    state.partial = partial
                    return nil
                case .text(let text):
                    guard state.partial == nil else { throw SocketPacketError("attachment expected") }
                    let packet = try SocketCodec.decode(text)
                    if packet.type == .binaryEvent || packet.type == .binaryAck, packet.expectedAttachments > 0 {
                        state.partial = packet
                        return nil
                    }
                    return packet
                }
            }
        } catch {
            logger.debug("socket.io protocol error", metadata: ["sid": "\(session.id)", "error": "\(error)"])
            session.close(reason: "parse error")
            return
        }
        if let complete { await dispatch(complete, client: client) }
    }

    private func dispatch(_ packet: SocketPacket, client: Client) async {
        let socket = client.state.withLock { $0.sockets[packet.namespace] }
        switch packet.type {
        case .connect:
            guard socket == nil else {
                client.engine.close(reason: "second CONNECT for \(packet.namespace)")
                return
            }
            await connect(client, namespace: packet.namespace, auth: packet.data ?? .object(JSONObject()))
        case .disconnect:
            guard let socket else {
                client.engine.close(reason: "DISCONNECT for an unjoined namespace")
                return
            }
            remove(socket, reason: "client namespace disconnect", recoverable: false)
        case .event, .binaryEvent:
            guard let socket, case .array(let elements) = packet.data, let first = elements.first else {
                client.engine.close(reason: "event for an unjoined namespace")
                return
            }
            let name = first.string ?? first.literal ?? ""
            var ack: SocketAck?
            if let id = packet.id {
                let namespace = packet.namespace
                let engine = client.engine
                ack = SocketAck { args, attachments in
                    let type: SocketPacketType = attachments.isEmpty ? .ack : .binaryAck
                    let json =
                        [UInt8(ascii: "[")] + Array(args.joined(separator: [UInt8(ascii: ",")]))
                        + [UInt8(ascii: "]")]
                    let header = SocketCodec.encode(
                        type,
                        namespace: namespace,
                        id: id,
                        attachments: attachments.count,
                        json: Array(json)
                    )
                    engine.send([EngineFrame.message(header)] + attachments.map { EngineFrame.binary($0) })
                }
            }
            guard let handlers = namespaces.withLock({ $0[packet.namespace] }) else { return }
            await handlers.events(
                socket,
                SocketEvent(
                    name: name,
                    args: Array(elements.dropFirst()),
                    attachments: packet.attachments
                ),
                ack
            )
        case .ack, .binaryAck:
            guard let socket, let id = packet.id, case .array(let args) = packet.data else {
                client.engine.close(reason: "ack for an unjoined namespace")
                return
            }
            socket.resolveAck(id, args)
        case .connectError:
            client.engine.close(reason: "CONNECT_ERROR from a client")
        }
    }

    private func connect(_ client: Client, namespace name: String, auth: JSONTree) async {
        guard let namespace = namespaces.withLock({ $0[name] }) else {
            client.engine.send(
                .message(
                    SocketCodec.encode(
                        .connectError,
                        namespace: name,
                        json: Array(#"{"message":"Invalid namespace"}"#.utf8)
                    )
                )
            )
            return
        }
        let duplicate = client.state.withLock { !$0.connecting.insert(name).inserted }
        guard !duplicate else {
            client.engine.close(reason: "second CONNECT for \(name)")
            return
        }
        defer { client.state.withLock { _ = $0.connecting.remove(name) } }

        let decision = await namespace.authorize(auth, client.engine)
        guard case .accept(let context) = decision else {
            if case .reject(let message, let data) = decision {
                var writer = JSONBytesWriter()
                writer.beginObject()
                writer.key("message")
                writer.string(message)
                if let data {
                    writer.key("data")
                    writer.raw(data)
                }
                writer.endObject()
                client.engine.send(.message(SocketCodec.encode(.connectError, namespace: name, json: writer.bytes)))
            }
            return
        }
        // Connection state recovery: the same id and rooms, then the packets missed meanwhile.
        var restored: RecoveryStore.Saved?
        var missed: [RecoveryStore.Packet] = []
        var replay: [EngineFrame] = []
        if options.recoveryWindow != nil, let pid = auth["pid"]?.string, let offset = auth["offset"]?.string {
            let owner = namespace.owner(context)
            if let shared = options.shared {
                if let session = await restoreShared(shared, pid: pid, namespace: name, owner: owner, after: offset) {
                    restored = session.saved
                    replay = session.frames
                }
            } else {
                (restored, missed) = recovery.withLock {
                    $0.restore(pid: pid, namespace: name, owner: owner, after: offset, now: .now)
                }
            }
        }
        let socket = SocketIOSocket(
            id: restored?.socketId ?? SocketIds.make(),
            namespace: name,
            engine: client.engine,
            context: context,
            recovered: restored != nil,
            server: self
        )
        client.state.withLock { state in
            state.sockets[name] = socket
            state.everConnected = true
        }
        let pid = restored?.pid ?? (options.recoveryWindow != nil ? SocketIds.make() : nil)
        recovery.withLock { if let pid { $0.pids[socket.id] = pid } }
        if let pid, options.shared != nil {
            sharedSessions.withLock { state in
                state.live[pid] = socket
                state.dirty.insert(pid)
            }
        }
        var reply = #"{"sid":"\#(socket.id)""#
        if let pid { reply += #","pid":"\#(pid)""# }
        reply += "}"
        client.engine.send(.message(SocketCodec.encode(.connect, namespace: name, json: Array(reply.utf8))))
        // Every socket is in the room named by its id.
        join(socket, socket.id)
        if let restored { for room in restored.rooms { join(socket, room) } }
        // The same filters as the original broadcasts (tenant isolation holds for replays too).
        client.engine.send(missed.filter { $0.filter?(socket) ?? true }.map(\.frame) + replay)
        await namespace.connected(socket)
    }

    func remove(_ socket: SocketIOSocket, reason: String, recoverable: Bool) {
        let rooms = socket.state.withLock { state -> Set<String>? in
            guard state.connected else { return nil }
            state.connected = false
            return state.rooms
        }
        guard let rooms else { return }
        if let client = clients.withLock({ $0[socket.engine.id] }) {
            client.state.withLock { if $0.sockets[socket.namespace] === socket { $0.sockets[socket.namespace] = nil } }
        }
        registry.withLock { registry in for room in rooms { registry.remove(socket, room) } }
        let owner = namespaces.withLock { $0[socket.namespace] }?.owner(socket.context)
        recovery.withLock { store in
            guard let pid = store.pids.removeValue(forKey: socket.id) else { return }
            if options.shared != nil {
                sharedSessions.withLock { state in
                    state.live[pid] = nil
                    state.dirty.remove(pid)
                    if recoverable {
                        state.ended.append(
                            SharedSession(
                                pid: pid,
                                socketId: socket.id,
                                namespace: socket.namespace,
                                rooms: Array(rooms.subtracting([socket.id])),
                                owner: owner
                            )
                        )
                    } else {
                        state.forgotten.append(pid)
                    }
                }
                return
            }
            if recoverable, let window = options.recoveryWindow {
                store.save(
                    .init(
                        pid: pid,
                        socketId: socket.id,
                        namespace: socket.namespace,
                        rooms: rooms.subtracting([socket.id]),
                        owner: owner,
                        expires: .now + window
                    )
                )
            }
        }
        namespaces.withLock { $0[socket.namespace] }?.disconnected(socket, reason)
    }

    // MARK: Rooms and broadcasts

    func join(_ socket: SocketIOSocket, _ room: String) {
        let joined = socket.state.withLock { state -> Bool in
            guard state.connected else { return false }
            return state.rooms.insert(room).inserted
        }
        if joined {
            registry.withLock { $0.add(socket, room) }
            markDirty(socket)
        }
    }

    func leave(_ socket: SocketIOSocket, _ room: String) {
        let left = socket.state.withLock { $0.rooms.remove(room) != nil }
        if left {
            registry.withLock { $0.remove(socket, room) }
            markDirty(socket)
        }
    }

    /// The sockets of `namespace` in any of `rooms`, each once.
    package func sockets(in rooms: [String], namespace: String = "/") -> [SocketIOSocket] {
        registry.withLock { registry in
            guard let byRoom = registry.rooms[namespace] else { return [] }
            if rooms.count == 1 { return byRoom[rooms[0]].map { Array($0.values) } ?? [] }
            var seen = Set<String>()
            var result: [SocketIOSocket] = []
            for room in rooms {
                for (id, socket) in byRoom[room] ?? [:] where seen.insert(id).inserted { result.append(socket) }
            }
            return result
        }
    }

    /// Emits an event to every socket of `namespace` in any of `rooms` that passes `filter`, each once: the
    /// packet is encoded once and the same bytes are queued on every session.
    ///
    /// - Parameters:
    ///   - recoverable: keep the packet for connection state recovery (it then carries an offset as its
    ///     last argument, as the reference server does).
    ///   - coalesceKey: when a receiver is congested, packets with the same key keep only the newest.
    @discardableResult
    package func broadcast(
        _ event: String,
        _ args: [[UInt8]],
        to rooms: [String],
        namespace: String = "/",
        recoverable: Bool = false,
        offset sharedOffset: String? = nil,
        coalesceKey: String? = nil,
        filter: (@Sendable (SocketIOSocket) -> Bool)? = nil
    ) -> Int {
        var args = args
        var offset: String?
        if recoverable, options.recoveryWindow != nil, options.shared != nil {
            // Shared recovery: the store keeps the packet; its offset is the one the caller got from it.
            if let sharedOffset {
                var quoted: [UInt8] = []
                JSONBytesWriter.appendString(sharedOffset, to: &quoted)
                args.append(quoted)
            }
        } else if recoverable, options.recoveryWindow != nil {
            offset = recovery.withLock { $0.nextOffset() }
            var quoted: [UInt8] = []
            JSONBytesWriter.appendString(offset!, to: &quoted)
            args.append(quoted)
        }
        let frame = EngineFrame.message(
            SocketCodec.encode(.event, namespace: namespace, json: SocketCodec.eventArray(event, args)),
            coalesceKey: coalesceKey
        )
        if let offset, let window = options.recoveryWindow {
            recovery.withLock { store in
                store.record(
                    .init(
                        offset: offset,
                        namespace: namespace,
                        rooms: rooms,
                        filter: filter,
                        frame: frame,
                        expires: .now + window
                    ),
                    limit: options.recoveryBufferSize
                )
            }
        }
        var delivered = 0
        for socket in sockets(in: rooms, namespace: namespace) where filter?(socket) ?? true {
            if socket.deliver(frame) { delivered += 1 }
        }
        return delivered
    }
}

// MARK: Shared recovery

extension SocketIOServer {
    /// The shared session of `pid` and the frames it missed after `offset`, when it may be recovered here.
    func restoreShared(
        _ shared: any SharedRecovery,
        pid: String,
        namespace: String,
        owner: String?,
        after offset: String
    ) async -> (saved: RecoveryStore.Saved, frames: [EngineFrame])? {
        guard let session = await shared.claim(pid: pid) else { return nil }
        guard session.owner == owner, session.namespace == namespace else {
            // Not this client's: put it back for its owner.
            await shared.save([session], ttl: options.recoveryWindow ?? .seconds(120))
            return nil
        }
        guard let packets = await shared.packets(after: offset) else { return nil }
        let rooms = Set(session.rooms).union([session.socketId])
        let frames = packets.filter { namespace == "/" && $0.rooms.contains(where: rooms.contains) }.map { packet in
            var quoted: [UInt8] = []
            JSONBytesWriter.appendString(packet.offset, to: &quoted)
            return EngineFrame.message(
                SocketCodec.encode(
                    .event,
                    namespace: namespace,
                    json: SocketCodec.eventArray(packet.event, packet.args + [quoted])
                )
            )
        }
        let saved = RecoveryStore.Saved(
            pid: session.pid,
            socketId: session.socketId,
            namespace: session.namespace,
            rooms: Set(session.rooms),
            owner: session.owner,
            expires: .now
        )
        return (saved, frames)
    }

    func markDirty(_ socket: SocketIOSocket) {
        guard options.shared != nil, let pid = recovery.withLock({ $0.pids[socket.id] }) else { return }
        sharedSessions.withLock { _ = $0.dirty.insert(pid) }
    }

    /// Saves the sessions whose rooms changed (all live ones when `everything`), those that ended, and forgets
    /// the ones that may not be recovered. Live sessions are kept `liveTTL`, ended ones the recovery window.
    package func flushSharedSessions(everything: Bool, liveTTL: Duration) async {
        guard let shared = options.shared, let window = options.recoveryWindow else { return }
        let (live, ended, forgotten) = sharedSessions.withLock { state in
            let pids = everything ? Set(state.live.keys) : state.dirty
            let live = pids.compactMap { pid in state.live[pid].map { (pid, $0) } }
            let result = (live, state.ended, state.forgotten)
            state.dirty = []
            state.ended = []
            state.forgotten = []
            return result
        }
        let sessions = live.map { pid, socket in
            SharedSession(
                pid: pid,
                socketId: socket.id,
                namespace: socket.namespace,
                rooms: Array(socket.state.withLock { $0.rooms }.subtracting([socket.id])),
                owner: namespaces.withLock { $0[socket.namespace] }?.owner(socket.context)
            )
        }
        if !sessions.isEmpty { await shared.save(sessions, ttl: liveTTL) }
        if !ended.isEmpty { await shared.save(ended, ttl: window) }
        if !forgotten.isEmpty { await shared.forget(forgotten) }
    }
}

/// New 20-character ids for sockets and recovery sessions.
enum SocketIds {
    static func make() -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        var generator = SystemRandomNumberGenerator()
        return String(decoding: (0..<20).map { _ in alphabet[Int(generator.next() % 64)] }, as: UTF8.self)
    }
}

/// Disconnected sessions and recent recoverable packets (connection state recovery, Socket.IO 4.6+).
struct RecoveryStore {
    struct Saved {
        var pid: String
        var socketId: String
        var namespace: String
        var rooms: Set<String>
        var owner: String?
        var expires: ContinuousClock.Instant
    }

    struct Packet {
        var offset: String
        var namespace: String
        var rooms: [String]
        var filter: (@Sendable (SocketIOSocket) -> Bool)?
        var frame: EngineFrame
        var expires: ContinuousClock.Instant
    }

    var pids: [String: String] = [:]
    var saved: [String: Saved] = [:]
    var packets: [Packet] = []
    var head = 0
    var counter: UInt64 = 0
    let epoch = SocketIds.make().prefix(6)

    mutating func nextOffset() -> String {
        counter += 1
        return "\(epoch)-\(counter)"
    }

    mutating func record(_ packet: Packet, limit: Int) {
        packets.append(packet)
        let now = ContinuousClock.now
        while head < packets.count, packets.count - head > limit || packets[head].expires <= now { head += 1 }
        if head > 1024, head * 2 > packets.count {
            packets.removeFirst(head)
            head = 0
        }
    }

    mutating func save(_ session: Saved) {
        let now = ContinuousClock.now
        saved = saved.filter { $0.value.expires > now }
        saved[session.pid] = session
    }

    /// The saved session of `pid` (removed) and the frames it missed after `offset`.
    mutating func restore(
        pid: String,
        namespace: String,
        owner: String?,
        after offset: String,
        now: ContinuousClock.Instant
    ) -> (Saved?, [Packet]) {
        // Another owner's pid is ignored and left in place (it is not theirs to consume).
        guard let candidate = saved[pid], candidate.owner == owner else { return (nil, []) }
        guard let session = saved.removeValue(forKey: pid), session.expires > now, session.namespace == namespace
        else { return (nil, []) }
        let live = packets[head...]
        guard let index = live.firstIndex(where: { $0.offset == offset }) else {
            // The offset is too old (or unknown): recovery is impossible; start a fresh session.
            return (nil, [])
        }
        let rooms = session.rooms.union([session.socketId])
        let missed = live[(index + 1)...].filter { packet in
            packet.namespace == namespace && packet.rooms.contains(where: rooms.contains)
        }
        return (session, Array(missed))
    }
}
