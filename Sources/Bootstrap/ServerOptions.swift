import ArgumentParser
import Configuration
import Logging

/// Flags shared by `serve` and `demo`; each overrides its configuration key.
struct ServerOptions: ParsableArguments {
    @Option(help: "Address to listen on (http.host / HTTP_HOST).")
    var host: String?

    @Option(help: "Port to listen on (http.port / HTTP_PORT).")
    var port: Int?

    @Option(help: "Directory for local-mode data files (tracker.data.dir / TRACKER_DATA_DIR).")
    var dataDir: String?

    @Flag(help: "Keep everything in memory; nothing survives a restart (tracker.in.memory).")
    var inMemory = false

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical (log.level / LOG_LEVEL).")
    var logLevel: String?

    @Option(help: "Event bus: local (SQLite log in the data directory) or kafka (tracker.broker / TRACKER_BROKER).")
    var broker: String?

    @Option(help: "Kafka bootstrap servers host:port,... (tracker.kafka.brokers / TRACKER_KAFKA_BROKERS).")
    var kafkaBrokers: String?

    @Option(help: "A librdkafka property name=value, repeatable (also KAFKA_<NAME> environment variables).")
    var kafkaProperty: [String] = []

    @Option(help: "Folder of the built dashboard served at / (dashboard.dir / DASHBOARD_DIR).")
    var dashboardDir: String?

    @Option(help: "Map tiles: a URL template, 'osm' or 'none' (dashboard.tiles.url / DASHBOARD_TILES_URL).")
    var tileUrl: String?

    @Flag(inversion: .prefixedNo, help: "Development sign-in at POST /api/dev/token (tracker.dev.signin).")
    var devSignIn: Bool?

    func validate() throws {
        if let broker, broker != "local", broker != "kafka" { throw ValidationError("--broker must be local or kafka") }
        if let bad = kafkaProperty.first(where: { !$0.contains("=") || $0.hasPrefix("=") }) {
            throw ValidationError("--kafka-property must be name=value, got \(bad)")
        }
        if let port, !(0...65535).contains(port) { throw ValidationError("--port must be within 0–65535") }
        if let logLevel, Logger.Level(rawValue: logLevel) == nil {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
    }

    var overrides: [AbsoluteConfigKey: ConfigValue] {
        var values: [AbsoluteConfigKey: ConfigValue] = [:]
        if let host { values["http.host"] = .init(.string(host), isSecret: false) }
        if let port { values["http.port"] = .init(.int(port), isSecret: false) }
        if let dataDir { values["tracker.data.dir"] = .init(.string(dataDir), isSecret: false) }
        if inMemory { values["tracker.in.memory"] = .init(.bool(true), isSecret: false) }
        if let logLevel { values["log.level"] = .init(.string(logLevel), isSecret: false) }
        if let broker { values["tracker.broker"] = .init(.string(broker), isSecret: false) }
        if let kafkaBrokers { values["tracker.kafka.brokers"] = .init(.string(kafkaBrokers), isSecret: false) }
        if !kafkaProperty.isEmpty {
            values["tracker.kafka.flag.properties"] = .init(.string(kafkaProperty.joined(separator: "\n")), isSecret: true)
        }
        if let dashboardDir { values["dashboard.dir"] = .init(.string(dashboardDir), isSecret: false) }
        if let tileUrl { values["dashboard.tiles.url"] = .init(.string(tileUrl), isSecret: false) }
        if let devSignIn { values["tracker.dev.signin"] = .init(.bool(devSignIn), isSecret: false) }
        return values
    }

    func makeConfiguration() -> TrackerConfiguration {
        TrackerConfiguration(overrides: overrides)
    }
}

/// The process-wide logger, created once here (never in libraries).
func makeLogger(level: String) -> Logger {
    var logger = Logger(label: "tracker")
    logger.logLevel = Logger.Level(rawValue: level) ?? .info
    return logger
}
