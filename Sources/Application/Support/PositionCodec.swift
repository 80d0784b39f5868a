import Domain
import WireFormat

/// A value with a hand-written JSON form identical to its `Codable` one (same keys, timestamps as epoch
/// milliseconds, nil optionals omitted). `JSONPayload` uses it when present: positions are the bulk of
/// the traffic, and `JSONEncoder`/`JSONDecoder` cost 10–60 µs per position on Linux.
protocol FastJSONCodable {
    func writeJSON(into writer: inout JSONBytesWriter)
    init(json: JSONTree) throws
}

/// Reads required and optional fields of a JSON object, throwing `StoreError.invalidData` naming the field.
struct JSONFields {
    let object: JSONTree
    let type: String

    func missing(_ key: String) -> StoreError { .invalidData("\(type).\(key): missing or of the wrong type") }

    func string(_ key: String) throws -> String {
        guard let v = object[key]?.string else { throw missing(key) }
        return v
    }
    func double(_ key: String) throws -> Double {
        guard let v = object[key]?.double else { throw missing(key) }
        return v
    }
    func int(_ key: String) throws -> Int {
        guard let v = object[key]?.int64 else { throw missing(key) }
        return Int(v)
    }
    func bool(_ key: String) throws -> Bool {
        guard let v = object[key]?.bool else { throw missing(key) }
        return v
    }
    func timestamp(_ key: String) throws -> Timestamp {
        guard let v = object[key]?.int64 else { throw missing(key) }
        return Timestamp(millisecondsSinceEpoch: v)
    }
    func optionalString(_ key: String) -> String? { object[key]?.string }
    func optionalDouble(_ key: String) -> Double? { object[key]?.double }
    func optionalBool(_ key: String) -> Bool? { object[key]?.bool }
    func optionalTimestamp(_ key: String) -> Timestamp? {
        object[key]?.int64.map { Timestamp(millisecondsSinceEpoch: $0) }
    }
}

extension RawPosition: FastJSONCodable {
    func writeJSON(into w: inout JSONBytesWriter) {
        w.beginObject()
        w.field("tenantId", tenantId.rawValue)
        w.field("driverId", driverId.rawValue)
        w.field("deviceId", deviceId.rawValue)
        w.field("fixTime", fixTime)
        w.field("serverTime", serverTime)
        w.field("latitude", latitude)
        w.field("longitude", longitude)
        w.field("altitude", altitude)
        w.field("speedKmh", speedKmh)
        w.field("course", course)
        w.field("accuracy", accuracy)
        w.field("valid", valid)
        w.field("batteryLevel", batteryLevel)
        w.field("ignition", ignition)
        w.field("motion", motion)
        w.field("alarm", alarm)
        w.field("protocolName", protocolName)
        w.endObject()
    }

    init(json: JSONTree) throws {
        let f = JSONFields(object: json, type: "RawPosition")
        self.init(
            tenantId: TenantID(try f.string("tenantId")),
            driverId: DriverID(try f.string("driverId")),
            deviceId: DeviceID(try f.string("deviceId")),
            fixTime: try f.timestamp("fixTime"),
            serverTime: f.optionalTimestamp("serverTime"),
            latitude: try f.double("latitude"),
            longitude: try f.double("longitude"),
            altitude: f.optionalDouble("altitude"),
            speedKmh: try f.double("speedKmh"),
            course: try f.double("course"),
            accuracy: f.optionalDouble("accuracy"),
            valid: try f.bool("valid"),
            batteryLevel: f.optionalDouble("batteryLevel"),
            ignition: f.optionalBool("ignition"),
            motion: f.optionalBool("motion"),
            alarm: f.optionalString("alarm"),
            protocolName: f.optionalString("protocolName")
        )
    }
}

extension EnrichedPosition: FastJSONCodable {
    func writeJSON(into w: inout JSONBytesWriter) {
        w.beginObject()
        w.field("tenantId", tenantId.rawValue)
        w.field("driverId", driverId.rawValue)
        w.field("deviceId", deviceId.rawValue)
        w.field("driverName", driverName)
        w.field("fixTime", fixTime)
        w.field("latitude", latitude)
        w.field("longitude", longitude)
        w.field("speedKmh", speedKmh)
        w.field("smoothedSpeedKmh", smoothedSpeedKmh)
        w.field("heading", heading)
        w.field("batteryLevel", batteryLevel)
        w.field("ignition", ignition)
        w.field("activity", activity.rawValue)
        w.field("routeId", routeId?.rawValue)
        w.field("currentVisitId", currentVisitId?.rawValue)
        w.field("nextVisitId", nextVisitId?.rawValue)
        w.field("nextCustomerId", nextCustomerId?.rawValue)
        w.field("nextCustomerName", nextCustomerName)
        w.field("distanceToNextMeters", distanceToNextMeters)
        w.field("etaToNext", etaToNext)
        w.field("late", late)
        w.field("completedStops", completedStops)
        w.field("totalStops", totalStops)
        w.key("remainingStops")
        w.beginArray()
        for stop in remainingStops {
            w.beginObject()
            w.field("visitId", stop.visitId.rawValue)
            w.field("customerId", stop.customerId.rawValue)
            w.field("sequenceNumber", stop.sequenceNumber)
            w.field("eta", stop.eta)
            w.field("late", stop.late)
            w.endObject()
        }
        w.endArray()
        w.endObject()
    }

