import Foundation
import Histogram
import Synchronization

/// What the dashboards of a load test received, against what the webhooks were acknowledged for.
///
/// - Latency: receipt time − fix time of every position received whose fix time is in the window, in an
///   HdrHistogram per kind of dashboard (batched, unbatched) and one for the current second.
/// - Completeness: an unbatched dashboard is owed every acknowledged position; a batched one (the contract:
///   the latest position per driver per batch) is owed each driver's newest acknowledged position.
package final class LoadRecorder: Sendable {
    package struct Second: Codable, Sendable {
        /// Positions received by all dashboards in this second.
        package var delivered: Int
        /// Positions acknowledged to the webhooks in this second.
        package var acknowledged: Int
        package var p50Ms: Double
        package var p99Ms: Double
        package var maxMs: Double
    }

    package struct Completeness: Codable, Sendable {
        /// Dashboards of this kind.
        package var dashboards: Int
        /// Across them: the lowest, and the mean, share of what each was owed.
        package var lowestShare: Double
        package var meanShare: Double
        /// Dashboards missing at least one owed position.
        package var incomplete: Int
    }

    private struct Client {
        var batched: Bool
        var received = 0
        /// Newest fix time received per driver (batched dashboards).
        var newest: [String: Int64] = [:]
    }

    private struct State {
        var window: (start: Int64, end: Int64)?
        var clients: [Client] = []
        var batched = Histogram<UInt64>(highestTrackableValue: 3_600_000, numberOfSignificantValueDigits: .three)
        var unbatched = Histogram<UInt64>(highestTrackableValue: 3_600_000, numberOfSignificantValueDigits: .three)
        var second = Histogram<UInt64>(highestTrackableValue: 3_600_000, numberOfSignificantValueDigits: .three)
        var secondDelivered = 0
        var secondAcknowledged = 0
        /// Acknowledged positions with a fix time in the window.
        var owed = 0
        /// Each driver's newest acknowledged fix time in the window.
        var owedNewest: [String: Int64] = [:]
        /// Every acknowledged fix time of the window, per driver: what history must hold.
        var owedFixes: [String: [Int64]] = [:]
    }

    private let state = Mutex(State())
    private static let driverMarker = Array(#""driverId":""#.utf8)
    private static let fixMarker = Array(#""fixTime":"#.utf8)

    package init() {}

    /// Registers a dashboard; returns its index for `record`.
    package func addClient(batched: Bool) -> Int {
        state.withLock { state in
            state.clients.append(Client(batched: batched))
            return state.clients.count - 1
        }
    }

    package func start(at milliseconds: Int64) { state.withLock { $0.window = (milliseconds, .max) } }
    package func stop(at milliseconds: Int64) { state.withLock { $0.window?.end = milliseconds } }

    /// One slice of webhooks was answered: the positions of `drivers`, stamped `fixTime`, were acknowledged.
    package func acknowledged(fixTime: Int64, drivers: some Collection<String>) {
        state.withLock { state in
            state.secondAcknowledged += drivers.count
            guard let window = state.window, fixTime >= window.start, fixTime < window.end else { return }
            state.owed += drivers.count
            for driver in drivers {
                state.owedNewest[driver] = max(state.owedNewest[driver] ?? 0, fixTime)
                state.owedFixes[driver, default: []].append(fixTime)
            }
        }
    }

    /// An `initial-state` received by dashboard `client` (after a reconnect): the positions it lists are each
    /// driver's latest, which a batched dashboard is owed; they are not timed (not a live delivery).
    package func recordInitialState(client: Int, packet: String) {
        let pairs = Self.positions(in: packet)
        state.withLock { state in
            guard state.clients[client].batched else { return }
            for (driver, fix) in pairs {
                state.clients[client].newest[driver] = max(state.clients[client].newest[driver] ?? 0, fix)
            }
        }
    }

    /// A `driver-position`/`driver-positions` packet received by dashboard `client`.
    package func record(client: Int, packet: String) {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let pairs = Self.positions(in: packet)
        state.withLock { state in
            guard let window = state.window else { return }
            let batched = state.clients[client].batched
            for (driver, fix) in pairs {
                // A batch carries a driver's latest position: a newer fix (after the window too) supersedes it.
                if batched {
                    state.clients[client].newest[driver] = max(state.clients[client].newest[driver] ?? 0, fix)
                }
                guard fix >= window.start, fix < window.end else { continue }
                let latency = UInt64(min(max(0, now - fix), 3_600_000))  // the histograms' range: an hour
                if batched {
                    _ = state.batched.record(latency)
                } else {
                    _ = state.unbatched.record(latency)
                }
                _ = state.second.record(latency)
                state.secondDelivered += 1
                state.clients[client].received += 1
            }
        }
    }

    /// The second just ended, and a fresh one begins.
    package func takeSecond() -> Second {
        state.withLock { state in
            let second = Second(
                delivered: state.secondDelivered,
                acknowledged: state.secondAcknowledged,
                p50Ms: Double(state.second.totalCount > 0 ? state.second.valueAtPercentile(50) : 0),
                p99Ms: Double(state.second.totalCount > 0 ? state.second.valueAtPercentile(99) : 0),
                maxMs: Double(state.second.totalCount > 0 ? state.second.max : 0)
            )
            state.second.reset()
            state.secondDelivered = 0
            state.secondAcknowledged = 0
            return second
        }
    }

    /// Latency percentiles (ms) of one kind of dashboard over the window: p50, p90, p99, p99.9, max, count.
    package func latency(batched: Bool) -> [String: Double] {
        state.withLock { state in
            let h = batched ? state.batched : state.unbatched
            guard h.totalCount > 0 else { return ["count": 0] }
            return [
                "p50": Double(h.valueAtPercentile(50)), "p90": Double(h.valueAtPercentile(90)),
                "p99": Double(h.valueAtPercentile(99)), "p99.9": Double(h.valueAtPercentile(99.9)),
                "max": Double(h.max), "count": Double(h.totalCount),
            ]
        }
    }

    /// Owed and received, per kind of dashboard.
    package func completeness(batched: Bool) -> Completeness {
        state.withLock { state in
            let clients = state.clients.filter { $0.batched == batched }
            var shares: [Double] = []
            for client in clients {
                if batched {
                    let owed = state.owedNewest.count
                    let got = state.owedNewest.filter { driver, fix in (client.newest[driver] ?? 0) >= fix }.count
                    shares.append(owed == 0 ? 1 : Double(got) / Double(owed))
                } else {
                    shares.append(state.owed == 0 ? 1 : min(1, Double(client.received) / Double(state.owed)))
                }
            }
            return Completeness(
                dashboards: clients.count,
                lowestShare: shares.min() ?? 1,
                meanShare: shares.isEmpty ? 1 : shares.reduce(0, +) / Double(shares.count),
                incomplete: shares.filter { $0 < 1 }.count
            )
        }
    }

    /// Acknowledged positions owed in the window, and over how many drivers.
    package var owed: (positions: Int, drivers: Int) {
        state.withLock { ($0.owed, $0.owedNewest.count) }
    }

    /// Every acknowledged fix time of the window, per driver.
    package var owedFixes: [String: [Int64]] { state.withLock { $0.owedFixes } }

    /// Every (`driverId`, `fixTime`) of a live-feed packet, in order: each `"driverId":"…"` with the next
    /// `"fixTime":<ms>` (scanned in place, no JSON decoding: 500 dashboards' packets cost the generator little).
    package static func positions(in packet: String) -> [(String, Int64)] {
        var packet = packet
        return packet.withUTF8 { bytes -> [(String, Int64)] in
            var result: [(String, Int64)] = []
            var i = 0
            func matches(_ marker: [UInt8], at index: Int) -> Bool {
                guard index + marker.count <= bytes.count else { return false }
                for k in 0..<marker.count where bytes[index + k] != marker[k] { return false }
                return true
            }
            while i < bytes.count {
                guard bytes[i] == 0x22, matches(driverMarker, at: i) else {
                    i += 1
                    continue
                }
                var j = i + driverMarker.count
                let start = j
                while j < bytes.count, bytes[j] != 0x22 { j += 1 }
                let driver = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<j]), as: UTF8.self)
                while j < bytes.count, !(bytes[j] == 0x22 && matches(fixMarker, at: j)) {
                    if matches(driverMarker, at: j) { break }
                    j += 1
                }
                guard j < bytes.count, matches(fixMarker, at: j) else {
                    i = j
                    continue
                }
                var k = j + fixMarker.count
                var value: Int64 = 0
                while k < bytes.count, bytes[k] >= 0x30, bytes[k] <= 0x39 {
                    value = value * 10 + Int64(bytes[k] - 0x30)
                    k += 1
                }
                result.append((driver, value))
                i = k
            }
            return result
        }
    }
}
