/// When to alert dispatchers, and how not to alert them twice.
///
/// Conditions (overspeed, low battery, late for a window, device alarm, stale device) are raised once: the kind goes
/// into `DriverSnapshot.activeAlerts` and stays there until the condition ends, which clears it silently so the next
/// occurrence alerts again. Overspeed and low battery clear only past a margin, so a value hovering at the
/// threshold does not alert on every other fix. Geofence enter/exit are not conditions: one alert per transition.
public struct AlertPolicy: Sendable, Hashable {
    /// Overspeed above this speed for the driver's vehicle; a type without a limit never alerts.
    public var speedLimitsKmh: [VehicleType: Double] = AlertPolicy.defaultSpeedLimitsKmh
    /// Low battery below this level.
    public var lowBatteryPercent: Double = 20
    /// A driver without a fix for this long is marked offline (see `staleCheck`).
    public var staleAfter: Duration = .seconds(300)
    /// An overspeed alert clears once the speed is at or below limit − margin.
    public var overspeedClearMarginKmh: Double = 5
    /// A low-battery alert clears once the level is at or above threshold + margin.
    public var lowBatteryClearMarginPercent: Double = 5

    /// Bicycle 35, motorcycle 110, car 130, van 110, truck 90 km/h.
    public static let defaultSpeedLimitsKmh: [VehicleType: Double] = [
        .bicycle: 35, .motorcycle: 110, .car: 130, .van: 110, .truck: 90,
    ]

    public init(
        speedLimitsKmh: [VehicleType: Double] = AlertPolicy.defaultSpeedLimitsKmh,
        lowBatteryPercent: Double = 20,
        staleAfter: Duration = .seconds(300),
        overspeedClearMarginKmh: Double = 5,
        lowBatteryClearMarginPercent: Double = 5
    ) {
        self.speedLimitsKmh = speedLimitsKmh
        self.lowBatteryPercent = lowBatteryPercent
        self.staleAfter = staleAfter
        self.overspeedClearMarginKmh = overspeedClearMarginKmh
        self.lowBatteryClearMarginPercent = lowBatteryClearMarginPercent
    }

    // MARK: Conditions

    /// `speedKmh` above the vehicle's limit; value = the speed.
    public func overspeed(_ raw: RawPosition, vehicleType: VehicleType, active: inout Set<AlertKind>) -> Alert? {
        guard let limit = speedLimitsKmh[vehicleType] else {
            active.remove(.overspeed)
            return nil
        }
        let speed = raw.speedKmh
        let raise = speed > limit
        let clear = speed <= limit - overspeedClearMarginKmh
        return update(.overspeed, raise: raise, clear: clear, active: &active) {
            let message = "speed \(whole(speed)) km/h over the \(whole(limit)) km/h limit for a \(vehicleType.rawValue)"
            return Alert(
                kind: .overspeed,
                tenantId: raw.tenantId,
                driverId: raw.driverId,
                at: raw.fixTime,
                message: message,
                value: speed
            )
        }
    }

    /// Battery below `lowBatteryPercent`; value = the level. A fix without a level changes nothing.
    public func lowBattery(_ raw: RawPosition, active: inout Set<AlertKind>) -> Alert? {
        guard let level = raw.batteryLevel else { return nil }
        let raise = level < lowBatteryPercent
        let clear = level >= lowBatteryPercent + lowBatteryClearMarginPercent
        return update(.lowBattery, raise: raise, clear: clear, active: &active) {
            Alert(
                kind: .lowBattery,
                tenantId: raw.tenantId,
                driverId: raw.driverId,
                at: raw.fixTime,
                message: "battery at \(whole(level)) %",
                value: level
            )
        }
    }