    init(json: JSONTree) throws {
        let f = JSONFields(object: json, type: "EnrichedPosition")
        guard let activity = DriverActivity(rawValue: try f.string("activity")) else { throw f.missing("activity") }
        var stops: [StopETA] = []
        for element in json["remainingStops"]?.array ?? [] {
            let s = JSONFields(object: element, type: "StopETA")
            stops.append(
                StopETA(
                    visitId: VisitID(try s.string("visitId")),
                    customerId: CustomerID(try s.string("customerId")),
                    sequenceNumber: try s.int("sequenceNumber"),
                    eta: try s.timestamp("eta"),
                    late: try s.bool("late")
                )
            )
        }
        let tenantId = TenantID(try f.string("tenantId"))
        let driverId = DriverID(try f.string("driverId"))
        let deviceId = DeviceID(try f.string("deviceId"))
        let driverName = try f.string("driverName")
        let fixTime = try f.timestamp("fixTime")
        let latitude = try f.double("latitude")
        let longitude = try f.double("longitude")
        let speedKmh = try f.double("speedKmh")
        let smoothed = try f.double("smoothedSpeedKmh")
        let heading = try f.double("heading")
        let routeId: RouteID? = f.optionalString("routeId").map { RouteID($0) }
        let currentVisitId: VisitID? = f.optionalString("currentVisitId").map { VisitID($0) }
        let nextVisitId: VisitID? = f.optionalString("nextVisitId").map { VisitID($0) }
        let nextCustomerId: CustomerID? = f.optionalString("nextCustomerId").map { CustomerID($0) }
        let late = try f.bool("late")
        let completed = try f.int("completedStops")
        let total = try f.int("totalStops")
        self.init(
            tenantId: tenantId,
            driverId: driverId,
            deviceId: deviceId,
            driverName: driverName,
            fixTime: fixTime,
            latitude: latitude,
            longitude: longitude,
            speedKmh: speedKmh,
            smoothedSpeedKmh: smoothed,
            heading: heading,
            batteryLevel: f.optionalDouble("batteryLevel"),
            ignition: f.optionalBool("ignition"),
            activity: activity,
            routeId: routeId,
            currentVisitId: currentVisitId,
            nextVisitId: nextVisitId,
            nextCustomerId: nextCustomerId,
            nextCustomerName: f.optionalString("nextCustomerName"),
            distanceToNextMeters: f.optionalDouble("distanceToNextMeters"),
            etaToNext: f.optionalTimestamp("etaToNext"),
            late: late,
            completedStops: completed,
            totalStops: total,
            remainingStops: stops
        )
    }
}

extension PushFanout.CompactPosition: FastJSONCodable {
    func writeJSON(into w: inout JSONBytesWriter) {
        w.beginObject()
        w.field("driverId", driverId.rawValue)
        w.field("lat", lat)
        w.field("lng", lng)
        w.field("speed", speed)
        w.field("heading", heading)
        w.field("activity", activity.rawValue)
        w.field("fixTime", fixTime)
        w.field("nextVisitId", nextVisitId?.rawValue)
        w.field("etaToNext", etaToNext)
        w.field("late", late)
        w.endObject()
    }

    init(json: JSONTree) throws {
        let f = JSONFields(object: json, type: "CompactPosition")
        guard let activity = DriverActivity(rawValue: try f.string("activity")) else { throw f.missing("activity") }
        self.init(
            driverId: DriverID(try f.string("driverId")),
            lat: try f.double("lat"),
            lng: try f.double("lng"),
            speed: try f.double("speed"),
            heading: try f.double("heading"),
            activity: activity,
            fixTime: try f.timestamp("fixTime"),
            nextVisitId: f.optionalString("nextVisitId").map { VisitID($0) },
            etaToNext: f.optionalTimestamp("etaToNext"),
            late: try f.bool("late")
        )
    }
}
