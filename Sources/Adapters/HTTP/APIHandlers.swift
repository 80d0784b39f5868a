import Application
import Domain
import Hummingbird
import Metrics
import NIOCore
import WireFormat

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The endpoint implementations: authenticate, parse, call one use case, encode.
struct APIHandlers: Sendable {
    let services: HTTPServices
    let webhookPositions = OutcomeCounters(label: "tracker_webhook_positions_total")
    let webhookEvents = OutcomeCounters(label: "tracker_webhook_events_total")
    /// `tracker_webhook_fix_time_refused_total{reason="future"|"before_retention"}`: fixes refused for their time
    /// (device clocks ahead, or reset to 1970 / a GPS week rollover), positions and events' positions alike.
    let fixTimeRefused = Dictionary(
        uniqueKeysWithValues: [PositionValidationError.ClockError.future, .beforeRetention].map {
            ($0, Counter(label: "tracker_webhook_fix_time_refused_total", dimensions: [("reason", $0.rawValue)]))
        }
    )

    func handle(_ endpoint: Endpoint, request: Request, context: BasicRequestContext) async throws -> Response {
        switch endpoint.route.auth {
        case .none:
            return try await handlePublic(endpoint, request: request)
        case .development:
            return try await devToken(request)
        case .webhookSecret:
            guard services.webhook.isAuthorized(request.headers[.authorization]) else {
                throw Problem(
                    .unauthorized,
                    detail: "missing or wrong webhook secret",
                    headers: [.wwwAuthenticate: #"Bearer realm="traccar-webhook""#]
                )
            }
            return try await handleWebhook(endpoint, request: request)
        case .jwt:
            let principal = try await authenticate(request)
            return try await handleAPI(endpoint, request: request, context: context, principal: principal)
        }
    }

    // MARK: Authentication

    func authenticate(_ request: Request) async throws -> Principal {
        guard let header = request.headers[.authorization] else {
            throw Problem(
                .unauthorized,
                detail: "missing bearer token",
                headers: [.wwwAuthenticate: #"Bearer realm="tracker""#]
            )
        }
        guard let token = bearerToken(header) else {
            throw Problem(
                .unauthorized,
                detail: "the Authorization header must be 'Bearer <token>'",
                headers: [.wwwAuthenticate: #"Bearer realm="tracker", error="invalid_request""#]
            )
        }
        do {
            return try await services.tokens.verify(String(token))
        } catch let error as TokenAuthority.InvalidToken {
            throw Problem(
                .unauthorized,
                detail: error.reason,
                headers: [
                    .wwwAuthenticate:
                        #"Bearer realm="tracker", error="invalid_token", error_description=""# + error.reason
                        + #"""#
                ]
            )
        }
    }

    // MARK: Public endpoints

    func handlePublic(_ endpoint: Endpoint, request: Request) async throws -> Response {
        switch endpoint {
        case .healthLive:
            return try json(["status": "ok"])
        case .healthReady:
            let checks = await services.readiness().sorted { $0.name < $1.name }
            let down = checks.filter { $0.status == .down }
            guard down.isEmpty else {
                throw Problem(
                    .unavailable,
                    detail: "not ready: " + down.map { "\($0.name) (\($0.reason))" }.joined(separator: ", "),
                    checks: down.map(\.name),
                    headers: [.retryAfter: "5"]
                )
            }
            let degraded = checks.filter { $0.status == .degraded }.map(\.name)
            return try json(
                ReadyBody(
                    status: "ready",
                    checks: checks.map(\.name),
                    degraded: degraded.isEmpty ? nil : degraded,
                    dependencies: Dictionary(
                        checks.map { ($0.name, ReadyBody.Dependency(status: $0.status.rawValue, reason: $0.reason)) }
                    ) { a, _ in a }
                )
            )
        case .healthCDC:
            guard let report = services.cdcHealth else {
                throw Problem(.notFound, detail: "this instance consumes no change data capture")
            }
            do {
                return try json(CDCBody(try await report()))
            } catch let error as StoreError {
                throw Problem(.unavailable, detail: "sync state unreadable: \(error.code)", headers: [.retryAfter: "5"])
            }
        case .metrics:
            let text = await services.metrics()
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: text))
            )
        case .openAPI:
            guard let bytes = OpenAPIDocument.bytes else {
                throw Problem(.internalError, detail: "the OpenAPI document is not bundled")
            }
            return Response(
                status: .ok,
                headers: [.contentType: "application/yaml; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: bytes))
            )
        case .dashboardConfig:
            return try dashboardConfig()
        default:
            throw Problem(.notFound, detail: "no such route")
        }
    }

    // MARK: Traccar webhook

    func handleWebhook(_ endpoint: Endpoint, request: Request) async throws -> Response {
        let body = try await readBody(request, required: true)
        switch endpoint {
        case .traccarPositions: return try await ingestPositions(body)
        case .traccarEvents: return try await ingestEvent(body)
        default: throw Problem(.notFound, detail: "no such route")
        }
    }

    func ingestPositions(_ body: ByteBuffer) async throws -> Response {
        let bytes = body.readableBytesView
        let isBatch = bytes.first { !($0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09) } == UInt8(ascii: "[")
        let reports: [DevicePositionReport]
        do {
            reports = try TraccarPayload.decodePositions(bytes)
        } catch {
            webhookPositions.invalid.increment()
            throw error
        }
        if isBatch, reports.isEmpty {
            webhookPositions.invalid.increment()
            throw Problem(.invalidInput, detail: "body: expected at least one position body")
        }

        // The use case validates each report (before the device lookup); errors name Traccar's field.
        var results = [PositionResult?](repeating: nil, count: reports.count)
        let outcomes = try await services.ingest.ingest(positions: reports)
        for (index, outcome) in outcomes.enumerated() {
            switch outcome {
            case .accepted(let driverId, _):
                results[index] = PositionResult(outcome: "accepted", driverId: driverId.rawValue)
            case .unmappedDevice:
                results[index] = PositionResult(
                    outcome: "unmapped",
                    detail: "no active driver has device \(reports[index].deviceId); dropped"
                )
            case .invalid(let error):
                if let clock = error.clock { fixTimeRefused[clock]?.increment() }
                let field = (isBatch ? "[\(index)].position." : "position.") + Self.traccarField(error.field)
                results[index] = PositionResult(outcome: "invalid", detail: "\(field): \(error.reason)", field: field)
            }
        }
        let final = results.map { $0 ?? PositionResult(outcome: "invalid", detail: "not processed") }
        for result in final { webhookPositions.count(result.outcome) }

        if !isBatch, let result = final.first {
            if result.outcome == "invalid" {
                throw Problem(.invalidInput, detail: result.detail ?? "invalid position", field: result.field)
            }
            return try json(result)
        }
        return try json(
            BatchResult(
                accepted: final.count { $0.outcome == "accepted" },
                unmapped: final.count { $0.outcome == "unmapped" },
                invalid: final.count { $0.outcome == "invalid" },
                results: final
            )
        )
    }

    func ingestEvent(_ body: ByteBuffer) async throws -> Response {
        let event: DeviceEventReport
        do {
            event = try TraccarPayload.decodeEvent(body.readableBytesView)
        } catch {
            webhookEvents.invalid.increment()
            throw error
        }
        let outcome = try await services.ingest.ingest(event: event)
        switch outcome {
        case .accepted(let driverId, _):
            webhookEvents.count("accepted")
            return try json(PositionResult(outcome: "accepted", driverId: driverId.rawValue))
        case .unmappedDevice:
            webhookEvents.count("unmapped")
            return try json(
                PositionResult(
                    outcome: "unmapped",
                    detail: "no active driver has device \(event.deviceId); dropped"
                )
            )
        case .invalid(let error):
            webhookEvents.count("invalid")
            if let clock = error.clock { fixTimeRefused[clock]?.increment() }
            let field = "position." + Self.traccarField(error.field)
            throw Problem(.invalidInput, detail: "\(field): \(error.reason)", field: field)
        }
    }

    /// Traccar's name of a `RawPosition` field.
    static func traccarField(_ field: String) -> String {
        switch field {
        case "speedKmh": "speed"
        case "batteryLevel": "attributes.batteryLevel"
        default: field
        }
    }

    // MARK: REST API

    func handleAPI(
        _ endpoint: Endpoint,
        request: Request,
        context: BasicRequestContext,
        principal: Principal
    ) async throws -> Response {
        switch endpoint {
        case .listDrivers:
            return try json(try await services.drivers.list(as: principal))
        case .createDriver:
            let input = try NewDriver(body: try requestBody(try await readJSONBody(request)))
            let driver = try await services.drivers.create(input, as: principal)
            return try json(driver, status: .created, location: "/api/drivers/\(driver.id)")
        case .getDriver:
            return try json(try await services.drivers.get(DriverID(try id(context)), as: principal))
        case .driverPosition:
            return try json(try await services.positions.latest(driverId: DriverID(try id(context)), as: principal))
        case .driverHistory:
            let now = services.clock.now()
            let to = try timestampParameter(try queryValue(request, "to"), name: "to") ?? now
            let from = try timestampParameter(try queryValue(request, "from"), name: "from") ?? (to - .seconds(86_400))
            var maxPoints = PositionQueries.defaultMaxPoints
            if let text = try queryValue(request, "maxPoints") {
                let limit = PositionQueries.maxPointsLimit
                guard let value = Self.saturatingInteger(text), value >= 2 else {
                    throw Problem(
                        .invalidInput,
                        detail: "maxPoints: expected an integer of at least 2 (above \(limit): \(limit))",
                        field: "maxPoints"
                    )
                }
                maxPoints = min(value, limit)
            }
            let driverId = DriverID(try id(context))
            let points = try await services.positions.history(
                driverId: driverId,
                from: from,
                to: to,
                maxPoints: maxPoints,
                as: principal
            )
            return try json(HistoryBody(driverId: driverId, from: from, to: to, maxPoints: maxPoints, points: points))
        case .driverStats:
            let today = CalendarDate(containing: services.clock.now())
            let to = try dateParameter(try queryValue(request, "to"), name: "to") ?? today
            let from =
                try dateParameter(try queryValue(request, "from"), name: "from")
                ?? CalendarDate(containing: to.startOfDay - .seconds(6 * 86_400))
            return try json(
                try await services.positions.stats(
                    driverId: DriverID(try id(context)),
                    from: from,
                    to: to,
                    as: principal
                )
            )
        case .putCustomer:
            let input = try NewCustomer(body: try requestBody(try await readJSONBody(request)))
            return try json(try await services.customers.upsert(input, id: CustomerID(try id(context)), as: principal))
        case .deleteCustomer:
            try await services.customers.delete(CustomerID(try id(context)), as: principal)
            return Response(status: .noContent)
        case .createRoute:
            let input = try NewRoute(body: try requestBody(try await readJSONBody(request)))
            let details = try await services.routes.create(input, as: principal)
            return try json(details, status: .created, location: "/api/routes/\(details.route.id)")
        case .listRoutes:
            let date = try dateParameter(try queryValue(request, "date"), name: "date")
            let driverId = try queryValue(request, "driverId").map { DriverID($0) }
            return try json(try await services.routes.list(date: date, driverId: driverId, as: principal))
        case .getRoute:
            return try json(try await services.routes.get(RouteID(try id(context)), as: principal))
        case .visitArrive, .visitStart, .visitComplete, .visitSkip, .visitFail:
            let body = try await readBody(request, required: false)
            let input = body.readableBytes == 0 ? VisitActionInput() : try VisitActionInput(body: try requestBody(body))
            let action: VisitAction =
                switch endpoint {
                case .visitArrive: .arrive(outOfSequence: false)
                case .visitStart: .start
                case .visitComplete:
                    .complete(
                        input.notes == nil && input.signedBy == nil
                            ? nil : VisitCompletion(notes: input.notes, signedBy: input.signedBy)
                    )
                case .visitSkip: .skip(reason: input.reason)
                default: .fail(reason: input.reason)
                }
            return try json(try await services.visits.perform(action, on: VisitID(try id(context)), as: principal))
        case .listCustomers:
            return try await listCustomers(principal: principal)
        case .demoBasemap:
            return try await demoBasemap(principal: principal)
        default:
            throw Problem(.notFound, detail: "no such route")
        }
    }

    // MARK: Request helpers

    /// The `{id}` path parameter, percent-decoded (the router leaves it encoded, and clients encode what a path
    /// segment cannot carry: `?`, `#`, `%`, `[`…); 404 when it is missing or not a valid encoding of UTF-8.
    func id(_ context: BasicRequestContext) throws -> String {
        guard let raw = context.parameters.get("id"), let value = Self.percentDecoded(raw), !value.isEmpty else {
            throw Problem(.notFound, detail: "no resource with that id")
        }
        return value
    }

    /// `%XX` sequences decoded; nil when one is malformed or the bytes are not UTF-8.
    static func percentDecoded(_ text: String) -> String? {
        guard text.utf8.contains(UInt8(ascii: "%")) else { return text }
        func hex(_ byte: UInt8) -> UInt8? {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        let source = Array(text.utf8)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(source.count)
        var index = 0
        while index < source.count {
            if source[index] == UInt8(ascii: "%") {
                guard index + 2 < source.count, let high = hex(source[index + 1]), let low = hex(source[index + 2])
                else { return nil }
                bytes.append(high << 4 | low)
                index += 3
            } else {
                bytes.append(source[index])
                index += 1
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    /// Reads the whole body, refusing more than `bodyLimit` bytes with 413.
    func readBody(_ request: Request, required: Bool) async throws -> ByteBuffer {
        let limit = services.bodyLimit
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > limit {
            throw Problem(.payloadTooLarge, detail: "the request body exceeds \(limit) bytes")
        }
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw Problem(.payloadTooLarge, detail: "the request body exceeds \(limit) bytes")
        }
        if required, buffer.readableBytes == 0 {
            throw Problem(.malformedRequest, detail: "a JSON request body is required")
        }
        return buffer
    }

    /// Reads a required JSON body of the REST API (415 for a non-JSON content type).
    func readJSONBody(_ request: Request) async throws -> ByteBuffer {
        if let type = request.headers[.contentType]?.lowercased(), !type.contains("json") {
            throw Problem(.unsupportedMediaType, detail: "send the body as application/json")
        }
        return try await readBody(request, required: true)
    }

    /// A REST body as one JSON object (see `RequestBody` for what is refused, and how).
    func requestBody(_ buffer: ByteBuffer) throws -> RequestBody {
        try RequestBody.parse(buffer.readableBytesView)
    }

    /// A query parameter's value; nil when absent. An empty value (`?to=`) is refused rather than read as
    /// absent: the parameter is omitted for its default.
    func queryValue(_ request: Request, _ name: String) throws -> String? {
        guard let text = request.uri.queryParameters.get(name) else { return nil }
        guard !text.isEmpty else {
            throw Problem(.invalidInput, detail: "\(name): must not be empty (omit it for the default)", field: name)
        }
        return text
    }

    /// `-?[0-9]+` as an `Int`, saturating at `Int.min`/`Int.max`; nil for any other text.
    static func saturatingInteger(_ text: String) -> Int? {
        var digits = Substring(text)
        let negative = digits.hasPrefix("-")
        if negative { digits = digits.dropFirst() }
        guard !digits.isEmpty, digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        guard let magnitude = Int(digits) else { return negative ? .min : .max }
        return negative ? -magnitude : magnitude
    }

    /// A timestamp query value (`QueryTimestamp`): `T` between date and time, never a space (form encoding sends a
    /// space as `+`, which the query then cannot tell from a zone's), or epoch milliseconds.
    func timestampParameter(_ text: String?, name: String) throws -> Timestamp? {
        guard let text else { return nil }
        guard !text.utf8.contains(UInt8(ascii: " ")), let value = ISO8601.parseTimestampOrEpochMillis(text) else {
            let range = ISO8601.epochMillisRange
            throw Problem(
                .invalidInput,
                detail: "\(name): expected an ISO-8601 timestamp with zone (`T` before the time), or epoch "
                    + "milliseconds from \(range.lowerBound) to \(range.upperBound)",
                field: name
            )
        }
        return value
    }

    func dateParameter(_ text: String?, name: String) throws -> CalendarDate? {
        guard let text else { return nil }
        guard let value = CalendarDate(text) else {
            throw Problem(.invalidInput, detail: "\(name): expected a date YYYY-MM-DD", field: name)
        }
        return value
    }

    // MARK: Response helper

    /// The one response encoding helper: JSON with ISO-8601 timestamps (see `JSONResponseEncoder`).
    func json(_ value: some Encodable, status: HTTPResponse.Status = .ok, location: String? = nil) throws -> Response {
        let bytes = try JSONResponseEncoder.encode(value)
        var headers: HTTPFields = [.contentType: "application/json; charset=utf-8"]
        if let location { headers[.location] = location }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

// MARK: - Metrics

/// `<label>{outcome="accepted"|"unmapped"|"invalid"}` counters, created once.
struct OutcomeCounters: Sendable {
    let accepted: Counter
    let unmapped: Counter
    let invalid: Counter

    init(label: String) {
        accepted = Counter(label: label, dimensions: [("outcome", "accepted")])
        unmapped = Counter(label: label, dimensions: [("outcome", "unmapped")])
        invalid = Counter(label: label, dimensions: [("outcome", "invalid")])
    }

    func count(_ outcome: String) {
        switch outcome {
        case "accepted": accepted.increment()
        case "unmapped": unmapped.increment()
        default: invalid.increment()
        }
    }
}

// MARK: - Wire shapes

/// The webhook's answer for one position or event.
struct PositionResult: Encodable {
    var outcome: String
    var driverId: String?
    var detail: String?
    var field: String?

    init(outcome: String, driverId: String? = nil, detail: String? = nil, field: String? = nil) {
        self.outcome = outcome
        self.driverId = driverId
        self.detail = detail
        self.field = field
    }
}

/// The webhook's answer for a batch.
struct BatchResult: Encodable {
    var accepted: Int
    var unmapped: Int
    var invalid: Int
    var results: [PositionResult]
}

struct ReadyBody: Encodable {
    struct Dependency: Encodable {
        var status: String
        var reason: String
    }

    var status: String
    var checks: [String]
    /// Dependencies that are down while the instance still serves (omitted when none).
    var degraded: [String]?
    /// Every check with its status and reason.
    var dependencies: [String: Dependency]
}

/// `/health/cdc`.
struct CDCBody: Encodable {
    struct Table: Encodable {
        var table: String
        var status: String
        var lagSeconds: Double?
        var secondsSinceLastEvent: Double?
        var eventsApplied: Int64
        var eventsFailed: Int64
        var lastVersion: String?
        var lastSourceAt: Timestamp?
        var lastSyncedAt: Timestamp?
        var lastError: String?
        var lastErrorAt: Timestamp?
        var warning: String?
    }

    var status: String
    var lagThresholdSeconds: Double
    var tables: [Table]

    init(_ report: SyncMonitor.Report) {
        status = report.status.rawValue
        lagThresholdSeconds = report.lagThreshold.secondsValue
        tables = report.tables.map { line in
            Table(
                table: line.table,
                status: line.status.rawValue,
                lagSeconds: line.lag?.secondsValue,
                secondsSinceLastEvent: line.sinceLastEvent?.secondsValue,
                eventsApplied: line.state.eventsApplied,
                eventsFailed: line.state.eventsFailed,
                lastVersion: line.state.lastVersion,
                lastSourceAt: line.state.lastSourceAt,
                lastSyncedAt: line.state.lastSyncedAt,
                lastError: line.state.lastError,
                lastErrorAt: line.state.lastErrorAt,
                warning: line.warning
            )
        }
    }
}

struct HistoryBody: Encodable {
    var driverId: DriverID
    var from: Timestamp
    var to: Timestamp
    var maxPoints: Int
    var points: [HistoryPoint]
}

/// Optional body of the visit actions.
struct VisitActionInput {
    var notes: String?
    var signedBy: String?
    var reason: String?
}
