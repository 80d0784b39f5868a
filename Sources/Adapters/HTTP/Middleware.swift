import Application
import Hummingbird
import Logging
import Metrics
import NIOCore

/// Names the instance that answered in `X-Tracker-Instance` on every response, errors included (it runs
/// outside `ProblemMiddleware`). nginx turns it into the sticky-session cookie (deploy/nginx/tracker-http.conf).
struct InstanceHeaderMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    static let name = HTTPFields.Element.Name("X-Tracker-Instance")!
    let id: String

    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        var response = try await next(request, context)
        response.headers[Self.name] = id
        return response
    }
}

/// Turns every error into an RFC 9457 problem response, so no path answers with an empty or HTML body.
///
/// Mapping: `Problem` as is; `UseCaseError` by code (invalid 422, forbidden 403, notFound 404, conflict 409,
/// unsupported 501, unavailable 503); `StoreError.unavailable`/`.closed` 503; Hummingbird's 404 for unknown routes
/// (405 with `Allow` when the path exists for another method); a too-large body 413; anything else 500 with a
/// generic detail, logged with the request id.
struct ProblemMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let logger: Logger

    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let problem = Self.problem(for: error, request: request, requestId: context.requestId, logger: logger)
            return problem.makeResponse(instance: request.uri.path)
        }
    }

    static func problem(for error: any Error, request: Request, requestId: String?, logger: Logger) -> Problem {
        switch error {
        case let problem as Problem:
            return problem
        case let error as UseCaseError:
            return Problem(kind(of: error.code), detail: error.reason, field: error.field)
        case let error as StoreError where error.code == .unavailable || error.code == .closed:
            logger.debug(
                "store unavailable",
                metadata: [
                    "request.id": "\(requestId ?? "-")",
                    "error": "\(error.debugDescription)",
                ]
            )
            return Problem(
                .unavailable,
                detail: "a backing service is unavailable; retry later",
                headers: [.retryAfter: "5"]
            )
        case let error as TraccarDecodingError:
            return Problem(
                error.kind == .malformedJSON ? .malformedRequest : .invalidInput,
                detail: error.reason,
                field: error.field
            )
        case is NIOTooManyBytesError:
            return Problem(.payloadTooLarge, detail: "the request body is larger than allowed")
        case let error as HTTPError where error.status == .notFound:
            return notFoundOrMethodNotAllowed(request)
        case let error as HTTPError where error.status.code < 500:
            return Problem(
                Problem.Kind(
                    slug: "http-\(error.status.code)",
                    status: error.status.code,
                    title: error.status.reasonPhrase
                ),
                detail: error.body ?? error.status.reasonPhrase
            )
        case is CancellationError:
            return Problem(.unavailable, detail: "the request was cancelled")
        default:
            logger.error(
                "unexpected error while handling request",
                metadata: [
                    "request.id": "\(requestId ?? "-")", "http.method": "\(request.method)",
                    "http.path": "\(request.uri.path)", "error": "\(String(reflecting: error))",
                ]
            )
            return Problem(
                .internalError,
                detail: "an unexpected error occurred (request id \(requestId ?? "unknown"))"
            )
        }
    }

    static func kind(of code: UseCaseError.Code) -> Problem.Kind {
        switch code {
        case .invalid: .invalidInput
        case .forbidden: .forbidden
        case .notFound: .notFound
        case .conflict: .conflict
        case .unsupported: .notImplemented
        case .unavailable: .unavailable
        }
    }

    static func notFoundOrMethodNotAllowed(_ request: Request) -> Problem {
        let path = request.uri.path
        let allowed = TrackerAPI.routes.filter { $0.matches(path: path) }.map(\.method)
        if !allowed.isEmpty, !allowed.contains(request.method.rawValue) {
            let allow = Array(Set(allowed)).sorted().joined(separator: ", ")
            return Problem(
                .methodNotAllowed,
                detail: "\(request.method.rawValue) is not allowed here; use \(allow)",
                headers: [.allow: allow]
            )
        }
        return Problem(.notFound, detail: "no route \(request.method.rawValue) \(path)")
    }
}

/// Records `tracker_http_request_duration_seconds{method,route,status}` for every request.
struct RequestMetricsMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext

    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let start = ContinuousClock.now
        var status = 500
        defer {
            let elapsed = ContinuousClock.now - start
            let route = context.endpointPath.map { $0 == "NotFound" ? "unmatched" : $0 } ?? "unmatched"
            Metrics.Timer(
                label: "tracker_http_request_duration_seconds",
                dimensions: [
                    ("method", request.method.rawValue), ("route", route),
                    ("status", String(status)),
                ]
            )
            .recordNanoseconds(
                elapsed.components.seconds * 1_000_000_000
                    + elapsed.components.attoseconds / 1_000_000_000
            )
        }
        let response = try await next(request, context)
        status = response.status.code
        return response
    }
}

extension RequestContext {
    /// Hummingbird's request id, when the logger carries one.
    var requestId: String? {
        logger[metadataKey: "hb.request.id"].map { "\($0)" }
    }
}
