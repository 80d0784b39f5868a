public import Hummingbird

/// An RFC 9457 problem document (`application/problem+json`): the body of every error response.
///
/// `type` is a URN naming the kind of problem (`urn:tracker:problem:invalid-input`); `title` is the same for
/// every occurrence of a type; `detail` explains this occurrence and is safe to show (no other tenant's data,
/// no internals). Extension members: `field` (the offending input) and `checks` (failing readiness checks).
public struct Problem: Error, Sendable, Encodable {
    /// The kinds of problems the API reports, each with its status and title.
    public struct Kind: Hashable, Sendable {
        /// The last part of `type` (`invalid-input`).
        public var slug: String
        /// The HTTP status code.
        public var status: Int
        /// Short human-readable summary, the same for every occurrence.
        public var title: String

        public init(slug: String, status: Int, title: String) {
            self.slug = slug
            self.status = status
            self.title = title
        }

        /// 400 Malformed request.
        public static let malformedRequest = Kind(slug: "malformed-request", status: 400, title: "Malformed request")
        /// 401 Unauthorized.
        public static let unauthorized = Kind(slug: "unauthorized", status: 401, title: "Unauthorized")
        /// 403 Forbidden.
        public static let forbidden = Kind(slug: "forbidden", status: 403, title: "Forbidden")
        /// 404 Not found.
        public static let notFound = Kind(slug: "not-found", status: 404, title: "Not found")
        /// 405 Method not allowed.
        public static let methodNotAllowed = Kind(
            slug: "method-not-allowed",
            status: 405,
            title: "Method not allowed"
        )
        /// 409 Conflict.
        public static let conflict = Kind(slug: "conflict", status: 409, title: "Conflict")
        /// 413 Payload too large.
        public static let payloadTooLarge = Kind(slug: "payload-too-large", status: 413, title: "Payload too large")
        /// 415 Unsupported media type.
        public static let unsupportedMediaType = Kind(
            slug: "unsupported-media-type",
            status: 415,
            title: "Unsupported media type"
        )
        /// 422 Invalid input.
        public static let invalidInput = Kind(slug: "invalid-input", status: 422, title: "Invalid input")
        /// 500 Internal server error.
        public static let internalError = Kind(slug: "internal-error", status: 500, title: "Internal server error")
        /// 501 Not implemented.
        public static let notImplemented = Kind(slug: "not-implemented", status: 501, title: "Not implemented")
        /// 503 Service unavailable.
        public static let unavailable = Kind(slug: "unavailable", status: 503, title: "Service unavailable")

        /// Every kind, for documentation and tests.
        public static let all: [Kind] = [
            .malformedRequest, .unauthorized, .forbidden, .notFound, .methodNotAllowed, .conflict, .payloadTooLarge,
            .unsupportedMediaType, .invalidInput, .internalError, .notImplemented, .unavailable,
        ]

        /// Prefix of every problem `type`.
        public static let typePrefix = "urn:tracker:problem:"
    }

    /// `urn:tracker:problem:<slug>`.
    public var type: String
    /// The kind's title.
    public var title: String
    /// The HTTP status code, repeated in the body.
    public var status: Int
    /// What went wrong in this request; safe to show to the caller.
    public var detail: String
    /// The request path.
    public var instance: String?
    /// The offending input (`position.latitude`, `visits[0].customerId`, `maxPoints`), when there is one.
    public var field: String?
    /// The failing readiness checks (503 of `/health/ready`).
    public var checks: [String]?
    /// Extra response headers (`WWW-Authenticate`, `Allow`, `Retry-After`); not part of the body.
    public var headers: HTTPFields

    public init(
        _ kind: Kind,
        detail: String,
        field: String? = nil,
        instance: String? = nil,
        checks: [String]? = nil,
        headers: HTTPFields = [:]
    ) {
        self.type = Kind.typePrefix + kind.slug
        self.title = kind.title
        self.status = kind.status
        self.detail = detail
        self.instance = instance
        self.field = field
        self.checks = checks
        self.headers = headers
    }

    enum CodingKeys: String, CodingKey { case type, title, status, detail, instance, field, checks }

    /// HTTP status of the response.
    public var httpStatus: HTTPResponse.Status { HTTPResponse.Status(code: status) }

    /// The problem as a complete response, with `instance` filled in.
    public func makeResponse(instance: String?) -> Response {
        var problem = self
        problem.instance = instance
        let fallback = #"{"type":"urn:tracker:problem:internal-error","title":"Internal server error","status":500}"#
        let bytes = (try? JSONResponseEncoder.encode(problem)) ?? Array(fallback.utf8)
        var fields = headers
        fields[.contentType] = "application/problem+json"
        fields[.cacheControl] = "no-store"
        return Response(status: httpStatus, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
