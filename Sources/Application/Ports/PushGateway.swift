public import Domain

/// A broadcast audience (spec §8.5, §10).
public enum Room: Hashable, Sendable, CustomStringConvertible {
    /// Every dashboard of a tenant.
    case tenant(TenantID)
    /// Dashboards following one driver.
    case driver(DriverID)
    /// Dashboards following one delivery route.
    case delivery(RouteID)

    /// The Socket.io room name: `tenant:{id}`, `driver:{id}`, `delivery:{id}`.
    public var name: String {
        switch self {
        case .tenant(let id): "tenant:\(id)"
        case .driver(let id): "driver:\(id)"
        case .delivery(let id): "delivery:\(id)"
        }
    }

    public var description: String { name }

    /// The room called `name` (`tenant:…`, `driver:…`, `delivery:…`); nil for any other name.
    public init?(name: String) {
        guard let colon = name.firstIndex(of: ":") else { return nil }
        let id = String(name[name.index(after: colon)...])
        switch name[..<colon] {
        case "tenant": self = .tenant(TenantID(id))
        case "driver": self = .driver(DriverID(id))
        case "delivery": self = .delivery(RouteID(id))
        default: return nil
        }
    }
}

/// One event for dashboards: a Socket.io event name and its JSON payload, encoded once for all receivers.
public struct PushMessage: Hashable, Sendable {
    /// `driver-position`, `driver-position-detailed`, `visit-event`, `driver-event`, `alert`...
    public var event: String
    public var json: [UInt8]
    /// The tenant the payload belongs to. Gateways deliver only to connections of this tenant,
    /// whatever the room, so a wrong room name can never leak data across tenants.
    public var tenantId: TenantID
    /// What a state update is about (a driver id for positions). A newer message with the same event and key
    /// supersedes an older one: a gateway may drop the older for a receiver that fell behind, and need not
    /// replay it after a reconnect. `nil` for events (visit events, alerts), each of which matters.
    public var key: String?

    public init(event: String, json: [UInt8], tenantId: TenantID, key: String? = nil) {
        self.event = event
        self.json = json
        self.tenantId = tenantId
        self.key = key
    }
}

/// Delivers live events to connected dashboards (Socket.io in production).
///
/// - **Best effort, at-most-once:** a connection that is slow or gone may miss messages; `broadcast`
///   never blocks on one slow receiver and never throws for delivery failures.
/// - **Rooms:** a message reaches every connection joined to the room at the time of the call. A gateway that
///   fans out across instances through a shared log evaluates rooms at delivery, where the connection is: a
///   connection joining just after the call may receive it too.
/// - **Tenant isolation:** a message never reaches a connection of another tenant than `message.tenantId`.
/// - **Ordering:** messages to the same connection arrive in call order.
public protocol PushGateway: Sendable {
    func broadcast(_ message: PushMessage, to room: Room) async

    /// Delivers `message` once to every connection joined to any of `rooms` (a connection in two of them
    /// receives it once). The default implementation broadcasts to each room in turn, which delivers it
    /// once per room; gateways that can, deliver once to the union.
    func broadcast(_ message: PushMessage, to rooms: [Room]) async
}

extension PushGateway {
    public func broadcast(_ message: PushMessage, to rooms: [Room]) async {
        for room in rooms { await broadcast(message, to: room) }
    }
}
