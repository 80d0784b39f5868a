import HTTPAdapters
import Hummingbird
import HummingbirdTesting
import Testing

@testable import Benchmarks
@testable import Composition
@testable import Simulation

@Suite("Metrics")
struct MetricsTests {
    /// Webhook outcomes and request latencies reach the Prometheus exposition of the composition root.
    @Test func webhookCountersAndLatency() async throws {
        PrometheusExport.bootstrapOnce()
        try await WebhookRouteTests.withDrivers { client in
            _ = try await client.webhook("/api/traccar/positions", Fixtures.positionA)
            _ = try await client.webhook(
                "/api/traccar/positions",
                Fixtures.positionA.replacing("48241179", with: "unknown-device")
            )
            _ = try await client.webhook(
                "/api/traccar/positions",
                Fixtures.positionA(replacing: "latitude", with: "99")
            )
            _ = try await client.webhook("/api/traccar/events", Fixtures.deviceOnline)
            let metrics = try await client.execute(uri: "/metrics", method: .get)
            #expect(metrics.status == .ok)
            let text = metrics.text
            for line in [
                #"tracker_webhook_positions_total{outcome="accepted"}"#,
                #"tracker_webhook_positions_total{outcome="unmapped"}"#,
                #"tracker_webhook_positions_total{outcome="invalid"}"#,
                #"tracker_webhook_events_total{outcome="accepted"}"#,
                "tracker_http_request_duration_seconds",
                #"route="/api/traccar/positions""#,
            ] {
                #expect(text.contains(line), "\(line)")
            }
        }
    }
}
