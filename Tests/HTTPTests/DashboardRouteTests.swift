import Application
import Composition
import Domain
import Foundation
import HTTPAdapters
import Hummingbird
import HummingbirdTesting
import Testing

@Suite("Dashboard routes")
struct DashboardRouteTests {
    /// A test API whose dashboard settings are replaced by `settings`.
    static func api(_ settings: DashboardSettings) -> TestAPI {
        var api = TestAPI()
        api.services.dashboard = settings
        return api
    }

    /// By default (`serve`): OpenStreetMap tiles with attribution, no basemap, development sign-in refused.
    @Test func configDefaultsAndDevSignInOff() async throws {
        try await TestAPI().test { client in
            let config = try await client.api(.get, "/api/dashboard/config", token: nil)
            #expect(config.status == .ok)
            let tiles = try #require(config.object["tiles"] as? [String: Any])
            #expect((tiles["url"] as? String)?.hasPrefix("https://tile.openstreetmap.org/") == true)
            #expect((tiles["attribution"] as? String)?.contains("OpenStreetMap") == true)
            #expect(config.object["devSignIn"] as? Bool == false)
            #expect(config.object["basemap"] as? Bool == false)
            let token = try await client.api(.post, "/api/dev/token", token: nil)
            #expect(token.status == .forbidden)
        }
    }

    /// With development sign-in on, the token is for the configured tenant and works on the API; the driver role
    /// is refused.
    @Test func devTokenMintsAUsableToken() async throws {
        let api = Self.api(DashboardSettings(devSignIn: .init(tenantId: "acme")))
        try await api.test { client in
            let response = try await client.api(.post, "/api/dev/token", token: nil, json: #"{"role":"viewer"}"#)
            #expect(response.status == .ok)
            #expect(response.object["tenantId"] as? String == "acme")
            #expect(response.object["role"] as? String == "viewer")
            let token = try #require(response.object["token"] as? String)
            #expect(try await client.api(.get, "/api/drivers", token: token).status == .ok)
            let driver = try await client.api(.post, "/api/dev/token", token: nil, json: #"{"role":"driver"}"#)
            #expect(driver.status.code == 422)
        }
    }

    /// Customers and the basemap need a token; the basemap is served only for its tenant and 404 elsewhere.
    @Test func customersAndBasemap() async throws {
        let customer = Customer(
            id: "c-1",
            tenantId: "acme",
            name: "Bäckerei",
            address: "Linden 1",
            location: Coordinate(latitude: 52.5, longitude: 13.4),
            geofenceRadiusMeters: 80
        )
        let api = Self.api(
            DashboardSettings(
                basemap: { tenant in tenant == "acme" ? Array(#"{"streets":[]}"#.utf8) : nil })
        )
        #expect(try await api.system.adapters.reference.apply(.upsert(.customer(customer))))
        try await api.test { client in
            #expect(try await client.api(.get, "/api/customers", token: nil).status == .unauthorized)
            let acme = try await api.token(.viewer)
            let list = try await client.api(.get, "/api/customers", token: acme)
            #expect(list.status == .ok)
            #expect(list.array.first?["id"] as? String == "c-1")
            #expect(list.array.first?["geofenceRadiusMeters"] as? Double == 80)
            #expect(try await client.api(.get, "/api/demo/basemap", token: acme).text == #"{"streets":[]}"#)
            let other = try await api.token(.viewer, tenant: "other")
            let otherList = try await client.api(.get, "/api/customers", token: other)
            #expect(otherList.status == .ok)
            #expect(otherList.text == "[]")
            #expect(try await client.api(.get, "/api/demo/basemap", token: other).status == .notFound)
        }
    }

    /// `/` serves index.html with a Content-Security-Policy keeping requests on the server (plus the tile host);
    /// other files are served as they are; API 404s stay problem documents.
    @Test func servesTheBuiltDashboard() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dashboard-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data("<!doctype html><title>t</title>".utf8).write(to: dir.appendingPathComponent("index.html"))
        try Data("console.log(1)".utf8).write(to: dir.appendingPathComponent("app.js"))
        let api = Self.api(
            DashboardSettings(directory: dir.path, tileURL: "https://{s}.tiles.example.com/{z}/{x}/{y}.png")
        )
        try await api.test { client in
            let page = try await client.execute(uri: "/", method: .get)
            #expect(page.status == .ok)
            #expect(page.text.contains("<title>t</title>"))
            let csp = try #require(page.headers[.contentSecurityPolicy])
            #expect(csp.contains("default-src 'self'"))
            #expect(csp.contains("img-src 'self' data: blob: https://*.tiles.example.com"))
            let script = try await client.execute(uri: "/app.js", method: .get)
            #expect(script.status == .ok)
            #expect(script.headers[.contentType]?.contains("javascript") == true)
            let missing = try await client.execute(uri: "/api/nothing", method: .get)
            #expect(missing.status == .notFound)
            #expect(missing.headers[.contentType]?.hasPrefix("application/problem+json") == true)
        }
    }

    /// Without a build, `/` says how to build the dashboard instead of a bare 404.
    @Test func explainsAMissingBuild() async throws {
        let api = Self.api(DashboardSettings(directory: "/nonexistent/dashboard"))
        try await api.test { client in
            let page = try await client.execute(uri: "/", method: .get)
            #expect(page.status == .serviceUnavailable)
            #expect(page.text.contains("scripts/build-dashboard"))
        }
    }
}
