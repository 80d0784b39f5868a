public import Application
public import Domain
import Testing

/// How `PushGatewayContract` observes deliveries: the adapter author implements it for their technology
/// (an in-process connection, a Socket.io client...).
public protocol PushProbe: Sendable {
    /// Opens a connection of `tenantId` to the gateway under test, in no room.
    ///
    /// - Parameter consuming: `false` for a stalled client that never reads what it is sent; `true` records
    ///   every message received, for `messages(until:timeout:)`.
    func connect(tenantId: TenantID, consuming: Bool) async throws -> any PushProbeConnection
}

/// One probe connection.
public protocol PushProbeConnection: Sendable {
    /// Joins `room`; returns `false` (or throws) when the gateway refuses, e.g. another tenant's tenant room.
    func join(_ room: Room) async throws -> Bool

    /// Waits until a message satisfying `isLast` was received or `timeout` passed, then returns every message
    /// received since connecting, in arrival order.
    func messages(until isLast: @escaping @Sendable (PushMessage) -> Bool, timeout: Duration) async -> [PushMessage]

    /// Closes the connection.
    func disconnect() async
}

/// The rules every `PushGateway` adapter keeps, as one reusable suite: room delivery at call time, tenant
/// isolation whatever the room, per-connection order, and never blocking on a stalled receiver.
///
/// Absence is checked without waiting: after a message that must not arrive, the contract sends a marker
/// the connection must receive, and because a connection's messages arrive in call order, the first message
/// would have come before the marker.
public struct PushGatewayContract: Sendable {
    /// The adapter's timing.
    public struct Capabilities: Sendable {
        /// How long to wait for messages that must arrive.
        public var deliveryTimeout: Duration
        /// How long broadcasting to a stalled connection may take in total (it must not block).
        public var broadcastBudget: Duration
        /// Rooms are evaluated where and when the message is delivered (another instance, through a shared
        /// log), not at the call: a connection joining just after the call may still receive it.
        public var membershipAtDelivery: Bool

        /// Declares the adapter's timing.
        public init(
            deliveryTimeout: Duration = .seconds(10),
            broadcastBudget: Duration = .seconds(10),
            membershipAtDelivery: Bool = false
        ) {
            self.deliveryTimeout = deliveryTimeout
            self.broadcastBudget = broadcastBudget
            self.membershipAtDelivery = membershipAtDelivery
        }
    }

    private let capabilities: Capabilities
    private let make: @Sendable () async throws -> (gateway: any PushGateway, probe: any PushProbe)

    /// Creates the suite for gateways built by `make`, each with the probe that observes it.
    public init(
        capabilities: Capabilities = .init(),
        make: @escaping @Sendable () async throws -> (gateway: any PushGateway, probe: any PushProbe)
    ) {
        self.capabilities = capabilities
        self.make = make
    }

    /// Runs every rule, recording a Swift Testing issue per violation.
    public func run() async throws {
        await runRules(
            "PushGateway",
            [
                ("roomMembersReceive", roomMembersReceive),
                ("roomsAtCallTime", roomsAtCallTime),
                ("unionOfRoomsOnce", unionOfRoomsOnce),
                ("tenantIsolation", tenantIsolation),
                ("orderPerConnection", orderPerConnection),
                ("stalledReceiverDoesNotBlock", stalledReceiverDoesNotBlock),
            ]
        )
    }
}

// MARK: - Fixtures

private struct Fixtures {
    let tag = RunTag()
    var tenantA: TenantID { TenantID("tenant-\(tag)-a") }
    var tenantB: TenantID { TenantID("tenant-\(tag)-b") }

    func driverRoom(_ n: Int) -> Room { .driver(DriverID("drv-\(tag)-\(n)")) }
    func deliveryRoom(_ n: Int) -> Room { .delivery(RouteID("route-\(tag)-\(n)")) }

