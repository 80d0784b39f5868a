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
        .executable(name: "tracker", targets: ["Bootstrap"]),
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
    ],
    targets: [
        // MARK: Core
        .target(name: "Domain", swiftSettings: swiftSettings),
        .target(
            name: "Application",
            dependencies: ["Domain", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),

        // MARK: Adapters (one target per technology)
        .target(
            name: "InMemoryAdapters",
            dependencies: ["Domain", "Application"],
            path: "Sources/Adapters/InMemory",
            swiftSettings: swiftSettings
        ),
        .systemLibrary(
            name: "CSQLite3", path: "Sources/Adapters/System/CSQLite3", pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"]), .brew(["sqlite"])]
        ),
        .target(
            name: "SQLiteAdapters",
            dependencies: ["Domain", "Application", "CSQLite3", .product(name: "Logging", package: "swift-log")],
            path: "Sources/Adapters/SQLite",
            swiftSettings: swiftSettings
        ),
        .systemLibrary(
            name: "CRdKafka", path: "Sources/Adapters/System/CRdKafka", pkgConfig: "rdkafka",
            providers: [.apt(["librdkafka-dev"]), .brew(["librdkafka"])]
        ),
        .target(
            name: "KafkaAdapters",
            dependencies: [
                "Domain", "Application", "CRdKafka", .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            path: "Sources/Adapters/Kafka",
            swiftSettings: swiftSettings
        ),
        .systemLibrary(
            name: "CLibpq", path: "Sources/Adapters/System/CLibpq", pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"]), .brew(["libpq"])]
        ),
        .target(
            name: "PostgresAdapters",
            dependencies: [
                "Domain", "Application", "CLibpq", .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/Adapters/Postgres",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "HTTPAdapters",
            dependencies: [
                "Domain", "Application",
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
                "Domain", "Application",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Adapters/SocketIO",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "AdapterContracts",
            dependencies: ["Domain", "Application"],
            path: "Sources/Adapters/Contracts",
            swiftSettings: swiftSettings
        ),

        // MARK: Composition root
        .executableTarget(
            name: "Bootstrap",
            dependencies: [
                "Domain", "Application", "InMemoryAdapters", "SQLiteAdapters", "HTTPAdapters", "SocketIOAdapters", "KafkaAdapters",
                "PostgresAdapters",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            path: "Sources/Bootstrap",
            swiftSettings: swiftSettings
        ),

        // MARK: Tests
        .testTarget(name: "DomainTests", dependencies: ["Domain"], swiftSettings: swiftSettings),
        .testTarget(
            name: "ContractTests",
            dependencies: [
                "Domain", "Application", "AdapterContracts", "InMemoryAdapters", "SQLiteAdapters", "SocketIOAdapters", "KafkaAdapters",
                "PostgresAdapters", .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ApplicationTests",
            dependencies: ["Domain", "Application", "InMemoryAdapters", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SocketIOTests",
            dependencies: [
                "Domain", "Application", "InMemoryAdapters", "SocketIOAdapters",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "HTTPTests",
            dependencies: [
                "Domain", "Application", "InMemoryAdapters", "HTTPAdapters", "Bootstrap",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "JWTKit", package: "jwt-kit"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
