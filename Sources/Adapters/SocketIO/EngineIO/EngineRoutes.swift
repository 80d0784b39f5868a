public import Hummingbird
public import HummingbirdCore
import HummingbirdWebSocket
import NIOCore

extension EngineServer {
    /// Registers the HTTP side of the Engine.IO endpoint at `path` (`/socket.io`): handshake, polling GET and
    /// POST, CORS preflight; other methods get the protocol's 400.
    public func addRoutes<Context: RequestContext>(to router: Router<Context>, path: String) {
        for method in [HTTPRequest.Method.get, .post, .options, .put] {
            router.on(RouterPath(path), method: method) { request, _ in await self.respond(to: request) }
        }
    }
}

/// Routes WebSocket upgrade requests to the Engine.IO server of their path.
public struct EngineWebSocketRoutes: Sendable {
    let servers: [(path: String, server: EngineServer)]

    /// - Parameter servers: each Engine.IO server with its path (`/socket.io`).
    public init(_ servers: [(path: String, server: EngineServer)]) {
        self.servers = servers
    }

    /// The HTTP server with WebSocket upgrades for the Engine.IO paths; other upgrade requests are refused.
    public func serverBuilder(maxFrameSize: Int = 1 << 20) -> HTTPServerBuilder {
        .http1WebSocketUpgrade(
            configuration: .init(http1: .init(), ws: .init(maxFrameSize: maxFrameSize, autoPing: .disabled))
        ) { request, channel, _ in
            let path = request.path ?? ""
            let route = path.split(separator: "?", maxSplits: 1).first.map(String.init) ?? ""
            for (prefix, server) in servers where route == prefix || route == prefix + "/" {
                if let handler = server.webSocketHandler(for: request, channel: channel) {
                    return .upgrade([:], handler)
                }
                return .dontUpgrade
            }
            return .dontUpgrade
        }
    }
}
