import Application
package import Configuration
package import Domain
import Foundation
package import HTTPAdapters

/// The dispatcher dashboard's settings (`dashboard.*`, `tracker.dev.*`), read with the rest of
/// `TrackerConfiguration`.
package struct DashboardConfiguration: Sendable {
    /// OpenStreetMap's standard tiles (https://operations.osmfoundation.org/policies/tiles/: attribution required).
    package static let openStreetMapTiles = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    package static let openStreetMapAttribution =
        "&copy; <a href=\"https://www.openstreetmap.org/copyright\">OpenStreetMap</a> contributors"

    /// `dashboard.dir` / `DASHBOARD_DIR`: the built dashboard. Default: `Dashboard/dist` in the working directory,
    /// else next to the package the executable was built in (`.build/<config>/tracker` → `Dashboard/dist`).
    package var directory: String
    /// `dashboard.tiles.url` / `DASHBOARD_TILES_URL`: a tile URL template, `osm` for OpenStreetMap's standard
    /// tiles, or `none`. Unset: `osm` for `serve`, `none` (the offline basemap) for `demo`.
    package var tiles: String?
    /// `dashboard.tiles.attribution` / `DASHBOARD_TILES_ATTRIBUTION`: attribution HTML for custom tiles.
    package var tileAttribution: String?
    /// `tracker.dev.signin` / `TRACKER_DEV_SIGNIN`: enable `POST /api/dev/token` (development sign-in). Unset:
    /// on for `demo`, off for `serve`.
    package var devSignIn: Bool?
    /// `tracker.dev.tenant` / `TRACKER_DEV_TENANT`: the tenant of development tokens. Default `demo`.
    package var devTenant: String
    /// The demo's basemap, set by `tracker demo` before the system starts (not a configuration key).
    package var demoBasemap: (@Sendable (TenantID) -> [UInt8]?)?

    package init(config: ConfigReader) {
        directory = config.string(forKey: "dashboard.dir") ?? Self.defaultDirectory()
        tiles = config.string(forKey: "dashboard.tiles.url").flatMap { $0.isEmpty ? nil : $0 }
        tileAttribution = config.string(forKey: "dashboard.tiles.attribution")
        devSignIn = config.bool(forKey: "tracker.dev.signin")
        devTenant = config.string(forKey: "tracker.dev.tenant", default: "demo")
    }

    /// `Dashboard/dist` under the working directory if it exists there, else under the package that holds the
    /// executable, else the working-directory path (served as a "not built" page).
    package static func defaultDirectory() -> String {
        let relative = "Dashboard/dist"
        let fm = FileManager.default
        if fm.fileExists(atPath: relative + "/index.html") { return relative }
        var url = URL(fileURLWithPath: CommandLine.arguments.first ?? ".").resolvingSymlinksInPath()
        for _ in 0..<5 {
            url.deleteLastPathComponent()
            let candidate = url.appendingPathComponent(relative).path
            if fm.fileExists(atPath: candidate + "/index.html") { return candidate }
        }
        return relative
    }

    /// The tile URL and attribution in effect: `defaultTiles` when unset; nil for `none`.
    package func resolvedTiles(defaultTiles: String) -> (url: String, attribution: String)? {
        let value = tiles ?? defaultTiles
        switch value.lowercased() {
        case "none", "off", "basemap": return nil
        case "osm", "openstreetmap": return (Self.openStreetMapTiles, tileAttribution ?? Self.openStreetMapAttribution)
        default: return (value, tileAttribution ?? "")
        }
    }
}

extension TrackerSystem {
    /// The dashboard settings of the HTTP adapter for this process. `demo` passes its basemap and turns on
    /// development sign-in and the offline map unless configured otherwise.
    package func dashboardSettings() -> DashboardSettings {
        let config = configuration.dashboard
        let demo = config.demoBasemap
        let isDemo = demo != nil
        let tiles = config.resolvedTiles(defaultTiles: isDemo ? "none" : "osm")
        var settings = DashboardSettings(
            directory: config.directory,
            tileURL: tiles?.url,
            tileAttribution: tiles?.attribution
        )
        if config.devSignIn ?? isDemo {
            settings.devSignIn = .init(tenantId: TenantID(config.devTenant))
        }
        if let demo {
            settings.basemap = demo
        }
        return settings
    }
}