    /// Some remaining stop is estimated after its window; `firstLateStop` (nil when none is late) names the visit and
    /// `minutesLate` becomes the value.
    public func lateForWindow(
        _ raw: RawPosition,
        firstLateStop: StopETA?,
        minutesLate: Double? = nil,
        active: inout Set<AlertKind>
    ) -> Alert? {
        let late = firstLateStop != nil
        return update(.lateForTimeWindow, raise: late, clear: !late, active: &active) {
            let by = minutesLate.map { " by \(whole($0)) min" } ?? ""
            return Alert(
                kind: .lateForTimeWindow,
                tenantId: raw.tenantId,
                driverId: raw.driverId,
                at: raw.fixTime,
                message: "expected after the end of a time window\(by)",
                value: minutesLate,
                visitId: firstLateStop?.visitId,
                customerId: firstLateStop?.customerId
            )
        }
    }

    /// The device reports Traccar's `alarm` attribute (SOS, tampering...); clears when a fix comes without one.
    public func alarm(_ raw: RawPosition, active: inout Set<AlertKind>) -> Alert? {
        let alarm = raw.alarm.flatMap { $0.isEmpty ? nil : $0 }
        return update(.alarm, raise: alarm != nil, clear: alarm == nil, active: &active) {
            Alert(
                kind: .alarm,
                tenantId: raw.tenantId,
                driverId: raw.driverId,
                at: raw.fixTime,
                message: "device alarm: \(alarm ?? "")"
            )
        }
    }

    /// The alert accompanying a geofence arrival (`geofence_enter`) or departure (`geofence_exit`).
    public func geofence(
        _ transition: GeofenceTransition,
        customerId: CustomerID?,
        tenantId: TenantID,
        driverId: DriverID,
        at: Timestamp
    ) -> Alert {
        switch transition {
        case .arrived(let visitId):
            Alert(
                kind: .geofenceEnter,
                tenantId: tenantId,
                driverId: driverId,
                at: at,
                message: "arrived at customer",
                visitId: visitId,
                customerId: customerId
            )
        case .departed(let visitId):
            Alert(
                kind: .geofenceExit,
                tenantId: tenantId,
                driverId: driverId,
                at: at,
                message: "left customer",
                visitId: visitId,
                customerId: customerId
            )
        }
    }

    // MARK: Staleness

    /// Marks the driver offline once no fix arrived for `staleAfter` (`now - fixTime >= staleAfter`): activity
    /// `offline`, `deviceStale` active, a `DriverEvent(.offline)` and an `Alert(.deviceStale)` (value = minutes since
    /// the last fix). Returns the snapshot unchanged and no events when not stale or already offline. The next fix
    /// brings the driver back online (`Enricher`).
    public func staleCheck(snapshot: DriverSnapshot, now: Timestamp) -> (DriverSnapshot, [DomainEvent]) {
        let silence = now - snapshot.position.fixTime
        guard silence >= staleAfter, snapshot.position.activity != .offline,
            !snapshot.activeAlerts.contains(.deviceStale)
        else { return (snapshot, []) }
        var updated = snapshot
        updated.position.activity = .offline
        updated.activeAlerts.insert(.deviceStale)
        let minutes = silence.secondsValue / 60
        return (
            updated,
            [
                .driver(
                    DriverEvent(
                        kind: .offline,
                        tenantId: snapshot.tenantId,
                        driverId: snapshot.driverId,
                        at: now,
                        detail: "no position for \(whole(minutes)) min"
                    )
                ),
                .alert(
                    Alert(
                        kind: .deviceStale,
                        tenantId: snapshot.tenantId,
                        driverId: snapshot.driverId,
                        at: now,
                        message: "no position for \(whole(minutes)) min",
                        value: minutes
                    )
                ),
            ]
        )
    }

    // MARK: Helpers

    /// Raises `kind` when `raise` and not yet active; clears it (silently) when `clear`.
    private func update(
        _ kind: AlertKind,
        raise: Bool,
        clear: Bool,
        active: inout Set<AlertKind>,
        make: () -> Alert
    ) -> Alert? {
        if raise {
            guard active.insert(kind).inserted else { return nil }
            return make()
        }
        if clear { active.remove(kind) }
        return nil
    }
}

/// `value` rounded to a whole number, as text (no Foundation formatting in the domain).
private func whole(_ value: Double) -> String {
    guard value.isFinite, value.magnitude < 1e15 else { return "\(value)" }
    return String(Int64(value.rounded()))
}
