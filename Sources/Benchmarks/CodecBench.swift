import Application
package import ArgumentParser
import Composition
import Domain
import HTTPAdapters
import Simulation

/// Per-message cost of the JSON work on the position path (webhook decode, bus payloads).
package struct CodecBench: AsyncParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "codec",
        abstract: "Time the JSON encodings on the position path, per message."
    )

    @Option(help: "Iterations per measurement.")
    package var iterations: Int = 20_000

    package func validate() throws {
        guard iterations > 0 else { throw ValidationError("--iterations must be positive") }
    }

    package func run() async throws {
        let fixture = EnrichmentFixture(stops: 8)
        let output = Enricher().enrich(fixture.input(index: 10, previous: nil))
        let raw = fixture.input(index: 10, previous: nil).raw
        let webhook = Array(Self.exampleBody.utf8)
        let rawBytes = try JSONPayload.encode(raw)
        let enrichedBytes = try JSONPayload.encode(output.position)
        let n = iterations
        try measure("webhook body decode (Traccar JSON)", n) { _ = try TraccarPayload.decodePositions(webhook) }
        try measure("RawPosition encode", n) { _ = try JSONPayload.encode(raw) }
        try measure("RawPosition decode", n) { _ = try JSONPayload.decode(RawPosition.self, from: rawBytes) }
        try measure("EnrichedPosition encode (8 stops)", n) { _ = try JSONPayload.encode(output.position) }
        try measure("EnrichedPosition decode (8 stops)", n) {
            _ = try JSONPayload.decode(EnrichedPosition.self, from: enrichedBytes)
        }
        try measure("CompactPosition encode", n) {
            _ = try JSONPayload.encode(PushFanout.CompactPosition(output.position))
        }
    }

    package func measure(_ name: String, _ n: Int, _ body: () throws -> Void) throws {
        let clock = ContinuousClock()
        let start = clock.now
        for _ in 0..<n { try body() }
        let d = clock.now - start
        let us = (Double(d.components.seconds) * 1e6 + Double(d.components.attoseconds) / 1e12) / Double(n)
        print("\(name): \(format(us)) µs")
    }

    static let exampleBody = """
        {"position":{"id":0,"attributes":{"batteryLevel":87.0,"distance":41.23987654321,"totalDistance":15234.5612345,"motion":true},"deviceId":12,"protocol":"osmand","serverTime":"2025-03-14T08:15:31.482+00:00","deviceTime":"2025-03-14T08:15:30.000+00:00","fixTime":"2025-03-14T08:15:30.000+00:00","outdated":false,"valid":true,"latitude":52.520008,"longitude":13.404954,"altitude":38.0,"speed":23.758,"course":271.0,"address":null,"accuracy":0.0,"network":null,"geofenceIds":null},"device":{"id":12,"attributes":{},"groupId":0,"calendarId":0,"name":"Van 7 (phone)","uniqueId":"48241179","status":"online","lastUpdate":"2025-03-14T08:14:59.871+00:00","positionId":4710,"phone":null,"model":null,"contact":null,"category":null,"disabled":false,"expirationTime":null}}
        """
}
