import Application
import CoreMetrics
import Domain
import Synchronization

/// Prometheus figures of change data capture and the customer cache, refreshed by the `cdc monitor` service:
/// - `tracker_cdc_lag_seconds{table}`: now − source commit time of the newest event applied;
/// - `tracker_cdc_seconds_since_event{table}`: since the consumer last took an event of the table;
/// - `tracker_cdc_events_applied{table}`, `tracker_cdc_events_failed{table}`: from `sync_state` (all instances);
/// - `tracker_cdc_status{table,status}`: 1 for the table's current status, 0 for the others;
/// - `tracker_customer_cache_lookups_total{level}`: this instance's customer lookups by the level that answered
///   (`memory`, `shared`, `store`, `source`, `missing`, `source_unavailable`).
enum SyncMetrics {
    private static let lastCache = Mutex(CustomerDirectory.Stats())
    private static let statuses: [SyncState.Status] = [.idle, .syncing, .healthy, .lagging, .failing]

    static func record(_ report: SyncMonitor.Report, cache: CustomerDirectory.Stats) {
        for line in report.tables {
            let table = [("table", line.table)]
            Gauge(label: "tracker_cdc_lag_seconds", dimensions: table).record(line.lag?.secondsValue ?? 0)
            Gauge(label: "tracker_cdc_seconds_since_event", dimensions: table)
                .record(line.sinceLastEvent?.secondsValue ?? 0)
            Gauge(label: "tracker_cdc_events_applied", dimensions: table).record(Double(line.state.eventsApplied))
            Gauge(label: "tracker_cdc_events_failed", dimensions: table).record(Double(line.state.eventsFailed))
            for status in statuses {
                Gauge(label: "tracker_cdc_status", dimensions: table + [("status", status.rawValue)])
                    .record(status == line.status ? 1 : 0)
            }
        }
        let previous = lastCache.withLock { last in
            defer { last = cache }
            return last
        }
        let levels: [(String, Int)] = [
            ("memory", cache.memory - previous.memory), ("shared", cache.shared - previous.shared),
            ("store", cache.store - previous.store), ("source", cache.sourceOfTruth - previous.sourceOfTruth),
            ("missing", cache.missing - previous.missing),
            ("source_unavailable", cache.sourceUnavailable - previous.sourceUnavailable),
        ]
        for (level, delta) in levels where delta > 0 {
            Counter(label: "tracker_customer_cache_lookups_total", dimensions: [("level", level)]).increment(by: delta)
        }
    }
}
