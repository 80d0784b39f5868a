import Domain
import Testing

/// A driver's day fed fix by fix through the enricher, keeping state the way the application does.
struct Drive {
    var enricher = Enricher()
    var driver = Fixture.driver
    var route: Route?
    var visits: [PlannedVisit]
    var customers: [CustomerID: Customer]
    var snapshot: DriverSnapshot?
    var events: [DomainEvent] = []

    init(route: Route? = Fixture.route, visits: [PlannedVisit] = [], customers: [Customer] = []) {
        self.route = route
        self.visits = visits
        self.customers = Dictionary(uniqueKeysWithValues: customers.map { ($0.id, $0) })
    }

    @discardableResult
    mutating func fix(
        _ location: Coordinate,
        at seconds: Double,
        speedKmh: Double = 36,
        battery: Double? = nil,
        valid: Bool = true
    ) -> EnrichmentOutput {
        let raw = Fixture.raw(location, at: Fixture.at(seconds), speedKmh: speedKmh, battery: battery, valid: valid)
        let output = enricher.enrich(
            EnrichmentInput(
                raw: raw,
                driver: driver,
                route: route,
                visits: visits,
                customers: customers,
                previous: snapshot
            )
        )
        if output.isLatest { snapshot = output.snapshot }
        for changed in output.changedVisits {
            visits[visits.firstIndex { $0.id == changed.id }!] = changed
        }
        if let updated = output.route { route = updated }
        events += output.events
        return output
    }

    var visitEvents: [VisitEvent] { events.compactMap(\.visitEvent) }
    var alerts: [Alert] { events.compactMap(\.alert) }
    func visit(_ id: VisitID) -> PlannedVisit? { visits.first { $0.id == id } }
}

@Suite("Enricher")
struct EnricherTests {
    static let shopLocation = Fixture.offset(Fixture.depot, 1_000)
    static let shop = Fixture.customer("c1", at: shopLocation)
    static let farLocation = Fixture.offset(Fixture.depot, 5_000, bearing: 90)
    static let far = Fixture.customer("c2", at: farLocation)

