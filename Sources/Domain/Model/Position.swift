/// A GPS fix as received from Traccar, after the device was matched to a driver.
///
/// Units are the domain's: km/h (Traccar sends knots; the HTTP adapter converts), degrees, metres.
/// `(deviceId, fixTime)` is the idempotency key: Traccar always sends `position.id = 0`.
public struct RawPosition: Hashable, Sendable, Codable {
    public var tenantId: TenantID
    public var driverId: DriverID
    public var deviceId: DeviceID
    public var fixTime: Timestamp
    public var serverTime: Timestamp?
    public var latitude: Double
    public var longitude: Double
    public var altitude: Double?
    public var speedKmh: Double
    /// Heading in degrees, 0–360.
    public var course: Double
    public var accuracy: Double?
    public var valid: Bool
    /// Percent, 0–100, when the device reports it.
    public var batteryLevel: Double?
    public var ignition: Bool?
    public var motion: Bool?
    /// Traccar's `alarm` attribute (`sos`, `overspeed`, ... possibly comma-joined).
    public var alarm: String?
    public var protocolName: String?

    public init(
        tenantId: TenantID,
        driverId: DriverID,
        deviceId: DeviceID,
        fixTime: Timestamp,
        serverTime: Timestamp? = nil,
        latitude: Double,
        longitude: Double,
        altitude: Double? = nil,
        speedKmh: Double,
        course: Double = 0,
        accuracy: Double? = nil,
        valid: Bool = true,
        batteryLevel: Double? = nil,
        ignition: Bool? = nil,
        motion: Bool? = nil,
        alarm: String? = nil,
        protocolName: String? = nil
    ) {
        self.tenantId = tenantId
        self.driverId = driverId
        self.deviceId = deviceId
        self.fixTime = fixTime
        self.serverTime = serverTime
        self.latitude = latitude
        self.longitude = longitude
        self.altitude = altitude
        self.speedKmh = speedKmh
        self.course = course
        self.accuracy = accuracy
        self.valid = valid
        self.batteryLevel = batteryLevel
        self.ignition = ignition
        self.motion = motion
        self.alarm = alarm
        self.protocolName = protocolName
    }

    public var coordinate: Coordinate { Coordinate(latitude: latitude, longitude: longitude) }
}

/// What the driver is doing, as the dashboard colours it.
public enum DriverActivity: String, Hashable, Sendable, Codable, CaseIterable {
    case moving, stopped
    case atCustomer = "at_customer"
    case offline
}

/// The estimate for one remaining stop of the active route.
public struct StopETA: Hashable, Sendable, Codable {
    public var visitId: VisitID
    public var customerId: CustomerID
    public var sequenceNumber: Int
    public var eta: Timestamp
    public var late: Bool

    public init(visitId: VisitID, customerId: CustomerID, sequenceNumber: Int, eta: Timestamp, late: Bool) {
        self.visitId = visitId
        self.customerId = customerId
        self.sequenceNumber = sequenceNumber
        self.eta = eta
        self.late = late
    }
}

/// A position joined with its business context: the route, the next visit, distance and ETA.
public struct EnrichedPosition: Hashable, Sendable, Codable {
    public var tenantId: TenantID
    public var driverId: DriverID
    public var deviceId: DeviceID
    public var driverName: String
    public var fixTime: Timestamp
    public var latitude: Double
    public var longitude: Double
    public var speedKmh: Double
    /// EWMA-smoothed moving speed used for ETAs.
    public var smoothedSpeedKmh: Double
    public var heading: Double
    public var batteryLevel: Double?
    public var ignition: Bool?
    public var activity: DriverActivity
    public var routeId: RouteID?
    /// The visit the driver is at (arrived or in progress), if any.
    public var currentVisitId: VisitID?
    public var nextVisitId: VisitID?
    public var nextCustomerId: CustomerID?
    public var nextCustomerName: String?
    public var distanceToNextMeters: Double?
    public var etaToNext: Timestamp?
    /// True when the ETA to some remaining stop passes the end of its time window.
    public var late: Bool
    public var completedStops: Int
    public var totalStops: Int
    public var remainingStops: [StopETA]

    public init(
        tenantId: TenantID,
        driverId: DriverID,
        deviceId: DeviceID,
        driverName: String,
        fixTime: Timestamp,
        latitude: Double,
        longitude: Double,
        speedKmh: Double,
        smoothedSpeedKmh: Double,
        heading: Double,
        batteryLevel: Double? = nil,
        ignition: Bool? = nil,
        activity: DriverActivity,
        routeId: RouteID? = nil,
        currentVisitId: VisitID? = nil,
        nextVisitId: VisitID? = nil,
        nextCustomerId: CustomerID? = nil,
        nextCustomerName: String? = nil,
        distanceToNextMeters: Double? = nil,
        etaToNext: Timestamp? = nil,
        late: Bool = false,
        completedStops: Int = 0,
        totalStops: Int = 0,
        remainingStops: [StopETA] = []
    ) {
        self.tenantId = tenantId
        self.driverId = driverId
        self.deviceId = deviceId
        self.driverName = driverName
        self.fixTime = fixTime
        self.latitude = latitude
        self.longitude = longitude
        self.speedKmh = speedKmh
        self.smoothedSpeedKmh = smoothedSpeedKmh
        self.heading = heading
        self.batteryLevel = batteryLevel
        self.ignition = ignition
        self.activity = activity
        self.routeId = routeId
        self.currentVisitId = currentVisitId
        self.nextVisitId = nextVisitId
        self.nextCustomerId = nextCustomerId
        self.nextCustomerName = nextCustomerName
        self.distanceToNextMeters = distanceToNextMeters
        self.etaToNext = etaToNext
        self.late = late
        self.completedStops = completedStops
        self.totalStops = totalStops
        self.remainingStops = remainingStops
    }

    public var coordinate: Coordinate { Coordinate(latitude: latitude, longitude: longitude) }
}

/// Where the geofence detector stands for one driver (persisted with the snapshot so a restart
/// or another instance continues the dwell count instead of starting over).
public enum GeofencePhase: Hashable, Sendable, Codable {
    /// Not near any pending visit.
    case outside
    /// Inside the radius of `visitId` since `since`; arrival once the dwell time has passed.
    case entering(visitId: VisitID, since: Timestamp)
    /// Arrived at `visitId` (the visit is arrived or in progress).
    case inside(visitId: VisitID)
    /// Outside radius × hysteresis of `visitId` since `since`; departure once the dwell time has passed.
    case leaving(visitId: VisitID, since: Timestamp)
}

/// The latest state per driver (spec §5.1 `driver_positions`, plus the detector state).
public struct DriverSnapshot: Hashable, Sendable, Codable {
    public var position: EnrichedPosition
    public var geofence: GeofencePhase
    /// Fix times of the alerts already raised, so a condition alerts once, not on every fix.
    public var activeAlerts: Set<AlertKind>

    public init(position: EnrichedPosition, geofence: GeofencePhase = .outside, activeAlerts: Set<AlertKind> = []) {
        self.position = position
        self.geofence = geofence
        self.activeAlerts = activeAlerts
    }

    public var driverId: DriverID { position.driverId }
    public var tenantId: TenantID { position.tenantId }
}
