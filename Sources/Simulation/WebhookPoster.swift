import AsyncHTTPClient
import Domain
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

/// Posts Traccar webhook bodies to `<baseURL>/api/traccar/positions` over keep-alive connections and keeps
/// counts and a latency histogram. Never throws for a failed request: connection errors and non-2xx answers
/// are counted (the first of each kind is kept for diagnostics) and posting goes on.
package final class WebhookPoster: Sendable {
    /// Totals since the poster was created.
    package struct Stats: Hashable, Sendable {
        package var sent = 0
        /// 2xx answers.
        package var ok = 0
        /// Answers other than 2xx.
        package var rejected = 0
        /// Requests without an answer (connection refused, timeout...).
        package var errors = 0
        package var p50Milliseconds: Double?
        package var p99Milliseconds: Double?
        /// The first non-2xx answer, as `HTTP <status>: <body>`.
        package var firstRejection: String?
        /// The first transport error.
        package var firstError: String?

        package var failed: Int { rejected + errors }
    }

    package let endpoint: String
    package let maxInFlight: Int
    private let authorization: String
    private let timeout: TimeAmount
    private let client: HTTPClient
    private let state = Mutex(State())

    /// - Parameters:
    ///   - baseURL: the tracker, e.g. `http://localhost:8080` (a trailing `/` is ignored).
    ///   - secret: sent as `Authorization: Bearer <secret>`.
    ///   - maxInFlight: requests in flight at most in `post(all:)`, also the connection pool size.
    package init(baseURL: String, secret: String, maxInFlight: Int = 64, timeout: Duration = .seconds(10)) {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        endpoint = base + "/api/traccar/positions"
        authorization = "Bearer \(secret)"
        self.maxInFlight = max(1, maxInFlight)
        self.timeout = .milliseconds(max(1, timeout.milliseconds))
        var configuration = HTTPClient.Configuration(
            timeout: .init(connect: .seconds(1), read: self.timeout),  // a refused connection fails fast
            connectionPool: .init(
                idleTimeout: .seconds(60),
                concurrentHTTP1ConnectionsPerHostSoftLimit: self.maxInFlight
            )
        )
        configuration.httpVersion = .automatic
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// Posts every body, at most `maxInFlight` at a time; returns when all have been answered or failed, with
    /// whether each body was acknowledged (2xx). With `batch` > 1, up to `batch` bodies go in one request as a
    /// JSON array (the webhook's batch form) and share its answer.
    @discardableResult
    package func post(all bodies: [[UInt8]], batch: Int = 1) async -> [Bool] {
        let batch = max(1, batch)
        var acknowledged = [Bool](repeating: false, count: bodies.count)
        await withTaskGroup(of: (Range<Int>, Bool).self) { group in
            var inFlight = 0
            var start = 0
            func collect(_ result: (Range<Int>, Bool)?) {
                guard let (range, ok) = result else { return }
                for index in range { acknowledged[index] = ok }
            }
            while start < bodies.count {
                let end = min(bodies.count, start + batch)
                let body = batch == 1 ? bodies[start] : Self.array(bodies[start..<end])
                let positions = end - start
                if inFlight >= maxInFlight {
                    collect(await group.next())
                    inFlight -= 1
                }
                let range = start..<end
                group.addTask { (range, await self.post(body, positions: positions)) }
                inFlight += 1
                start = end
            }
            while let result = await group.next() { collect(result) }
        }
        return acknowledged
    }

    /// `[body,body,...]`.
    static func array(_ bodies: ArraySlice<[UInt8]>) -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "[")]
        out.reserveCapacity(bodies.reduce(2) { $0 + $1.count + 1 })
        for (i, body) in bodies.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: body)
        }
        out.append(UInt8(ascii: "]"))
        return out
    }

    /// Posts one body holding `positions` positions (no concurrency bound of its own); the counts are per
    /// position, the latencies per request. True when the server acknowledged it (2xx).
    @discardableResult
    package func post(_ body: [UInt8], positions: Int = 1) async -> Bool {
        var request = HTTPClientRequest(url: endpoint)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Authorization", value: authorization)
        request.body = .bytes(ByteBuffer(bytes: body))
        let clock = ContinuousClock()
        let started = clock.now
        do {
            let response = try await client.execute(request, timeout: timeout)
            let status = Int(response.status.code)
            if (200..<300).contains(status) {
                for try await _ in response.body {}  // drain so the connection is reused
                record(status: status, latency: clock.now - started, body: nil, positions: positions)
                return true
            } else {
                let wantBody = state.withLock { $0.stats.firstRejection == nil }
                var text = ""
                if wantBody {
                    let buffer = try await response.body.collect(upTo: 64 * 1024)
                    text = String(buffer: buffer)
                } else {
                    for try await _ in response.body {}
                }
                record(status: status, latency: clock.now - started, body: text, positions: positions)
            }
        } catch {
            state.withLock { s in
                s.stats.sent += positions
                s.stats.errors += positions
                if s.stats.firstError == nil { s.stats.firstError = String(describing: error) }
            }
        }
        return false
    }

    private func record(status: Int, latency: Duration, body: String?, positions: Int) {
        state.withLock { s in
            s.stats.sent += positions
            s.histogram.add(milliseconds: latency.secondsValue * 1_000)
            if (200..<300).contains(status) {
                s.stats.ok += positions
            } else {
                s.stats.rejected += positions
                if s.stats.firstRejection == nil {
                    s.stats.firstRejection = "HTTP \(status): \(String((body ?? "").prefix(500)))"
                }
            }
        }
    }

    /// The totals so far, with latency percentiles.
    package func stats() -> Stats {
        state.withLock { s in
            var stats = s.stats
            stats.p50Milliseconds = s.histogram.quantile(0.50)
            stats.p99Milliseconds = s.histogram.quantile(0.99)
            return stats
        }
    }

    /// Closes the connections. Call once, after the last `post`.
    package func shutdown() async {
        try? await client.shutdown()
    }

    private struct State {
        var stats = Stats()
        var histogram = LatencyHistogram()
    }
}

/// Log-spaced latency buckets (4 % wide, 0.01 ms to ~50 min): percentiles within ±2 % without keeping samples.
package struct LatencyHistogram: Hashable, Sendable {
    package static let base = 0.01
    package static let growth = 1.04
    private(set) var counts = [Int](repeating: 0, count: 500)
    private(set) var total = 0

    package mutating func add(milliseconds: Double) {
        let ratio = max(milliseconds, Self.base) / Self.base
        let index = min(counts.count - 1, max(0, Int(log(ratio) / log(Self.growth))))
        counts[index] += 1
        total += 1
    }

    /// The `q` quantile (0…1) in milliseconds, or nil without samples.
    package func quantile(_ q: Double) -> Double? {
        guard total > 0 else { return nil }
        let rank = max(1, Int((q * Double(total)).rounded(.up)))
        var seen = 0
        for (index, count) in counts.enumerated() {
            seen += count
            if seen >= rank { return Self.base * pow(Self.growth, Double(index) + 0.5) }
        }
        return Self.base * pow(Self.growth, Double(counts.count))
    }
}
