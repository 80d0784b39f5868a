/// What a signed-in user may do.
public enum Role: String, Sendable, Codable, CaseIterable {
    /// Everything within the tenant.
    case admin
    /// Manages drivers, routes and visits within the tenant.
    case dispatcher
    /// Reads and watches the tenant's dashboard; changes nothing.
    case viewer
    /// Acts on their own visits only.
    case driver
}

/// The authenticated caller, from the verified token.
public struct Principal: Hashable, Sendable {
    public var tenantId: TenantID
    public var role: Role
    /// The token subject; for the `driver` role, the driver's id.
    public var subject: String

    public init(tenantId: TenantID, role: Role, subject: String) {
        self.tenantId = tenantId
        self.role = role
        self.subject = subject
    }
}

/// The caller may not do this. `reason` is safe to log and to return (no ids or tenant data).
public struct AccessDenied: Error, Hashable, Sendable, CustomStringConvertible {
    public var reason: String

    public init(reason: String) {
        self.reason = reason
    }

    public var description: String { "access denied: \(reason)" }
}

/// Tenant isolation and role checks; every check first requires the caller's own tenant.
///
/// | role | read | manageFleet | actOnVisit | subscribe |
/// |---|---|---|---|---|
/// | admin | ✓ | ✓ | ✓ | ✓ |
/// | dispatcher | ✓ | ✓ | ✓ | ✓ |
/// | viewer | ✓ | – | – | ✓ |
/// | driver | ✓ | – | own visits | – |
public enum AccessPolicy {
    /// Reading the tenant's data (drivers, routes, visits, positions): any role of that tenant.
    public static func read(_ p: Principal, tenant: TenantID) throws(AccessDenied) {
        try sameTenant(p, tenant)
    }

    /// Creating and changing drivers, routes and visits: admin and dispatcher.
    public static func manageFleet(_ p: Principal, tenant: TenantID) throws(AccessDenied) {
        try sameTenant(p, tenant)
        guard p.role == .admin || p.role == .dispatcher else {
            throw AccessDenied(reason: "role \(p.role.rawValue) cannot manage the fleet")
        }
    }

    /// Arriving, starting, completing, failing or skipping `visit`: admin and dispatcher of its tenant, or the
    /// driver it is assigned to (`p.subject == driver.id`, `visit.driverId == driver.id`). Never a viewer.
    public static func actOnVisit(_ p: Principal, visit: PlannedVisit, driver: Driver) throws(AccessDenied) {
        try sameTenant(p, visit.tenantId)
        try sameTenant(p, driver.tenantId)
        switch p.role {
        case .admin, .dispatcher:
            return
        case .driver:
            guard p.subject == driver.id.rawValue, visit.driverId == driver.id else {
                throw AccessDenied(reason: "a driver may act only on their own visits")
            }
        case .viewer:
            throw AccessDenied(reason: "role viewer cannot change visits")
        }
    }

    /// Watching the tenant's live feed (WebSocket room `tenant:{id}`): admin, dispatcher and viewer. Drivers are
    /// refused: the feed carries every driver's position.
    public static func subscribe(_ p: Principal, tenant: TenantID) throws(AccessDenied) {
        try sameTenant(p, tenant)
        guard p.role != .driver else { throw AccessDenied(reason: "role driver cannot watch the fleet feed") }
    }

    private static func sameTenant(_ p: Principal, _ tenant: TenantID) throws(AccessDenied) {
        guard p.tenantId == tenant else { throw AccessDenied(reason: "resource belongs to another tenant") }
    }
}
