public import Application
import Domain

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Why a Traccar body could not be decoded. `reason` names the field and what was wrong with it
/// (`position.latitude: expected a number`); it never echoes the body.
public struct TraccarDecodingError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Whether the body was not JSON at all (HTTP 400) or JSON of the wrong shape (HTTP 422).
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
        TraccarDecodingError(kind: .invalidField, field: path.isEmpty ? nil : path,
                             reason: path.isEmpty ? "body: \(problem)" : "\(path): \(problem)")
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
    public static func decodePositions(_ bytes: some Collection<UInt8>) throws(TraccarDecodingError)
        -> [DevicePositionReport]
    {
        let data = Data(bytes)
        let firstByte = data.first { !($0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09) }
        if firstByte == UInt8(ascii: "[") {
            let bodies = try decode([PositionBody].self, from: data)
            var reports: [DevicePositionReport] = []
            reports.reserveCapacity(bodies.count)
            for (index, body) in bodies.enumerated() {
                reports.append(try body.report(path: "[\(index)]"))
            }
            return reports
        }
        return [try decode(PositionBody.self, from: data).report(path: "")]
    }

    /// Decodes one position body (no batch).
    public static func decodePosition(_ bytes: some Collection<UInt8>) throws(TraccarDecodingError)
        -> DevicePositionReport
    {
        try decode(PositionBody.self, from: Data(bytes)).report(path: "")
    }

    /// Decodes an event body.
    public static func decodeEvent(_ bytes: some Collection<UInt8>) throws(TraccarDecodingError) -> DeviceEventReport {
        try decode(EventBody.self, from: Data(bytes)).report()
    }

    // MARK: JSON decoding with precise errors

    static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws(TraccarDecodingError) -> T {
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch let error as TraccarDecodingError {
            throw error
        } catch let error as DecodingError {
            throw translate(error)
        } catch {
            throw TraccarDecodingError(kind: .malformedJSON, field: nil, reason: "the body is not valid JSON")
        }
    }

    /// Turns a `DecodingError` into a field path and a short explanation.
    static func translate(_ error: DecodingError) -> TraccarDecodingError {
        switch error {
        case .typeMismatch(let type, let context):
            let path = render(context.codingPath)
            return .invalid(path, "expected \(describe(type))")
        case .valueNotFound(let type, let context):
            let path = render(context.codingPath)
            return .invalid(path, "expected \(describe(type)), found null")
        case .keyNotFound(let key, let context):
            return .invalid(render(context.codingPath + [key]), "is required")
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty {
                return TraccarDecodingError(
                    kind: .malformedJSON, field: nil,
                    reason: "the body is not valid JSON (syntax error, or a number that does not fit a double)")
            }
            let reason = context.debugDescription.isEmpty ? "invalid value" : context.debugDescription
            return .invalid(render(context.codingPath), reason)
        @unknown default:
            return TraccarDecodingError(kind: .malformedJSON, field: nil, reason: "the body could not be decoded")
        }
    }

    static func describe(_ type: Any.Type) -> String {
        switch type {
        case is Double.Type, is Float.Type, is Int.Type, is Int64.Type: "a number"
        case is String.Type: "a string"
        case is Bool.Type: "a boolean"
        default:
            String(describing: type).hasPrefix("Array") ? "an array" : "an object"
        }
    }

    static func render(_ path: [any CodingKey]) -> String {
        var result = ""
        for key in path {
            if let index = key.intValue, key.stringValue == "Index \(index)" || key.stringValue == "\(index)" {
                result += "[\(index)]"
            } else {
                if !result.isEmpty { result += "." }
                result += key.stringValue
            }
        }
        return result
    }

    /// Renders a scalar attribute as text: integral numbers without a fraction.
    static func text(_ value: Double) -> String {
        if value.isFinite, value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }
}

// MARK: - Wire shapes

/// A CodingKey for arbitrary attribute names.
struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ string: String) { self.stringValue = string }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// `{"position":…,"device":…}`.
struct PositionBody: Decodable {
    var position: TraccarPosition?
    var device: TraccarDevice?

    func report(path: String) throws(TraccarDecodingError) -> DevicePositionReport {
        let prefix = path.isEmpty ? "" : path + "."
        let deviceId = try TraccarDevice.require(device, path: prefix + "device")
        guard let position else { throw .invalid(prefix + "position", "is required") }
        return try position.report(deviceId: deviceId, path: prefix + "position")
    }
}

/// `{"event":…,"position":…?,"device":…,"geofence":…?}`.
struct EventBody: Decodable {
    var event: TraccarEvent?
    var position: TraccarPosition?
    var device: TraccarDevice?
    var geofence: TraccarGeofence?

    func report() throws(TraccarDecodingError) -> DeviceEventReport {
        let deviceId = try TraccarDevice.require(device, path: "device")
        guard let event else { throw .invalid("event", "is required") }
        guard let type = event.type, !type.isEmpty else { throw .invalid("event.type", "is required") }
        let positionReport = try position.map { p throws(TraccarDecodingError) in
            try p.report(deviceId: deviceId, path: "position")
        }
        guard let eventTime = event.eventTime ?? positionReport?.fixTime else {
            throw .invalid("event.eventTime", "is required")
        }
        return DeviceEventReport(deviceId: deviceId, type: type, eventTime: eventTime, attributes: event.attributes,
                                 geofenceName: geofence?.name, position: positionReport)
    }
}

struct TraccarDevice: Decodable {
    var uniqueId: String?

    static func require(_ device: TraccarDevice?, path: String) throws(TraccarDecodingError) -> DeviceID {
        guard let device else { throw .invalid(path, "is required") }
        guard let id = device.uniqueId, !id.isEmpty else { throw .invalid(path + ".uniqueId", "is required") }
        guard id.utf8.count <= 128 else { throw .invalid(path + ".uniqueId", "longer than 128 bytes") }
        return DeviceID(id)
    }
}

