import ArgumentParser
import Domain
import HTTPAdapters

/// `tracker token`: mints a development JWT for the REST API and the Socket.io gateway.
struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Mint a JWT signed with TRACKER_JWT_SECRET (development default when unset)."
    )

    @Option(help: "Tenant id the token is valid for.")
    var tenant: String

    @Option(help: "Role: admin, dispatcher, viewer or driver.")
    var role: String

    @Option(help: "Subject (a driver id for the driver role). Default: the role name.")
    var subject: String?

    @Option(help: "Validity in hours.")
    var hours: Int = 24

    func validate() throws {
        guard Role(rawValue: role) != nil else {
            throw ValidationError("--role must be one of admin, dispatcher, viewer, driver")
        }
        guard !tenant.isEmpty else { throw ValidationError("--tenant must not be empty") }
        guard (1...24 * 365).contains(hours) else { throw ValidationError("--hours must be within 1–8760") }
    }

    func run() async throws {
        let configuration = TrackerConfiguration()
        let authority = TokenAuthority(secret: configuration.jwtSecret)
        let principal = Principal(tenantId: TenantID(tenant), role: Role(rawValue: role)!,
                                  subject: subject ?? role)
        print(try await authority.mint(principal: principal, ttl: .seconds(hours * 3600)))
    }
}
