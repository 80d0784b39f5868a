import Application
public import Hummingbird
public import Logging
import WireFormat

/// The servers the official protocol test suites (socketio/engine.io-protocol and
/// socketio/socket.io-protocol, `test-suite/`) expect on one port: an Engine.IO echo at `/engine.io/`
/// (pingInterval 300 ms, pingTimeout 200 ms, maxPayload 1e6, CORS `*`) and Socket.IO at `/socket.io/` whose
/// handlers emit `auth` on connect (also on `/custom`), answer `message` with `message-back` and
/// acknowledge `message-with-ack` with the same arguments; connectTimeout 1 s.
public struct ConformanceServers: Sendable {
    public let engineEcho: EngineServer
    public let socketIO: EngineServer

    public init(logger: Logger) {
        let limits = EngineServer.Limits(
            pingInterval: .milliseconds(300),
            pingTimeout: .milliseconds(200),
            maxPayload: 1_000_000
        )
        engineEcho = EngineServer(limits: limits, corsOrigin: "*", handler: EchoHandler(), logger: logger)
        let handlers: @Sendable (String) -> SocketNamespace = { name in
            SocketNamespace(
                name: name,
                // The handshake's auth is the socket's context, echoed on connect.
                authorize: { auth, _ in .accept(context: auth) },
                connected: { socket in
                    let auth = socket.context as? JSONTree ?? .object(JSONObject())
                    socket.emit("auth", [SocketCodec.json(auth)])
                },
                events: { socket, event, ack in
                    let args = event.args.map(SocketCodec.json)
                    switch event.name {
                    case "message": socket.emit("message-back", args, attachments: event.attachments)
                    case "message-with-ack": ack?(args, attachments: event.attachments)
                    default: break
                    }
                }
            )
        }
        let io = SocketIOServer(
            options: .init(connectTimeout: .seconds(1), recoveryWindow: nil),
            namespaces: [handlers("/"), handlers("/custom")],
            logger: logger
        )
        socketIO = EngineServer(limits: limits, corsOrigin: "*", handler: io, logger: logger)
    }

    /// The router and server builder of both endpoints.
    public func router() -> Router<BasicRequestContext> {
        let router = Router()
        engineEcho.addRoutes(to: router, path: "/engine.io")
        socketIO.addRoutes(to: router, path: "/socket.io")
        return router
    }

    public var routes: EngineWebSocketRoutes {
        EngineWebSocketRoutes([("/engine.io", engineEcho), ("/socket.io", socketIO)])
    }

    /// Runs the heartbeats of both servers until cancelled.
    public func runHeartbeats() async {
        async let echo: Void = engineEcho.runHeartbeat()
        async let io: Void = socketIO.runHeartbeat()
        _ = await (echo, io)
    }
}

/// Sends every message back on the same session.
struct EchoHandler: EngineHandler {
    func engineOpened(_ session: EngineSession) async {}

    func engine(_ session: EngineSession, received message: EngineMessage) async {
        switch message {
        case .text(let text): session.send(.message(Array(text.utf8)))
        case .binary(let bytes): session.send(.binary(bytes))
        }
    }

    func engineClosed(_ session: EngineSession, reason: String) {}
}
