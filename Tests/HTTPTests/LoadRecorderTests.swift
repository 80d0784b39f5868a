import Testing

@testable import Benchmarks

/// The load test's bookkeeping: what a dashboard is owed against what it received.
@Suite("Load test recorder")
struct LoadRecorderTests {
    /// Positions are read from both live-feed shapes, in order, without decoding the JSON.
    @Test func readsPositionsFromBothEventShapes() {
        let single = #"42["driver-position",{"driverId":"d1","lat":52.5,"lng":13.4,"fixTime":1750000000000}]"#
        let batch =
            #"42["driver-positions",[{"driverId":"d1","fixTime":1750000001000,"lat":1},{"lat":2,"driverId":"d2","speed":3,"fixTime":1750000002000}]]"#
        #expect(LoadRecorder.positions(in: single).map { "\($0.0)@\($0.1)" } == ["d1@1750000000000"])
        #expect(
            LoadRecorder.positions(in: batch).map { "\($0.0)@\($0.1)" } == ["d1@1750000001000", "d2@1750000002000"]
        )
        #expect(LoadRecorder.positions(in: #"42["visit-event",{"visitId":"v1"}]"#).isEmpty)
    }

    /// An unbatched dashboard is owed every acknowledged position of the window; a batched one each driver's
    /// newest, which a newer fix (even after the window) supersedes. Positions outside the window are not owed.
    @Test func completenessFollowsTheContract() {
        let recorder = LoadRecorder()
        let unbatched = recorder.addClient(batched: false)
        let batched = recorder.addClient(batched: true)
        let late = recorder.addClient(batched: true)
        recorder.start(at: 1_000)
        recorder.acknowledged(fixTime: 1_000, drivers: ["d1", "d2"])
        recorder.acknowledged(fixTime: 2_000, drivers: ["d1", "d2"])
        recorder.stop(at: 3_000)
        recorder.acknowledged(fixTime: 3_000, drivers: ["d1", "d2"])  // after the window
        func packet(_ positions: [(String, Int)]) -> String {
            "42[\"driver-positions\",["
                + positions.map { #"{"driverId":"\#($0.0)","fixTime":\#($0.1)}"# }.joined(separator: ",") + "]]"
        }
        recorder.record(client: unbatched, packet: packet([("d1", 1_000), ("d2", 1_000), ("d1", 2_000)]))
        recorder.record(client: batched, packet: packet([("d1", 2_000), ("d2", 2_000)]))
        recorder.record(client: late, packet: packet([("d1", 1_000)]))
        recorder.record(client: late, packet: packet([("d1", 3_000), ("d2", 3_000)]))  // supersedes 2_000
        #expect(recorder.owed.positions == 4)
        #expect(recorder.owedFixes == ["d1": [1_000, 2_000], "d2": [1_000, 2_000]])
        let unbatchedShare = recorder.completeness(batched: false)
        #expect(unbatchedShare.lowestShare == 0.75 && unbatchedShare.incomplete == 1)
        let batchedShare = recorder.completeness(batched: true)
        #expect(batchedShare.lowestShare == 1 && batchedShare.incomplete == 0 && batchedShare.dashboards == 2)
        #expect(recorder.latency(batched: true)["count"] == 3, "only positions of the window are timed")
    }
}
