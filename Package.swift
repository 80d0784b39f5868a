// swift-tools-version: 6.1
import PackageDescription

/// One set of upcoming features for every target, tests included (see ADR 0001).
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "DistributionTracker",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Domain", targets: ["Domain"]),
        .library(name: "Application", targets: ["Application"]),
        .library(name: "AdapterContracts", targets: ["AdapterContracts"]),
        .executable(name: "tracker", targets: ["Tracker"]),
        .executable(name: "tracker-dev", targets: ["TrackerDev"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-configuration", from: "1.4.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.8.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.8.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
    ],
    targets: [
        // MARK: Core
        .target(name: "Domain", swiftSettings: swiftSettings),
        /// JSON reader/writer and ISO-8601: standard library only, shared by Application and the adapters.
        .target(
            name: "WireFormat",
            dependencies: ["Domain"],
            path: "Sources/Support/WireFormat",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Application",
            dependencies: ["Domain", "WireFormat", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),

        // MARK: Adapters (one target per technology)
        /// Package-internal helpers of the adapters: clocks, off-pool calls, consumer-group assignment.
        .target(
            name: "AdapterSupport",
            dependencies: ["Domain", "Application"],
            path: "Sources/Adapters/Support",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "InMemoryAdapters",
            dependencies: ["Domain", "Application", "AdapterSupport"],
            path: "Sources/Adapters/InMemory",
            swiftSettings: swiftSettings
        ),
        .systemLibrary(
            name: "CSQLite3",
            path: "Sources/Adapters/System/CSQLite3",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"]), .brew(["sqlite"])]
        ),
        .target(
            name: "SQLiteAdapters",
            dependencies: [
                "Domain", "Application", "AdapterSupport", "CSQLite3", .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Adapters/SQLite",
            swiftSettings: swiftSettings
        ),
        .systemLibrary(
            name: "CRdKafka",
            path: "Sources/Adapters/System/CRdKafka",
            pkgConfig: "rdkafka",
            providers: [.apt(["librdkafka-dev"]), .brew(["librdkafka"])]
        ),
        .target(
            name: "KafkaAdapters",
            dependencies: [
                "Domain", "Application", "AdapterSupport", "CRdKafka", .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            path: "Sources/Adapters/Kafka",
            swiftSettings: swiftSettings
        ),
        .systemLibrary(
            name: "CLibpq",
            path: "Sources/Adapters/System/CLibpq",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"]), .brew(["libpq"])]
        ),
        .target(
            name: "PostgresAdapters",
            dependencies: [
                "Domain", "Application", "AdapterSupport", "CLibpq", .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/Adapters/Postgres",
            swiftSettings: swiftSettings
        ),
        .systemLibrary(
            name: "CODBC",
            path: "Sources/Adapters/System/CODBC",
            pkgConfig: "odbc",
            providers: [.apt(["unixodbc-dev"]), .brew(["unixodbc"])]
        ),
        /// The read-only SQL Server source of truth over ODBC (ADR 0012).
        .target(
            name: "SQLServerAdapters",
            dependencies: [
                "Domain", "Application", "AdapterSupport", "CODBC", .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/Adapters/SQLServer",
            swiftSettings: swiftSettings
        ),
        // No pkgConfig: hiredis.pc adds -D_FILE_OFFSET_BITS=64, which SwiftPM drops with a warning; the header
        // (`hiredis/hiredis.h`) and the library are on the default paths (apt libhiredis-dev).
        .systemLibrary(
            name: "CHiredis",
            path: "Sources/Adapters/System/CHiredis"
        ),
        .target(
            name: "RedisAdapters",
            dependencies: [
                "Domain", "Application", "CHiredis", .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/Adapters/Redis",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "HTTPAdapters",
            dependencies: [
                "Domain", "Application", "WireFormat",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            path: "Sources/Adapters/HTTP",
            resources: [.copy("Resources/openapi.yaml")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SocketIOAdapters",
            dependencies: [
                "Domain", "Application", "WireFormat",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Adapters/SocketIO",
            swiftSettings: swiftSettings
        ),

        // MARK: Test tooling (never linked into the production `tracker`)
        /// librdkafka's in-process mock cluster: contract and fault tests, `tracker-dev kafka-mock`, benchmarks.
        .target(
            name: "KafkaMock",
            dependencies: ["KafkaAdapters", "CRdKafka"],
            path: "Sources/Adapters/Testing/KafkaMock",
            swiftSettings: swiftSettings
        ),

        .target(
            name: "AdapterContracts",
            dependencies: ["Domain", "Application"],
            path: "Sources/Adapters/Contracts",
            swiftSettings: swiftSettings
        ),

        // MARK: Composition root
        /// Configuration, wiring per port and technology, the service group: a library tests import.
        .target(
            name: "Composition",
            dependencies: [
                "Domain", "Application", "AdapterSupport", "InMemoryAdapters", "SQLiteAdapters", "HTTPAdapters",
                "SocketIOAdapters", "KafkaAdapters", "PostgresAdapters", "RedisAdapters", "SQLServerAdapters",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        /// The simulated fleet: demo scenario, driver simulator, webhook poster (`tracker-dev demo|simulate`).
        .target(
            name: "Simulation",
            dependencies: [
                "Domain", "Application", "WireFormat",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            swiftSettings: swiftSettings
        ),
        /// `tracker-dev bench …`: figures for enrichment, ingest, codecs, history, buses, Kafka and push.
        .target(
            name: "Benchmarks",
            dependencies: [
                "Domain", "Application", "AdapterSupport", "InMemoryAdapters", "SQLiteAdapters", "HTTPAdapters",
                "KafkaAdapters", "KafkaMock", "PostgresAdapters", "RedisAdapters", "SocketIOAdapters", "Simulation",
                "Composition",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            swiftSettings: swiftSettings
        ),
        /// `tracker`: the production binary (serve, migrate, token).
        .executableTarget(
            name: "Tracker",
            dependencies: ["Composition", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: swiftSettings
        ),
        /// `tracker-dev`: everything `tracker` does plus the demo, simulator, benchmarks and test servers.
        .executableTarget(
            name: "TrackerDev",
            dependencies: [
                "Domain", "Application", "Composition", "Simulation", "Benchmarks", "KafkaMock",
                "HTTPAdapters",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: Tests
        .testTarget(name: "DomainTests", dependencies: ["Domain"], swiftSettings: swiftSettings),
        .testTarget(
            name: "AdapterSupportTests",
            dependencies: ["Application", "AdapterSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ContractTests",
            dependencies: [
                "Domain", "Application", "AdapterContracts", "AdapterSupport", "InMemoryAdapters", "SQLiteAdapters",
                "SocketIOAdapters", "KafkaAdapters", "KafkaMock", "WireFormat", "PostgresAdapters", "RedisAdapters",
                "SQLServerAdapters", "Composition",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ApplicationTests",
            dependencies: [
                "Domain", "Application", "AdapterSupport", "InMemoryAdapters",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SocketIOTests",
            dependencies: [
                "Domain", "Application", "AdapterSupport", "InMemoryAdapters", "SocketIOAdapters", "WireFormat",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "HTTPTests",
            dependencies: [
                "Domain", "Application", "AdapterSupport", "InMemoryAdapters", "HTTPAdapters", "WireFormat",
                "Composition", "Simulation", "Benchmarks",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "JWTKit", package: "jwt-kit"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
