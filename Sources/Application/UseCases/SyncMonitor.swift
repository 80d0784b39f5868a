public import Domain

/// Change-data-capture lag monitoring (spec phase 5): per source table, the lag (now − the source commit
/// time of the newest event applied), the time since the consumer last took an event, the counters and the
/// last failure, with a status each and for the whole.
///
/// `check()` also records `lagging` in `sync_state` (compare and set on the last event time, so a newer
/// event or a failure is never hidden); the next applied event sets it back to `healthy`.
///
/// A table whose source has had no change for longer than the threshold reads as lagging too: from the
/// consumer's side a quiet source and a stalled stream look the same until the next event.
public struct SyncMonitor: Sendable {
    public struct Configuration: Sendable {
        /// Lag above which a table is `lagging`.
        public var lagThreshold: Duration = .seconds(30)
        /// SQL Server's CDC retention (the cleanup job's `@retention`, 5 days in the DBA script): changes older
        /// than this are deleted at the source, and Debezium 2.5 does not notice the gap.
        public var sourceRetention: Duration = .seconds(5 * 24 * 3600)
        /// Lag from which the report warns that retention is getting close (default: a fifth of it, 24 h).
        public var retentionWarning: Duration = .seconds(24 * 3600)
        public init() {}
    }

    /// One table's line.
    public struct TableReport: Hashable, Sendable {
        public var table: String
        public var status: SyncState.Status
        /// Now − source commit time of the newest event taken; nil before the first.
        public var lag: Duration?
        /// Now − when the consumer last took an event; nil before the first.
        public var sinceLastEvent: Duration?
        public var state: SyncState
        /// Set when the lag approaches the source's CDC retention.
        public var warning: String?
    }

    public struct Report: Hashable, Sendable {
        /// The worst table status: failing, then lagging, syncing, healthy, idle.
        public var status: SyncState.Status
        public var tables: [TableReport]
        public var lagThreshold: Duration
    }

    let fleet: any FleetStore
    let clock: any WallClock
    public let configuration: Configuration
    let tables: [String]

    public init(
        fleet: any FleetStore,
        clock: any WallClock,
        configuration: Configuration = .init(),
        tables: [String] = ApplyChangeEvent.tables
    ) {
        self.fleet = fleet
        self.clock = clock
        self.configuration = configuration
        self.tables = tables
    }

    /// Reads `sync_state`, judges every table and records newly lagging ones.
    public func check() async throws -> Report {
        let now = clock.now()
        let stored = Dictionary(try await fleet.syncStates().map { ($0.tableName, $0) }) { a, _ in a }
        var reports: [TableReport] = []
        for table in Set(tables).union(stored.keys).sorted() {
            let state = stored[table] ?? SyncState(tableName: table)
            var report = judge(state, now: now)
            if report.status == .lagging, state.status != .lagging, let last = state.lastSyncedAt {
                if try await !fleet.markLagging(tableName: table, lastSyncedAt: last) {
                    // A newer event or a failure arrived meanwhile: judge that one.
                    if let fresh = try await fleet.syncStates().first(where: { $0.tableName == table }) {
                        report = judge(fresh, now: now)
                    }
                }
            }
            reports.append(report)
        }
        let order: [SyncState.Status] = [.failing, .lagging, .syncing, .healthy, .idle]
        let worst = order.first { status in reports.contains { $0.status == status } } ?? .idle
        return Report(status: worst, tables: reports, lagThreshold: configuration.lagThreshold)
    }

    /// A table's status from its stored state and the clock.
    func judge(_ state: SyncState, now: Timestamp) -> TableReport {
        let lag = state.lastSourceAt.map { Self.duration(from: $0, to: now) }
        let since = state.lastSyncedAt.map { Self.duration(from: $0, to: now) }
        var status = state.status
        switch status {
        case .healthy, .syncing, .lagging:
            if let lag, lag > configuration.lagThreshold {
                status = .lagging
            } else if status == .lagging {
                status = .healthy  // under a raised threshold
            }
        case .idle, .failing:
            break
        }
        var warning: String?
        if let lag, lag >= configuration.retentionWarning {
            let hours = Int(lag.secondsValue / 3600)
            let retention = Int(configuration.sourceRetention.secondsValue / 3600)
            warning =
                "lag \(hours) h of the source's \(retention) h CDC retention: changes older than that are "
                + "deleted at the source and missed without notice; fix the stream, then run an incremental "
                + "snapshot (deploy/sqlserver/incremental-snapshot.sql)"
        }
        return TableReport(
            table: state.tableName,
            status: status,
            lag: lag,
            sinceLastEvent: since,
            state: state,
            warning: warning
        )
    }

    static func duration(from start: Timestamp, to end: Timestamp) -> Duration { max(.zero, end - start) }
}
