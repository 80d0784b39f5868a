import ArgumentParser
import Benchmarks
import Composition
import Simulation

/// `tracker-dev`: the production commands plus the demo, the simulator, the benchmarks and the test servers
/// (Kafka mock cluster, Socket.IO conformance endpoints). Never shipped in the production image.
@main
struct TrackerDev: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tracker-dev",
        abstract: "Distribution Tracker with its development tools: demo, simulator, benchmarks, test servers.",
        subcommands: [
            ServeCommand.self, DemoCommand.self, SimulateCommand.self, TokenCommand.self, MigrateCommand.self,
            BenchCommand.self, LoadTestCommand.self, SocketIOConformanceCommand.self, KafkaMockCommand.self,
        ]
    )
}
