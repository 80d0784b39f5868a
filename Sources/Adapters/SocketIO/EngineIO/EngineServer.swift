import Domain
public import Hummingbird
import HummingbirdCore
public import HummingbirdWebSocket
public import Logging
import NIOCore
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

    /// Sends heartbeats and enforces timeouts until cancelled.
    public func runHeartbeat() async {
        let tick = max(.milliseconds(5), min(limits.pingInterval, limits.pingTimeout) / 8)
        while !Task.isCancelled {
            try? await Task.sleep(for: min(tick, .milliseconds(250)))
            let now = ContinuousClock.now
            for session in sessions.withLock({ Array($0.values) }) { session.heartbeat(now: now) }
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

    /// Handles a packet from the session's active transport. Returns `false` when the session must close.
    func receive(_ packet: EngineInbound, on session: EngineSession) async -> Bool {
        switch packet {
        case .message(let message):
            await handler.engine(session, received: message)
        case .pong:
            session.receivedPong()
        case .close:
            session.close(reason: "transport close", notifyClient: false)
            return false
        case .ping:
            // Engine.IO v4: the server pings; a client ping is an error.
            session.close(reason: "invalid heartbeat direction")
            return false
        case .noop:
            break
        case .upgrade:
            session.close(reason: "unexpected upgrade packet")
            return false
        }
        return true
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
            guard session.transport == .polling else { throw EngineError.badRequest }
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
        let duplicate = session.state.withLock { state -> Bool in
            if state.getPending { return true }
            state.getPending = true
            return false
        }
        if duplicate {
            // A second concurrent GET: protocol error. The pending GET receives `1`.
            session.close(reason: "overlapping poll")
            throw EngineError.badRequest
        }
        let frames = await session.nextFrames(for: .polling, limit: limits.maxPacketsPerPoll)
        session.state.withLock { $0.getPending = false }
        guard let frames else { throw EngineError.unknownSid }
        var response = pollingResponse(EngineCodec.encode(payload: frames), request: request)
        response.headers[.cacheControl] = "no-store"
        return response
    }

    private func post(_ session: EngineSession, request: Request) async throws -> Response {
        if request.headers[.contentType]?.lowercased().hasPrefix("application/octet-stream") == true {
            throw EngineError.badRequest
        }
        let concurrent = session.state.withLock { state -> Bool in
            if state.postPending { return true }
            state.postPending = true
            return false
        }
        if concurrent {
            session.close(reason: "overlapping post")
            throw EngineError.badRequest
        }
        defer { session.state.withLock { $0.postPending = false } }
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
            session.close(reason: "parse error")
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
    /// session (`sid`). `nil` refuses (the client gets HTTP 400).
    public func webSocketHandler(
        for request: HTTPRequest
    ) -> WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>? {
        let uri = URI(request.path ?? "")
        var query: [String: String] = [:]
        for (key, value) in uri.queryParameters { query[String(key)] = String(value) }
        guard query["EIO"] == "4", query["transport"] == "websocket" else { return nil }
        var headers: [String: String] = [:]
        for field in request.headerFields { headers[field.name.canonicalName] = field.value }
        if let sid = query["sid"] {
            guard let session = session(sid) else { return nil }
            let accepted = session.state.withLock { state -> Bool in
                guard state.transport == .polling, !state.probing, !state.closed else { return false }
                state.probing = true
                state.upgradeDeadline = .now + limits.upgradeTimeout
                return true
            }
            guard accepted else { return nil }
            return { inbound, outbound, _ in
                await self.runUpgrade(session, inbound: inbound, outbound: outbound)
            }
        }
        let handshakeQuery = query
        let handshakeHeaders = headers
        return { inbound, outbound, _ in
            let session = self.open(transport: .websocket, query: handshakeQuery, headers: handshakeHeaders)
            let handshake = self.handshake(session, upgrades: [])
            do {
                try await outbound.write(.custom(Self.wsFrame(handshake)))
            } catch {
                session.close(reason: "transport error")
                return
            }
            await self.handler.engineOpened(session)
            await self.runWebSocket(
                session,
                inbound: inbound.messages(maxSize: self.limits.maxPayload).makeAsyncIterator(),
                outbound: outbound
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
        outbound: WebSocketOutboundWriter
    ) async {
        var messages = inbound.messages(maxSize: limits.maxPayload).makeAsyncIterator()
        var probed = false
        do {
            while let message = try await messages.next() {
                let expired = session.state.withLock { !$0.probing || $0.closed }
                guard case .text(let text) = message, !expired else { break }
                if text == "2probe", !probed {
                    probed = true
                    try await outbound.write(.text("3probe"))
                    // Ends the pending GET (or reaches the client on the next GET, or over this socket).
                    session.send(.noop)
                } else if text == "5", probed {
                    session.state.withLock { state in
                        state.transport = .websocket
                        state.probing = false
                        state.upgradeDeadline = nil
                    }
                    session.wake()
                    await runWebSocket(session, inbound: messages, outbound: outbound)
                    return
                } else {
                    break
                }
            }
        } catch {}
        session.state.withLock { $0.probing = false }
    }

    /// Serves an established WebSocket session: a writer draining the queue, and the reader.
    private func runWebSocket<Messages: AsyncIteratorProtocol>(
        _ session: EngineSession,
        inbound: Messages,
        outbound: WebSocketOutboundWriter
    ) async where Messages.Element == WebSocketMessage {
        var inbound = inbound
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                while let frames = await session.nextFrames(for: .websocket, limit: .max) {
                    do {
                        for frame in frames { try await outbound.write(.custom(Self.wsFrame(frame))) }
                    } catch {
                        session.close(reason: "transport error")
                        return
                    }
                }
                // Closed by the server: end the WebSocket too.
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
                            session.close(reason: "parse error")
                            break reading
                        }
                    case .binary(let buffer):
                        packet = .message(.binary(Array(buffer.readableBytesView)))
                    }
                    if session.isClosed { break reading }
                    guard await receive(packet, on: session) else { break reading }
                }
            } catch {}
            session.close(reason: "transport close", notifyClient: false)
            // The writer ends on the closed session; close the WebSocket here too, whichever finishes first.
            try? await outbound.close(.normalClosure, reason: nil)
        }
    }
}
