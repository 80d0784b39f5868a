package import Domain
import Foundation
import Synchronization

/// The demo scenario's geography as the dashboard's offline basemap (`GET /api/demo/basemap`): streets as
/// `[lat1, lng1, lat2, lng2]` segments, depots, centre and bounds. Encoded once per scenario.
package struct DemoBasemap: Encodable {
    package var tenantId: String
    package var center: [Double]
    package var bounds: [[Double]]
    package var streets: [[Double]]
    package var depots: [[Double]]

    package init(_ scenario: DemoScenario) {
        func r(_ v: Double) -> Double { (v * 1_000_000).rounded() / 1_000_000 }
        tenantId = scenario.tenantId.rawValue
        center = [r(scenario.center.latitude), r(scenario.center.longitude)]
        let sw = scenario.frame.coordinate(LocalPoint(x: scenario.grid.minX, y: scenario.grid.minY))
        let ne = scenario.frame.coordinate(LocalPoint(x: scenario.grid.maxX, y: scenario.grid.maxY))
        bounds = [[r(sw.latitude), r(sw.longitude)], [r(ne.latitude), r(ne.longitude)]]
        streets = scenario.streets.map {
            [r($0.from.latitude), r($0.from.longitude), r($0.to.latitude), r($0.to.longitude)]
        }
        depots = scenario.depots.map { [r($0.latitude), r($0.longitude)] }
    }
}

/// Holds the demo's encoded basemap, known only once the scenario is generated (after the system starts).
package final class DemoBasemapSlot: Sendable {
    package init() {}

    private let value = Mutex<(tenant: TenantID, json: [UInt8])?>(nil)

    package func set(_ scenario: DemoScenario) {
        let bytes = (try? JSONEncoder().encode(DemoBasemap(scenario))).map { [UInt8]($0) } ?? []
        value.withLock { $0 = (scenario.tenantId, bytes) }
    }

    /// The basemap of `tenant`; nil for other tenants and before the scenario exists.
    package func json(for tenant: TenantID) -> [UInt8]? {
        value.withLock { current in current.flatMap { $0.tenant == tenant ? $0.json : nil } }
    }
}
