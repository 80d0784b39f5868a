public import Domain

/// One point of a driver's recorded track (route playback).
public struct HistoryPoint: Hashable, Sendable, Codable {
    public var fixTime: Timestamp
    public var latitude: Double
    public var longitude: Double
    public var speedKmh: Double
    public var heading: Double
    public var routeId: RouteID?
    public var visitId: VisitID?

    public init(
        fixTime: Timestamp,
        latitude: Double,
        longitude: Double,
        speedKmh: Double,
        heading: Double,
        routeId: RouteID? = nil,
        visitId: VisitID? = nil
    ) {
        self.fixTime = fixTime
        self.latitude = latitude
        self.longitude = longitude
        self.speedKmh = speedKmh
        self.heading = heading
        self.routeId = routeId
        self.visitId = visitId
    }
}

/// A closed visit, for analytics (spec §5.2 `visit_completions`).
public struct VisitCompletionRecord: Hashable, Sendable, Codable {
    public var visitId: VisitID
    public var tenantId: TenantID
    public var driverId: DriverID
    public var routeId: RouteID
    public var customerId: CustomerID
    /// completed, failed or skipped.
    public var status: VisitStatus
    public var arrivedAt: Timestamp?
    public var closedAt: Timestamp
    /// Whether the driver arrived within the time window (true when there was no window).
    public var onTime: Bool

    public init(
        visitId: VisitID,
        tenantId: TenantID,
        driverId: DriverID,
        routeId: RouteID,
        customerId: CustomerID,
        status: VisitStatus,
        arrivedAt: Timestamp?,
        closedAt: Timestamp,
        onTime: Bool
    ) {
        self.visitId = visitId
        self.tenantId = tenantId
        self.driverId = driverId
        self.routeId = routeId
        self.customerId = customerId
        self.status = status
        self.arrivedAt = arrivedAt
        self.closedAt = closedAt
        self.onTime = onTime
    }

    /// Time on site, arrival to close, when both are known.
    public var durationSeconds: Double? { arrivedAt.map { (closedAt - $0).secondsValue } }
}

/// Daily statistics of one driver (spec §5.2 `driver_daily_stats`).
public struct DriverDailyStats: Hashable, Sendable, Codable {
    public var driverId: DriverID
    public var tenantId: TenantID
    public var date: CalendarDate
    public var positions: Int
    public var avgSpeedKmh: Double
    public var maxSpeedKmh: Double
    /// Share of positions with speed ≥ 3 km/h, 0–100.
    public var movingPercentage: Double
    /// Visits closed (completed, failed or skipped) that day.
    public var visitsCount: Int

    public init(
        driverId: DriverID,
        tenantId: TenantID,
        date: CalendarDate,
        positions: Int,
        avgSpeedKmh: Double,
        maxSpeedKmh: Double,
        movingPercentage: Double,
        visitsCount: Int
    ) {
        self.driverId = driverId
        self.tenantId = tenantId
        self.date = date
        self.positions = positions
        self.avgSpeedKmh = avgSpeedKmh
        self.maxSpeedKmh = maxSpeedKmh
        self.movingPercentage = movingPercentage
        self.visitsCount = visitsCount
    }
}

/// Daily visit KPIs of a tenant (spec §5.2 `visit_performance_daily`).
public struct VisitPerformanceDaily: Hashable, Sendable, Codable {
    public var tenantId: TenantID
    public var date: CalendarDate
    public var total: Int
    public var completed: Int
    public var failed: Int
    public var onTime: Int
    /// Mean time on site of visits with an arrival, seconds; nil when none.
    public var avgDurationSeconds: Double?

    public init(
        tenantId: TenantID,
        date: CalendarDate,
        total: Int,
        completed: Int,
        failed: Int,
        onTime: Int,
        avgDurationSeconds: Double?
    ) {
        self.tenantId = tenantId
        self.date = date
        self.total = total
        self.completed = completed
        self.failed = failed
        self.onTime = onTime
        self.avgDurationSeconds = avgDurationSeconds
    }
}

/// Time-series history of enriched positions and closed visits (TimescaleDB in production).
///
/// - **Idempotent append:** `(driverId, fixTime)` identifies a position; appending it again is a no-op
///   (Traccar retries; the bus redelivers). Likewise `visitId` for completions.
/// - **Ordering:** reads return points ordered by fix time regardless of append order.
/// - **Downsampling:** `routeHistory` returns at most `maxPoints` points spanning the range, always keeping
///   the first and last point of the range.
/// - **Rollups:** `driverStats` and `visitPerformance` reflect every append and completion that returned,
///   grouped by UTC day of fix time / close time; dates in `from...to` with no data are omitted.
/// - **Retention:** `prune` deletes positions and completions older than the cutoff, returning the count.
/// - **Tenancy:** reads take the tenant and never return another tenant's data.
public protocol HistoryStore: Sendable {
    func append(_ positions: [EnrichedPosition]) async throws
    func routeHistory(
        driverId: DriverID,
        tenantId: TenantID,
        from: Timestamp,
        to: Timestamp,
        maxPoints: Int
    ) async throws -> [HistoryPoint]
    func recordVisitCompletion(_ record: VisitCompletionRecord) async throws
    func driverStats(
        driverId: DriverID,
        tenantId: TenantID,
        from: CalendarDate,
        to: CalendarDate
    ) async throws -> [DriverDailyStats]
    func visitPerformance(
        tenantId: TenantID,
        from: CalendarDate,
        to: CalendarDate
    ) async throws
        -> [VisitPerformanceDaily]
    @discardableResult
    func prune(olderThan cutoff: Timestamp) async throws -> Int
}