    /// Driving at 36 km/h (1 Hz) into the shop's circle, staying two minutes and driving off produces exactly one
    /// arrival (30 s after entering) and one departure (30 s after leaving the 125 m ring).
    @Test func approachDwellAndLeave() throws {
        var drive = Drive(
            visits: [
                Fixture.visit("v1", customer: "c1", sequence: 1),
                Fixture.visit("v2", customer: "c2", sequence: 2),
            ],
            customers: [Self.shop, Self.far]
        )
        // Approach: 995 m south of the shop at t = 0, 10 m/s; inside (95 m) from t = 90, stopped at t = 100.
        for t in 0...100 {
            drive.fix(Fixture.offset(Self.shopLocation, Double(max(0, 995 - 10 * t)), bearing: 180), at: Double(t))
        }
        #expect(drive.visit("v1")?.status == .pending)
        for t in 101...220 {
            let out = drive.fix(Self.shopLocation, at: Double(t), speedKmh: 0)
            if t == 120 {
                #expect(out.changedVisits.map(\.id) == ["v1"])
                #expect(out.route?.status == .inProgress)
                #expect(out.position.activity == .atCustomer)
                #expect(out.position.currentVisitId == "v1")
                #expect(out.position.nextVisitId == "v2")
                #expect(out.position.remainingStops.map(\.visitId) == ["v1", "v2"])
                #expect(out.position.remainingStops.first?.eta == Fixture.at(120))
                #expect(out.position.etaToNext == out.position.remainingStops.last?.eta)
            }
            if t == 150 { #expect(out.route == nil && out.changedVisits.isEmpty && out.events.isEmpty) }
        }
        // Leave northwards at 10 m/s: beyond 125 m from t = 233, departure at t = 263.
        for t in 221...320 {
            let out = drive.fix(Fixture.offset(Self.shopLocation, Double(10 * (t - 220))), at: Double(t))
            if t == 262 { #expect(out.snapshot.geofence == .leaving(visitId: "v1", since: Fixture.at(233))) }
            if t == 263 {
                #expect(out.changedVisits.first?.departedAt == Fixture.at(263))
                #expect(out.position.activity == .moving)
                #expect(out.position.currentVisitId == nil)
            }
        }

        #expect(drive.visitEvents.map(\.kind) == [.arrived, .departed])
        #expect(drive.visitEvents.map(\.at) == [Fixture.at(120), Fixture.at(263)])
        #expect(drive.visitEvents.allSatisfy { $0.visitId == "v1" && !$0.outOfSequence && $0.status == .arrived })
        #expect(drive.alerts.map(\.kind) == [.geofenceEnter, .geofenceExit])
        #expect(drive.events.compactMap(\.driverEvent).map(\.kind) == [.online])
        let visit = try #require(drive.visit("v1"))
        #expect(visit.arrivedAt == Fixture.at(120) && visit.departedAt == Fixture.at(263))
        #expect(drive.snapshot?.geofence == .outside)
    }

    /// Next-visit context: distance, ETA, counts and the customer's name.
    @Test func nextVisitContext() throws {
        var drive = Drive(
            visits: [
                Fixture.visit("v2", customer: "c2", sequence: 2),
                Fixture.visit("v1", customer: "c1", sequence: 1),
                Fixture.visit("v0", customer: "c1", sequence: 0, status: .completed),
            ],
            customers: [Self.shop, Self.far]
        )
        let out = drive.fix(Fixture.depot, at: 0, speedKmh: 36)
        let position = out.position
        #expect(position.routeId == Fixture.route.id)
        #expect(position.nextVisitId == "v1" && position.nextCustomerId == "c1")
        #expect(position.nextCustomerName == "Customer c1")
        let distance = try #require(position.distanceToNextMeters)
        #expect((distance - 1_000).magnitude < 0.01)
        #expect(position.etaToNext == position.remainingStops.first?.eta)
        #expect(position.remainingStops.map(\.visitId) == ["v1", "v2"])
        #expect(position.completedStops == 1 && position.totalStops == 3)
        #expect(position.smoothedSpeedKmh == 36)
        #expect(out.route?.totalStops == 3)  // the stored route's counts were stale
        #expect(position.late == false)
    }

    /// A fix older than (or as old as) the snapshot is enriched for history but changes nothing.
    @Test(arguments: [50.0, 60])
    func outOfOrderFix(seconds: Double) {
        var drive = Drive(visits: [Fixture.visit("v1", customer: "c1", sequence: 1)], customers: [Self.shop])
        drive.fix(Fixture.depot, at: 60)
        let before = drive.snapshot
        let out = drive.fix(Self.shopLocation, at: seconds, speedKmh: 0)
        #expect(out.isLatest == false)
        #expect(out.snapshot == before)
        #expect(out.events.isEmpty && out.changedVisits.isEmpty && out.route == nil)
        #expect(out.position.fixTime == Fixture.at(seconds))
        #expect(out.position.activity == .stopped)
        #expect(out.position.nextVisitId == "v1")
    }

    /// Without a route there is no visit context, and the geofence stays outside.
    @Test func noRoute() {
        var drive = Drive(
            route: nil,
            visits: [Fixture.visit("v1", customer: "c1", sequence: 1)],
            customers: [Self.shop]
        )
        for t in 0...60 { drive.fix(Self.shopLocation, at: Double(t), speedKmh: 1) }
        let position = drive.snapshot?.position
        #expect(position?.routeId == nil && position?.nextVisitId == nil && position?.remainingStops == [])
        #expect(position?.totalStops == 0 && position?.activity == .stopped)
        #expect(drive.snapshot?.geofence == .outside)
        #expect(drive.visitEvents.isEmpty)
        #expect(drive.events.compactMap(\.driverEvent).map(\.kind) == [.online])
    }

    /// Arriving at a later stop while an earlier one is pending is allowed and flagged out of sequence.
    @Test func outOfSequenceArrival() throws {
        var drive = Drive(
            visits: [
                Fixture.visit("v1", customer: "c2", sequence: 1),
                Fixture.visit("v2", customer: "c1", sequence: 2),
            ],
            customers: [Self.shop, Self.far]
        )
        for t in 0...30 { drive.fix(Self.shopLocation, at: Double(t), speedKmh: 0) }
        let event = try #require(drive.visitEvents.first)
        #expect(drive.visitEvents.count == 1)
        #expect(event.visitId == "v2" && event.kind == .arrived && event.outOfSequence)
        #expect(drive.visit("v2")?.outOfSequence == true)
        #expect(drive.snapshot?.position.nextVisitId == "v1")
        #expect(drive.snapshot?.position.remainingStops.map(\.visitId) == ["v2", "v1"])
    }

    /// A fix after the driver went offline brings them back online and clears the stale alert.
    @Test func backOnline() {
        var drive = Drive()
        drive.snapshot = Fixture.snapshot(at: Fixture.t0, activity: .offline, activeAlerts: [.deviceStale])
        let out = drive.fix(Fixture.depot, at: 600)
        #expect(out.events.compactMap(\.driverEvent).map(\.kind) == [.online])
        #expect(out.snapshot.activeAlerts.isEmpty)
        #expect(out.snapshot.position.activity == .moving)
        let next = drive.fix(Fixture.depot, at: 601)
        #expect(next.events.isEmpty)
    }

    /// A stop whose ETA passes its window end makes the position late and alerts once.
    @Test func lateForWindow() {
        let window = TimeWindow(start: Fixture.t0, end: Fixture.at(60))
        var drive = Drive(
            visits: [Fixture.visit("v1", customer: "c2", sequence: 1, window: window)],
            customers: [Self.far]
        )
        let first = drive.fix(Fixture.depot, at: 0)
        let second = drive.fix(Fixture.depot, at: 1)
        #expect(first.position.late && second.position.late)
        #expect(drive.alerts.map(\.kind) == [.lateForTimeWindow])
        #expect(drive.alerts.first?.visitId == "v1")
    }

    /// Overspeed and low battery flow through the enricher once per episode.
    @Test func conditionAlerts() {
        var drive = Drive()
        drive.fix(Fixture.depot, at: 0, speedKmh: 130, battery: 15)
        drive.fix(Fixture.depot, at: 1, speedKmh: 131, battery: 14)
        #expect(drive.alerts.map(\.kind) == [.overspeed, .lowBattery])
        #expect(drive.snapshot?.activeAlerts == [.overspeed, .lowBattery])
    }

    /// A visit completed through the API while the driver is inside keeps the driver at the customer until they
    /// leave; the departure then raises the exit alert but no visit event.
    @Test func completedWhileInside() throws {
        var drive = Drive(visits: [Fixture.visit("v1", customer: "c1", sequence: 1)], customers: [Self.shop])
        for t in 0...30 { drive.fix(Self.shopLocation, at: Double(t), speedKmh: 0) }
        var visit = try #require(drive.visit("v1"))
        _ = try visit.apply(.start, at: Fixture.at(40))
        _ = try visit.apply(.complete(nil), at: Fixture.at(50))
        drive.visits = [visit]
        let still = drive.fix(Self.shopLocation, at: 60, speedKmh: 0)
        #expect(still.position.activity == .atCustomer)
        #expect(still.position.currentVisitId == nil)
        #expect(still.position.remainingStops.isEmpty)
        for t in 61...100 { drive.fix(Fixture.offset(Self.shopLocation, 500), at: Double(t)) }
        #expect(drive.visitEvents.map(\.kind) == [.arrived])
        #expect(drive.alerts.map(\.kind) == [.geofenceEnter, .geofenceExit])
        #expect(drive.snapshot?.geofence == .outside)
    }

    /// Fixes without a GPS lock do not count towards the dwell time.
    @Test func invalidFixesDoNotDwell() {
        var drive = Drive(visits: [Fixture.visit("v1", customer: "c1", sequence: 1)], customers: [Self.shop])
        for t in 0...60 { drive.fix(Self.shopLocation, at: Double(t), speedKmh: 0, valid: false) }
        #expect(drive.visitEvents.isEmpty)
        #expect(drive.snapshot?.geofence == .outside)
    }

    /// A visit whose customer is not loaded has no geofence, distance or ETA, but is still the next visit.
    @Test func missingCustomer() {
        var drive = Drive(
            visits: [
                Fixture.visit("v1", customer: "missing", sequence: 1),
                Fixture.visit("v2", customer: "c1", sequence: 2),
            ],
            customers: [Self.shop]
        )
        let out = drive.fix(Fixture.depot, at: 0)
        #expect(out.position.nextVisitId == "v1")
        #expect(out.position.distanceToNextMeters == nil && out.position.etaToNext == nil)
        #expect(out.position.remainingStops.map(\.visitId) == ["v2"])
    }

    /// Heading is the course folded into [0, 360).
    @Test func heading() {
        var raw = Fixture.raw(Fixture.depot, at: Fixture.t0, course: -90)
        raw.course = -90
        let out = Enricher().enrich(EnrichmentInput(raw: raw, driver: Fixture.driver))
        #expect(out.position.heading == 270)
        #expect(out.position.driverName == "Ana")
    }
}
