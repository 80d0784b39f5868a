import Domain
public import Hummingbird
import HummingbirdCore
public import HummingbirdWebSocket
public import Logging
public import NIOCore
import NIOWebSocket
import Synchronization

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Receives what happens on Engine.IO sessions (the Socket.IO layer, or the conformance echo).
public protocol EngineHandler: Sendable {
    /// A session completed its handshake.
    func engineOpened(_ session: EngineSession) async
    /// A `message` packet arrived. Calls for one session are made one at a time, in arrival order.
    func engine(_ session: EngineSession, received message: EngineMessage) async
    /// The session closed (client close, transport error, ping timeout, slow client...).
    func engineClosed(_ session: EngineSession, reason: String)
}

/// An Engine.IO v4 server: handshake, HTTP long-polling, WebSocket, the polling → WebSocket upgrade,
/// server-initiated heartbeat, the protocol's error responses, CORS and session clean-up.
public final class EngineServer: Sendable {
    /// Protocol timings and the outbound queue bounds of every session.
    public struct Limits: Sendable {
        public var pingInterval: Duration
        public var pingTimeout: Duration
        public var upgradeTimeout: Duration
        /// How long a polling GET that arrives during an upgrade probe waits for the upgrade before it gets a
        /// noop (the reference server's 100 ms check).
        public var upgradePollDelay: Duration
        /// Largest accepted message or polling body, in bytes (`maxPayload`).
        public var maxPayload: Int
        /// Above this many queued frames, frames with a coalescing key keep only their newest.
        public var coalesceAbove: Int
        /// A session whose queue still exceeds this many frames (or `maxQueuedBytes`) after coalescing is closed.
        public var maxQueuedFrames: Int
        public var maxQueuedBytes: Int
        /// Most packets per polling response (python-engineio rejects more than 16).
        public var maxPacketsPerPoll: Int

        public init(
            pingInterval: Duration = .seconds(25),
            pingTimeout: Duration = .seconds(20),
            upgradeTimeout: Duration = .seconds(10),
            upgradePollDelay: Duration = .milliseconds(100),
            maxPayload: Int = 1_000_000,
            coalesceAbove: Int = 256,
            maxQueuedFrames: Int = 65_536,
            maxQueuedBytes: Int = 8 << 20,
            maxPacketsPerPoll: Int = 16
        ) {
            self.pingInterval = pingInterval
            self.pingTimeout = pingTimeout
            self.upgradeTimeout = upgradeTimeout
            self.upgradePollDelay = upgradePollDelay
            self.maxPayload = maxPayload
            self.coalesceAbove = coalesceAbove
            self.maxQueuedFrames = maxQueuedFrames
            self.maxQueuedBytes = maxQueuedBytes
            self.maxPacketsPerPoll = maxPacketsPerPoll
        }
    }

    /// `Access-Control-Allow-Origin` for polling responses (`*` or an origin); `nil` disables CORS.
    public let corsOrigin: String?
    public let limits: Limits
    let handler: any EngineHandler
    let logger: Logger
    let sessions = Mutex<[String: EngineSession]>([:])
    let counter = Atomic<UInt32>(0)

    public init(limits: Limits = .init(), corsOrigin: String? = nil, handler: any EngineHandler, logger: Logger) {
        self.limits = limits
        self.corsOrigin = corsOrigin
        self.handler = handler
        self.logger = logger
    }

    /// The number of open sessions.
    public var sessionCount: Int { sessions.withLock { $0.count } }

    /// Sends heartbeats and enforces timeouts until cancelled, ticking at an eighth of the shorter heartbeat
    /// setting (at most every 250 ms). A late tick sends a ping late but never extends a deadline: the
    /// sessions check their deadlines on every client event too.
    public func runHeartbeat() async {
        let tick = max(.milliseconds(5), min(limits.pingInterval, limits.pingTimeout) / 8)
        while !Task.isCancelled {
            try? await Task.sleep(for: min(tick, .milliseconds(250)))
            let now = ContinuousClock.now
            for session in sessions.withLock({ Array($0.values) }) { session.timerFired(now: now) }
        }
    }

    /// Closes every session (server shutdown).
    public func closeAll(reason: String = "server shutting down", notifyClient: Bool = true) {
        for session in sessions.withLock({ Array($0.values) }) {
            session.close(reason: reason, notifyClient: notifyClient)
        }
    }

    // MARK: Sessions

