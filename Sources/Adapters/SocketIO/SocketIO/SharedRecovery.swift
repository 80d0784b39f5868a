/// Connection state recovery shared by several servers (instances behind one load balancer): sessions and
/// recoverable packets live outside the process, so a session is restored on whichever server the client
/// reconnects to, even when its first server died without a word (`kill -9`).
///
/// The server saves the sessions of its live sockets (refreshed periodically, so that they outlive a crash
/// by at least the recovery window) and of the sockets that lost their connection; it claims a session when
/// a client presents its `pid`, and reads the packets after the client's offset. Offsets are the store's
/// (the same on every server): the server sends recoverable packets with the offset it is given.
package protocol SharedRecovery: Sendable {
    /// Stores `sessions` for `ttl` (replacing earlier versions of the same pids).
    func save(_ sessions: [SharedSession], ttl: Duration) async
    /// Deletes sessions that may not be recovered (the client disconnected on purpose).
    func forget(_ pids: [String]) async
    /// Takes the session of `pid`: at most one server gets it.
    func claim(pid: String) async -> SharedSession?
    /// The recoverable packets of the default namespace after `offset`, oldest first; nil when what came after
    /// `offset` cannot be told (unknown offset, or older than what the store still holds).
    func packets(after offset: String) async -> [SharedPacket]?
}

/// A socket's recoverable session.
package struct SharedSession: Sendable, Hashable, Codable {
    package var pid: String
    package var socketId: String
    package var namespace: String
    /// Rooms besides the socket's own.
    package var rooms: [String]
    /// Who may recover it (`SocketNamespace.owner`).
    package var owner: String?

    package init(pid: String, socketId: String, namespace: String, rooms: [String], owner: String?) {
        self.pid = pid
        self.socketId = socketId
        self.namespace = namespace
        self.rooms = rooms
        self.owner = owner
    }
}

/// A recoverable packet of the default namespace: an event with its JSON arguments, the rooms it went to and
/// its offset.
package struct SharedPacket: Sendable, Hashable {
    package var offset: String
    package var event: String
    package var args: [[UInt8]]
    package var rooms: [String]

    package init(offset: String, event: String, args: [[UInt8]], rooms: [String]) {
        self.offset = offset
        self.event = event
        self.args = args
        self.rooms = rooms
    }
}

/// The server's side of shared recovery: which sessions to save or forget at the next flush.
struct SharedSessions {
    /// Live sockets with a pid.
    var live: [String: SocketIOSocket] = [:]
    /// Pids whose rooms changed since the last flush.
    var dirty: Set<String> = []
    /// Sessions of sockets that lost their connection, to save with the recovery window.
    var ended: [SharedSession] = []
    var forgotten: [String] = []
}
