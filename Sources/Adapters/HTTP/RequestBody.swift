import Application
import Domain
import WireFormat

/// A JSON object of a REST request body, read member by member so that every refusal names its field and says
/// what was expected (`visits[0].sequenceNumber: expected an integer from 1 to 2147483647`).
///
/// The rules are the request schemas of `openapi.yaml`:
/// - not JSON, or a string whose bytes are not UTF-8: `malformedJSON` (400), the latter naming the field;
/// - a member of the wrong type, `null` (optional members are omitted, never `null`), a number that is not an
///   integer or out of its range where the schema says so, a missing required member: `invalidField` (422);
/// - members the schema does not declare are ignored, whatever their value.
///
/// Rules that need the tenant's data or more than one field (a blank name, an unknown customer, a time window
/// that ends before it starts) stay with the use cases, which answer 422 with the field too.
struct RequestBody {
    let members: JSONObject
    /// Prepended to member names in errors: empty at the root, `visits[0].` inside an array element.
    let prefix: String

    /// Parses `bytes` as one JSON object.
    static func parse(_ bytes: some Collection<UInt8>) throws(TraccarDecodingError) -> RequestBody {
        let root: JSONTree
        do {
            root = try JSONBytesReader.parse(Array(bytes))
        } catch {
            throw .malformed(error)
        }
        guard case .object(let members) = root else {
            throw TraccarDecodingError(kind: .invalidField, field: nil, reason: "expected a JSON object")
        }
        return RequestBody(members: members, prefix: "")
    }

    func field(_ key: String) -> String { prefix + key }

    /// The member's value; nil when absent. `null` is refused: optional members are omitted instead.
    func value(_ key: String, expected: String) throws(TraccarDecodingError) -> JSONTree? {
        guard let value = members[key] else { return nil }
        if value == .null { throw .invalid(field(key), "expected \(expected), found null") }
        return value
    }

    func required<T>(
        _ key: String,
        _ read: (String) throws(TraccarDecodingError) -> T?
    ) throws(TraccarDecodingError) -> T {
        guard let value = try read(key) else { throw .invalid(field(key), "is required") }
        return value
    }

    func string(_ key: String) throws(TraccarDecodingError) -> String? {
        guard let value = try value(key, expected: "a string") else { return nil }
        guard case .string(let text) = value else { throw .invalid(field(key), "expected a string") }
        return text
    }

    /// A finite number.
    func number(_ key: String) throws(TraccarDecodingError) -> Double? {
        guard let value = try value(key, expected: "a number") else { return nil }
        guard case .number(let number, _) = value else { throw .invalid(field(key), "expected a number") }
        guard number.isFinite else { throw .invalid(field(key), "expected a finite number") }
        return number
    }

    /// An integer within `range` (a number without a fractional part, as JSON Schema's `integer`: `300`, `3e2`
    /// and `300.0` alike).
    func integer(_ key: String, in range: ClosedRange<Int64>) throws(TraccarDecodingError) -> Int64? {
        guard let value = try value(key, expected: "an integer") else { return nil }
        return try Self.integer(value, in: range, field: field(key))
    }