    /// 15 bytes (12 random + a counter) as URL-safe base64: 20 characters, as the reference server.
    func makeSessionID() -> String {
        var bytes = [UInt8](repeating: 0, count: 15)
        var generator = SystemRandomNumberGenerator()
        for i in 0..<12 { bytes[i] = generator.next() }
        let n = counter.wrappingAdd(1, ordering: .relaxed).newValue
        bytes[12] = UInt8(truncatingIfNeeded: n >> 16)
        bytes[13] = UInt8(truncatingIfNeeded: n >> 8)
        bytes[14] = UInt8(truncatingIfNeeded: n)
        return String(
            decoding: Data(bytes).base64EncodedString().utf8.map { byte in
                byte == UInt8(ascii: "+") ? UInt8(ascii: "-") : byte == UInt8(ascii: "/") ? UInt8(ascii: "_") : byte
            },
            as: UTF8.self
        )
    }

    func open(transport: EngineSession.Transport, query: [String: String], headers: [String: String]) -> EngineSession {
        let session = EngineSession(
            id: makeSessionID(),
            transport: transport,
            query: query,
            headers: headers,
            limits: limits,
            onClose: { [weak self] session, reason in self?.closed(session, reason: reason) }
        )
        sessions.withLock { $0[session.id] = session }
        return session
    }

    private func closed(_ session: EngineSession, reason: String) {
        sessions.withLock { _ = $0.removeValue(forKey: session.id) }
        logger.debug("engine.io session closed", metadata: ["sid": "\(session.id)", "reason": "\(reason)"])
        handler.engineClosed(session, reason: reason)
    }

    func session(_ id: String) -> EngineSession? { sessions.withLock { $0[id] } }

    func handshake(_ session: EngineSession, upgrades: [String]) -> EngineFrame {
        let upgradesJSON = upgrades.map { "\"\($0)\"" }.joined(separator: ",")
        let json =
            #"{"sid":"\#(session.id)","upgrades":[\#(upgradesJSON)],"pingInterval":\#(limits.pingInterval.milliseconds),"pingTimeout":\#(limits.pingTimeout.milliseconds),"maxPayload":\#(limits.maxPayload)}"#
        return .packet(.open, Array(json.utf8))
    }

    /// Handles a packet from the session's active transport. Returns `false` when the session closed.
    func receive(_ packet: EngineInbound, on session: EngineSession) async -> Bool {
        switch session.received(packet) {
        case .deliver(let message):
            await handler.engine(session, received: message)
            return true
        case .readOn:
            return true
        case .stop:
            return false
        }
    }
}

// MARK: - Errors

/// The Engine.IO error responses: HTTP 400 (403 for `forbidden`) with `{"code":N,"message":"..."}`.
enum EngineError: Int, Error, Sendable {
    case unknownTransport = 0
    case unknownSid = 1
    case badHandshakeMethod = 2
    case badRequest = 3
    case forbidden = 4
    case unsupportedProtocolVersion = 5

    var message: String {
        switch self {
        case .unknownTransport: "Transport unknown"
        case .unknownSid: "Session ID unknown"
        case .badHandshakeMethod: "Bad handshake method"
        case .badRequest: "Bad request"
        case .forbidden: "Forbidden"
        case .unsupportedProtocolVersion: "Unsupported protocol version"
        }
    }
}

// MARK: - HTTP long-polling

extension EngineServer {
    /// Answers an HTTP request to the Engine.IO path: handshake, polling GET/POST, CORS preflight, errors.
    public func respond(to request: Request) async -> Response {
        if request.method == .options, corsOrigin != nil {
            var headers = corsHeaders(request)
            headers[.accessControlAllowMethods] = "GET,HEAD,PUT,PATCH,POST,DELETE"
            if let asked = request.headers[.accessControlRequestHeaders] { headers[.accessControlAllowHeaders] = asked }
            return Response(status: .noContent, headers: headers)
        }
        let query = Self.query(of: request)
        do {
            guard query["EIO"] == "4" else { throw EngineError.unsupportedProtocolVersion }
            guard let transport = query["transport"].flatMap(EngineSession.Transport.init(rawValue:)) else {
                throw EngineError.unknownTransport
            }
            guard transport == .polling else { throw EngineError.badRequest }
            guard let sid = query["sid"] else {
                guard request.method == .get else { throw EngineError.badHandshakeMethod }
                let session = open(transport: .polling, query: query, headers: Self.headers(of: request))
                let frame = handshake(session, upgrades: ["websocket"])
                await handler.engineOpened(session)
                return pollingResponse(EngineCodec.encode(payload: [frame]), request: request)
            }
            guard let session = session(sid) else { throw EngineError.unknownSid }
            switch request.method {
            case .get: return try await poll(session, request: request)
            case .post: return try await post(session, request: request)
            default: throw EngineError.badHandshakeMethod
            }
        } catch let error as EngineError {
            return errorResponse(error, request: request)
        } catch let error as HTTPError {
            return Response(
                status: error.status,
                headers: corsHeaders(request),
                body: .init(byteBuffer: ByteBuffer(string: error.body ?? ""))
            )
        } catch {
            return errorResponse(.badRequest, request: request)
        }
    }

