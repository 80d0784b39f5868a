import AdapterSupport
import Application
import Domain
import InMemoryAdapters
import Logging
import NIOCore
import Synchronization
import Testing

@testable import SocketIOAdapters

/// Tenant isolation is absolute: over random tenants, sockets (live and batched), subscriptions and events,
/// no event ever reaches a socket of another tenant, and every socket gets each of its tenant's visit events
/// exactly once.
@Suite("Socket.IO gateway tenant isolation")
struct TenantIsolationTests {
    @Test(arguments: 0..<40)
    func noEventCrossesTenants(seed: UInt64) async throws {
        var random = SplitMix64(seed: seed)
        let harness = GatewayHarness()
        let runner = Task { await harness.gateway.run() }
        defer { runner.cancel() }
        let tenants = (0..<Int.random(in: 2...4, using: &random)).map { "t\($0)" }
        // Driver and route ids are shared across tenants on purpose: equal names must not collide.
        let drivers = (0..<5).map { DriverID("d\($0)") }
        let routes = (0..<3).map { RouteID("r\($0)") }
        var sockets: [(tenant: String, session: EngineSession)] = []
        for tenant in tenants {
            for _ in 0..<Int.random(in: 1...3, using: &random) {
                let batch: Int? = Bool.random(using: &random) ? 50 : nil
                let (session, sid) = await harness.connect(tenant: tenant, batchMs: batch)
                sockets.append((tenant, session))
                for driver in drivers where Bool.random(using: &random) {
                    #expect(harness.gateway.join(socketId: sid, room: .driver(driver)))
                }
                for route in routes where Bool.random(using: &random) {
                    #expect(harness.gateway.join(socketId: sid, room: .delivery(route)))
                }
                // Another tenant's tenant room is refused.
                let other = tenants.first { $0 != tenant }!
                #expect(!harness.gateway.join(socketId: sid, room: .tenant(TenantID(other))))
            }
        }
        var visitEvents: [String: Int] = [:]
        for n in 0..<Int.random(in: 20...80, using: &random) {
            let tenant = tenants.randomElement(using: &random)!
            let id = TenantID(tenant)
            let driver = drivers.randomElement(using: &random)!
            let json = Array(#"{"tenant":"\#(tenant)","driverId":"\#(driver.rawValue)","n":\#(n)}"#.utf8)
            switch Int.random(in: 0..<5, using: &random) {
            case 0:
                await harness.gateway.broadcast(
                    PushMessage(event: "driver-position", json: json, tenantId: id),
                    to: .tenant(id)
                )
            case 1:
                await harness.gateway.broadcast(
                    PushMessage(event: "driver-position-detailed", json: json, tenantId: id),
                    to: .driver(driver)
                )
            case 2:
                visitEvents[tenant, default: 0] += 1
                await harness.gateway.broadcast(
                    PushMessage(event: "visit-event", json: json, tenantId: id),
                    to: [.tenant(id), .delivery(routes.randomElement(using: &random)!)]
                )
            case 3:
                await harness.gateway.broadcast(PushMessage(event: "alert", json: json, tenantId: id), to: .tenant(id))
            default:
                // A wrongly addressed message: this tenant's payload to another tenant's room.
                let other = TenantID(tenants.randomElement(using: &random)!)
                await harness.gateway.broadcast(
                    PushMessage(event: "driver-event", json: json, tenantId: id),
                    to: .tenant(other)
                )
            }
        }
        try await Task.sleep(for: .milliseconds(150))  // two batch intervals
        for (tenant, session) in sockets {
            let frames = harness.drain(session)
            for frame in frames where frame.contains(#""tenant":"#) {
                let foreign = tenants.filter { $0 != tenant }.contains { frame.contains(#""tenant":"\#($0)""#) }
                #expect(!foreign, "seed \(seed): a \(tenant) socket received \(frame)")
            }
            let visits = frames.filter { $0.hasPrefix(#"42["visit-event""#) }.count
            #expect(visits == visitEvents[tenant, default: 0], "seed \(seed): visit events exactly once")
        }
    }
}

/// A small seeded generator, so a failing seed can be replayed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
