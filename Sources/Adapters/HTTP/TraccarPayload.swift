public import Application
import Domain
import WireFormat

/// Why a Traccar body (or a REST body, read by `RequestBody`) could not be decoded. `reason` names the field and
/// what was wrong with it (`position.latitude: expected a number`); it never echoes the body.
public struct TraccarDecodingError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Whether the body was not JSON (HTTP 400: a syntax error, or a string that is not UTF-8, then with `field`)
    /// or JSON of the wrong shape (HTTP 422).
    public enum Kind: Hashable, Sendable { case malformedJSON, invalidField }

    public var kind: Kind
    /// The offending field as a dotted path (`position.latitude`, `[2].device.uniqueId`), when known.
    public var field: String?
    /// A precise, client-safe explanation that starts with the field path.
    public var reason: String

    public init(kind: Kind, field: String?, reason: String) {
        self.kind = kind
        self.field = field
        self.reason = reason
    }

    static func invalid(_ path: String, _ problem: String) -> Self {
        TraccarDecodingError(
            kind: .invalidField,
            field: path.isEmpty ? nil : path,
            reason: path.isEmpty ? "body: \(problem)" : "\(path): \(problem)"
        )
    }

    /// Not JSON: a syntax error, or (naming where) a string whose bytes are not UTF-8 (RFC 8259 §8.1), which is
    /// refused rather than repaired with U+FFFD.
    static func malformed(_ error: any Error) -> Self {
        guard let error = error as? JSONBytesReader.SyntaxError, error.kind == .invalidUTF8 else {
            return TraccarDecodingError(
                kind: .malformedJSON,
                field: nil,
                reason: "the body is not valid JSON (\(error))"
            )
        }
        let path = JSONPathComponent.render(error.path)
        return TraccarDecodingError(
            kind: .malformedJSON,
            field: path.isEmpty ? nil : path,
            reason: "\(path.isEmpty ? "body" : path): \(error.reason) (the string at byte \(error.offset))"
        )
    }

    public var description: String { reason }
}

/// Decodes the JSON that Traccar 5.12–6.14 forwards (`forward.type=json`, `event.forward.url`) into the
/// application's report types.
///
/// - Positions: `{"position":{…},"device":{…}}`, or a JSON array of such bodies (batch, for simulators).
/// - Events: `{"event":{…},"position":{…}?,"device":{…},"geofence":{…}?}`.
///
/// Only `device.uniqueId`, `position.fixTime`, `position.latitude` and `position.longitude` (and, for events,
/// `event.type`) are required. Unknown keys are ignored, `null` counts as absent, `outdated` may be present
/// or not, and attribute values may be booleans, numbers or strings. Speed stays in knots.
public enum TraccarPayload {
    /// Decodes a position body or an array of position bodies.
    public static func decodePositions(
        _ bytes: some Collection<UInt8>
    ) throws(TraccarDecodingError)
        -> [DevicePositionReport]
    {
        let root = try parse(bytes)
        if case .array(let bodies) = root {
            var reports: [DevicePositionReport] = []
            reports.reserveCapacity(bodies.count)
            for (index, body) in bodies.enumerated() {
                reports.append(try positionReport(body, path: "[\(index)]."))
            }
            return reports
        }
        return [try positionReport(root, path: "")]
    }

    /// Decodes one position body (no batch).
    public static func decodePosition(
        _ bytes: some Collection<UInt8>
    ) throws(TraccarDecodingError)
        -> DevicePositionReport
    {
        try positionReport(try parse(bytes), path: "")
    }

