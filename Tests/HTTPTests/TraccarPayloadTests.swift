import Application
import Domain
import HTTPAdapters
import Testing
import WireFormat

@Suite("Traccar payload decoding")
struct TraccarPayloadTests {
    private func position(_ body: String) throws -> DevicePositionReport {
        try TraccarPayload.decodePosition(Array(body.utf8))
    }

    private func failure(_ body: String, event: Bool = false) -> TraccarDecodingError? {
        do {
            if event {
                _ = try TraccarPayload.decodeEvent(Array(body.utf8))
            } else {
                _ = try TraccarPayload.decodePositions(Array(body.utf8))
            }
            return nil
        } catch {
            return error
        }
    }

    /// Example A (5.12–6.9, with `outdated`) decodes with Traccar's units kept.
    @Test func exampleA() throws {
        let report = try position(Fixtures.positionA)
        #expect(report.deviceId == "48241179")
        #expect(report.fixTime == ISO8601.parse("2025-03-14T08:15:30.000Z"))
        #expect(report.serverTime == ISO8601.parse("2025-03-14T08:15:31.482Z"))
        #expect(report.latitude == 52.520008)
        #expect(report.longitude == 13.404954)
        #expect(report.altitude == 38.0)
        #expect(report.speedKnots == 23.758)
        #expect(report.course == 271.0)
        #expect(report.accuracy == 0.0)
        #expect(report.valid)
        #expect(report.batteryLevel == 87.0)
        #expect(report.motion == true)
        #expect(report.ignition == nil)
        #expect(report.alarm == nil)
        #expect(report.protocolName == "osmand")
    }

    /// Example B (6.10+, no `outdated`, integer attributes).
    @Test func exampleB() throws {
        let report = try position(Fixtures.positionB)
        #expect(report.deviceId == "356307042441013")
        #expect(report.speedKnots == 27.0)
        #expect(report.ignition == true)
        #expect(report.batteryLevel == nil)
        #expect(report.protocolName == "teltonika")
    }

    /// Every date form of Traccar's Jackson versions decodes to the same fix time.
    @Test(arguments: [
        "2025-03-14T08:15:30.000+00:00", "2025-03-14T08:15:30.000+0000", "2025-03-14T08:15:30.000Z",
        "2025-03-14T08:15:30Z", "2025-03-14T08:15:30+0000",
    ])
    func dateForms(fixTime: String) throws {
        let report = try position(Fixtures.positionA(replacing: "fixTime", with: "\"\(fixTime)\""))
        #expect(report.fixTime == ISO8601.parse("2025-03-14T08:15:30Z"))
    }

    /// A minimal body: only the required keys.
    @Test func minimal() throws {
        let report = try position(
            #"{"position":{"fixTime":"2025-03-14T08:15:30Z","latitude":1.5,"longitude":-2},"device":{"uniqueId":"x"}}"#
        )
        #expect(report.speedKnots == 0)
        #expect(report.course == 0)
        #expect(report.valid)
        #expect(report.altitude == nil)
    }

