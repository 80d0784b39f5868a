public import Domain
import JWTKit

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Issues and checks the HS256 JWTs of the REST API and the Socket.io gateway.
///
/// Claims: `sub` (subject; a driver id for the `driver` role), `tenant` (tenant id), `role`
/// (`admin`, `dispatcher`, `viewer`, `driver`), `exp` (expiry, seconds since the epoch) and `iat`.
/// Tokens signed with another algorithm or key, expired tokens and tokens with unknown roles are rejected.
public final class TokenAuthority: Sendable {
    /// Why a token was refused. `description` is safe to return to the client.
    public struct InvalidToken: Error, Hashable, Sendable, CustomStringConvertible {
        public var reason: String
        public init(_ reason: String) { self.reason = reason }
        public var description: String { reason }
    }

    private let keys: Task<JWTKeyCollection, Never>
    private let now: @Sendable () -> Timestamp

    /// - Parameters:
    ///   - secret: the HS256 key (`TRACKER_JWT_SECRET`); use at least 32 random bytes in production. Shorter
    ///     secrets still work: they are zero-padded to 32 bytes, which leaves every HMAC unchanged (RFC 2104 pads
    ///     keys to the block size with zeros anyway), so tokens stay compatible with other HS256 issuers.
    ///   - now: the clock for `iat`/`exp`; the system clock by default (tests pass a fixed one).
    public init(secret: String, now: @escaping @Sendable () -> Timestamp = TokenAuthority.systemNow) {
        var bytes = Array(secret.utf8)
        if bytes.count < 32 { bytes += repeatElement(0, count: 32 - bytes.count) }
        let key = HMACKey(from: bytes)
        self.keys = Task { await JWTKeyCollection().add(hmac: key, digestAlgorithm: .sha256) }
        self.now = now
    }

    /// The system clock as a `Timestamp`.
    public static let systemNow: @Sendable () -> Timestamp = {
        Timestamp(secondsSinceEpoch: Date().timeIntervalSince1970)
    }

    /// Signs a token for `principal`, valid for `ttl` from now.
    public func mint(principal: Principal, ttl: Duration) async throws -> String {
        let issued = now()
        let payload = Claims(
            sub: SubjectClaim(value: principal.subject),
            tenant: principal.tenantId.rawValue,
            role: principal.role.rawValue,
            exp: ExpirationClaim(value: Date(timeIntervalSince1970: (issued + ttl).secondsSinceEpoch)),
            iat: IssuedAtClaim(value: Date(timeIntervalSince1970: issued.secondsSinceEpoch))
        )
        return try await keys.value.sign(payload)
    }

    /// Verifies signature, algorithm and expiry, and returns the token's principal.
    /// - Throws: `InvalidToken` with a client-safe reason.
    public func verify(_ token: String) async throws -> Principal {
        guard !token.isEmpty, token.utf8.count <= 8192 else { throw InvalidToken("malformed token") }
        let claims: Claims
        do {
            claims = try await keys.value.verify(token, as: Claims.self)
        } catch {
            throw InvalidToken("invalid token signature or format")
        }
        guard let expiry = claims.exp else { throw InvalidToken("token has no expiry") }
        guard now().secondsSinceEpoch < expiry.value.timeIntervalSince1970 else { throw InvalidToken("token expired") }
        guard let role = Role(rawValue: claims.role) else { throw InvalidToken("unknown role") }
        guard !claims.tenant.isEmpty else { throw InvalidToken("token has no tenant") }
        guard let subject = claims.sub?.value, !subject.isEmpty else { throw InvalidToken("token has no subject") }
        return Principal(tenantId: TenantID(claims.tenant), role: role, subject: subject)
    }

    /// The JWT payload.
    struct Claims: JWTPayload {
        var sub: SubjectClaim?
        var tenant: String
        var role: String
        var exp: ExpirationClaim?
        var iat: IssuedAtClaim?

        /// Expiry is checked by `verify` against the injected clock, not jwt-kit's system clock.
        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }
}

/// Checks Traccar's `Authorization: Bearer <TRACKER_WEBHOOK_SECRET>` header in constant time.
public struct WebhookAuthenticator: Sendable {
    private let secret: [UInt8]

    /// - Parameter secret: the shared secret configured in Traccar's `forward.header`. An empty secret
    ///   rejects every request.
    public init(secret: String) {
        self.secret = Array(secret.utf8)
    }

    /// True when `authorization` is `Bearer <secret>` (scheme case-insensitive).
    public func isAuthorized(_ authorization: String?) -> Bool {
        guard !secret.isEmpty, let token = bearerToken(authorization) else { return false }
        return constantTimeEquals(Array(token.utf8), secret)
    }
}

/// The token of an `Authorization: Bearer <token>` header, nil for any other scheme.
func bearerToken(_ header: String?) -> Substring? {
    guard let header else { return nil }
    let trimmed = header.drop(while: { $0 == " " })
    guard trimmed.count > 7, trimmed.prefix(7).lowercased() == "bearer " else { return nil }
    let token = trimmed.dropFirst(7).drop(while: { $0 == " " })
    var end = token.endIndex
    while end > token.startIndex, token[token.index(before: end)] == " " { end = token.index(before: end) }
    let result = token[token.startIndex..<end]
    return result.isEmpty ? nil : result
}

/// Compares two byte strings in time that depends only on their lengths, not their contents.
func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    var difference: UInt8 = a.count == b.count ? 0 : 1
    let n = max(a.count, b.count)
    guard n > 0 else { return difference == 0 }
    for i in 0..<n {
        let x = a.isEmpty ? 0 : a[i % a.count]
        let y = b.isEmpty ? 0 : b[i % b.count]
        difference |= x ^ y
    }
    return difference == 0
}
