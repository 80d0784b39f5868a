import Application
import Domain
import Testing

@testable import SocketIOAdapters

/// `initial-state` is the first event a dashboard gets, and no position published while it is being read is
/// lost: the socket joins its rooms before the read, and what reaches those rooms meanwhile waits behind it.
@Suite("Socket.IO gateway initial state")
struct InitialStateOrderTests {
    /// A latest-position cache whose tenant read waits until the test opens it.
    final class GatedLatestCache: LatestPositionCache {
        let entered = AsyncStream<Void>.makeStream()
        let gate = AsyncStream<Void>.makeStream()

        func put(_ position: EnrichedPosition, ttl: Duration) async throws {}
        func latest(driverId: DriverID, tenantId: TenantID) async throws -> EnrichedPosition? { nil }
        func all(tenantId: TenantID) async throws -> [EnrichedPosition] {
            entered.continuation.yield()
            for await _ in gate.stream { break }
            return []
        }
    }

    @Test(arguments: [nil, 50] as [Int?])
    func initialStateComesFirstAndNothingPublishedMeanwhileIsLost(batchMs: Int?) async throws {
        let cache = GatedLatestCache()
        let harness = GatewayHarness(latest: cache)
        let runner = Task { await harness.gateway.run() }
        defer { runner.cancel() }
        let tenant = TenantID("t1")
        let session = harness.gateway.engine.open(transport: .websocket, query: [:], headers: [:])
        await harness.gateway.io.engineOpened(session)
        let batch = batchMs.map { #","batchMs":\#($0)"# } ?? ""
        let connecting = Task {
            await harness.gateway.io.engine(session, received: .text(#"0{"token":"tenant:t1"\#(batch)}"#))
        }
        // The socket is in its rooms and the initial state is being read: a position arrives now.
        for await _ in cache.entered.stream { break }
        let json = Array(#"{"driverId":"d1","n":1}"#.utf8)
        await harness.gateway.broadcast(
            PushMessage(event: "driver-position", json: json, tenantId: tenant),
            to: .tenant(tenant)
        )
        await harness.gateway.broadcast(PushMessage(event: "alert", json: json, tenantId: tenant), to: .tenant(tenant))
        if let batchMs { try await Task.sleep(for: .milliseconds(3 * batchMs)) }
        cache.gate.continuation.yield()
        await connecting.value
        if let batchMs { try await Task.sleep(for: .milliseconds(3 * batchMs)) }

        let events = harness.drain(session).filter { $0.hasPrefix("42") }
        let names = events.map { String($0.dropFirst(4).prefix { $0 != "\"" }) }
        #expect(names.first == "initial-state", "\(events)")
        #expect(names.contains("alert"), "\(events)")
        #expect(names.contains(batchMs == nil ? "driver-position" : "driver-positions"), "\(events)")
    }
}