    /// Nulls count as absent, unknown keys are ignored, attributes of any type are tolerated.
    @Test func tolerant() throws {
        let report = try position(
            #"""
            {"extra":{"a":[1,2]},"position":{"speed":null,"course":null,"valid":null,"attributes":{"batteryLevel":"55",
            "ignition":1,"alarm":"sos,overspeed","nested":{"x":null},"list":[true]},"fixTime":"2025-03-14T08:15:30Z",
            "latitude":1,"longitude":2,"future":"field"},"device":{"uniqueId":"x","attributes":null,"name":null}}
            """#
        )
        #expect(report.speedKnots == 0)
        #expect(report.batteryLevel == 55)
        #expect(report.ignition == true)
        #expect(report.alarm == "sos,overspeed")
    }

    /// A JSON array is a batch; errors name the index.
    @Test func batch() throws {
        let reports = try TraccarPayload.decodePositions(Array("[\(Fixtures.positionA),\(Fixtures.positionB)]".utf8))
        #expect(reports.map(\.deviceId) == ["48241179", "356307042441013"])
        let error = failure("[\(Fixtures.positionA),\(Fixtures.positionA(replacing: "latitude", with: "\"x\""))]")
        #expect(error?.field == "[1].position.latitude")
        #expect(error?.reason == "[1].position.latitude: expected a number")
    }

    /// Bad bodies fail with a precise field and reason, or as malformed JSON.
    @Test(
        arguments: [
            ("{\"position\":", nil, true),
            ("", nil, true),
            ("NaN", nil, true),
            (Fixtures.positionA(replacing: "latitude", with: "NaN"), nil, true),
            (Fixtures.positionA(replacing: "latitude", with: "1e999"), "position.latitude", false),
            (Fixtures.positionA(replacing: "latitude", with: "\"NaN\""), "position.latitude", false),
            (Fixtures.positionA(replacing: "latitude", with: "\"52.5\""), "position.latitude", false),
            (Fixtures.positionA(replacing: "longitude", with: "true"), "position.longitude", false),
            (Fixtures.positionA(replacing: "latitude", with: "null"), "position.latitude", false),
            (Fixtures.positionA(replacing: "speed", with: "\"fast\""), "position.speed", false),
            (Fixtures.positionA(replacing: "valid", with: "\"yes\""), "position.valid", false),
            (Fixtures.positionA(replacing: "fixTime", with: "\"yesterday\""), "position.fixTime", false),
            (Fixtures.positionA(replacing: "fixTime", with: "\"2025-03-14T08:15:30\""), "position.fixTime", false),
            (Fixtures.positionA(replacing: "fixTime", with: "1741940130000"), "position.fixTime", false),
            (Fixtures.positionA(replacing: "fixTime", with: "null"), "position.fixTime", false),
            (Fixtures.positionA(replacing: "uniqueId", with: "48241179"), "device.uniqueId", false),
            (Fixtures.positionA(replacing: "uniqueId", with: "\"\""), "device.uniqueId", false),
            (Fixtures.positionA(replacing: "device", with: "null"), "device", false),
            (Fixtures.positionA(replacing: "position", with: "[]"), "position", false),
            (#"{"device":{"uniqueId":"x"}}"#, "position", false),
            ("\"hello\"", nil, false),
            ("42", nil, false),
        ] as [(String, String?, Bool)]
    )
    func rejects(body: String, field: String?, malformed: Bool) throws {
        let error = try #require(failure(body))
        #expect(error.kind == (malformed ? .malformedJSON : .invalidField))
        #expect(error.field == field)
        if let field { #expect(error.reason.hasPrefix(field + ": ")) }
    }

    /// The event examples decode, with attributes rendered as text.
    @Test func events() throws {
        let enter = try TraccarPayload.decodeEvent(Array(Fixtures.geofenceEnter.utf8))
        #expect(enter.type == "geofenceEnter")
        #expect(enter.deviceId == "356307042441013")
        #expect(enter.geofenceName == "Depot North")
        #expect(enter.position?.latitude == 48.137154)
        #expect(enter.eventTime == ISO8601.parse("2025-03-14T08:15:29Z"))

        let online = try TraccarPayload.decodeEvent(Array(Fixtures.deviceOnline.utf8))
        #expect(online.type == "deviceOnline")
        #expect(online.position == nil)
        #expect(online.geofenceName == nil)

        let overspeed = try TraccarPayload.decodeEvent(Array(Fixtures.overspeed.utf8))
        #expect(overspeed.attributes == ["speed": "48.6", "speedLimit": "43.2"])
        let alarm = try TraccarPayload.decodeEvent(Array(Fixtures.alarm.utf8))
        #expect(alarm.attributes == ["alarm": "sos"])
    }

    @Test(arguments: [
        (#"{"device":{"uniqueId":"x"}}"#, "event"),
        (#"{"event":{"eventTime":"2025-03-14T08:15:30Z"},"device":{"uniqueId":"x"}}"#, "event.type"),
        (#"{"event":{"type":"alarm"},"device":{"uniqueId":"x"}}"#, "event.eventTime"),
        (#"{"event":{"type":"alarm","eventTime":"x"},"device":{"uniqueId":"x"}}"#, "event.eventTime"),
        (#"{"event":{"type":7,"eventTime":"2025-03-14T08:15:30Z"},"device":{"uniqueId":"x"}}"#, "event.type"),
        (#"{"event":{"type":"alarm","eventTime":"2025-03-14T08:15:30Z"}}"#, "device"),
        (
            #"{"event":{"type":"alarm","eventTime":"2025-03-14T08:15:30Z"},"device":{"uniqueId":"x"},"position":{"latitude":1}}"#,
            "position.fixTime"
        ),
    ])
    func rejectsEvents(body: String, field: String) throws {
        let error = try #require(failure(body, event: true))
        #expect(error.field == field)
    }
}
