import Domain

/// Why a use case refused a request. The HTTP adapter maps each code to a status and an RFC 9457
/// problem document; `reason` is safe to show to the caller (no other tenant's data).
public struct UseCaseError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: String, Hashable, Sendable {
        /// Malformed or out-of-range input (HTTP 422).
        case invalid
        /// The principal may not do this (HTTP 403).
        case forbidden
        /// Nothing with that id in the caller's tenant (HTTP 404). Also used for other tenants' ids,
        /// so their existence does not leak.
        case notFound
        /// The request conflicts with the current state: duplicate id, illegal visit transition (HTTP 409).
        case conflict
        /// The operation is not available in this deployment, e.g. writing customers in production (HTTP 405/501).
        case unsupported
        /// A dependency is down; retry later (HTTP 503).
        case unavailable
    }

    public var code: Code
    public var reason: String
    /// The offending input field for `.invalid`, when there is one.
    public var field: String?

    public init(_ code: Code, _ reason: String, field: String? = nil) {
        self.code = code
        self.reason = reason
        self.field = field
    }

    public var description: String { "\(code.rawValue): \(reason)" }

    static func from(_ denied: AccessDenied) -> UseCaseError { UseCaseError(.forbidden, denied.reason) }
}
