import ArgumentParser
import Composition
import Hummingbird
import Logging
import ServiceLifecycle
import SocketIOAdapters
import UnixSignals

/// `tracker socketio-conformance`: the endpoints the official Engine.IO and Socket.IO protocol test suites
/// run against (they expect `http://localhost:3000`).
struct SocketIOConformanceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "socketio-conformance",
        abstract:
            "Serve the Engine.IO echo (/engine.io/) and Socket.IO (/socket.io/) endpoints of the official protocol test suites."
    )

    @Option(help: "Port to listen on.") var port = 3000
    @Option(help: "Address to listen on.") var host = "127.0.0.1"

    func run() async throws {
        let logger = makeLogger(level: "info")
        let servers = ConformanceServers(logger: logger)
        let app = Application(
            router: servers.router(),
            server: servers.routes.serverBuilder(),
            configuration: .init(address: .hostname(host, port: port), serverName: "socketio-conformance"),
            onServerRunning: { _ in
                logger.info("socket.io conformance server listening", metadata: ["url": "http://\(host):\(port)"])
            },
            logger: logger
        )
        let heartbeats = BackgroundService(name: "engine.io heartbeats", body: { await servers.runHeartbeats() })
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: app), .init(service: heartbeats)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        try await group.run()
    }
}
