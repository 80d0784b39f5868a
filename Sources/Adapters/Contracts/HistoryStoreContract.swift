public import Application
import Domain
import Testing

/// The rules every `HistoryStore` adapter keeps, as one reusable suite: idempotent appends, ordering,
/// downsampling bounds, rollup values, retention counts and tenancy.
///
/// `make` is called once per rule and must return an empty store (a fresh schema for a database):
/// `prune` works across tenants, so its counts would include other data.
public struct HistoryStoreContract: Sendable {
    private let make: @Sendable () async throws -> any HistoryStore

    /// Creates the suite for stores built by `make`.
    public init(make: @escaping @Sendable () async throws -> any HistoryStore) {
        self.make = make
    }

    /// Runs every rule, recording a Swift Testing issue per violation.
    public func run() async throws {
        await runRules(
            "HistoryStore",
            [
                ("appendIsIdempotent", appendIsIdempotent),
                ("readsOrderedByFixTime", readsOrderedByFixTime),
                ("rangeIsRespected", rangeIsRespected),
                ("downsamplingBounds", downsamplingBounds),
                ("driverStatsRollup", driverStatsRollup),
                ("visitPerformanceRollup", visitPerformanceRollup),
                ("completionIsIdempotent", completionIsIdempotent),
                ("pruneCounts", pruneCounts),
                ("tenancy", tenancy),
            ]
        )
    }
}

// MARK: - Fixtures

private struct Fixtures {
    let tag = RunTag()
    var tenantA: TenantID { TenantID("tenant-\(tag)-a") }
    var tenantB: TenantID { TenantID("tenant-\(tag)-b") }
    /// 2024-03-15, the day of `instant(0)`.
    let day1 = CalendarDate(year: 2024, month: 3, day: 15)
    let day2 = CalendarDate(year: 2024, month: 3, day: 16)
    let day3 = CalendarDate(year: 2024, month: 3, day: 17)

    func driverID(_ n: Int) -> DriverID { DriverID("drv-\(tag)-\(n)") }

    func fix(_ driver: Int, tenant: TenantID? = nil, at seconds: Double, speed: Double = 20) -> EnrichedPosition {
        position(tenant: tenant ?? tenantA, driver: driverID(driver), at: instant(seconds), speed: speed)
    }

    /// A closed visit of driver 1 of tenant A.
    func completion(
        _ n: Int,
        status: VisitStatus,
        closedAt seconds: Double,
        arrivedAt arrival: Double?,
        onTime: Bool,
        tenant: TenantID? = nil,
        driver: Int = 1
    ) -> VisitCompletionRecord {
        VisitCompletionRecord(
            visitId: VisitID("visit-\(tag)-\(n)"),
            tenantId: tenant ?? tenantA,
            driverId: driverID(driver),
            routeId: RouteID("route-\(tag)"),
            customerId: CustomerID("cust-\(tag)-\(n)"),
            status: status,
            arrivedAt: arrival.map(instant),
            closedAt: instant(seconds),
            onTime: onTime
        )
    }

    func history(
        _ store: any HistoryStore,
        driver: Int = 1,
        tenant: TenantID? = nil,
        from: Double = -1,
        to: Double = 10 * 86_400,
        maxPoints: Int = 10_000
    ) async throws -> [HistoryPoint] {
        try await store.routeHistory(
            driverId: driverID(driver),
            tenantId: tenant ?? tenantA,
            from: instant(from),
            to: instant(to),
            maxPoints: maxPoints
        )
    }
}

/// Whether two rollup averages agree (sums may be computed in another order).
private func close(_ lhs: Double?, _ rhs: Double?) -> Bool {
    switch (lhs, rhs) {
    case (nil, nil): true
    case (let l?, let r?): abs(l - r) <= 1e-6 * max(1, abs(r))
    default: false
    }
}

// MARK: - Rules

extension HistoryStoreContract {
    /// Appending a `(driverId, fixTime)` again is a no-op: the point and the rollups do not change.
    private func appendIsIdempotent() async throws {
        let store = try await make()
        let f = Fixtures()
        try await store.append([f.fix(1, at: 60, speed: 10)])
        try await store.append([f.fix(1, at: 60, speed: 50)])
        try await store.append([f.fix(1, at: 60, speed: 10), f.fix(1, at: 60, speed: 70)])
        let points = try await f.history(store)
        #expect(points.count == 1, "op: append twice, key: one point")
        #expect(points.first?.speedKmh == 10, "op: append twice, key: first write kept")
        let stats = try await store.driverStats(driverId: f.driverID(1), tenantId: f.tenantA, from: f.day1, to: f.day1)
        #expect(stats.map(\.positions) == [1], "op: append twice, key: rollup counts once")
        #expect(close(stats.first?.avgSpeedKmh, 10), "op: append twice, key: rollup average")
    }

