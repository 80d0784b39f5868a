public import Domain

/// What the HTTP adapter needs to serve the dispatcher dashboard (`Dashboard/`, issue 5): where its built files
/// are, which map tiles it shows, whether development sign-in is on, and the demo's offline basemap.
///
/// The default serves no files, no tiles, no development sign-in and no basemap; the composition root fills it
/// from configuration (`dashboard.*`, `tracker.dev.signin`).
public struct DashboardSettings: Sendable {
    /// Development sign-in (`POST /api/dev/token`): local and demo mode only.
    public struct DevSignIn: Sendable {
        /// The tenant every development token is for.
        public var tenantId: TenantID
        /// How long a development token is valid.
        public var ttl: Duration

        public init(tenantId: TenantID, ttl: Duration = .seconds(12 * 3600)) {
            self.tenantId = tenantId
            self.ttl = ttl
        }
    }

    /// Folder holding the built dashboard (`index.html`, `app.js`, `vendor/`); nil serves nothing at `/`.
    public var directory: String?
    /// Slippy-map tile URL template (`https://tile.openstreetmap.org/{z}/{x}/{y}.png`); nil shows no tiles
    /// (the demo's own basemap instead, when there is one).
    public var tileURL: String?
    /// Attribution shown with the tiles (required by OpenStreetMap's tile usage policy).
    public var tileAttribution: String?
    /// Development sign-in; nil refuses `POST /api/dev/token` with 403.
    public var devSignIn: DevSignIn?
    /// The demo's offline basemap as JSON for a tenant (nil for any other tenant); nil outside the demo.
    public var basemap: (@Sendable (TenantID) async -> [UInt8]?)?

    public init(
        directory: String? = nil,
        tileURL: String? = nil,
        tileAttribution: String? = nil,
        devSignIn: DevSignIn? = nil,
        basemap: (@Sendable (TenantID) async -> [UInt8]?)? = nil
    ) {
        self.directory = directory
        self.tileURL = tileURL
        self.tileAttribution = tileAttribution
        self.devSignIn = devSignIn
        self.basemap = basemap
    }

    /// The origin images may come from besides the server itself (`https://*.tile.example.org`), for the
    /// dashboard's Content-Security-Policy; nil when there are no tiles.
    var tileOrigin: String? {
        guard let url = tileURL, !url.isEmpty else { return nil }
        guard let schemeEnd = url.firstRange(of: "://") else { return nil }
        let scheme = url[..<schemeEnd.lowerBound]
        let rest = url[schemeEnd.upperBound...]
        let host = rest.prefix { $0 != "/" }
        guard !host.isEmpty else { return nil }
        var origin = "\(scheme)://"
        // `{s}` (Leaflet's subdomain placeholder) becomes a wildcard label; other placeholders cannot be
        // expressed, so they widen the policy to the scheme.
        let normalised = String(host).replacing("{s}", with: "*")
        if normalised.contains("{") { return "\(scheme):" }
        origin += normalised
        return origin
    }
}
