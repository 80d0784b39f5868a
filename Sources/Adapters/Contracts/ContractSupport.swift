import Application
import Domain
import Testing

/// A random tag that makes ids, tenants, topics and groups unique to one contract run, so contracts can
/// run against shared services (one Postgres database, one Kafka cluster) without seeing other runs' data.
struct RunTag: CustomStringConvertible, Sendable {
    let description: String

    init() {
        description = String(UInt64.random(in: 0...UInt64.max), radix: 36)
    }
}

/// Runs each rule of a contract in turn. An error a rule did not expect is recorded as an issue naming the
/// rule, and the remaining rules still run, so one broken rule does not hide the others.
func runRules(_ contract: String, _ rules: [(name: String, body: () async throws -> Void)]) async {
    for rule in rules {
        do {
            try await rule.body()
        } catch {
            Issue.record(error, "op: \(contract).\(rule.name), key: unexpected error")
        }
    }
}

/// Expects `body` to throw a `StoreError` with `code`.
func expectStoreError<T>(
    _ code: StoreError.Code,
    _ comment: Comment,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () async throws -> T
) async {
    do {
        _ = try await body()
        Issue.record("expected StoreError.\(code), nothing was thrown; \(comment)", sourceLocation: sourceLocation)
    } catch let error as StoreError {
        #expect(error.code == code, comment, sourceLocation: sourceLocation)
    } catch {
        Issue.record(error, "expected StoreError.\(code); \(comment)", sourceLocation: sourceLocation)
    }
}

/// Runs `body` for at most `timeout`: returns its result, or `nil` if the deadline came first (the body is
/// then cancelled, and its result is still used if it returns one).
func withDeadline<T: Sendable>(
    _ timeout: Duration,
    _ body: @escaping @Sendable () async throws -> T
)
    async throws -> T?
{
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try? await Task.sleep(for: timeout)
            return nil
        }
        var result: T?
        for try await outcome in group {
            if let outcome { result = outcome }
            group.cancelAll()
        }
        return result
    }
}

/// A timestamp `seconds` after a fixed, recent instant (2024-03-15T00:00:00Z).
func instant(_ seconds: Double) -> Timestamp {
    Timestamp(millisecondsSinceEpoch: 1_710_460_800_000 + Int64((seconds * 1000).rounded()))
}

/// A minimal enriched position for fixtures.
func position(
    tenant: TenantID,
    driver: DriverID,
    at fixTime: Timestamp,
    speed: Double = 0,
    activity: DriverActivity = .moving
) -> EnrichedPosition {
    EnrichedPosition(
        tenantId: tenant,
        driverId: driver,
        deviceId: DeviceID("dev-\(driver)"),
        driverName: "Driver \(driver)",
        fixTime: fixTime,
        latitude: 45.5,
        longitude: -73.6,
        speedKmh: speed,
        smoothedSpeedKmh: speed,
        heading: 90,
        activity: activity
    )
}