    /// Reads are ordered by fix time whatever the append order.
    private func readsOrderedByFixTime() async throws {
        let store = try await make()
        let f = Fixtures()
        try await store.append([f.fix(1, at: 30), f.fix(1, at: 10)])
        try await store.append([f.fix(1, at: 20), f.fix(1, at: 40)])
        let times = try await f.history(store).map(\.fixTime)
        #expect(times == [10, 20, 30, 40].map(instant), "op: routeHistory, key: ordered by fix time")
    }

    /// Only points of the range are returned; the stored fields read back.
    private func rangeIsRespected() async throws {
        let store = try await make()
        let f = Fixtures()
        var fixes = (1...10).map { f.fix(1, at: Double($0) * 10) }
        fixes[4].routeId = RouteID("route-\(f.tag)")
        fixes[4].currentVisitId = VisitID("visit-\(f.tag)")
        try await store.append(fixes)
        let points = try await f.history(store, from: 25, to: 65)
        #expect(points.map(\.fixTime) == [30, 40, 50, 60].map(instant), "op: routeHistory, key: 25s...65s")
        let fifty = points.first { $0.fixTime == instant(50) }
        #expect(
            fifty
                == HistoryPoint(
                    fixTime: instant(50),
                    latitude: fixes[4].latitude,
                    longitude: fixes[4].longitude,
                    speedKmh: fixes[4].speedKmh,
                    heading: fixes[4].heading,
                    routeId: fixes[4].routeId,
                    visitId: fixes[4].currentVisitId
                ),
            "op: routeHistory, key: point fields"
        )
        #expect(try await f.history(store, from: 1000, to: 2000).isEmpty, "op: routeHistory, key: empty range")
    }

    /// At most `maxPoints` points, spanning the range, always keeping its first and last point.
    private func downsamplingBounds() async throws {
        let store = try await make()
        let f = Fixtures()
        let times = (0..<100).map { Double($0) * 5 }
        try await store.append(times.map { f.fix(1, at: $0) })
        let all = try await f.history(store)
        #expect(all.count == 100, "op: routeHistory, key: maxPoints above count")
        let original = Set(all.map(\.fixTime))
        for maxPoints in [2, 3, 10, 37, 99] {
            let points = try await f.history(store, maxPoints: maxPoints)
            let key = "maxPoints \(maxPoints)"
            #expect(points.count <= maxPoints && points.count >= 2, "op: routeHistory downsampled count, key: \(key)")
            #expect(points.first?.fixTime == instant(0), "op: routeHistory keeps first, key: \(key)")
            #expect(points.last?.fixTime == instant(495), "op: routeHistory keeps last, key: \(key)")
            #expect(
                zip(points, points.dropFirst()).allSatisfy { $0.fixTime < $1.fixTime },
                "op: routeHistory downsampled ordered, key: \(key)"
            )
            #expect(
                points.allSatisfy { original.contains($0.fixTime) },
                "op: routeHistory downsampled subset, key: \(key)"
            )
            // Spanning: no gap wider than three times an even spacing of the allowed points.
            let widest = zip(points, points.dropFirst()).map { ($1.fixTime - $0.fixTime).secondsValue }.max() ?? 0
            #expect(widest <= 3 * 495 / Double(maxPoints - 1), "op: routeHistory downsampled spans range, key: \(key)")
        }
        let inner = try await f.history(store, from: 98, to: 202, maxPoints: 5)
        #expect(
            inner.first?.fixTime == instant(100) && inner.last?.fixTime == instant(200) && inner.count <= 5,
            "op: routeHistory downsampled sub-range, key: 98s...202s keeps its first and last"
        )
    }

    /// `driverStats` reflects every append and completion, per UTC day of fix / close time, days without data
    /// omitted.
    private func driverStatsRollup() async throws {
        let store = try await make()
        let f = Fixtures()
        let day = 86_400.0
        // Day 1: speeds 0, 2, 10, 20 (2 of 4 moving at >= 3 km/h), appended in two batches with a read between.
        try await store.append([f.fix(1, at: 100, speed: 0), f.fix(1, at: 200, speed: 10)])
        let early = try await store.driverStats(driverId: f.driverID(1), tenantId: f.tenantA, from: f.day1, to: f.day1)
        #expect(early.map(\.positions) == [2], "op: driverStats after first batch, key: \(f.day1)")
        try await store.append([f.fix(1, at: 300, speed: 20), f.fix(1, at: 400, speed: 2)])
        // Day 2: one fix at 5 km/h, just after midnight UTC.
        try await store.append([f.fix(1, at: day + 1, speed: 5)])
        try await store.recordVisitCompletion(
            f.completion(1, status: .completed, closedAt: 500, arrivedAt: 450, onTime: true)
        )
        try await store.recordVisitCompletion(
            f.completion(2, status: .failed, closedAt: 600, arrivedAt: nil, onTime: false)
        )
        try await store.recordVisitCompletion(
            f.completion(
                3,
                status: .skipped,
                closedAt: day + 10,
                arrivedAt: nil,
                onTime: true
            )
        )

        let stats = try await store.driverStats(driverId: f.driverID(1), tenantId: f.tenantA, from: f.day1, to: f.day3)
        #expect(stats.map(\.date) == [f.day1, f.day2], "op: driverStats, key: days with data, ordered")
        if stats.count == 2 {
            let (first, second) = (stats[0], stats[1])
            #expect(first.driverId == f.driverID(1) && first.tenantId == f.tenantA, "op: driverStats, key: identity")
            #expect(first.positions == 4, "op: driverStats positions, key: \(f.day1)")
            #expect(close(first.avgSpeedKmh, 8), "op: driverStats avgSpeedKmh, key: \(f.day1)")
            #expect(close(first.maxSpeedKmh, 20), "op: driverStats maxSpeedKmh, key: \(f.day1)")
            #expect(close(first.movingPercentage, 50), "op: driverStats movingPercentage, key: \(f.day1)")
            #expect(first.visitsCount == 2, "op: driverStats visitsCount, key: \(f.day1)")
            #expect(
                second.positions == 1 && close(second.avgSpeedKmh, 5) && close(second.maxSpeedKmh, 5)
                    && close(second.movingPercentage, 100) && second.visitsCount == 1,
                "op: driverStats, key: \(f.day2)"
            )
        }
        #expect(
            try await store.driverStats(driverId: f.driverID(1), tenantId: f.tenantA, from: f.day2, to: f.day2)
                .map(\.date) == [f.day2],
            "op: driverStats, key: from...to bounds"
        )
        #expect(
            try await store.driverStats(driverId: f.driverID(1), tenantId: f.tenantA, from: f.day3, to: f.day3)
                .isEmpty,
            "op: driverStats, key: day without data omitted"
        )
        #expect(
            try await store.driverStats(driverId: f.driverID(2), tenantId: f.tenantA, from: f.day1, to: f.day3)
                .isEmpty,
            "op: driverStats, key: absent driver"
        )
    }

    /// `visitPerformance` counts closed visits per UTC day of close time.
    private func visitPerformanceRollup() async throws {
        let store = try await make()
        let f = Fixtures()
        let day = 86_400.0
        try await store.recordVisitCompletion(
            f.completion(
                1,
                status: .completed,
                closedAt: 1000,
                arrivedAt: 400,
                onTime: true
            )
        )
        let early = try await store.visitPerformance(tenantId: f.tenantA, from: f.day1, to: f.day1)
        #expect(early.map(\.total) == [1], "op: visitPerformance after first completion, key: \(f.day1)")
        try await store.recordVisitCompletion(
            f.completion(
                2,
                status: .failed,
                closedAt: 2000,
                arrivedAt: 1700,
                onTime: false,
                driver: 2
            )
        )
        try await store.recordVisitCompletion(
            f.completion(
                3,
                status: .skipped,
                closedAt: 3000,
                arrivedAt: nil,
                onTime: true
            )
        )
        try await store.recordVisitCompletion(
            f.completion(
                4,
                status: .completed,
                closedAt: day + 100,
                arrivedAt: nil,
                onTime: false
            )
        )
        let performance = try await store.visitPerformance(tenantId: f.tenantA, from: f.day1, to: f.day3)
        let expected = [
            VisitPerformanceDaily(
                tenantId: f.tenantA,
                date: f.day1,
                total: 3,
                completed: 1,
                failed: 1,
                onTime: 2,
                avgDurationSeconds: 450
            ),
            VisitPerformanceDaily(
                tenantId: f.tenantA,
                date: f.day2,
                total: 1,
                completed: 1,
                failed: 0,
                onTime: 0,
                avgDurationSeconds: nil
            ),
        ]
        #expect(performance.map(\.date) == expected.map(\.date), "op: visitPerformance, key: days with data, ordered")
        for (actual, wanted) in zip(performance, expected) {
            #expect(
                actual.tenantId == wanted.tenantId && actual.total == wanted.total
                    && actual.completed == wanted.completed && actual.failed == wanted.failed
                    && actual.onTime == wanted.onTime,
                "op: visitPerformance counts, key: \(wanted.date)"
            )
            #expect(
                close(actual.avgDurationSeconds, wanted.avgDurationSeconds),
                "op: visitPerformance avgDurationSeconds, key: \(wanted.date)"
            )
        }
        #expect(
            try await store.visitPerformance(tenantId: f.tenantA, from: f.day3, to: f.day3).isEmpty,
            "op: visitPerformance, key: day without data omitted"
        )
    }

    /// Recording a completion with the same visit id again is a no-op.
    private func completionIsIdempotent() async throws {
        let store = try await make()
        let f = Fixtures()
        let record = f.completion(1, status: .completed, closedAt: 1000, arrivedAt: 400, onTime: true)
        try await store.recordVisitCompletion(record)
        try await store.recordVisitCompletion(record)
        var changed = record
        changed.status = .failed
        changed.onTime = false
        try await store.recordVisitCompletion(changed)
        let performance = try await store.visitPerformance(tenantId: f.tenantA, from: f.day1, to: f.day1)
        #expect(performance.map(\.total) == [1], "op: recordVisitCompletion twice, key: counted once")
        #expect(
            performance.map(\.completed) == [1] && performance.map(\.onTime) == [1],
            "op: recordVisitCompletion twice, key: first record kept"
        )
        let stats = try await store.driverStats(driverId: f.driverID(1), tenantId: f.tenantA, from: f.day1, to: f.day1)
        #expect(stats.map(\.visitsCount) == [1], "op: recordVisitCompletion twice, key: driver visits counted once")
    }

    /// `prune` deletes positions and completions older than the cutoff and returns how many.
    private func pruneCounts() async throws {
        let store = try await make()
        let f = Fixtures()
        try await store.append((1...5).map { f.fix(1, at: Double($0)) })
        try await store.append((1...3).map { f.fix(2, tenant: f.tenantB, at: Double($0)) })
        try await store.recordVisitCompletion(
            f.completion(1, status: .completed, closedAt: 2, arrivedAt: 1, onTime: true)
        )
        try await store.recordVisitCompletion(
            f.completion(2, status: .completed, closedAt: 10, arrivedAt: 9, onTime: true)
        )
        #expect(try await store.prune(olderThan: instant(4)) == 7, "op: prune, key: 3 + 3 positions + 1 completion")
        #expect(try await f.history(store).map(\.fixTime) == [4, 5].map(instant), "op: prune, key: newer points kept")
        #expect(try await f.history(store, driver: 2, tenant: f.tenantB).isEmpty, "op: prune, key: every tenant")
        #expect(try await store.prune(olderThan: instant(4)) == 0, "op: prune again, key: nothing left")
        #expect(try await store.prune(olderThan: instant(11)) == 3, "op: prune, key: 2 positions + 1 completion")
    }

    /// Reads never return another tenant's data.
    private func tenancy() async throws {
        let store = try await make()
        let f = Fixtures()
        try await store.append([f.fix(1, at: 10), f.fix(1, at: 20)])
        try await store.recordVisitCompletion(
            f.completion(1, status: .completed, closedAt: 30, arrivedAt: 20, onTime: true)
        )
        #expect(try await f.history(store, tenant: f.tenantB).isEmpty, "op: routeHistory, key: other tenant")
        #expect(
            try await store.driverStats(driverId: f.driverID(1), tenantId: f.tenantB, from: f.day1, to: f.day3)
                .isEmpty,
            "op: driverStats, key: other tenant"
        )
        #expect(
            try await store.visitPerformance(tenantId: f.tenantB, from: f.day1, to: f.day3).isEmpty,
            "op: visitPerformance, key: other tenant"
        )
        #expect(try await f.history(store).count == 2, "op: routeHistory, key: own tenant")
    }
}
