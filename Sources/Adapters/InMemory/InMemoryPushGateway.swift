public import Application
public import Domain
import Synchronization

/// Pushes events to connections inside the process: the local-mode and test stand-in for Socket.io.
///
/// A `Connection` belongs to one tenant, joins rooms and reads its messages from an `AsyncStream` with a
/// bounded buffer. `broadcast` hands a message to every connection of the message's tenant joined to the
/// room and never waits: when a connection's buffer is full its oldest unread message is dropped (a
/// dashboard wants the newest positions), which is the at-most-once, best-effort delivery of `PushGateway`.
public final class InMemoryPushGateway: PushGateway {
    private let core: GatewayCore
    /// The buffer size of connections that do not choose one.
    public let defaultBufferSize: Int

    /// Creates a gateway without connections.
    ///
    /// - Parameter defaultBufferSize: how many unread messages a connection keeps before dropping the oldest.
    public init(defaultBufferSize: Int = 1024) {
        precondition(defaultBufferSize > 0, "a connection must buffer at least one message")
        self.defaultBufferSize = defaultBufferSize
        self.core = GatewayCore()
    }

    /// Opens a connection of `tenantId`, in no room yet.
    public func connect(tenantId: TenantID, bufferSize: Int? = nil) -> Connection {
        let size = max(1, bufferSize ?? defaultBufferSize)
        let (stream, continuation) = AsyncStream.makeStream(
            of: PushMessage.self,
            bufferingPolicy: .bufferingNewest(size)
        )
        let id = core.state.withLock { state in
            state.lastID += 1
            state.connections[state.lastID] = GatewayState.Entry(tenantId: tenantId, continuation: continuation)
            return state.lastID
        }
        let core = self.core
        continuation.onTermination = { _ in core.disconnect(id) }
        return Connection(core: core, id: id, tenantId: tenantId, messages: stream)
    }

    /// Delivers `message` to every connection of `message.tenantId` joined to `room`, without waiting.
    public func broadcast(_ message: PushMessage, to room: Room) async {
        core.state.withLock { state in
            // Yielding under the lock keeps each connection's messages in call order.
            for id in state.rooms[room] ?? [] {
                guard let entry = state.connections[id], entry.tenantId == message.tenantId else { continue }
                entry.continuation.yield(message)
            }
        }
    }

    /// Delivers `message` once to every connection of `message.tenantId` joined to any of `rooms`.
    public func broadcast(_ message: PushMessage, to rooms: [Room]) async {
        core.state.withLock { state in
            var seen = Set<UInt64>()
            for room in rooms {
                for id in state.rooms[room] ?? [] where seen.insert(id).inserted {
                    guard let entry = state.connections[id], entry.tenantId == message.tenantId else { continue }
                    entry.continuation.yield(message)
                }
            }
        }
    }

    /// How many connections are open.
    public var connectionCount: Int {
        core.state.withLock { $0.connections.count }
    }

    /// Disconnects every connection (their message streams finish).
    public func disconnectAll() {
        let ids = core.state.withLock { Array($0.connections.keys) }
        for id in ids { core.disconnect(id) }
    }

    /// One dashboard connection.
    ///
    /// Dropping the last reference disconnects it, as does ending the iteration of `messages`.
    public final class Connection: Sendable {
        /// Unique among the gateway's connections.
        public let id: UInt64
        /// The tenant whose messages this connection may receive.
        public let tenantId: TenantID
        /// The messages received, in broadcast order; finishes on `disconnect()`.
        public let messages: AsyncStream<PushMessage>
        private let core: GatewayCore

        fileprivate init(core: GatewayCore, id: UInt64, tenantId: TenantID, messages: AsyncStream<PushMessage>) {
            self.core = core
            self.id = id
            self.tenantId = tenantId
            self.messages = messages
        }

        deinit {
            core.disconnect(id)
        }

        /// Joins `room`. Refused (returns `false`) for another tenant's tenant room and once disconnected.
        @discardableResult
        public func join(_ room: Room) -> Bool {
            if case .tenant(let owner) = room, owner != tenantId { return false }
            return core.state.withLock { state in
                guard state.connections[id] != nil else { return false }
                state.connections[id]?.rooms.insert(room)
                state.rooms[room, default: []].insert(id)
                return true
            }
        }

        /// Leaves `room`.
        public func leave(_ room: Room) {
            core.state.withLock { state in
                state.connections[id]?.rooms.remove(room)
                state.removeMember(id, from: room)
            }
        }

        /// The rooms joined.
        public var rooms: Set<Room> {
            core.state.withLock { $0.connections[id]?.rooms ?? [] }
        }

        /// Whether the connection is still open.
        public var isConnected: Bool {
            core.state.withLock { $0.connections[id] != nil }
        }

        /// Leaves every room and finishes `messages` (after the buffered messages are read).
        public func disconnect() {
            core.disconnect(id)
        }
    }
}

private final class GatewayCore: Sendable {
    let state = Mutex(GatewayState())

    func disconnect(_ id: UInt64) {
        let continuation = state.withLock { state -> AsyncStream<PushMessage>.Continuation? in
            guard let entry = state.connections.removeValue(forKey: id) else { return nil }
            for room in entry.rooms { state.removeMember(id, from: room) }
            return entry.continuation
        }
        // Outside the lock: finishing runs `onTermination`, which calls back into `disconnect`.
        continuation?.finish()
    }
}

private struct GatewayState {
    struct Entry {
        var tenantId: TenantID
        var rooms: Set<Room> = []
        var continuation: AsyncStream<PushMessage>.Continuation
    }

    var lastID: UInt64 = 0
    var connections: [UInt64: Entry] = [:]
    var rooms: [Room: Set<UInt64>] = [:]

    mutating func removeMember(_ id: UInt64, from room: Room) {
        rooms[room]?.remove(id)
        if rooms[room]?.isEmpty == true { rooms[room] = nil }
    }
}
