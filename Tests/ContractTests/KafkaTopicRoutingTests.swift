import AdapterSupport
import Application
import Domain
import InMemoryAdapters
import KafkaAdapters
import KafkaMock
import Logging
import Testing

/// Spec §10 on Kafka: a premium tenant named in configuration gets its own `gps.positions.<tenant>` topic
/// (created on first use); other tenants share `gps.positions`. Messages carry the driver id as key and the
/// standard headers.
@Suite("Kafka topic routing (mock cluster)")
struct KafkaTopicRoutingTests {
    @Test func premiumTenantHasItsOwnTopic() async throws {
        let cluster = try KafkaMockCluster(brokers: 3)
        let bus = try KafkaTestCluster.makeBus(cluster)
        let fleet = InMemoryFleetStore()
        let drivers = DriverManagement(fleet: fleet)
        let premium = try await drivers.create(
            NewDriver(deviceId: "dev-premium", name: "Premium"),
            as: Principal(tenantId: "premium", role: .admin, subject: "test")
        )
        let shared = try await drivers.create(
            NewDriver(deviceId: "dev-shared", name: "Shared"),
            as: Principal(tenantId: "shared", role: .admin, subject: "test")
        )
        let clock = SystemWallClock()
        let ingest = IngestTraccar(
            fleet: fleet,
            bus: bus,
            clock: clock,
            routing: TopicRouting(dedicatedTenants: ["premium"]),
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        )
        let outcomes = try await ingest.ingest(
            positions: ["dev-premium", "dev-shared"].map {
                DevicePositionReport(
                    deviceId: DeviceID($0),
                    fixTime: clock.now(),
                    latitude: 52.52,
                    longitude: 13.4,
                    speedKnots: 10
                )
            }
        )
        #expect(outcomes.count == 2)

        let dedicated = Topic("gps.positions.premium")
        let subscription = try await bus.subscribe(
            topics: [dedicated, .positions],
            group: "routing-test",
            startAtEnd: false
        )
        var received: [BusMessage] = []
        let deadline = ContinuousClock.now + .seconds(20)
        while received.count < 2, ContinuousClock.now < deadline {
            received += try await subscription.next(maxCount: 10)
        }
        await subscription.close()
        let byTopic = Dictionary(grouping: received, by: \.topic)
        #expect(byTopic[dedicated]?.map(\.key) == [premium.id.rawValue], "premium tenant on its own topic")
        #expect(byTopic[.positions]?.map(\.key) == [shared.id.rawValue], "other tenants on gps.positions")
        #expect(byTopic[dedicated]?.first?.headers[MessageHeader.tenantId] == "premium")
        #expect(byTopic[.positions]?.first?.headers[MessageHeader.eventType] == "position")
    }
}
