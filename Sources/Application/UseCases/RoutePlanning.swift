public import Domain

/// Input of one stop of `NewRoute`.
public struct NewVisit: Hashable, Sendable, Codable {
    public var id: VisitID?
    public var customerId: CustomerID
    public var sequenceNumber: Int?
    public var visitType: VisitType?
    public var timeWindow: TimeWindow?
    public var serviceDurationSeconds: Int?

    public init(
        id: VisitID? = nil,
        customerId: CustomerID,
        sequenceNumber: Int? = nil,
        visitType: VisitType? = nil,
        timeWindow: TimeWindow? = nil,
        serviceDurationSeconds: Int? = nil
    ) {
        self.id = id
        self.customerId = customerId
        self.sequenceNumber = sequenceNumber
        self.visitType = visitType
        self.timeWindow = timeWindow
        self.serviceDurationSeconds = serviceDurationSeconds
    }
}

/// Input of `RoutePlanning.create`: a route and its planned visits.
public struct NewRoute: Hashable, Sendable, Codable {
    public var id: RouteID?
    public var driverId: DriverID
    public var scheduledDate: CalendarDate
    public var visits: [NewVisit]

    public init(id: RouteID? = nil, driverId: DriverID, scheduledDate: CalendarDate, visits: [NewVisit]) {
        self.id = id
        self.driverId = driverId
        self.scheduledDate = scheduledDate
        self.visits = visits
    }
}

/// A route with its visits in sequence order.
public struct RouteDetails: Hashable, Sendable, Codable {
    public var route: Route
    public var visits: [PlannedVisit]

    public init(route: Route, visits: [PlannedVisit]) {
        self.route = route
        self.visits = visits
    }
}

/// Planned routes: create with their visits, list, read (spec §4.3 step 1).
public struct RoutePlanning: Sendable {
    public static let maxVisitsPerRoute = 500
    /// A visit's `sequenceNumber` (stored as a 32-bit integer).
    public static let sequenceNumbers: ClosedRange<Int> = 1...2_147_483_647
    /// A visit's `serviceDurationSeconds`: up to a day.
    public static let serviceDurations: ClosedRange<Int> = 0...86_400

    let fleet: any FleetStore
    let customers: CustomerDirectory
    let ids: IdentifierFactory

    public init(fleet: any FleetStore, customers: CustomerDirectory, ids: IdentifierFactory = .random) {
        self.fleet = fleet
        self.customers = customers
        self.ids = ids
    }

    public func create(_ input: NewRoute, as principal: Principal) async throws -> RouteDetails {
        try authorize { () throws(AccessDenied) in try AccessPolicy.manageFleet(principal, tenant: principal.tenantId) }
        let tenant = principal.tenantId
        guard try await fleet.driver(input.driverId, tenantId: tenant) != nil else {
            throw UseCaseError(.invalid, "no driver \(input.driverId) in this tenant", field: "driverId")
        }
        guard !input.visits.isEmpty, input.visits.count <= Self.maxVisitsPerRoute else {
            throw UseCaseError(.invalid, "a route needs 1 to \(Self.maxVisitsPerRoute) visits", field: "visits")
        }
        let routeId = input.id ?? RouteID(ids.make())
        try Validation.identifier(routeId.rawValue, field: "id")
        var visits: [PlannedVisit] = []
        var sequences: Set<Int> = []
        for (index, stop) in input.visits.enumerated() {
            let field = "visits[\(index)]"
            let sequence = stop.sequenceNumber ?? index + 1
            guard Self.sequenceNumbers.contains(sequence) else {
                throw UseCaseError(
                    .invalid,
                    "sequenceNumber must be \(Self.sequenceNumbers.lowerBound)–\(Self.sequenceNumbers.upperBound)",
                    field: "\(field).sequenceNumber"
                )
            }
            guard sequences.insert(sequence).inserted else {
                throw UseCaseError(.invalid, "duplicate sequenceNumber \(sequence)", field: "\(field).sequenceNumber")
            }
            if let window = stop.timeWindow, window.end < window.start {
                throw UseCaseError(.invalid, "time window ends before it starts", field: "\(field).timeWindow")
            }
            if let service = stop.serviceDurationSeconds, !Self.serviceDurations.contains(service) {
                throw UseCaseError(
                    .invalid,
                    "serviceDurationSeconds must be 0–86400",
                    field: "\(field).serviceDurationSeconds"
                )
            }
            guard try await customers.customer(stop.customerId, tenantId: tenant) != nil else {
                throw UseCaseError(
                    .invalid,
                    "no customer \(stop.customerId) in this tenant",
                    field: "\(field).customerId"
                )
            }
            let visitId = stop.id ?? VisitID(ids.make())
            try Validation.identifier(visitId.rawValue, field: "\(field).id")
            visits.append(
                PlannedVisit(
                    id: visitId,
                    tenantId: tenant,
                    routeId: routeId,
                    driverId: input.driverId,
                    customerId: stop.customerId,
                    sequenceNumber: sequence,
                    visitType: stop.visitType ?? .delivery,
                    scheduledDate: input.scheduledDate,
                    timeWindow: stop.timeWindow,
                    serviceDurationSeconds: stop.serviceDurationSeconds ?? 300
                )
            )
        }
        visits.sort { $0.sequenceNumber < $1.sequenceNumber }
        let route = Route(
            id: routeId,
            tenantId: tenant,
            driverId: input.driverId,
            scheduledDate: input.scheduledDate
        ).recomputed(from: visits)
        do {
            try await fleet.createRoute(route, visits: visits)
        } catch let error as StoreError where error.code == .duplicate {
            throw UseCaseError(.conflict, "route \(routeId) or one of its visit ids already exists")
        }
        return RouteDetails(route: route, visits: visits)
    }

    public func list(date: CalendarDate?, driverId: DriverID?, as principal: Principal) async throws -> [Route] {
        try authorize { () throws(AccessDenied) in try AccessPolicy.read(principal, tenant: principal.tenantId) }
        return try await fleet.routes(tenantId: principal.tenantId, date: date, driverId: driverId)
    }

    public func get(_ id: RouteID, as principal: Principal) async throws -> RouteDetails {
        try authorize { () throws(AccessDenied) in try AccessPolicy.read(principal, tenant: principal.tenantId) }
        guard let route = try await fleet.route(id, tenantId: principal.tenantId) else {
            throw UseCaseError(.notFound, "no route \(id)")
        }
        return RouteDetails(route: route, visits: try await fleet.visits(routeId: id, tenantId: principal.tenantId))
    }
}
