import AdapterSupport
public import Application
public import Domain

/// Position history and visit completions kept in the process's memory, with the daily rollups maintained
/// as data arrives (like continuous aggregates), so statistics queries never rescan the raw points.
///
/// - Points are identified by `(tenant, driver, fixTime)` and completions by `(tenant, visitId)`; repeats
///   are ignored and not counted again.
/// - `routeHistory` takes the closed range `from...to`. When it holds more than `maxPoints` points, it keeps
///   the first and the last and one point (the middle one) of each of `maxPoints - 2` equal slices of the
///   points in between; `maxPoints == 1` yields the first point, `maxPoints <= 0` nothing.
/// - `prune` drops raw points and completions but not the rollups, which keep the statistics of pruned days
///   (as TimescaleDB's continuous aggregates do after a retention policy drops chunks).
public actor InMemoryHistoryStore: HistoryStore {
    private struct DriverDay {
        var positions = 0
        var speedSum = 0.0
        var maxSpeed = 0.0
        var moving = 0
        var visits = 0
    }

    private struct TenantDay {
        var total = 0
        var completed = 0
        var failed = 0
        var onTime = 0
        var durationSum = 0.0
        var durations = 0
    }

    /// The speed from which a position counts as moving, km/h.
    public static let movingThresholdKmh = 3.0

    /// Points per driver, ordered by fix time.
    private var tracks: [TenantKey<Driver>: [HistoryPoint]] = [:]
    private var completions: [TenantKey<PlannedVisit>: VisitCompletionRecord] = [:]
    private var driverDays: [TenantKey<Driver>: [CalendarDate: DriverDay]] = [:]
    private var tenantDays: [TenantID: [CalendarDate: TenantDay]] = [:]

    /// Creates an empty store.
    public init() {}

    /// Appends positions; a `(driverId, fixTime)` already stored is skipped.
    public func append(_ positions: [EnrichedPosition]) async throws {
        for position in positions {
            let key = TenantKey<Driver>(tenantId: position.tenantId, id: position.driverId.rawValue)
            var track = tracks.removeValue(forKey: key) ?? []
            let index = Self.firstIndex(in: track, notBefore: position.fixTime)
            if index < track.count, track[index].fixTime == position.fixTime {
                tracks[key] = track
                continue
            }
            track.insert(
                HistoryPoint(
                    fixTime: position.fixTime,
                    latitude: position.latitude,
                    longitude: position.longitude,
                    speedKmh: position.speedKmh,
                    heading: position.heading,
                    routeId: position.routeId,
                    visitId: position.currentVisitId
                ),
                at: index
            )
            tracks[key] = track

            let date = CalendarDate(containing: position.fixTime)
            var day = driverDays[key]?[date] ?? DriverDay()
            day.positions += 1
            day.speedSum += position.speedKmh
            day.maxSpeed = day.positions == 1 ? position.speedKmh : max(day.maxSpeed, position.speedKmh)
            if position.speedKmh >= Self.movingThresholdKmh { day.moving += 1 }
            driverDays[key, default: [:]][date] = day
        }
    }

    /// The index of the first point with a fix time at or after `time` (binary search).
    private static func firstIndex(in track: [HistoryPoint], notBefore time: Timestamp) -> Int {
        var low = 0
        var high = track.count
        while low < high {
            let middle = (low + high) / 2
            if track[middle].fixTime < time { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// The driver's points in `from...to`, ordered by fix time, downsampled to at most `maxPoints`.
    public func routeHistory(
        driverId: DriverID,
        tenantId: TenantID,
        from: Timestamp,
        to: Timestamp,
        maxPoints: Int
    ) async throws -> [HistoryPoint] {
        guard maxPoints > 0, from <= to,
            let track = tracks[TenantKey(tenantId: tenantId, id: driverId.rawValue)]
        else { return [] }
        let lower = Self.firstIndex(in: track, notBefore: from)
        let upper = Self.firstIndex(in: track, notBefore: to + .milliseconds(1))
        return Self.downsample(track[lower..<upper], to: maxPoints)
    }

    static func downsample(_ points: ArraySlice<HistoryPoint>, to maxPoints: Int) -> [HistoryPoint] {
        HistoryDownsampling.pickedIndices(count: points.count, maxPoints: maxPoints).map {
            points[points.startIndex + $0]
        }
    }

    /// Records a closed visit once per `(tenant, visitId)`.
    ///
    /// - Throws: `StoreError.invalidData` when the status is not completed, failed or skipped.
    public func recordVisitCompletion(_ record: VisitCompletionRecord) async throws {
        guard [.completed, .failed, .skipped].contains(record.status) else {
            throw StoreError.invalidData("a completion must be completed, failed or skipped")
        }
        let key = TenantKey<PlannedVisit>(tenantId: record.tenantId, id: record.visitId.rawValue)
        guard completions[key] == nil else { return }
        completions[key] = record

        let date = CalendarDate(containing: record.closedAt)
        driverDays[TenantKey(tenantId: record.tenantId, id: record.driverId.rawValue), default: [:]][
            date,
            default: DriverDay()
        ].visits += 1
        var day = tenantDays[record.tenantId]?[date] ?? TenantDay()
        day.total += 1
        if record.status == .completed { day.completed += 1 }
        if record.status == .failed { day.failed += 1 }
        if record.onTime { day.onTime += 1 }
        if let duration = record.durationSeconds {
            day.durationSum += duration
            day.durations += 1
        }
        tenantDays[record.tenantId, default: [:]][date] = day
    }

    /// The driver's daily statistics for the days in `from...to` that have data, ordered by date.
    public func driverStats(
        driverId: DriverID,
        tenantId: TenantID,
        from: CalendarDate,
        to: CalendarDate
    ) async throws -> [DriverDailyStats] {
        (driverDays[TenantKey(tenantId: tenantId, id: driverId.rawValue)] ?? [:])
            .filter { from <= $0.key && $0.key <= to }
            .sorted { $0.key < $1.key }
            .map { date, day in
                DriverDailyStats(
                    driverId: driverId,
                    tenantId: tenantId,
                    date: date,
                    positions: day.positions,
                    avgSpeedKmh: day.positions > 0 ? day.speedSum / Double(day.positions) : 0,
                    maxSpeedKmh: day.maxSpeed,
                    movingPercentage: day.positions > 0 ? Double(day.moving) * 100 / Double(day.positions) : 0,
                    visitsCount: day.visits
                )
            }
    }

    /// The tenant's daily visit KPIs for the days in `from...to` that have completions, ordered by date.
    public func visitPerformance(
        tenantId: TenantID,
        from: CalendarDate,
        to: CalendarDate
    ) async throws
        -> [VisitPerformanceDaily]
    {
        (tenantDays[tenantId] ?? [:])
            .filter { from <= $0.key && $0.key <= to }
            .sorted { $0.key < $1.key }
            .map { date, day in
                VisitPerformanceDaily(
                    tenantId: tenantId,
                    date: date,
                    total: day.total,
                    completed: day.completed,
                    failed: day.failed,
                    onTime: day.onTime,
                    avgDurationSeconds: day.durations > 0 ? day.durationSum / Double(day.durations) : nil
                )
            }
    }

    /// Deletes points with a fix time and completions with a close time before `cutoff`; returns how many.
    @discardableResult
    public func prune(olderThan cutoff: Timestamp) async throws -> Int {
        var removed = 0
        for key in Array(tracks.keys) {
            guard var track = tracks[key] else { continue }
            let count = Self.firstIndex(in: track, notBefore: cutoff)
            guard count > 0 else { continue }
            track.removeFirst(count)
            removed += count
            tracks[key] = track.isEmpty ? nil : track
        }
        let before = completions.count
        completions = completions.filter { $0.value.closedAt >= cutoff }
        removed += before - completions.count
        return removed
    }
}
