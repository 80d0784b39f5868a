import ArgumentParser
import Composition

/// `tracker`: the production binary of Distribution Tracker (no simulator, benchmarks or test servers: those
/// are in `tracker-dev`).
@main
struct Tracker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tracker",
        abstract: "Real-time vehicle distribution tracking.",
        subcommands: [ServeCommand.self, MigrateCommand.self, TokenCommand.self]
    )
}
