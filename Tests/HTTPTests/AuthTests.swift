import Domain
import Foundation
import HTTPAdapters
import JWTKit
import Testing

@Suite("Authentication")
struct AuthTests {
    static let secret = String(repeating: "test-secret-0123456789-", count: 3)

    /// mint → verify returns the same principal for every role.
    @Test(arguments: Role.allCases)
    func roundTrip(role: Role) async throws {
        let authority = TokenAuthority(secret: Self.secret)
        let principal = Principal(tenantId: "acme", role: role, subject: "driver-7")
        let token = try await authority.mint(principal: principal, ttl: .seconds(60))
        #expect(try await authority.verify(token) == principal)
    }

    /// Expiry is checked against the authority's clock.
    @Test func expiry() async throws {
        let issued = Timestamp(millisecondsSinceEpoch: 1_000_000_000_000)
        let minting = TokenAuthority(secret: Self.secret, now: { issued })
        let token = try await minting.mint(
            principal: Principal(tenantId: "acme", role: .admin, subject: "a"),
            ttl: .seconds(60)
        )
        let justBefore = TokenAuthority(secret: Self.secret, now: { issued + .seconds(59) })
        #expect(try await justBefore.verify(token).role == .admin)
        let after = TokenAuthority(secret: Self.secret, now: { issued + .seconds(60) })
        await #expect(throws: TokenAuthority.InvalidToken.self) { try await after.verify(token) }
    }

    /// Other keys, other algorithms, `alg: none`, unknown roles and garbage are refused.
    @Test func rejectsForgeries() async throws {
        let authority = TokenAuthority(secret: Self.secret)
        let principal = Principal(tenantId: "acme", role: .admin, subject: "a")
        let otherKey = try await TokenAuthority(secret: "another-secret-0123456789-012345").mint(
            principal: principal,
            ttl: .seconds(60)
        )
        let valid = try await authority.mint(principal: principal, ttl: .seconds(60))
        let parts = valid.split(separator: ".")
        let noneHeader = Data(#"{"alg":"none","typ":"JWT"}"#.utf8).base64EncodedString()
            .replacingOccurrences(of: "=", with: "").replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
        let algNone = "\(noneHeader).\(parts[1])."

        struct Custom: JWTPayload {
            var sub: SubjectClaim
            var tenant: String
            var role: String
            var exp: ExpirationClaim
            func verify(using algorithm: some JWTAlgorithm) async throws {}
        }
        let keys = await JWTKeyCollection().add(hmac: HMACKey(from: Self.secret), digestAlgorithm: .sha256)
        let superuser = try await keys.sign(
            Custom(
                sub: "a",
                tenant: "acme",
                role: "superuser",
                exp: .init(value: Date().addingTimeInterval(60))
            )
        )
        let hs512 = try await JWTKeyCollection().add(hmac: HMACKey(from: Self.secret), digestAlgorithm: .sha512)
            .sign(Custom(sub: "a", tenant: "acme", role: "admin", exp: .init(value: Date().addingTimeInterval(60))))
        let noTenant = try await keys.sign(
            Custom(
                sub: "a",
                tenant: "",
                role: "admin",
                exp: .init(value: Date().addingTimeInterval(60))
            )
        )
        let tampered = "\(parts[0]).\(parts[1])x.\(parts[2])"

        let short = TokenAuthority(secret: "short")
        let shortToken = try await short.mint(principal: principal, ttl: .seconds(60))
        #expect(try await short.verify(shortToken) == principal)

        for token in [
            otherKey, shortToken, algNone, superuser, hs512, noTenant, tampered, "", "a.b.c", "garbage",
            String(repeating: "a", count: 10_000),
        ] {
            await #expect(throws: TokenAuthority.InvalidToken.self, "\(token.prefix(40))") {
                try await authority.verify(token)
            }
        }
    }

    /// The webhook secret is compared exactly (scheme case-insensitive).
    @Test(arguments: [
        ("Bearer s3cr3t", true), ("bearer s3cr3t", true), ("BEARER  s3cr3t ", true), ("Bearer s3cr3", false),
        ("Bearer s3cr3tt", false), ("Bearer S3CR3T", false), ("Basic s3cr3t", false), ("s3cr3t", false),
        ("Bearer ", false), ("", false),
    ])
    func webhookSecret(header: String, accepted: Bool) {
        #expect(WebhookAuthenticator(secret: "s3cr3t").isAuthorized(header) == accepted)
    }

    @Test func webhookMissingOrEmptySecret() {
        #expect(!WebhookAuthenticator(secret: "s3cr3t").isAuthorized(nil))
        #expect(!WebhookAuthenticator(secret: "").isAuthorized("Bearer "))
        #expect(!WebhookAuthenticator(secret: "").isAuthorized("Bearer x"))
    }
}
