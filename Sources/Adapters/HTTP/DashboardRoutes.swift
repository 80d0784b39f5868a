import Application
import Domain
import Hummingbird
import Logging
import NIOCore

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

// MARK: - Endpoints

extension APIHandlers {
    /// `GET /api/dashboard/config`: what the dashboard needs before sign-in (public, no tenant data).
    func dashboardConfig() throws -> Response {
        let settings = services.dashboard
        return try json(
            DashboardConfigBody(
                tiles: settings.tileURL.flatMap {
                    $0.isEmpty ? nil : .init(url: $0, attribution: settings.tileAttribution ?? "")
                },
                basemap: settings.basemap != nil,
                devSignIn: settings.devSignIn != nil,
                devTenantId: settings.devSignIn?.tenantId.rawValue
            )
        )
    }

    /// `POST /api/dev/token`: a development token for the configured tenant, in local/demo mode only.
    func devToken(_ request: Request) async throws -> Response {
        guard let signIn = services.dashboard.devSignIn else {
            throw Problem(
                .forbidden,
                detail: "development sign-in is disabled on this server; paste a token "
                    + "(tracker token) or start it with --dev-sign-in"
            )
        }
        let body = try await readBody(request, required: false)
        let input = body.readableBytes == 0 ? DevTokenInput() : try DevTokenInput(body: try requestBody(body))
        let roleName = input.role ?? Role.dispatcher.rawValue
        guard let role = Role(rawValue: roleName), role != .driver else {
            throw Problem(.invalidInput, detail: "role: expected admin, dispatcher or viewer", field: "role")
        }
        let subject = input.subject.flatMap { $0.isEmpty ? nil : $0 } ?? "dev-\(role.rawValue)"
        guard subject.unicodeScalars.count <= 128 else {
            throw Problem(.invalidInput, detail: "subject: at most 128 characters", field: "subject")
        }
        let principal = Principal(tenantId: signIn.tenantId, role: role, subject: subject)
        let token = try await services.tokens.mint(principal: principal, ttl: signIn.ttl)
        return try json(
            DevTokenBody(
                token: token,
                tenantId: signIn.tenantId.rawValue,
                role: role.rawValue,
                subject: subject,
                expiresAt: services.clock.now() + signIn.ttl
            )
        )
    }

    /// `GET /api/customers`: every customer of the caller's tenant (map markers and geofences).
    func listCustomers(principal: Principal) async throws -> Response {
        let customers = try await services.customers.list(as: principal)
        return try json(customers.map(CustomerBody.init))
    }

    /// `GET /api/demo/basemap`: the demo's street network and depots (its offline map), 404 elsewhere.
    func demoBasemap(principal: Principal) async throws -> Response {
        guard let source = services.dashboard.basemap, let bytes = await source(principal.tenantId) else {
            throw Problem(.notFound, detail: "this server has no demo basemap for the tenant")
        }
        return Response(
            status: .ok,
            headers: [
                .contentType: "application/json; charset=utf-8",
                .cacheControl: "private, max-age=3600",
            ],
            body: .init(byteBuffer: ByteBuffer(bytes: bytes))
        )
    }
}

struct DashboardConfigBody: Encodable {
    struct Tiles: Encodable {
        var url: String
        var attribution: String
    }

    var tiles: Tiles?
    var basemap: Bool
    var devSignIn: Bool
    var devTenantId: String?
}

struct DevTokenInput {
    var role: String?
    var subject: String?
}

struct DevTokenBody: Encodable {
    var token: String
    var tenantId: String
    var role: String
    var subject: String
    var expiresAt: Timestamp
}

/// A customer as the dashboard draws it.
struct CustomerBody: Encodable {
    var id: CustomerID
    var name: String
    var address: String?
    var latitude: Double
    var longitude: Double
    var geofenceRadiusMeters: Double
    var customerType: String?

    init(_ c: Customer) {
        id = c.id
        name = c.name
        address = c.address
        latitude = c.location.latitude
        longitude = c.location.longitude
        geofenceRadiusMeters = c.geofenceRadiusMeters
        customerType = c.customerType
    }
}

// MARK: - Static files

/// Serves the built dashboard from `DashboardSettings.directory` for any GET the API does not route: `/` is
/// `index.html` (with a Content-Security-Policy that keeps every request on this server, tiles excepted), other
/// paths are files of the folder. When the dashboard is not built, `/` answers a short HTML page saying how to
/// build it instead of a bare 404.
struct DashboardFiles: RouterMiddleware {
    typealias Context = BasicRequestContext

    let directory: String
    /// Only the page is guarded by the policy; `connect-src 'self'` covers same-origin WebSocket in Chromium
    /// and Firefox. Built once: it depends only on the configured tile origin.
    let contentSecurityPolicy: String
    let files: FileMiddleware<BasicRequestContext, LocalFileSystem>

    init(directory: String, tileOrigin: String?, logger: Logger) {
        self.directory = directory
        let images = ["'self'", "data:", "blob:"] + (tileOrigin.map { [$0] } ?? [])
        self.contentSecurityPolicy =
            "default-src 'self'; img-src \(images.joined(separator: " ")); "
            + "style-src 'self' 'unsafe-inline'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
            + "frame-ancestors 'none'"
        self.files = FileMiddleware(
            directory,
            cacheControl: CacheControl([(MediaType(type: .any), [CacheControl.CacheControlValue.noCache])]),
            searchForIndexHtml: true,
            logger: logger
        )
    }

    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let path = request.uri.path
        let isPage = path == "/" || path == "/index.html"
        if isPage, request.method == .get || request.method == .head {
            guard FileManager.default.fileExists(atPath: directory + "/index.html") else {
                return Self.notBuiltPage(directory: directory)
            }
            var response = try await files.handle(request, context: context, next: next)
            response.headers[.contentSecurityPolicy] = contentSecurityPolicy
            response.headers[.xContentTypeOptions] = "nosniff"
            return response
        }
        return try await files.handle(request, context: context, next: next)
    }

    static func notBuiltPage(directory: String) -> Response {
        let escaped = directory.replacing("&", with: "&amp;").replacing("<", with: "&lt;")
        let html = """
            <!doctype html><html lang="en"><head><meta charset="utf-8"><title>Dashboard not built</title>
            <link rel="icon" href="data:,"></head>
            <body style="font:16px system-ui,sans-serif;max-width:40em;margin:4em auto;line-height:1.5">
            <h1>The dashboard is not built</h1>
            <p>The tracking API runs, but <code>\(escaped)/index.html</code> does not exist.</p>
            <p>Build it with <code>scripts/build-dashboard</code> (downloads pinned, hash-checked React, Leaflet and
            socket.io-client; bundles with esbuild), then reload this page. Or start the demo with
            <code>scripts/demo</code>, which builds it first. Another folder can be set with
            <code>--dashboard-dir</code> (<code>DASHBOARD_DIR</code>).</p>
            </body></html>
            """
        return Response(
            status: .serviceUnavailable,
            headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: html))
        )
    }
}
