import AdapterContracts
import InMemoryAdapters
import Testing

@Suite("SourceOfTruth contract")
struct SourceOfTruthContractTests {
    /// Every built-in writable source of truth publishes its writes as Debezium change events.
    @Test(.temporaryDatabases, arguments: LocalKind.sourcesOfTruth)
    func contract(_ kind: LocalKind) async throws {
        try await SourceOfTruthContract { try await kind.makeSourceOfTruth() }.run()
    }

    /// A read-only source refuses writes, as the contract checks when declared.
    @Test func readOnly() async throws {
        try await SourceOfTruthContract(capabilities: .init(isWritable: false)) {
            let bus = InMemoryEventBus()
            return (InMemorySourceOfTruth(bus: bus, isWritable: false), bus)
        }.run()
    }
}