    /// Decodes an event body.
    public static func decodeEvent(_ bytes: some Collection<UInt8>) throws(TraccarDecodingError) -> DeviceEventReport {
        let root = try parse(bytes)
        try expectObject(root, path: "")
        let deviceId = try device(root["device"], path: "device")
        guard let event = present(root["event"]) else { throw .invalid("event", "is required") }
        try expectObject(event, path: "event")
        guard let type = try string(event["type"], path: "event.type"), !type.isEmpty else {
            throw .invalid("event.type", "is required")
        }
        var position: DevicePositionReport?
        if let body = present(root["position"]) {
            position = try Self.position(body, deviceId: deviceId, path: "position")
        }
        guard let eventTime = try timestamp(event["eventTime"], path: "event.eventTime") ?? position?.fixTime else {
            throw .invalid("event.eventTime", "is required")
        }
        var attributes: [String: String] = [:]
        if case .object(let members) = try object(event["attributes"], path: "event.attributes") ?? .null {
            for (key, value) in members {
                switch value {
                case .bool(let b): attributes[key] = b ? "true" : "false"
                case .number(let d, _): attributes[key] = text(d)
                case .string(let s): attributes[key] = s
                default: break
                }
            }
        }
        var geofenceName: String?
        if let geofence = present(root["geofence"]) {
            try expectObject(geofence, path: "geofence")
            geofenceName = try string(geofence["name"], path: "geofence.name")
        }
        return DeviceEventReport(
            deviceId: deviceId,
            type: type,
            eventTime: eventTime,
            attributes: attributes,
            geofenceName: geofenceName,
            position: position
        )
    }

    // MARK: Mapping with precise errors

    static func parse(_ bytes: some Collection<UInt8>) throws(TraccarDecodingError) -> JSONTree {
        do {
            return try JSONBytesReader.parse(Array(bytes))
        } catch {
            throw .malformed(error)
        }
    }

    /// `{"position":…,"device":…}`.
    static func positionReport(
        _ body: JSONTree,
        path prefix: String
    ) throws(TraccarDecodingError)
        -> DevicePositionReport
    {
        try expectObject(body, path: prefix.isEmpty ? "" : String(prefix.dropLast()))
        let deviceId = try device(body["device"], path: prefix + "device")
        guard let position = present(body["position"]) else { throw .invalid(prefix + "position", "is required") }
        return try Self.position(position, deviceId: deviceId, path: prefix + "position")
    }

    static func device(_ value: JSONTree?, path: String) throws(TraccarDecodingError) -> DeviceID {
        guard let device = present(value) else { throw .invalid(path, "is required") }
        try expectObject(device, path: path)
        guard let id = try string(device["uniqueId"], path: path + ".uniqueId"), !id.isEmpty else {
            throw .invalid(path + ".uniqueId", "is required")
        }
        guard id.unicodeScalars.count <= Validation.maxIdentifierLength else {
            throw .invalid(path + ".uniqueId", "longer than \(Validation.maxIdentifierLength) characters")
        }
        guard !Validation.isBlank(id) else { throw .invalid(path + ".uniqueId", "must not be blank") }
        return DeviceID(id)
    }

    static func position(
        _ p: JSONTree,
        deviceId: DeviceID,
        path: String
    ) throws(TraccarDecodingError)
        -> DevicePositionReport
    {
        try expectObject(p, path: path)
        guard let fixTime = try timestamp(p["fixTime"], path: path + ".fixTime") else {
            throw .invalid(path + ".fixTime", "is required")
        }
        guard let latitude = try number(p["latitude"], path: path + ".latitude") else {
            throw .invalid(path + ".latitude", "is required")
        }
        guard let longitude = try number(p["longitude"], path: path + ".longitude") else {
            throw .invalid(path + ".longitude", "is required")
        }
        let altitude = try number(p["altitude"], path: path + ".altitude")
        let speed = try number(p["speed"], path: path + ".speed")
        let course = try number(p["course"], path: path + ".course")
        let accuracy = try number(p["accuracy"], path: path + ".accuracy")
        // Attributes are best effort: their types vary by protocol, and none is required; only a battery level
        // that is neither a number nor a decimal number as text is refused (the range is the domain's rule).
        let attributes = try object(p["attributes"], path: path + ".attributes") ?? .null
        let batteryLevel = try Self.batteryLevel(attributes["batteryLevel"], path: path + ".attributes.batteryLevel")
        let alarm = attributes["alarm"]?.string
        return DevicePositionReport(
            deviceId: deviceId,
            fixTime: fixTime,
            serverTime: try timestamp(p["serverTime"], path: path + ".serverTime"),
            latitude: latitude,
            longitude: longitude,
            altitude: altitude,
            speedKnots: speed ?? 0,
            course: course ?? 0,
            accuracy: accuracy,
            valid: try bool(p["valid"], path: path + ".valid") ?? true,
            batteryLevel: batteryLevel,
            ignition: lenientBool(attributes["ignition"]),
            motion: lenientBool(attributes["motion"]),
            alarm: alarm.flatMap { $0.isEmpty ? nil : $0 },
            protocolName: try string(p["protocol"], path: path + ".protocol")
        )
    }

