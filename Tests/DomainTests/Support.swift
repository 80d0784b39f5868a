import Domain

/// A tiny deterministic generator (SplitMix64) so property tests reproduce exactly from their seed.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Shared test data: one tenant, one driver, one route in Berlin.
enum Fixture {
    static let tenant: TenantID = "tenant-a"
    static let otherTenant: TenantID = "tenant-b"
    static let driverId: DriverID = "driver-1"
    static let driver = Driver(id: driverId, tenantId: tenant, deviceId: "imei-1", name: "Ana", vehicleType: .van)
    static let date = CalendarDate(year: 2025, month: 6, day: 2)
    static let route = Route(id: "route-1", tenantId: tenant, driverId: driverId, scheduledDate: date)
    /// 2025-06-02T08:00:00Z.
    static let t0 = Timestamp(millisecondsSinceEpoch: 1_748_851_200_000)
    static let depot = Coordinate(latitude: 52.520008, longitude: 13.404954)

    /// `seconds` after `t0`.
    static func at(_ seconds: Double) -> Timestamp { t0 + .milliseconds(Int64((seconds * 1000).rounded())) }

    /// The point `meters` from `origin` along `bearing`.
    static func offset(_ origin: Coordinate, _ meters: Double, bearing: Double = 0) -> Coordinate {
        Geo.destination(from: origin, bearingDegrees: bearing, distanceMeters: meters)
    }

    static func customer(_ id: CustomerID, at location: Coordinate, radius: Double = 100) -> Customer {
        Customer(
            id: id,
            tenantId: tenant,
            name: "Customer \(id.rawValue)",
            location: location,
            geofenceRadiusMeters: radius
        )
    }

    static func visit(
        _ id: VisitID,
        customer: CustomerID,
        sequence: Int,
        status: VisitStatus = .pending,
        window: TimeWindow? = nil,
        serviceSeconds: Int = 300
    ) -> PlannedVisit {
        PlannedVisit(
            id: id,
            tenantId: tenant,
            routeId: route.id,
            driverId: driverId,
            customerId: customer,
            sequenceNumber: sequence,
            scheduledDate: date,
            timeWindow: window,
            serviceDurationSeconds: serviceSeconds,
            status: status
        )
    }

    static func raw(
        _ location: Coordinate,
        at time: Timestamp,
        speedKmh: Double = 30,
        course: Double = 0,
        battery: Double? = nil,
        alarm: String? = nil,
        valid: Bool = true
    ) -> RawPosition {
        RawPosition(
            tenantId: tenant,
            driverId: driverId,
            deviceId: driver.deviceId,
            fixTime: time,
            latitude: location.latitude,
            longitude: location.longitude,
            speedKmh: speedKmh,
            course: course,
            valid: valid,
            batteryLevel: battery,
            alarm: alarm
        )
    }

    static func snapshot(
        at time: Timestamp,
        activity: DriverActivity = .moving,
        location: Coordinate = depot,
        geofence: GeofencePhase = .outside,
        activeAlerts: Set<AlertKind> = []
    ) -> DriverSnapshot {
        let position = EnrichedPosition(
            tenantId: tenant,
            driverId: driverId,
            deviceId: driver.deviceId,
            driverName: driver.name,
            fixTime: time,
            latitude: location.latitude,
            longitude: location.longitude,
            speedKmh: 30,
            smoothedSpeedKmh: 30,
            heading: 0,
            activity: activity
        )
        return DriverSnapshot(position: position, geofence: geofence, activeAlerts: activeAlerts)
    }
}

extension DomainEvent {
    var visitEvent: VisitEvent? {
        if case .visit(let event) = self { return event }
        return nil
    }

    var driverEvent: DriverEvent? {
        if case .driver(let event) = self { return event }
        return nil
    }

    var alert: Alert? {
        if case .alert(let alert) = self { return alert }
        return nil
    }
}