    /// A message whose payload names it.
    func message(_ name: String, tenant: TenantID, event: String = "driver-position") -> PushMessage {
        PushMessage(event: event, json: Array(#"{"name":"\#(name)"}"#.utf8), tenantId: tenant)
    }
}

/// The name a fixture message carries.
private func name(_ message: PushMessage) -> String {
    let text = String(decoding: message.json, as: UTF8.self)
    return String(text.dropFirst(#"{"name":""#.count).prefix { $0 != "\"" })
}

// MARK: - Rules

extension PushGatewayContract {
    private func until(_ wanted: String) -> @Sendable (PushMessage) -> Bool {
        { name($0) == wanted }
    }

    /// Every connection joined to the room receives the message, intact; others do not.
    private func roomMembersReceive() async throws {
        let (gateway, probe) = try await make()
        let f = Fixtures()
        let first = try await probe.connect(tenantId: f.tenantA, consuming: true)
        let second = try await probe.connect(tenantId: f.tenantA, consuming: true)
        let outsider = try await probe.connect(tenantId: f.tenantA, consuming: true)
        for connection in [first, second] { _ = try await connection.join(f.driverRoom(1)) }
        _ = try await outsider.join(f.driverRoom(2))

        let message = f.message("hello", tenant: f.tenantA, event: "driver-position-detailed")
        await gateway.broadcast(message, to: f.driverRoom(1))
        for (label, connection) in [("first", first), ("second", second)] {
            let received = await connection.messages(until: until("hello"), timeout: capabilities.deliveryTimeout)
            #expect(received == [message], "op: broadcast, key: room member \(label) receives it intact")
        }
        await gateway.broadcast(f.message("marker", tenant: f.tenantA), to: f.driverRoom(2))
        let outside = await outsider.messages(until: until("marker"), timeout: capabilities.deliveryTimeout)
        #expect(outside.map(name) == ["marker"], "op: broadcast, key: non-member receives nothing")
        for connection in [first, second, outsider] { await connection.disconnect() }
    }

    /// A message reaches the connections joined at the time of the call, not those joining later (with
    /// `membershipAtDelivery`, one joining just after the call may get it too; later messages must arrive).
    private func roomsAtCallTime() async throws {
        let (gateway, probe) = try await make()
        let f = Fixtures()
        let late = try await probe.connect(tenantId: f.tenantA, consuming: true)
        await gateway.broadcast(f.message("before-join", tenant: f.tenantA), to: f.deliveryRoom(1))
        _ = try await late.join(f.deliveryRoom(1))
        await gateway.broadcast(f.message("after-join", tenant: f.tenantA), to: f.deliveryRoom(1))
        let received = await late.messages(until: until("after-join"), timeout: capabilities.deliveryTimeout)
        let counted = received.map(name).filter { !capabilities.membershipAtDelivery || $0 != "before-join" }
        #expect(counted == ["after-join"], "op: broadcast, key: only messages after joining")
        await late.disconnect()
    }

    /// A message to several rooms reaches each member of any of them exactly once.
    private func unionOfRoomsOnce() async throws {
        let (gateway, probe) = try await make()
        let f = Fixtures()
        let both = try await probe.connect(tenantId: f.tenantA, consuming: true)
        let one = try await probe.connect(tenantId: f.tenantA, consuming: true)
        _ = try await both.join(.tenant(f.tenantA))
        _ = try await both.join(f.deliveryRoom(1))
        _ = try await one.join(f.deliveryRoom(1))
        await gateway.broadcast(
            f.message("union", tenant: f.tenantA, event: "visit-event"),
            to: [.tenant(f.tenantA), f.deliveryRoom(1)]
        )
        await gateway.broadcast(f.message("marker", tenant: f.tenantA), to: f.deliveryRoom(1))
        for (label, connection) in [("member of both", both), ("member of one", one)] {
            let received = await connection.messages(until: until("marker"), timeout: capabilities.deliveryTimeout)
            #expect(received.map(name) == ["union", "marker"], "op: broadcast(to: rooms), key: \(label) once")
        }
        for connection in [both, one] { await connection.disconnect() }
    }

    /// A message never reaches a connection of another tenant, whatever room it joined.
    private func tenantIsolation() async throws {
        let (gateway, probe) = try await make()
        let f = Fixtures()
        let own = try await probe.connect(tenantId: f.tenantA, consuming: true)
        let foreign = try await probe.connect(tenantId: f.tenantB, consuming: true)
        _ = try await own.join(f.driverRoom(1))
        _ = try await own.join(.tenant(f.tenantA))
        // The same driver room name, and (if the gateway allows it) the other tenant's tenant room.
        _ = try await foreign.join(f.driverRoom(1))
        _ = try? await foreign.join(.tenant(f.tenantA))
        _ = try await foreign.join(.tenant(f.tenantB))

        await gateway.broadcast(f.message("a-driver", tenant: f.tenantA), to: f.driverRoom(1))
        await gateway.broadcast(f.message("a-tenant", tenant: f.tenantA), to: .tenant(f.tenantA))
        // A wrongly addressed message: tenant B's payload to tenant A's room.
        await gateway.broadcast(f.message("b-in-a-room", tenant: f.tenantB), to: .tenant(f.tenantA))
        await gateway.broadcast(f.message("b-marker", tenant: f.tenantB), to: .tenant(f.tenantB))
        await gateway.broadcast(f.message("a-marker", tenant: f.tenantA), to: .tenant(f.tenantA))

        let ownReceived = await own.messages(until: until("a-marker"), timeout: capabilities.deliveryTimeout)
        #expect(
            ownReceived.map(name) == ["a-driver", "a-tenant", "a-marker"],
            "op: broadcast, key: tenant A connection gets only tenant A messages"
        )
        let foreignReceived = await foreign.messages(until: until("b-marker"), timeout: capabilities.deliveryTimeout)
        #expect(
            foreignReceived.map(name) == ["b-marker"],
            "op: broadcast, key: tenant B connection gets no tenant A message"
        )
        #expect(foreignReceived.allSatisfy { $0.tenantId == f.tenantB }, "op: broadcast, key: payload tenant")
        await own.disconnect()
        await foreign.disconnect()
    }

    /// Messages to one connection arrive in call order, whichever rooms they went through.
    private func orderPerConnection() async throws {
        let (gateway, probe) = try await make()
        let f = Fixtures()
        let connection = try await probe.connect(tenantId: f.tenantA, consuming: true)
        let rooms = [f.driverRoom(1), f.deliveryRoom(1), Room.tenant(f.tenantA)]
        for room in rooms { _ = try await connection.join(room) }
        for n in 0..<60 {
            await gateway.broadcast(f.message("m\(n)", tenant: f.tenantA), to: rooms[n % rooms.count])
        }
        let received = await connection.messages(until: until("m59"), timeout: capabilities.deliveryTimeout)
        #expect(received.map(name) == (0..<60).map { "m\($0)" }, "op: broadcast, key: call order")
        await connection.disconnect()
    }

    /// A connection that never reads does not block `broadcast`, nor delivery to the others.
    private func stalledReceiverDoesNotBlock() async throws {
        let (gateway, probe) = try await make()
        let f = Fixtures()
        let stalled = try await probe.connect(tenantId: f.tenantA, consuming: false)
        let reader = try await probe.connect(tenantId: f.tenantA, consuming: true)
        _ = try await stalled.join(f.driverRoom(1))
        _ = try await reader.join(f.driverRoom(1))
        let count = 5_000
        let payload = String(repeating: "x", count: 512)
        let clock = ContinuousClock()
        let start = clock.now
        for n in 0..<count {
            await gateway.broadcast(
                PushMessage(
                    event: "driver-position",
                    json: Array(#"{"name":"n\#(n)","p":"\#(payload)"}"#.utf8),
                    tenantId: f.tenantA
                ),
                to: f.driverRoom(1)
            )
        }
        #expect(
            clock.now - start < capabilities.broadcastBudget,
            "op: broadcast, key: \(count) messages to a stalled connection"
        )
        await gateway.broadcast(f.message("last", tenant: f.tenantA), to: f.driverRoom(1))
        let received = await reader.messages(until: until("last"), timeout: capabilities.deliveryTimeout)
        #expect(received.last.map(name) == "last", "op: broadcast, key: reading connection still served")
        await stalled.disconnect()
        await reader.disconnect()
    }
}
