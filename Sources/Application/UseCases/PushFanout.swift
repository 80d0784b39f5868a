public import Domain

/// Spec §4.1 step 6 and §6.2: turns enriched positions and domain events from the bus into dashboard
/// pushes. Each instance runs it with its own consumer group, so every instance sees every event for the
/// sockets it holds. Every payload is encoded once, whatever the number of receivers.
public struct PushFanout: Sendable {
    let gateway: any PushGateway

    public init(gateway: any PushGateway) {
        self.gateway = gateway
    }

    /// The topics this consumer reads.
    public static let topics: [Topic] = [.enrichedPositions, .visitEvents, .driverEvents, .gpsEvents]

    /// The compact form of a position sent to every dashboard of the tenant (`driver-position`).
    public struct CompactPosition: Codable, Sendable, Hashable {
        public var driverId: DriverID
        public var lat: Double
        public var lng: Double
        public var speed: Double
        public var heading: Double
        public var activity: DriverActivity
        public var fixTime: Timestamp
        public var nextVisitId: VisitID?
        public var etaToNext: Timestamp?
        public var late: Bool

        public init(
            driverId: DriverID,
            lat: Double,
            lng: Double,
            speed: Double,
            heading: Double,
            activity: DriverActivity,
            fixTime: Timestamp,
            nextVisitId: VisitID?,
            etaToNext: Timestamp?,
            late: Bool
        ) {
            self.driverId = driverId
            self.lat = lat
            self.lng = lng
            self.speed = speed
            self.heading = heading
            self.activity = activity
            self.fixTime = fixTime
            self.nextVisitId = nextVisitId
            self.etaToNext = etaToNext
            self.late = late
        }

        public init(_ p: EnrichedPosition) {
            driverId = p.driverId
            lat = p.latitude
            lng = p.longitude
            speed = p.speedKmh
            heading = p.heading
            activity = p.activity
            fixTime = p.fixTime
            nextVisitId = p.nextVisitId
            etaToNext = p.etaToNext
            late = p.late
        }
    }

    /// Consumer handler.
    public func handle(_ messages: [BusMessage]) async throws {
        for message in messages {
            switch message.topic {
            case .enrichedPositions:
                let position = try JSONPayload.decode(EnrichedPosition.self, from: message.value)
                let compact = try JSONPayload.encode(CompactPosition(position))
                let driver = position.driverId
                await gateway.broadcast(
                    PushMessage(
                        event: "driver-position",
                        json: compact,
                        tenantId: position.tenantId,
                        key: driver.rawValue
                    ),
                    to: .tenant(position.tenantId)
                )
                // The detailed payload is the message as published: no second encoding.
                await gateway.broadcast(
                    PushMessage(
                        event: "driver-position-detailed",
                        json: message.value ?? [],
                        tenantId: position.tenantId,
                        key: driver.rawValue
                    ),
                    to: .driver(driver)
                )
            default:
                let event = try JSONPayload.decode(DomainEvent.self, from: message.value)
                try await push(event)
            }
        }
    }

    func push(_ event: DomainEvent) async throws {
        switch event {
        case .visit(let e):
            let message = PushMessage(event: "visit-event", json: try JSONPayload.encode(e), tenantId: e.tenantId)
            // Once per connection, whether it follows the delivery, the tenant, or both.
            await gateway.broadcast(message, to: [.tenant(e.tenantId), .delivery(e.routeId)])
        case .driver(let e):
            await gateway.broadcast(
                PushMessage(
                    event: "driver-event",
                    json: try JSONPayload.encode(e),
                    tenantId: e.tenantId
                ),
                to: .tenant(e.tenantId)
            )
        case .alert(let a):
            await gateway.broadcast(
                PushMessage(event: "alert", json: try JSONPayload.encode(a), tenantId: a.tenantId),
                to: .tenant(a.tenantId)
            )
        }
    }
}