    private func poll(_ session: EngineSession, request: Request) async throws -> Response {
        let frames: [EngineFrame]
        switch await session.poll() {
        case .frames(let payload): frames = payload
        case .error(let error): throw error
        }
        var response = pollingResponse(EngineCodec.encode(payload: frames), request: request)
        response.headers[.cacheControl] = "no-store"
        return response
    }

    private func post(_ session: EngineSession, request: Request) async throws -> Response {
        if request.headers[.contentType]?.lowercased().hasPrefix("application/octet-stream") == true {
            throw EngineError.badRequest
        }
        if let refusal = session.beginPost() { throw refusal }
        defer { session.endPost() }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: limits.maxPayload)
        } catch {
            throw HTTPError(.contentTooLarge, message: "payload too large")
        }
        let packets: [EngineInbound]
        do {
            packets = try EngineCodec.decode(payload: String(buffer: body))
        } catch {
            session.protocolError(reason: "parse error")
            throw EngineError.badRequest
        }
        for packet in packets {
            guard await receive(packet, on: session) else { break }
        }
        var headers = corsHeaders(request)
        headers[.contentType] = "text/html"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: "ok")))
    }

    private func pollingResponse(_ body: ByteBuffer, request: Request) -> Response {
        var headers = corsHeaders(request)
        headers[.contentType] = "text/plain; charset=UTF-8"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: body))
    }

    private func errorResponse(_ error: EngineError, request: Request) -> Response {
        var headers = corsHeaders(request)
        headers[.contentType] = "application/json"
        let body = #"{"code":\#(error.rawValue),"message":"\#(error.message)"}"#
        return Response(
            status: error == .forbidden ? .forbidden : .badRequest,
            headers: headers,
            body: .init(byteBuffer: ByteBuffer(string: body))
        )
    }

    private func corsHeaders(_ request: Request) -> HTTPFields {
        var headers = HTTPFields()
        guard let corsOrigin else { return headers }
        headers[.accessControlAllowOrigin] = corsOrigin
        if corsOrigin != "*" {
            headers[.accessControlAllowCredentials] = "true"
            headers[.vary] = "Origin"
        }
        return headers
    }

    static func query(of request: Request) -> [String: String] {
        var result: [String: String] = [:]
        for (key, value) in request.uri.queryParameters { result[String(key)] = String(value) }
        return result
    }

    static func headers(of request: Request) -> [String: String] {
        var result: [String: String] = [:]
        for field in request.headers { result[field.name.canonicalName] = field.value }
        return result
    }
}

// MARK: - WebSocket

extension EngineServer {
    /// Decides a WebSocket upgrade request for the Engine.IO path: a new session, or an upgrade of a polling
    /// session (`sid`). `nil` refuses (the client gets HTTP 400): bad query or unknown sid. A WebSocket for a
    /// session already upgraded or being probed is accepted and then closed, as the reference server does.
    ///
    /// - Parameter channel: the connection's channel: frames are written on it so that each batch's write
    ///   completes before the next one starts (the reference server's `drain`).
    public func webSocketHandler(
        for request: HTTPRequest,
        channel: any Channel
    ) -> WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>? {
        let uri = URI(request.path ?? "")
        var query: [String: String] = [:]
        for (key, value) in uri.queryParameters { query[String(key)] = String(value) }
        guard query["EIO"] == "4", query["transport"] == "websocket" else { return nil }
        var headers: [String: String] = [:]
        for field in request.headerFields { headers[field.name.canonicalName] = field.value }
        let writer = WebSocketFrameWriter(channel: channel)
        if let sid = query["sid"] {
            guard let session = session(sid) else { return nil }
            switch session.upgradeRequested() {
            case .refuse:
                return nil
            case .acceptThenClose:
                return { _, outbound, _ in try? await outbound.close(.normalClosure, reason: nil) }
            case .accept:
                return { inbound, outbound, _ in
                    await self.runUpgrade(session, inbound: inbound, outbound: outbound, writer: writer)
                }
            }
        }
        let handshakeQuery = query
        let handshakeHeaders = headers
        return { inbound, outbound, _ in
            let session = self.open(transport: .websocket, query: handshakeQuery, headers: handshakeHeaders)
            // The writer runs first, so the handshake is its first batch and anything sent on open follows it.
            let batches = session.attachWebSocketWriter()
            session.send(self.handshake(session, upgrades: []))
            await self.handler.engineOpened(session)
            await self.runWebSocket(
                session,
                batches: batches,
                inbound: inbound.messages(maxSize: self.limits.maxPayload).makeAsyncIterator(),
                outbound: outbound,
                writer: writer
            )
        }
    }

