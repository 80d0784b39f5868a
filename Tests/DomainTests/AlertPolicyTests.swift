import Domain
import Testing

@Suite("Alert policy")
struct AlertPolicyTests {
    static let policy = AlertPolicy()

    /// Feeds values in order and returns which fixes raised an alert.
    static func raised<T>(_ values: [T], _ check: (T, inout Set<AlertKind>) -> Alert?) -> [Bool] {
        var active: Set<AlertKind> = []
        return values.map { check($0, &active) != nil }
    }

    /// Overspeed alerts once per episode, clears only 5 km/h under the limit, and re-raises on the next episode.
    @Test func overspeedOncePerEpisode() {
        let speeds: [Double] = [100, 120, 130, 107, 125, 104, 115, 111]
        let raised = Self.raised(speeds) { speed, active in
            Self.policy.overspeed(
                Fixture.raw(Fixture.depot, at: Fixture.t0, speedKmh: speed),
                vehicleType: .van,
                active: &active
            )
        }
        #expect(raised == [false, true, false, false, false, false, true, false])
    }

    /// Each vehicle type has its own limit; exactly at the limit is fine.
    @Test(arguments: [(VehicleType.bicycle, 35.0), (.motorcycle, 110), (.car, 130), (.van, 110), (.truck, 90)])
    func limits(vehicle: VehicleType, limit: Double) {
        var active: Set<AlertKind> = []
        let at = Self.policy.overspeed(
            Fixture.raw(Fixture.depot, at: Fixture.t0, speedKmh: limit),
            vehicleType: vehicle,
            active: &active
        )
        #expect(at == nil)
        let over = Self.policy.overspeed(
            Fixture.raw(Fixture.depot, at: Fixture.t0, speedKmh: limit + 0.1),
            vehicleType: vehicle,
            active: &active
        )
        #expect(over?.kind == .overspeed)
        #expect(over?.value == limit + 0.1)
        #expect(active == [.overspeed])
    }

    /// A vehicle type without a configured limit never alerts.
    @Test func noLimitNoAlert() {
        let policy = AlertPolicy(speedLimitsKmh: [:])
        var active: Set<AlertKind> = [.overspeed]
        let alert = policy.overspeed(
            Fixture.raw(Fixture.depot, at: Fixture.t0, speedKmh: 300),
            vehicleType: .car,
            active: &active
        )
        #expect(alert == nil && active.isEmpty)
    }

    /// Low battery alerts once below 20 %, ignores fixes without a level, clears at 25 % and re-raises.
    @Test func lowBatteryOncePerEpisode() {
        let levels: [Double?] = [50, 19, 15, nil, 22, 25, 10]
        var active: Set<AlertKind> = []
        let raised = levels.map { level in
            Self.policy.lowBattery(Fixture.raw(Fixture.depot, at: Fixture.t0, battery: level), active: &active) != nil
        }
        #expect(raised == [false, true, false, false, false, false, true])
    }

    /// Late-for-window alerts once while some stop is late, names it, and re-raises after clearing.
    @Test func lateOncePerEpisode() throws {
        let late = StopETA(visitId: "v2", customerId: "c2", sequenceNumber: 2, eta: Fixture.at(600), late: true)
        var active: Set<AlertKind> = []
        let raw = Fixture.raw(Fixture.depot, at: Fixture.t0)
        let first = try #require(
            Self.policy.lateForWindow(raw, firstLateStop: late, minutesLate: 12.4, active: &active)
        )
        #expect(first.visitId == "v2" && first.customerId == "c2" && first.value == 12.4)
        #expect(first.message.contains("12 min"))
        #expect(Self.policy.lateForWindow(raw, firstLateStop: late, active: &active) == nil)
        #expect(Self.policy.lateForWindow(raw, firstLateStop: nil, active: &active) == nil)
        #expect(active.isEmpty)
        #expect(Self.policy.lateForWindow(raw, firstLateStop: late, active: &active) != nil)
    }

    /// A device alarm alerts once while reported; an empty alarm counts as none.
    @Test func alarmOncePerEpisode() {
        let alarms: [String?] = ["sos", "sos", nil, "", "sos"]
        let raised = Self.raised(alarms) { alarm, active in
            Self.policy.alarm(Fixture.raw(Fixture.depot, at: Fixture.t0, alarm: alarm), active: &active)
        }
        #expect(raised == [true, false, false, false, true])
    }

    /// Geofence transitions map to enter/exit alerts carrying the visit and customer.
    @Test func geofenceAlerts() {
        let enter = Self.policy.geofence(
            .arrived("v1"),
            customerId: "c1",
            tenantId: Fixture.tenant,
            driverId: Fixture.driverId,
            at: Fixture.t0
        )
        let exit = Self.policy.geofence(
            .departed("v1"),
            customerId: "c1",
            tenantId: Fixture.tenant,
            driverId: Fixture.driverId,
            at: Fixture.t0
        )
        #expect(enter.kind == .geofenceEnter && exit.kind == .geofenceExit)
        #expect(enter.visitId == "v1" && exit.customerId == "c1")
    }

    /// Staleness marks the driver offline once, after exactly `staleAfter` without a fix.
    @Test func staleOnce() throws {
        let snapshot = Fixture.snapshot(at: Fixture.t0, activeAlerts: [.lowBattery])
        let (fresh, none) = Self.policy.staleCheck(snapshot: snapshot, now: Fixture.at(299.999))
        #expect(fresh == snapshot && none.isEmpty)

        let (stale, events) = Self.policy.staleCheck(snapshot: snapshot, now: Fixture.at(300))
        #expect(stale.position.activity == .offline)
        #expect(stale.activeAlerts == [.lowBattery, .deviceStale])
        #expect(events.count == 2)
        let offline = try #require(events.first?.driverEvent)
        #expect(offline.kind == .offline && offline.at == Fixture.at(300))
        let alert = try #require(events.last?.alert)
        #expect(alert.kind == .deviceStale && alert.value == 5)

        let (again, more) = Self.policy.staleCheck(snapshot: stale, now: Fixture.at(900))
        #expect(again == stale && more.isEmpty)
    }

    /// Default policy values.
    @Test func defaults() {
        #expect(Self.policy.speedLimitsKmh == [.bicycle: 35, .motorcycle: 110, .car: 130, .van: 110, .truck: 90])
        #expect(Self.policy.lowBatteryPercent == 20)
        #expect(Self.policy.staleAfter == .seconds(300))
    }
}