struct TraccarGeofence: Decodable {
    var name: String?
}

struct TraccarEvent: Decodable {
    var type: String?
    var eventTime: Timestamp?
    var attributes: [String: String]

    enum CodingKeys: String, CodingKey { case type, eventTime, attributes }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        type = try c.decodeIfPresent(String.self, forKey: .type)
        eventTime = try decodeTimestamp(c, .eventTime)
        attributes = [:]
        if let attrs = try? c.nestedContainer(keyedBy: AnyKey.self, forKey: .attributes) {
            for key in attrs.allKeys {
                if let b = try? attrs.decode(Bool.self, forKey: key) {
                    attributes[key.stringValue] = b ? "true" : "false"
                } else if let d = try? attrs.decode(Double.self, forKey: key) {
                    attributes[key.stringValue] = TraccarPayload.text(d)
                } else if let s = try? attrs.decode(String.self, forKey: key) {
                    attributes[key.stringValue] = s
                }
            }
        }
    }
}

struct TraccarPosition: Decodable {
    var protocolName: String?
    var serverTime: Timestamp?
    var fixTime: Timestamp?
    var valid: Bool?
    var latitude: Double?
    var longitude: Double?
    var altitude: Double?
    var speed: Double?
    var course: Double?
    var accuracy: Double?
    var batteryLevel: Double?
    var ignition: Bool?
    var motion: Bool?
    var alarm: String?

    enum CodingKeys: String, CodingKey {
        case attributes, `protocol`, serverTime, fixTime, valid, latitude, longitude, altitude, speed, course, accuracy
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        protocolName = try c.decodeIfPresent(String.self, forKey: .protocol)
        serverTime = try decodeTimestamp(c, .serverTime)
        fixTime = try decodeTimestamp(c, .fixTime)
        valid = try c.decodeIfPresent(Bool.self, forKey: .valid)
        latitude = try c.decodeIfPresent(Double.self, forKey: .latitude)
        longitude = try c.decodeIfPresent(Double.self, forKey: .longitude)
        altitude = try c.decodeIfPresent(Double.self, forKey: .altitude)
        speed = try c.decodeIfPresent(Double.self, forKey: .speed)
        course = try c.decodeIfPresent(Double.self, forKey: .course)
        accuracy = try c.decodeIfPresent(Double.self, forKey: .accuracy)
        // Attributes are best effort: their types vary by protocol, and none is required.
        if let attrs = try? c.nestedContainer(keyedBy: AnyKey.self, forKey: .attributes) {
            batteryLevel = lenientDouble(attrs, "batteryLevel")
            ignition = lenientBool(attrs, "ignition")
            motion = lenientBool(attrs, "motion")
            alarm = try? attrs.decodeIfPresent(String.self, forKey: AnyKey("alarm"))
        }
    }

    func report(deviceId: DeviceID, path: String) throws(TraccarDecodingError) -> DevicePositionReport {
        guard let fixTime else { throw .invalid(path + ".fixTime", "is required") }
        guard let latitude else { throw .invalid(path + ".latitude", "is required") }
        guard let longitude else { throw .invalid(path + ".longitude", "is required") }
        for (name, value) in [("latitude", latitude), ("longitude", longitude), ("speed", speed ?? 0),
                              ("course", course ?? 0), ("altitude", altitude ?? 0), ("accuracy", accuracy ?? 0)]
        where !value.isFinite {
            throw .invalid("\(path).\(name)", "expected a finite number")
        }
        return DevicePositionReport(
            deviceId: deviceId, fixTime: fixTime, serverTime: serverTime, latitude: latitude, longitude: longitude,
            altitude: altitude, speedKnots: speed ?? 0, course: course ?? 0, accuracy: accuracy,
            valid: valid ?? true, batteryLevel: batteryLevel.flatMap { $0.isFinite ? $0 : nil }, ignition: ignition,
            motion: motion, alarm: alarm.flatMap { $0.isEmpty ? nil : $0 }, protocolName: protocolName)
    }
}

// MARK: - Field helpers

/// Decodes an optional ISO-8601 timestamp, failing with the field's path when it is not one.
func decodeTimestamp<K: CodingKey>(_ c: KeyedDecodingContainer<K>, _ key: K) throws -> Timestamp? {
    guard let text = try c.decodeIfPresent(String.self, forKey: key) else { return nil }
    guard let timestamp = ISO8601.parse(text) else {
        throw TraccarDecodingError.invalid(TraccarPayload.render(c.codingPath + [key]),
                                           "expected an ISO-8601 timestamp with zone (2025-03-14T08:15:30.000+00:00)")
    }
    return timestamp
}

private func lenientDouble(_ c: KeyedDecodingContainer<AnyKey>, _ name: String) -> Double? {
    let key = AnyKey(name)
    if let d = try? c.decodeIfPresent(Double.self, forKey: key) { return d }
    if let s = try? c.decodeIfPresent(String.self, forKey: key) { return Double(s) }
    return nil
}

private func lenientBool(_ c: KeyedDecodingContainer<AnyKey>, _ name: String) -> Bool? {
    let key = AnyKey(name)
    if let b = try? c.decodeIfPresent(Bool.self, forKey: key) { return b }
    if let d = try? c.decodeIfPresent(Double.self, forKey: key) { return d != 0 }
    if let s = try? c.decodeIfPresent(String.self, forKey: key) {
        switch s.lowercased() {
        case "true", "1": return true
        case "false", "0": return false
        default: return nil
        }
    }
    return nil
}
