import Domain
import Testing

@Suite("Access policy")
struct AccessPolicyTests {
    static let visit = Fixture.visit("v1", customer: "c1", sequence: 1)
    static let otherDriver = Driver(id: "driver-2", tenantId: Fixture.tenant, deviceId: "imei-2", name: "Bo")

    static func principal(_ role: Role, tenant: TenantID = Fixture.tenant, subject: String = "user-1") -> Principal {
        Principal(tenantId: tenant, role: role, subject: subject)
    }

    static func allowed(_ check: () throws(AccessDenied) -> Void) -> Bool {
        do throws(AccessDenied) {
            try check()
            return true
        } catch {
            #expect(!error.reason.isEmpty)
            #expect(!error.reason.contains(Fixture.tenant.rawValue))
            #expect(!error.reason.contains(Fixture.otherTenant.rawValue))
            return false
        }
    }

    /// Role × same/other tenant for the tenant-wide checks: (read, manageFleet, subscribe).
    @Test(arguments: Role.allCases, [true, false])
    func tenantChecks(role: Role, sameTenant: Bool) {
        let p = Self.principal(role, tenant: sameTenant ? Fixture.tenant : Fixture.otherTenant)
        let expected: (read: Bool, manage: Bool, subscribe: Bool) =
            switch role {
            case .admin, .dispatcher: (true, true, true)
            case .viewer: (true, false, true)
            case .driver: (true, false, false)
            }
        #expect(
            Self.allowed { () throws(AccessDenied) in try AccessPolicy.read(p, tenant: Fixture.tenant) }
                == (sameTenant && expected.read)
        )
        #expect(
            Self.allowed { () throws(AccessDenied) in try AccessPolicy.manageFleet(p, tenant: Fixture.tenant) }
                == (sameTenant && expected.manage)
        )
        #expect(
            Self.allowed { () throws(AccessDenied) in try AccessPolicy.subscribe(p, tenant: Fixture.tenant) }
                == (sameTenant && expected.subscribe)
        )
    }

    /// Role × same/other tenant × own/other visit for acting on a visit.
    @Test(arguments: Role.allCases, [(true, true), (true, false), (false, true), (false, false)])
    func actOnVisit(role: Role, scope: (sameTenant: Bool, ownVisit: Bool)) {
        let p = Self.principal(
            role,
            tenant: scope.sameTenant ? Fixture.tenant : Fixture.otherTenant,
            subject: Fixture.driverId.rawValue
        )
        var visit = Self.visit
        if !scope.ownVisit { visit.driverId = Self.otherDriver.id }
        let driver = scope.ownVisit ? Fixture.driver : Self.otherDriver
        let expected =
            switch role {
            case .admin, .dispatcher: scope.sameTenant
            case .driver: scope.sameTenant && scope.ownVisit
            case .viewer: false
            }
        #expect(
            Self.allowed { () throws(AccessDenied) in try AccessPolicy.actOnVisit(p, visit: visit, driver: driver) }
                == expected
        )
    }

    /// A driver cannot act on another driver's visit by passing their own driver record.
    @Test func driverMustBeAssignedToVisit() {
        let p = Self.principal(.driver, subject: Fixture.driverId.rawValue)
        var visit = Self.visit
        visit.driverId = Self.otherDriver.id
        #expect(
            !Self.allowed { () throws(AccessDenied) in
                try AccessPolicy.actOnVisit(p, visit: visit, driver: Fixture.driver)
            }
        )
    }

    /// Role raw values are the token claim strings.
    @Test func roleRawValues() {
        #expect(Role.allCases.map(\.rawValue) == ["admin", "dispatcher", "viewer", "driver"])
    }
}
