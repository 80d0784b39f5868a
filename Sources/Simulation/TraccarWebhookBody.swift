import Application
package import Domain
import WireFormat

/// Writes the JSON body Traccar 6.x's `forward.type=json` POSTs for one position (reference §1.3/§1.4):
/// `{"position":{...},"device":{...}}` with Traccar's key order, `id` 0, dates as
/// `2025-03-14T08:15:30.000+00:00`, speed in knots, and nulls written inside the objects.
///
/// The default shape is 6.10+ (no `outdated`); `includeOutdated` writes the 5.12–6.9 shape.
package enum TraccarWebhookBody {
    /// The body for `fix` of the Traccar device with internal id `deviceNumericId`.
    ///
    /// - Parameters:
    ///   - serverTime: Traccar's receive time; defaults to the fix time plus a small, deterministic delay.
    ///   - category: the Traccar device category (`van`, `car`, `truck`, `motorcycle`...), or nil.
    package static func encode(
        _ fix: SimulatedFix,
        deviceNumericId: Int,
        name: String,
        serverTime: Timestamp? = nil,
        category: String? = nil,
        includeOutdated: Bool = false
    ) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(1_024)
        let received =
            serverTime
            ?? fix.fixTime + .milliseconds(120 + Int64(UInt64(bitPattern: fix.fixTime.millisecondsSinceEpoch) % 380))

        out.append(contentsOf: #"{"position":{"id":0,"attributes":{"batteryLevel":"#.utf8)
        writeNumber(fix.batteryLevel, into: &out)
        out.append(contentsOf: #","ignition":"#.utf8)
        out.append(contentsOf: (fix.ignition ? "true" : "false").utf8)
        out.append(contentsOf: #","distance":"#.utf8)
        writeNumber(fix.distanceMeters, into: &out)
        out.append(contentsOf: #","totalDistance":"#.utf8)
        writeNumber(fix.totalDistanceMeters, into: &out)
        out.append(contentsOf: #","motion":"#.utf8)
        out.append(contentsOf: (fix.motion ? "true" : "false").utf8)
        out.append(contentsOf: #"},"deviceId":"#.utf8)
        out.append(contentsOf: String(deviceNumericId).utf8)
        out.append(contentsOf: #","protocol":"osmand","serverTime":""#.utf8)
        writeDate(received, into: &out)
        out.append(contentsOf: #"","deviceTime":""#.utf8)
        writeDate(fix.fixTime, into: &out)
        out.append(contentsOf: #"","fixTime":""#.utf8)
        writeDate(fix.fixTime, into: &out)
        out.append(
            contentsOf: (includeOutdated
                ? #"","outdated":false,"valid":true,"latitude":"# : #"","valid":true,"latitude":"#).utf8
        )
        writeNumber(fix.latitude, into: &out)
        out.append(contentsOf: #","longitude":"#.utf8)
        writeNumber(fix.longitude, into: &out)
        out.append(contentsOf: #","altitude":"#.utf8)
        writeNumber(fix.altitude, into: &out)
        out.append(contentsOf: #","speed":"#.utf8)
        writeNumber(fix.speedKnots, into: &out)
        out.append(contentsOf: #","course":"#.utf8)
        writeNumber(fix.course, into: &out)
        out.append(contentsOf: #","address":null,"accuracy":0.0,"network":null,"geofenceIds":null},"#.utf8)

        out.append(contentsOf: #""device":{"id":"#.utf8)
        out.append(contentsOf: String(deviceNumericId).utf8)
        out.append(contentsOf: #","attributes":{},"groupId":0,"calendarId":0,"name":"#.utf8)
        writeString(name, into: &out)
        out.append(contentsOf: #","uniqueId":"#.utf8)
        writeString(fix.deviceId.rawValue, into: &out)
        // `lastUpdate`/`positionId` are the previous position's in Traccar; the simulator has no ids.
        out.append(contentsOf: #","status":"online","lastUpdate":""#.utf8)
        writeDate(fix.fixTime, into: &out)
        out.append(contentsOf: #"","positionId":0,"phone":null,"model":null,"contact":null,"category":"#.utf8)
        if let category { writeString(category, into: &out) } else { out.append(contentsOf: "null".utf8) }
        out.append(contentsOf: #","disabled":false,"expirationTime":null}}"#.utf8)
        return out
    }

    // MARK: Writers

    /// Jackson's `StdDateFormat` in UTC: `yyyy-MM-dd'T'HH:mm:ss.SSS+00:00`.
    package static func writeDate(_ timestamp: Timestamp, into out: inout [UInt8]) {
        let ms = timestamp.millisecondsSinceEpoch
        var days = ms / 86_400_000
        var rest = ms % 86_400_000
        if rest < 0 {
            rest += 86_400_000
            days -= 1
        }
        let date = CalendarDate(containing: Timestamp(millisecondsSinceEpoch: days * 86_400_000))
        func put(_ value: Int, _ width: Int) {
            var divisor = 1
            for _ in 1..<width { divisor *= 10 }
            while divisor > 0 {
                out.append(0x30 + UInt8(value / divisor % 10))
                divisor /= 10
            }
        }
        put(max(0, min(9999, date.year)), 4)
        out.append(UInt8(ascii: "-"))
        put(date.month, 2)
        out.append(UInt8(ascii: "-"))
        put(date.day, 2)
        out.append(UInt8(ascii: "T"))
        put(Int(rest / 3_600_000), 2)
        out.append(UInt8(ascii: ":"))
        put(Int(rest / 60_000 % 60), 2)
        out.append(UInt8(ascii: ":"))
        put(Int(rest / 1_000 % 60), 2)
        out.append(UInt8(ascii: "."))
        put(Int(rest % 1_000), 3)
        out.append(contentsOf: "+00:00".utf8)
    }

    /// The date as a `String` (`2025-03-14T08:15:30.000+00:00`).
    package static func formatDate(_ timestamp: Timestamp) -> String {
        var bytes: [UInt8] = []
        writeDate(timestamp, into: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// A double as Java's `Double.toString` writes typical values: always with a fraction (`87.0`, `52.520008`).
    package static func writeNumber(_ value: Double, into out: inout [UInt8]) {
        guard value.isFinite else {
            out.append(contentsOf: "0.0".utf8)  // JSON has no NaN/Infinity; the simulator never makes them
            return
        }
        let text = value.description  // shortest round-trip representation
        out.append(contentsOf: text.utf8)
        if !text.utf8.contains(where: { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") })
        {
            out.append(contentsOf: ".0".utf8)
        }
    }

    /// A JSON string with the escapes RFC 8259 requires.
    package static func writeString(_ value: String, into out: inout [UInt8]) {
        JSONBytesWriter.appendString(value, to: &out)
    }
}
