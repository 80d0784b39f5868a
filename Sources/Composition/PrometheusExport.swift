import CoreMetrics
import Prometheus
import Synchronization

/// The process's Prometheus registry behind swift-metrics (bootstrapped once per process).
package enum PrometheusExport {
    static let registry = PrometheusCollectorRegistry()
    private static let bootstrapped = Mutex(false)

    package static func bootstrapOnce() {
        bootstrapped.withLock { done in
            guard !done else { return }
            MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
            done = true
        }
    }

    /// The Prometheus text exposition of every metric.
    package static func render() -> String { registry.emitToString() }
}
