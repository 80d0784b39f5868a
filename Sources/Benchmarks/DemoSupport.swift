import Application
package import Composition
import Domain
package import Logging
package import Simulation
import Synchronization

/// Writes the demo tenant through the same use cases the API uses: customers into the local source of
/// truth (they reach the read model through the change-event flow), then drivers and routes.
package enum DemoSeeder {
    package static func seed(_ scenario: DemoScenario, into system: TrackerSystem, logger: Logger) async throws {
        let admin = Principal(tenantId: scenario.tenantId, role: .admin, subject: "demo-seeder")
        for (id, input) in scenario.customers {
            _ = try await system.customerAdmin.upsert(input, id: id, as: admin)
        }
        for driver in scenario.drivers {
            do {
                _ = try await system.drivers.create(driver, as: admin)
            } catch let error as UseCaseError where error.code == .conflict {
                continue  // already seeded (durable mode restart)
            }
        }
        for route in scenario.routes {
            do {
                _ = try await system.routes.create(route, as: admin)
            } catch let error as UseCaseError where error.code == .conflict {
                continue
            }
        }
        logger.info(
            "demo tenant seeded",
            metadata: [
                "customers": "\(scenario.customers.count)", "drivers": "\(scenario.drivers.count)",
                "routes": "\(scenario.routes.count)",
            ]
        )
    }
}

/// The port the server listens on, known only once it runs (port 0 picks a free one).
package final class PortSignal: Sendable {
    private let value = Mutex<Int?>(nil)
    package init() {}
    package func set(_ port: Int) { value.withLock { $0 = port } }

    package func wait() async throws -> Int {
        while true {
            if let port = value.withLock({ $0 }) { return port }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}
