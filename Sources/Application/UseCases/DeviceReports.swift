public import Domain

/// A position as a tracking server reports it, before it is matched to a driver: Traccar's units
/// (speed in knots). The HTTP adapter decodes Traccar's forward JSON into this.
public struct DevicePositionReport: Hashable, Sendable {
    public var deviceId: DeviceID
    public var fixTime: Timestamp
    public var serverTime: Timestamp?
    public var latitude: Double
    public var longitude: Double
    public var altitude: Double?
    public var speedKnots: Double
    public var course: Double
    public var accuracy: Double?
    public var valid: Bool
    public var batteryLevel: Double?
    public var ignition: Bool?
    public var motion: Bool?
    public var alarm: String?
    public var protocolName: String?

    public init(
        deviceId: DeviceID,
        fixTime: Timestamp,
        serverTime: Timestamp? = nil,
        latitude: Double,
        longitude: Double,
        altitude: Double? = nil,
        speedKnots: Double,
        course: Double = 0,
        accuracy: Double? = nil,
        valid: Bool = true,
        batteryLevel: Double? = nil,
        ignition: Bool? = nil,
        motion: Bool? = nil,
        alarm: String? = nil,
        protocolName: String? = nil
    ) {
        self.deviceId = deviceId
        self.fixTime = fixTime
        self.serverTime = serverTime
        self.latitude = latitude
        self.longitude = longitude
        self.altitude = altitude
        self.speedKnots = speedKnots
        self.course = course
        self.accuracy = accuracy
        self.valid = valid
        self.batteryLevel = batteryLevel
        self.ignition = ignition
        self.motion = motion
        self.alarm = alarm
        self.protocolName = protocolName
    }
}

/// A Traccar event (`deviceOnline`, `ignitionOn`, `geofenceEnter`, `alarm`, `deviceOverspeed`...).
public struct DeviceEventReport: Hashable, Sendable {
    public var deviceId: DeviceID
    /// Traccar's event type, verbatim.
    public var type: String
    public var eventTime: Timestamp
    /// Scalar attributes rendered as text (`alarm`, `speed`, `speedLimit`...).
    public var attributes: [String: String]
    public var geofenceName: String?
    public var position: DevicePositionReport?

    public init(
        deviceId: DeviceID,
        type: String,
        eventTime: Timestamp,
        attributes: [String: String] = [:],
        geofenceName: String? = nil,
        position: DevicePositionReport? = nil
    ) {
        self.deviceId = deviceId
        self.type = type
        self.eventTime = eventTime
        self.attributes = attributes
        self.geofenceName = geofenceName
        self.position = position
    }
}

/// What happened to one ingested report.
public enum IngestOutcome: Hashable, Sendable {
    /// Durably on the bus.
    case accepted(driverId: DriverID, tenantId: TenantID)
    /// No driver has this device id: acknowledged (so Traccar does not retry forever) and counted.
    case unmappedDevice
    /// Rejected by validation; nothing was published.
    case invalid(PositionValidationError)
}