    static func integer(
        _ value: JSONTree,
        in range: ClosedRange<Int64>,
        field: String
    ) throws(TraccarDecodingError) -> Int64 {
        // The ranges are within ±2^53, where every integer is exactly a double.
        guard case .number(let number, _) = value, number.rounded(.towardZero) == number,
            number >= Double(range.lowerBound), number <= Double(range.upperBound)
        else {
            throw .invalid(field, "expected an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return Int64(number)
    }

    /// One of `T`'s raw values.
    func enumeration<T: RawRepresentable & CaseIterable>(
        _ key: String,
        _ type: T.Type
    ) throws(TraccarDecodingError) -> T? where T.RawValue == String {
        guard let text = try string(key) else { return nil }
        guard let value = T(rawValue: text) else {
            throw .invalid(field(key), "expected one of " + T.allCases.map(\.rawValue).joined(separator: ", "))
        }
        return value
    }

    func object(_ key: String) throws(TraccarDecodingError) -> RequestBody? {
        guard let value = try value(key, expected: "an object") else { return nil }
        guard case .object(let members) = value else { throw .invalid(field(key), "expected an object") }
        return RequestBody(members: members, prefix: field(key) + ".")
    }

    /// An array of objects, each read with `prefix` `key[i].`.
    func objects(_ key: String) throws(TraccarDecodingError) -> [RequestBody]? {
        guard let value = try value(key, expected: "an array") else { return nil }
        guard case .array(let elements) = value else { throw .invalid(field(key), "expected an array") }
        var result: [RequestBody] = []
        result.reserveCapacity(elements.count)
        for (index, element) in elements.enumerated() {
            let path = "\(field(key))[\(index)]"
            guard case .object(let members) = element else { throw .invalid(path, "expected an object") }
            result.append(RequestBody(members: members, prefix: path + "."))
        }
        return result
    }

    /// A calendar date `YYYY-MM-DD`.
    func date(_ key: String) throws(TraccarDecodingError) -> CalendarDate? {
        guard let text = try string(key) else { return nil }
        guard let date = CalendarDate(text) else { throw .invalid(field(key), "expected a date YYYY-MM-DD") }
        return date
    }

    /// An instant: an ISO-8601 timestamp with zone, or epoch milliseconds within `ISO8601.epochMillisRange`.
    func timestamp(_ key: String) throws(TraccarDecodingError) -> Timestamp? {
        let expected = "an ISO-8601 timestamp with zone or epoch milliseconds"
        guard let value = try value(key, expected: expected) else { return nil }
        switch value {
        case .string(let text):
            guard let timestamp = ISO8601.parse(text) else { throw .invalid(field(key), "expected \(expected)") }
            return timestamp
        case .number:
            let range = ISO8601.epochMillisRange
            let millis = try Self.integer(value, in: range, field: field(key))
            return Timestamp(millisecondsSinceEpoch: millis)
        default:
            throw .invalid(field(key), "expected \(expected)")
        }
    }
}

// MARK: - The bodies of the REST API

extension NewDriver {
    /// `POST /api/drivers`.
    init(body: RequestBody) throws(TraccarDecodingError) {
        self.init(
            id: try body.string("id").map { DriverID($0) },
            deviceId: DeviceID(try body.required("deviceId", body.string)),
            name: try body.required("name", body.string),
            phone: try body.string("phone"),
            vehiclePlate: try body.string("vehiclePlate"),
            vehicleType: try body.enumeration("vehicleType", VehicleType.self)
        )
    }
}

extension NewCustomer {
    /// `PUT /api/customers/{id}`.
    init(body: RequestBody) throws(TraccarDecodingError) {
        self.init(
            name: try body.required("name", body.string),
            phone: try body.string("phone"),
            address: try body.string("address"),
            latitude: try body.required("latitude", body.number),
            longitude: try body.required("longitude", body.number),
            geofenceRadiusMeters: try body.number("geofenceRadiusMeters"),
            customerType: try body.string("customerType")
        )
    }
}

extension NewRoute {
    /// `POST /api/routes`.
    init(body: RequestBody) throws(TraccarDecodingError) {
        let id = try body.string("id").map { RouteID($0) }
        let driverId = DriverID(try body.required("driverId", body.string))
        let scheduledDate = try body.required("scheduledDate", body.date)
        let sequenceNumbers = RoutePlanning.sequenceNumbers
        let serviceDurations = RoutePlanning.serviceDurations
        var visits: [NewVisit] = []
        for visit in try body.required("visits", body.objects) {
            var window: TimeWindow?
            if let body = try visit.object("timeWindow") {
                window = TimeWindow(
                    start: try body.required("start", body.timestamp),
                    end: try body.required("end", body.timestamp)
                )
            }
            visits.append(
                NewVisit(
                    id: try visit.string("id").map { VisitID($0) },
                    customerId: CustomerID(try visit.required("customerId", visit.string)),
                    sequenceNumber: try visit.integer(
                        "sequenceNumber",
                        in: Int64(sequenceNumbers.lowerBound)...Int64(sequenceNumbers.upperBound)
                    ).map { Int($0) },
                    visitType: try visit.enumeration("visitType", VisitType.self),
                    timeWindow: window,
                    serviceDurationSeconds: try visit.integer(
                        "serviceDurationSeconds",
                        in: Int64(serviceDurations.lowerBound)...Int64(serviceDurations.upperBound)
                    ).map { Int($0) }
                )
            )
        }
        self.init(id: id, driverId: driverId, scheduledDate: scheduledDate, visits: visits)
    }
}

extension VisitActionInput {
    /// The optional body of `POST /api/visits/{id}/…`.
    init(body: RequestBody) throws(TraccarDecodingError) {
        self.init(
            notes: try body.string("notes"),
            signedBy: try body.string("signedBy"),
            reason: try body.string("reason")
        )
    }
}

extension DevTokenInput {
    /// The optional body of `POST /api/dev/token`.
    init(body: RequestBody) throws(TraccarDecodingError) {
        self.init(role: try body.string("role"), subject: try body.string("subject"))
    }
}