    static func wsFrame(_ frame: EngineFrame) -> WebSocketFrame {
        WebSocketFrame(fin: true, opcode: frame.kind == .text ? .text : .binary, data: frame.payload)
    }

    /// The probe (`2probe` → `3probe`), then `5` switches the session to this WebSocket.
    private func runUpgrade(
        _ session: EngineSession,
        inbound: WebSocketInboundStream,
        outbound: WebSocketOutboundWriter,
        writer: WebSocketFrameWriter
    ) async {
        session.probeStarted { Task { try? await outbound.close(.normalClosure, reason: nil) } }
        var messages = inbound.messages(maxSize: limits.maxPayload).makeAsyncIterator()
        do {
            while let message = try await messages.next() {
                let packet: EngineSession.StateMachine.ProbePacket
                switch message {
                case .text("2probe"): packet = .probe
                case .text("5"): packet = .upgrade
                default: packet = .other
                }
                switch session.probeReceived(packet) {
                case .answer(let effects):
                    // `3probe` first; the waiting GET's noop follows, even if the write fails.
                    defer { session.perform(effects) }
                    try await writer.write([.packet(.pong, Array("probe".utf8))])
                case .upgraded(let effects):
                    session.perform(effects)
                    let batches = session.attachWebSocketWriter()
                    await runWebSocket(
                        session,
                        batches: batches,
                        inbound: messages,
                        outbound: outbound,
                        writer: writer
                    )
                    return
                case .abort:
                    session.probeEnded()
                    return
                }
            }
        } catch {}
        session.probeEnded()
    }

    /// Serves an established WebSocket session: the writer writing the session's batches one at a time, and
    /// the reader.
    private func runWebSocket<Messages: AsyncIteratorProtocol>(
        _ session: EngineSession,
        batches: AsyncStream<[EngineFrame]>,
        inbound: Messages,
        outbound: WebSocketOutboundWriter,
        writer: WebSocketFrameWriter
    ) async where Messages.Element == WebSocketMessage {
        var inbound = inbound
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                // The session hands over one batch at a time: the next comes once this one is written.
                for await frames in batches { writer.write(frames, then: session) }
                // Closed: end the WebSocket too.
                try? await outbound.close(.normalClosure, reason: nil)
            }
            do {
                reading: while let message = try await inbound.next() {
                    let packet: EngineInbound
                    switch message {
                    case .text(let text):
                        do {
                            packet = try EngineCodec.decode(text: Substring(text).utf8)
                        } catch {
                            session.protocolError(reason: "parse error")
                            break reading
                        }
                    case .binary(let buffer):
                        packet = .message(.binary(Array(buffer.readableBytesView)))
                    }
                    guard await receive(packet, on: session) else { break reading }
                }
            } catch {}
            session.close(reason: "transport close", notifyClient: false)
            // The writer ends on the closed session; close the WebSocket here too, whichever finishes first.
            try? await outbound.close(.normalClosure, reason: nil)
        }
    }
}

/// Writes batches of frames on a WebSocket's channel, each in one flush. When the last frame of a batch is
/// written, `writeCompleted()` is called right there on the event loop (the reference server's write
/// callback): frames sent meanwhile form the next batch, in a separate TCP write.
struct WebSocketFrameWriter: Sendable {
    let channel: any Channel

    /// Writes a batch and waits until it is written (the probe's `3probe`).
    func write(_ frames: [EngineFrame]) async throws {
        try await write(frames).get()
    }

    /// Writes a session's batch; then tells the session it was written, or closes it if the write failed.
    func write(_ frames: [EngineFrame], then session: EngineSession) {
        write(frames).whenComplete { result in
            switch result {
            case .success: session.writeCompleted()
            case .failure: session.close(reason: "transport error")
            }
        }
    }

    private func write(_ frames: [EngineFrame]) -> EventLoopFuture<Void> {
        guard let last = frames.last else { return channel.eventLoop.makeSucceededVoidFuture() }
        for frame in frames.dropLast() { channel.write(EngineServer.wsFrame(frame), promise: nil) }
        return channel.writeAndFlush(EngineServer.wsFrame(last))
    }
}
