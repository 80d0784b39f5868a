import Application
import HummingbirdWSClient
public import Logging
import NIOCore
import NIOWebSocket
import Synchronization
import WireFormat

/// A minimal Socket.IO v5 client over WebSocket (main namespace, text events), for the gateway's contract
/// probe and the fan-out benchmark's load generator. Answers pings, reports every event with its raw
/// packet text, and emits events with acks. Not a general-purpose client: no polling, no reconnection (a
/// caller reconnects after `waitUntilClosed()`).
public final class SocketIOClient: Sendable {
    /// Why connecting failed.
    public struct ConnectError: Error, CustomStringConvertible {
        public var description: String
    }

    /// The Socket.IO socket id from the CONNECT reply.
    public let socketId: String
    /// The connection state recovery session id from the CONNECT reply (send it back as `auth.pid`).
    public let pid: String?
    let writer: Mutex<WebSocketOutboundWriter?>
    let acks = Mutex<(next: Int, pending: [Int: CheckedContinuation<[UInt8], Never>])>((0, [:]))
    let task: Mutex<Task<Void, Never>?> = Mutex(nil)

    private init(socketId: String, pid: String?, writer: WebSocketOutboundWriter) {
        self.socketId = socketId
        self.pid = pid
        self.writer = Mutex(writer)
    }

    /// Connects to `url` (`http://host:port`) with the `auth` object (JSON text).
    ///
    /// - Parameters:
    ///   - reading: `false` opens a stalled client that never reads after connecting (slow-consumer tests).
    ///   - onEvent: called for each EVENT packet with the event name and the packet's text (`42[...]`).
    public static func connect(
        url: String,
        auth: String,
        reading: Bool = true,
        logger: Logger,
        onEvent: @escaping @Sendable (_ event: String, _ packet: String) -> Void = { _, _ in }
    ) async throws -> SocketIOClient {
        let wsURL = url.replacingPrefix("http", with: "ws") + "/socket.io/?EIO=4&transport=websocket"
        let connected = AsyncThrowingStream<SocketIOClient, any Error>.makeStream()
        let holder = Mutex<SocketIOClient?>(nil)
        let task = Task {
            do {
                var configuration = WebSocketClientConfiguration()
                configuration.maxFrameSize = 64 << 20
                configuration.autoPing = .disabled
                try await WebSocketClient.connect(url: wsURL, configuration: configuration, logger: logger) {
                    inbound,
                    outbound,
                    _ in
                    var messages = inbound.messages(maxSize: 64 << 20).makeAsyncIterator()
                    // Engine.IO open, then Socket.IO CONNECT.
                    guard case .text(let open)? = try await messages.next(), open.hasPrefix("0") else {
                        throw ConnectError(description: "no Engine.IO handshake")
                    }
                    try await outbound.write(.text("40" + auth))
                    while true {
                        guard case .text(let reply)? = try await messages.next() else {
                            throw ConnectError(description: "closed before CONNECT reply")
                        }
                        if reply == "2" {
                            try await outbound.write(.text("3"))
                            continue
                        }
                        if reply.hasPrefix("44") { throw ConnectError(description: String(reply.dropFirst(2))) }
                        guard reply.hasPrefix("40"),
                            let tree = try? JSONBytesReader.parse(Array(reply.utf8.dropFirst(2))),
                            let sid = tree["sid"]?.string
                        else { throw ConnectError(description: "unexpected CONNECT reply \(reply)") }
                        let client = SocketIOClient(socketId: sid, pid: tree["pid"]?.string, writer: outbound)
                        holder.withLock { $0 = client }
                        connected.continuation.yield(client)
                        connected.continuation.finish()
                        break
                    }
                    guard reading else {
                        // A stalled client: never reads again (TCP back-pressure reaches the server).
                        while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
                        return
                    }
                    while let message = try await messages.next() {
                        guard case .text(let text) = message else { continue }
                        var utf8 = text.utf8.makeIterator()
                        guard let type = utf8.next() else { continue }
                        if type == UInt8(ascii: "2") {
                            try await outbound.write(.text("3"))
                        } else if type == UInt8(ascii: "4") {
                            switch utf8.next() {
                            case UInt8(ascii: "2"): onEvent(Self.eventName(text), text)
                            case UInt8(ascii: "3"): holder.withLock { $0 }?.resolveAck(Array(text.utf8))
                            default: break
                            }
                        } else if type == UInt8(ascii: "1") {
                            return
                        }
                    }
                }
            } catch {
                connected.continuation.finish(throwing: error)
            }
            connected.continuation.finish(throwing: ConnectError(description: "connection closed"))
            holder.withLock { $0 }?.failPendingAcks()
        }
        do {
            for try await client in connected.stream {
                client.task.withLock { $0 = task }
                return client
            }
        } catch {
            task.cancel()
            throw error
        }
        task.cancel()
        throw ConnectError(description: "connection closed")
    }

    /// The event name of `42["name",...]`.
    static func eventName(_ text: String) -> String {
        let utf8 = text.utf8
        guard utf8.count > 4, utf8.starts(with: #"42[""#.utf8) else { return "" }
        let start = utf8.index(utf8.startIndex, offsetBy: 4)
        let end = utf8[start...].firstIndex(of: UInt8(ascii: "\"")) ?? utf8.endIndex
        return String(Substring(text.utf8[start..<end]))
    }

    /// Emits `event` with one JSON argument and waits for the ack's arguments (a JSON array text).
    public func call(_ event: String, _ json: String) async throws -> [UInt8] {
        guard let writer = writer.withLock({ $0 }) else { throw ConnectError(description: "closed") }
        return await withCheckedContinuation { continuation in
            let id = acks.withLock { state in
                defer { state.next += 1 }
                state.pending[state.next] = continuation
                return state.next
            }
            var packet: [UInt8] = Array("42\(id)".utf8)
            packet += SocketCodec.eventArray(event, [Array(json.utf8)])
            let text = String(decoding: packet, as: UTF8.self)
            Task { try? await writer.write(.text(text)) }
        }
    }

    func resolveAck(_ bytes: [UInt8]) {
        var index = 2
        while index < bytes.count, (0x30...0x39).contains(bytes[index]) { index += 1 }
        guard let id = Int(String(decoding: bytes[2..<index], as: UTF8.self)) else { return }
        let continuation = acks.withLock { $0.pending.removeValue(forKey: id) }
        continuation?.resume(returning: Array(bytes[index...]))
    }

    func failPendingAcks() {
        let pending = acks.withLock { state in
            defer { state.pending.removeAll() }
            return Array(state.pending.values)
        }
        for continuation in pending { continuation.resume(returning: Array("[]".utf8)) }
    }

    /// Returns once the connection has ended: closed by the server, broken, or by `close()`.
    public func waitUntilClosed() async {
        await task.withLock { $0 }?.value
    }

    /// Closes the connection.
    public func close() async {
        let writer = writer.withLock { w -> WebSocketOutboundWriter? in
            defer { w = nil }
            return w
        }
        try? await writer?.close(.normalClosure, reason: nil)
        task.withLock { $0 }?.cancel()
    }
}

extension String {
    func replacingPrefix(_ prefix: String, with replacement: String) -> String {
        hasPrefix(prefix) ? replacement + dropFirst(prefix.count) : self
    }
}