    /// Renders a scalar attribute as text: integral numbers without a fraction.
    static func text(_ value: Double) -> String {
        if value.isFinite, value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }

    // MARK: Field helpers (`null` counts as absent)

    static func present(_ value: JSONTree?) -> JSONTree? {
        if let value, value != .null { return value }
        return nil
    }

    static func expectObject(_ value: JSONTree, path: String) throws(TraccarDecodingError) {
        guard case .object = value else {
            throw path.isEmpty
                ? TraccarDecodingError(kind: .invalidField, field: nil, reason: "expected a JSON object")
                : .invalid(path, "expected an object")
        }
    }

    static func number(_ value: JSONTree?, path: String) throws(TraccarDecodingError) -> Double? {
        guard let value = present(value) else { return nil }
        guard case .number(let d, _) = value else { throw .invalid(path, "expected a number") }
        guard d.isFinite else { throw .invalid(path, "expected a finite number") }
        return d
    }

    static func string(_ value: JSONTree?, path: String) throws(TraccarDecodingError) -> String? {
        guard let value = present(value) else { return nil }
        guard case .string(let s) = value else { throw .invalid(path, "expected a string") }
        return s
    }

    /// An object, or nil when absent or `null`.
    static func object(_ value: JSONTree?, path: String) throws(TraccarDecodingError) -> JSONTree? {
        guard let value = present(value) else { return nil }
        guard case .object = value else { throw .invalid(path, "expected an object") }
        return value
    }

    /// `attributes.batteryLevel` (%): a finite number, or a decimal number as text (`"87.5"`: digits, optionally
    /// a point and more digits); nil when absent or `null`. Whether it lies in [0, 100] is the domain's rule.
    static func batteryLevel(_ value: JSONTree?, path: String) throws(TraccarDecodingError) -> Double? {
        guard let value = present(value) else { return nil }
        switch value {
        case .number(let d, _):
            guard d.isFinite else { throw .invalid(path, "expected a finite number") }
            return d
        case .string(let text) where isDecimal(text):
            return Double(text)
        default:
            throw .invalid(path, "expected a number, or a decimal number as text (\"87.5\")")
        }
    }

    /// `^[0-9]+(\.[0-9]+)?$`.
    static func isDecimal(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        let isDigit = { (b: UInt8) in b >= 0x30 && b <= 0x39 }
        guard let point = bytes.firstIndex(of: UInt8(ascii: ".")) else {
            return !bytes.isEmpty && bytes.allSatisfy(isDigit)
        }
        let whole = bytes[..<point]
        let fraction = bytes[(point + 1)...]
        return !whole.isEmpty && !fraction.isEmpty && whole.allSatisfy(isDigit) && fraction.allSatisfy(isDigit)
    }

    static func bool(_ value: JSONTree?, path: String) throws(TraccarDecodingError) -> Bool? {
        guard let value = present(value) else { return nil }
        guard case .bool(let b) = value else { throw .invalid(path, "expected a boolean") }
        return b
    }

    static func timestamp(_ value: JSONTree?, path: String) throws(TraccarDecodingError) -> Timestamp? {
        guard let text = try string(value, path: path) else {
            return nil
        }
        guard let timestamp = ISO8601.parse(text) else {
            throw .invalid(path, "expected an ISO-8601 timestamp with zone (2025-03-14T08:15:30.000+00:00)")
        }
        return timestamp
    }

    static func lenientBool(_ value: JSONTree?) -> Bool? {
        switch value {
        case .bool(let b): b
        case .number(let d, _): d != 0
        case .string(let s):
            switch s.lowercased() {
            case "true", "1": true
            case "false", "0": false
            default: nil
            }
        default: nil
        }
    }
}
