public import Domain
public import Logging

/// Spec §4.1 steps 3–4: a Traccar webhook report becomes a raw position on `gps.positions`.
///
/// Returns only after the bus confirmed durability, so the webhook's 2xx means "accepted". Devices without
/// a driver are acknowledged and counted (Traccar would otherwise retry them forever).
public struct IngestTraccar: Sendable {
    let devices: DeviceDirectory
    let bus: any EventBus
    let clock: any WallClock
    let routing: TopicRouting
    /// History's retention: a fix older than this is refused (`PositionValidator`).
    let retention: Duration
    let logger: Logger

    public init(
        fleet: any FleetStore,
        bus: any EventBus,
        clock: any WallClock,
        routing: TopicRouting = .init(),
        retention: Duration = PositionValidator.defaultRetention,
        logger: Logger
    ) {
        self.devices = DeviceDirectory(fleet: fleet, clock: clock)
        self.bus = bus
        self.clock = clock
        self.routing = routing
        self.retention = retention
        self.logger = logger
    }

    /// Validates, maps and publishes positions; one outcome per report, in order.
    public func ingest(positions reports: [DevicePositionReport]) async throws -> [IngestOutcome] {
        let now = clock.now()
        var outcomes: [IngestOutcome] = []
        outcomes.reserveCapacity(reports.count)
        var batches: [Topic: [OutgoingMessage]] = [:]
        for report in reports {
            // Validated before the device lookup, so an unmapped device's garbage is refused too; the driver's
            // ids are filled in afterwards.
            var raw = Self.rawPosition(report, tenantId: "-", driverId: "-")
            do {
                try PositionValidator.validate(raw, now: now, retention: retention)
            } catch {
                outcomes.append(.invalid(error))
                continue
            }
            guard let driver = try await devices.driver(for: report.deviceId) else {
                outcomes.append(.unmappedDevice)
                continue
            }
            raw.tenantId = driver.tenantId
            raw.driverId = driver.id
            let message = OutgoingMessage(
                key: driver.id.rawValue,
                value: try JSONPayload.encode(raw),
                headers: Headers.make(tenant: driver.tenantId, type: "position")
            )
            batches[routing.positions(for: driver.tenantId), default: []].append(message)
            outcomes.append(.accepted(driverId: driver.id, tenantId: driver.tenantId))
        }
        for (topic, messages) in batches {
            try await bus.publish(messages, to: topic)
        }
        return outcomes
    }

    /// The domain's position rules (`PositionValidator`) applied to a report; nil when it passes. The one
    /// place a webhook position is validated.
    static func validationError(
        _ report: DevicePositionReport,
        now: Timestamp,
        retention: Duration
    ) -> PositionValidationError? {
        do {
            try PositionValidator.validate(
                Self.rawPosition(report, tenantId: "-", driverId: "-"),
                now: now,
                retention: retention
            )
            return nil
        } catch {
            return error
        }
    }

    static func rawPosition(_ report: DevicePositionReport, tenantId: TenantID, driverId: DriverID) -> RawPosition {
        RawPosition(
            tenantId: tenantId,
            driverId: driverId,
            deviceId: report.deviceId,
            fixTime: report.fixTime,
            serverTime: report.serverTime,
            latitude: report.latitude,
            longitude: report.longitude,
            altitude: report.altitude,
            speedKmh: Speed.kmh(fromKnots: report.speedKnots),
            course: report.course,
            accuracy: report.accuracy,
            valid: report.valid,
            batteryLevel: report.batteryLevel,
            ignition: report.ignition,
            motion: report.motion,
            alarm: report.alarm,
            protocolName: report.protocolName
        )
    }

    /// Maps a Traccar event to a driver event or alert and publishes it on `gps.events`; an event whose
    /// position breaks the position rules is refused (`.invalid`) and nothing is published.
    public func ingest(event report: DeviceEventReport) async throws -> IngestOutcome {
        if let position = report.position,
            let error = Self.validationError(position, now: clock.now(), retention: retention)
        {
            return .invalid(error)
        }
        guard let driver = try await devices.driver(for: report.deviceId) else { return .unmappedDevice }
        let event = Self.domainEvent(for: report, driver: driver)
        let message = OutgoingMessage(
            key: driver.id.rawValue,
            value: try JSONPayload.encode(event),
            headers: Headers.make(tenant: driver.tenantId, type: report.type)
        )
        try await bus.publish([message], to: .gpsEvents)
        return .accepted(driverId: driver.id, tenantId: driver.tenantId)
    }

    static func domainEvent(for report: DeviceEventReport, driver: Driver) -> DomainEvent {
        func driverEvent(_ kind: DriverEvent.Kind) -> DomainEvent {
            .driver(
                DriverEvent(
                    kind: kind,
                    tenantId: driver.tenantId,
                    driverId: driver.id,
                    at: report.eventTime,
                    detail: report.type
                )
            )
        }
        func alert(_ kind: AlertKind, _ message: String, value: Double? = nil) -> DomainEvent {
            .alert(
                Alert(
                    kind: kind,
                    tenantId: driver.tenantId,
                    driverId: driver.id,
                    at: report.eventTime,
                    message: message,
                    value: value
                )
            )
        }
        switch report.type {
        case "deviceOnline": return driverEvent(.online)
        case "deviceOffline", "deviceUnknown", "deviceInactive": return driverEvent(.offline)
        case "deviceMoving": return driverEvent(.moving)
        case "deviceStopped": return driverEvent(.stopped)
        case "ignitionOn": return driverEvent(.ignitionOn)
        case "ignitionOff": return driverEvent(.ignitionOff)
        case "deviceOverspeed":
            let knots = report.attributes["speed"].flatMap(Double.init)
            return alert(
                .overspeed,
                "\(driver.name) over the speed limit (Traccar)",
                value: knots.map { Speed.kmh(fromKnots: $0) }
            )
        case "geofenceEnter":
            return alert(.geofenceEnter, "\(driver.name) entered \(report.geofenceName ?? "a geofence")")
        case "geofenceExit":
            return alert(.geofenceExit, "\(driver.name) left \(report.geofenceName ?? "a geofence")")
        case "alarm":
            return alert(.alarm, "\(driver.name): alarm \(report.attributes["alarm"] ?? "unknown")")
        default:
            return driverEvent(.statusChanged)
        }
    }
}

/// Device id → driver, cached for a short time so the webhook does not hit the fleet store per position.
/// Unknown devices are cached too (negative caching), so a flood from an unmapped device stays cheap.
final class DeviceDirectory: Sendable {
    private let fleet: any FleetStore
    private let clock: any WallClock
    private let ttl: Duration
    private let entries = LockedDictionary<DeviceID, (driver: Driver?, expires: Timestamp)>()

    init(fleet: any FleetStore, clock: any WallClock, ttl: Duration = .seconds(30)) {
        self.fleet = fleet
        self.clock = clock
        self.ttl = ttl
    }

    func driver(for device: DeviceID) async throws -> Driver? {
        let now = clock.now()
        if let hit = entries[device], hit.expires > now { return hit.driver }
        let driver = try await fleet.driver(deviceId: device)
        let found = driver.flatMap { $0.status == .active ? $0 : nil }
        entries.set((found, now + (found == nil ? .seconds(5) : ttl)), forKey: device, limit: 100_000)
        return found
    }
}
