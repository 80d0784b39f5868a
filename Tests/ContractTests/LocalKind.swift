import AdapterContracts
import Application
import Domain
import InMemoryAdapters
import Logging
import SQLiteAdapters
import Testing

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The built-in adapters that run in-process, without external services: in memory, and SQLite on a
/// temporary file and in `:memory:`.
///
/// Not every kind implements every port: each port has its list (`fleetStores`, `eventBuses`...), and a
/// factory called for a kind outside its port's list stops the test rather than hand back another kind's
/// adapter. Tests using `sqliteFile` carry the `.temporaryDatabases` trait, which removes their files after.
enum LocalKind: String, CaseIterable, CustomStringConvertible, Sendable {
    case inMemory
    case sqliteFile
    case sqliteMemory

    var description: String { rawValue }

    // MARK: Which kinds implement which port

    static var eventBuses: [LocalKind] { allCases }
    static var sourcesOfTruth: [LocalKind] { allCases }
    static var fleetStores: [LocalKind] { allCases }
    static var referenceStores: [LocalKind] { allCases }
    static var historyStores: [LocalKind] { allCases }
    /// Caches and push stay in memory in local mode: no SQLite adapter.
    static var customerCaches: [LocalKind] { [.inMemory] }
    static var latestPositionCaches: [LocalKind] { [.inMemory] }
    static var pushGateways: [LocalKind] { [.inMemory] }

    /// The directory of the running test's SQLite files, set by the `.temporaryDatabases` trait.
    @TaskLocal static var scratchDirectory: String?

    /// A new SQLite file path: in the test's scratch directory (removed after the test) when the test has the
    /// `.temporaryDatabases` trait, else in the temporary directory.
    static func temporaryPath(_ name: String) -> String {
        let directory = scratchDirectory ?? ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
        return "\(directory)/tracker-contract-\(name)-\(UUID().uuidString).sqlite"
    }

    /// Adapters log nowhere in tests.
    static let logger = Logger(label: "contract-tests", factory: { _ in SwiftLogNoOpLogHandler() })

    /// The database path of a SQLite kind.
    private func sqlitePath(_ name: String) -> String {
        switch self {
        case .sqliteFile: Self.temporaryPath(name)
        case .sqliteMemory: ":memory:"
        case .inMemory: preconditionFailure("\(self) has no SQLite path")
        }
    }

    private func unsupported(_ port: String) -> Never {
        preconditionFailure("\(self) has no \(port) adapter; run it only for LocalKind.\(port)s")
    }

    func makeEventBus() async throws -> any EventBus {
        switch self {
        case .inMemory: InMemoryEventBus()
        case .sqliteFile: try await SQLiteEventBus(path: Self.temporaryPath("bus"), logger: Self.logger)
        case .sqliteMemory: try await SQLiteEventBus(path: ":memory:", logger: Self.logger)
        }
    }

    /// What the contract may assume of this kind's bus.
    var eventBusCapabilities: EventBusContract.Capabilities {
        switch self {
        case .inMemory: .init(partitionsPerTopic: 8, deliveryTimeout: .seconds(5), quietPeriod: .milliseconds(50))
        case .sqliteFile, .sqliteMemory:
            .init(partitionsPerTopic: 8, deliveryTimeout: .seconds(5), quietPeriod: .milliseconds(100))
        }
    }

    func makeFleetStore() throws -> any FleetStore {
        switch self {
        case .inMemory: InMemoryFleetStore()
        case .sqliteFile, .sqliteMemory: try SQLiteFleetStore(path: sqlitePath("fleet"), logger: Self.logger)
        }
    }

    func makeReferenceStore() throws -> any ReferenceStore {
        switch self {
        case .inMemory: InMemoryReferenceStore()
        case .sqliteFile, .sqliteMemory:
            try SQLiteReferenceStore(path: sqlitePath("reference"), logger: Self.logger)
        }
    }

    func makeHistoryStore() throws -> any HistoryStore {
        switch self {
        case .inMemory: InMemoryHistoryStore()
        case .sqliteFile, .sqliteMemory: try SQLiteHistoryStore(path: sqlitePath("history"), logger: Self.logger)
        }
    }

    func makeCustomerCache(clock: ContractClock) -> any CustomerCache {
        switch self {
        case .inMemory: InMemoryCustomerCache(clock: clock)
        case .sqliteFile, .sqliteMemory: unsupported("customerCache")
        }
    }

    func makeLatestPositionCache(clock: ContractClock) -> any LatestPositionCache {
        switch self {
        case .inMemory: InMemoryLatestPositionCache(clock: clock)
        case .sqliteFile, .sqliteMemory: unsupported("latestPositionCache")
        }
    }

    func makePushGateway() -> (gateway: any PushGateway, probe: any PushProbe) {
        switch self {
        case .inMemory:
            let gateway = InMemoryPushGateway()
            return (gateway, InMemoryPushProbe(gateway: gateway))
        case .sqliteFile, .sqliteMemory: unsupported("pushGateway")
        }
    }

    func makeSourceOfTruth() async throws -> (source: any SourceOfTruth, bus: any EventBus) {
        switch self {
        case .inMemory:
            let bus = InMemoryEventBus()
            return (InMemorySourceOfTruth(bus: bus), bus)
        case .sqliteFile:
            let bus = try await SQLiteEventBus(path: Self.temporaryPath("bus"), logger: Self.logger)
            return (try await SQLiteSourceOfTruth(path: Self.temporaryPath("core"), bus: bus, logger: Self.logger), bus)
        case .sqliteMemory:
            let bus = try await SQLiteEventBus(path: ":memory:", logger: Self.logger)
            return (try await SQLiteSourceOfTruth(path: ":memory:", bus: bus, logger: Self.logger), bus)
        }
    }
}

/// Gives the test a fresh scratch directory for its SQLite files (`LocalKind.temporaryPath`) and removes it,
/// with every file in it, when the test ends, passed or failed.
struct TemporaryDatabases: TestTrait, SuiteTrait, TestScoping {
    /// On a suite, every test gets its own directory.
    var isRecursive: Bool { true }

    func provideScope(
        for test: Test,
        testCase: Test.Case?,
        performing function: @Sendable () async throws -> Void
    ) async throws {
        let base = ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
        let directory = "\(base)/tracker-contract-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await LocalKind.$scratchDirectory.withValue(directory) { try await function() }
    }
}

extension Trait where Self == TemporaryDatabases {
    /// SQLite files created through `LocalKind.temporaryPath` during the test are removed after it.
    static var temporaryDatabases: Self { Self() }
}
