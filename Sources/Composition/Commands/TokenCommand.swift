package import ArgumentParser
import Configuration
import Domain
import HTTPAdapters

/// `tracker token`: mints a development JWT for the REST API and the Socket.io gateway.
package struct TokenCommand: AsyncParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Mint a JWT signed with TRACKER_JWT_SECRET (development default when unset)."
    )

    @Option(help: "Tenant id the token is valid for.")
    package var tenant: String

    @Option(help: "Role: admin, dispatcher, viewer or driver.")
    package var role: String

    @Option(help: "Subject (a driver id for the driver role). Default: the role name.")
    package var subject: String?

    @Option(help: "Validity in hours.")
    package var hours: Int = 24

    package func validate() throws {
        guard Role(rawValue: role) != nil else {
            throw ValidationError("--role must be one of admin, dispatcher, viewer, driver")
        }
        guard !tenant.isEmpty else { throw ValidationError("--tenant must not be empty") }
        guard (1...24 * 365).contains(hours) else { throw ValidationError("--hours must be within 1–8760") }
    }

    package func run() async throws {
        let secrets = SecretSettings(
            config: ConfigReader(provider: EnvironmentVariablesProvider()).scoped(to: "tracker")
        )
        let authority = TokenAuthority(secret: secrets.jwt)
        let principal = Principal(
            tenantId: TenantID(tenant),
            role: Role(rawValue: role)!,
            subject: subject ?? role
        )
        print(try await authority.mint(principal: principal, ttl: .seconds(hours * 3600)))
    }
}
