import ArgumentParser

/// `tracker`: the Distribution Tracker executable.
@main
struct Tracker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tracker",
        abstract: "Real-time vehicle distribution tracking.",
        subcommands: [ServeCommand.self, DemoCommand.self, SimulateCommand.self, TokenCommand.self, MigrateCommand.self,
                      BenchCommand.self, SocketIOConformanceCommand.self]
    )
}
