package import Application
package import Domain

/// The daily rollups as the history stores keep them: running sums per driver-day and per tenant-day, turned
/// into the port's statistics on read (one rule for every store that keeps sums).
extension DriverDailyStats {
    /// A driver-day from its sums: positions, speed sum, maximum speed, moving positions, closed visits.
    package init(
        driverId: DriverID,
        tenantId: TenantID,
        date: CalendarDate,
        positions: Int,
        speedSum: Double,
        maxSpeed: Double,
        moving: Int,
        visits: Int
    ) {
        self.init(
            driverId: driverId,
            tenantId: tenantId,
            date: date,
            positions: positions,
            avgSpeedKmh: positions > 0 ? speedSum / Double(positions) : 0,
            maxSpeedKmh: maxSpeed,
            movingPercentage: positions > 0 ? Double(moving) * 100 / Double(positions) : 0,
            visitsCount: visits
        )
    }
}

extension VisitPerformanceDaily {
    /// A tenant-day from its sums: visits closed, completed, failed, on time, and the time on site of those
    /// with an arrival (`durationSum` over `durations` visits).
    package init(
        tenantId: TenantID,
        date: CalendarDate,
        total: Int,
        completed: Int,
        failed: Int,
        onTime: Int,
        durationSum: Double,
        durations: Int
    ) {
        self.init(
            tenantId: tenantId,
            date: date,
            total: total,
            completed: completed,
            failed: failed,
            onTime: onTime,
            avgDurationSeconds: durations > 0 ? durationSum / Double(durations) : nil
        )
    }
}
