/// Something that happened to a visit. Published on `visits.events` and pushed to dashboards.
public struct VisitEvent: Hashable, Sendable, Codable {
    public enum Kind: String, Hashable, Sendable, Codable, CaseIterable {
        case arrived, departed, started, completed, failed, skipped, cancelled
    }

    public var kind: Kind
    public var tenantId: TenantID
    public var visitId: VisitID
    public var routeId: RouteID
    public var driverId: DriverID
    public var customerId: CustomerID
    public var at: Timestamp
    /// The visit's status after the event.
    public var status: VisitStatus
    public var outOfSequence: Bool

    public init(
        kind: Kind,
        tenantId: TenantID,
        visitId: VisitID,
        routeId: RouteID,
        driverId: DriverID,
        customerId: CustomerID,
        at: Timestamp,
        status: VisitStatus,
        outOfSequence: Bool = false
    ) {
        self.kind = kind
        self.tenantId = tenantId
        self.visitId = visitId
        self.routeId = routeId
        self.driverId = driverId
        self.customerId = customerId
        self.at = at
        self.status = status
        self.outOfSequence = outOfSequence
    }
}

/// A change of a driver's connectivity or status.
public struct DriverEvent: Hashable, Sendable, Codable {
    public enum Kind: String, Hashable, Sendable, Codable, CaseIterable {
        case online, offline, moving, stopped, ignitionOn, ignitionOff, statusChanged
    }

    public var kind: Kind
    public var tenantId: TenantID
    public var driverId: DriverID
    public var at: Timestamp
    public var detail: String?

    public init(kind: Kind, tenantId: TenantID, driverId: DriverID, at: Timestamp, detail: String? = nil) {
        self.kind = kind
        self.tenantId = tenantId
        self.driverId = driverId
        self.at = at
        self.detail = detail
    }
}

public enum AlertKind: String, Hashable, Sendable, Codable, CaseIterable {
    case overspeed
    case lowBattery = "low_battery"
    case geofenceEnter = "geofence_enter"
    case geofenceExit = "geofence_exit"
    case lateForTimeWindow = "late_for_time_window"
    case deviceStale = "device_stale"
    case alarm
}

/// A condition a dispatcher should see.
public struct Alert: Hashable, Sendable, Codable {
    public var kind: AlertKind
    public var tenantId: TenantID
    public var driverId: DriverID
    public var at: Timestamp
    public var message: String
    /// The measured value (speed km/h, battery %, minutes late...) when there is one.
    public var value: Double?
    public var visitId: VisitID?
    public var customerId: CustomerID?

    public init(
        kind: AlertKind,
        tenantId: TenantID,
        driverId: DriverID,
        at: Timestamp,
        message: String,
        value: Double? = nil,
        visitId: VisitID? = nil,
        customerId: CustomerID? = nil
    ) {
        self.kind = kind
        self.tenantId = tenantId
        self.driverId = driverId
        self.at = at
        self.message = message
        self.value = value
        self.visitId = visitId
        self.customerId = customerId
    }
}

/// Everything the domain can announce.
public enum DomainEvent: Hashable, Sendable, Codable {
    case visit(VisitEvent)
    case driver(DriverEvent)
    case alert(Alert)

    public var tenantId: TenantID {
        switch self {
        case .visit(let e): e.tenantId
        case .driver(let e): e.tenantId
        case .alert(let a): a.tenantId
        }
    }
}
