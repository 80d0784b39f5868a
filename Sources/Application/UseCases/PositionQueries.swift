public import Domain

/// Reads of live and historical positions (REST and the Socket.io gateway's acks).
public struct PositionQueries: Sendable {
    public static let defaultMaxPoints = 2_000
    public static let maxPointsLimit = 10_000

    let fleet: any FleetStore
    let latest: any LatestPositionCache
    let history: any HistoryStore

    public init(fleet: any FleetStore, latest: any LatestPositionCache, history: any HistoryStore) {
        self.fleet = fleet
        self.latest = latest
        self.history = history
    }

    /// The latest enriched position: cache first, then the fleet store's snapshot.
    public func latest(driverId: DriverID, as principal: Principal) async throws -> EnrichedPosition {
        let driver = try await visibleDriver(driverId, principal)
        if let cached = try? await latest.latest(driverId: driver.id, tenantId: driver.tenantId) { return cached }
        guard let snapshot = try await fleet.snapshot(driverId: driver.id, tenantId: driver.tenantId) else {
            throw UseCaseError(.notFound, "driver \(driverId) has no position yet")
        }
        return snapshot.position
    }

    /// A downsampled track for playback.
    public func history(
        driverId: DriverID,
        from: Timestamp,
        to: Timestamp,
        maxPoints: Int,
        as principal: Principal
    ) async throws -> [HistoryPoint] {
        guard from <= to else { throw UseCaseError(.invalid, "from must not be after to", field: "from") }
        guard (2...Self.maxPointsLimit).contains(maxPoints) else {
            throw UseCaseError(.invalid, "maxPoints must be between 2 and \(Self.maxPointsLimit)", field: "maxPoints")
        }
        let driver = try await visibleDriver(driverId, principal)
        return try await history.routeHistory(
            driverId: driver.id,
            tenantId: driver.tenantId,
            from: from,
            to: to,
            maxPoints: maxPoints
        )
    }

    /// Daily statistics of a driver.
    public func stats(
        driverId: DriverID,
        from: CalendarDate,
        to: CalendarDate,
        as principal: Principal
    ) async throws -> [DriverDailyStats] {
        guard from <= to else { throw UseCaseError(.invalid, "from must not be after to", field: "from") }
        let driver = try await visibleDriver(driverId, principal)
        return try await history.driverStats(driverId: driver.id, tenantId: driver.tenantId, from: from, to: to)
    }

    /// Daily visit KPIs of the caller's tenant.
    public func visitPerformance(
        from: CalendarDate,
        to: CalendarDate,
        as principal: Principal
    ) async throws
        -> [VisitPerformanceDaily]
    {
        try authorize { () throws(AccessDenied) in try AccessPolicy.read(principal, tenant: principal.tenantId) }
        return try await history.visitPerformance(tenantId: principal.tenantId, from: from, to: to)
    }

    /// A dashboard's initial state: the latest position of every driver of the principal's tenant as a JSON array
    /// ordered by driver id, the newer of the cache's entry and the fleet store's snapshot (a tie goes to the
    /// snapshot). Built from the cache's stored JSON without decoding it (for a tenant's 1,000 positions, decoding
    /// and re-encoding was most of the time); only snapshots are encoded.
    public func initialStateJSON(as principal: Principal) async throws -> [UInt8] {
        try authorize { () throws(AccessDenied) in try AccessPolicy.subscribe(principal, tenant: principal.tenantId) }
        var byDriver: [DriverID: EncodedPosition] = [:]
        for cached in (try? await latest.allEncoded(tenantId: principal.tenantId)) ?? [] {
            byDriver[cached.driverId] = cached
        }
        for snapshot in try await fleet.snapshots(tenantId: principal.tenantId) {
            let position = snapshot.position
            if let cached = byDriver[snapshot.driverId], cached.fixTime > position.fixTime { continue }
            byDriver[snapshot.driverId] = EncodedPosition(
                driverId: position.driverId,
                fixTime: position.fixTime,
                json: try JSONPayload.encode(position)
            )
        }
        let ordered = byDriver.values.sorted { $0.driverId < $1.driverId }
        var array: [UInt8] = [UInt8(ascii: "[")]
        array.reserveCapacity(ordered.reduce(2) { $0 + $1.json.count + 1 })
        for (index, entry) in ordered.enumerated() {
            if index > 0 { array.append(UInt8(ascii: ",")) }
            array.append(contentsOf: entry.json)
        }
        array.append(UInt8(ascii: "]"))
        return array
    }

    private func visibleDriver(_ id: DriverID, _ principal: Principal) async throws -> Driver {
        try authorize { () throws(AccessDenied) in try AccessPolicy.read(principal, tenant: principal.tenantId) }
        guard let driver = try await fleet.driver(id, tenantId: principal.tenantId) else {
            throw UseCaseError(.notFound, "no driver \(id)")
        }
        if principal.role == .driver, principal.subject != driver.id.rawValue {
            throw UseCaseError(.forbidden, "a driver may only read their own positions")
        }
        return driver
    }
}
