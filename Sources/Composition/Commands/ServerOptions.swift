package import ArgumentParser
package import Configuration
package import Logging

/// Flags shared by `serve` and `demo`; each overrides its configuration key.
package struct ServerOptions: ParsableArguments {
    package init() {}

    @Option(help: "Address to listen on (http.host / HTTP_HOST).")
    package var host: String?

    @Option(help: "Port to listen on (http.port / HTTP_PORT).")
    package var port: Int?

    @Option(help: "Directory for local-mode data files (tracker.data.dir / TRACKER_DATA_DIR).")
    package var dataDir: String?

    @Flag(
        help:
            "Shortcut for --broker memory --store memory --source memory; nothing survives a restart (tracker.in.memory)."
    )
    package var inMemory = false

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical (log.level / LOG_LEVEL).")
    package var logLevel: String?

    @Option(
        help: "Event bus: local (SQLite log in the data directory), kafka or memory (tracker.broker / TRACKER_BROKER)."
    )
    package var broker: String?

    @Option(help: "Fleet, read model and history: sqlite, memory or postgres (tracker.store / TRACKER_STORE).")
    package var store: String?

    @Option(help: "Latest positions and customer cache: memory or redis (tracker.cache / TRACKER_CACHE).")
    package var cache: String?

    @Option(
        help:
            "Source of truth for customers: local (core.sqlite), memory or sqlserver (tracker.source / TRACKER_SOURCE)."
    )
    package var source: String?

    @Option(help: "Kafka bootstrap servers host:port,... (tracker.kafka.brokers / TRACKER_KAFKA_BROKERS).")
    package var kafkaBrokers: String?

    @Option(help: "A librdkafka property name=value, repeatable (also KAFKA_<NAME> environment variables).")
    package var kafkaProperty: [String] = []

    @Option(help: "Folder of the built dashboard served at / (dashboard.dir / DASHBOARD_DIR).")
    package var dashboardDir: String?

    @Option(help: "Map tiles: a URL template, 'osm' or 'none' (dashboard.tiles.url / DASHBOARD_TILES_URL).")
    package var tileUrl: String?

    @Flag(inversion: .prefixedNo, help: "Development sign-in at POST /api/dev/token (tracker.dev.signin).")
    package var devSignIn: Bool?

    package func validate() throws {
        func check<T: RawRepresentable & CaseIterable>(_ value: String?, _ flag: String, _: T.Type) throws
        where T.RawValue == String {
            guard let value, T(rawValue: value.lowercased()) == nil else { return }
            throw ValidationError("--\(flag) must be one of \(T.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        try check(broker, "broker", AdapterPlan.Broker.self)
        try check(store, "store", AdapterPlan.Store.self)
        try check(cache, "cache", AdapterPlan.Cache.self)
        try check(source, "source", AdapterPlan.Source.self)
        if let bad = kafkaProperty.first(where: { !$0.contains("=") || $0.hasPrefix("=") }) {
            throw ValidationError("--kafka-property must be name=value, got \(bad)")
        }
        if let port, !(0...65535).contains(port) { throw ValidationError("--port must be within 0–65535") }
        if let logLevel, Logger.Level(rawValue: logLevel) == nil {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
    }

    package var overrides: [AbsoluteConfigKey: ConfigValue] {
        var values: [AbsoluteConfigKey: ConfigValue] = [:]
        if let host { values["http.host"] = .init(.string(host), isSecret: false) }
        if let port { values["http.port"] = .init(.int(port), isSecret: false) }
        if let dataDir { values["tracker.data.dir"] = .init(.string(dataDir), isSecret: false) }
        if inMemory { values["tracker.in.memory"] = .init(.bool(true), isSecret: false) }
        if let logLevel { values["log.level"] = .init(.string(logLevel), isSecret: false) }
        if let broker { values["tracker.broker"] = .init(.string(broker), isSecret: false) }
        if let store { values["tracker.store"] = .init(.string(store), isSecret: false) }
        if let cache { values["tracker.cache"] = .init(.string(cache), isSecret: false) }
        if let source { values["tracker.source"] = .init(.string(source), isSecret: false) }
        if let kafkaBrokers { values["tracker.kafka.brokers"] = .init(.string(kafkaBrokers), isSecret: false) }
        if !kafkaProperty.isEmpty {
            values["tracker.kafka.flag.properties"] = .init(
                .string(kafkaProperty.joined(separator: "\n")),
                isSecret: true
            )
        }
        if let dashboardDir { values["dashboard.dir"] = .init(.string(dashboardDir), isSecret: false) }
        if let tileUrl { values["dashboard.tiles.url"] = .init(.string(tileUrl), isSecret: false) }
        if let devSignIn { values["tracker.dev.signin"] = .init(.bool(devSignIn), isSecret: false) }
        return values
    }

    package func makeConfiguration() throws(StartupFailure) -> TrackerConfiguration {
        try TrackerConfiguration(overrides: overrides)
    }
}

/// The process-wide logger, created once here (never in libraries).
package func makeLogger(level: String) -> Logger {
    var logger = Logger(label: "tracker")
    logger.logLevel = Logger.Level(rawValue: level) ?? .info
    return logger
}
