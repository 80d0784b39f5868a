package import Foundation

/// A load test's figures: written as `loadtest.json` and drawn in a self-contained `loadtest.html` (inline
/// SVG, no script, no external resource).
package struct LoadTestReport: Codable, Sendable {
    package struct Setup: Codable, Sendable {
        package var mode: String
        package var target: String
        package var drivers: Int
        package var dashboards: Int
        package var unbatched: Int
        package var batchMs: Int
        package var seconds: Int
        package var startedAt: String
        package var machineCores: Int
    }

    package struct SecondRow: Codable, Sendable {
        package var t: Int
        package var feed: LoadRecorder.Second
        package var processes: [String: ProcessSampler.Reading]
        package var generator: ProcessSampler.Reading
    }

    package struct Webhooks: Codable, Sendable {
        package var sent: Int
        package var acknowledged: Int
        package var failed: Int
        package var p50Ms: Double?
        package var p99Ms: Double?
    }

    package struct ProcessSummary: Codable, Sendable {
        package var meanCPU: Double
        package var peakCPU: Double
        package var peakRSSMB: Double
    }

    /// A fault, at second `t` of the window.
    package struct Marker: Codable, Sendable {
        package var t: Int
        package var label: String
    }

    package struct Reconnects: Codable, Sendable {
        /// Dashboard connections lost during the run.
        package var disconnects: Int
        /// From the fault to the last dashboard back, when there was a fault and every one came back.
        package var recoveredAfterMs: Int?
    }

    package struct Verdict: Codable, Sendable {
        package var pass: Bool
        /// Why not (or what to know), one line each.
        package var notes: [String]
    }

    package var setup: Setup
    package var timeline: [SecondRow]
    package var latencyMs: [String: [String: Double]]
    package var completeness: [String: LoadRecorder.Completeness]
    package var owedPositions: Int
    package var webhooks: Webhooks
    package var processes: [String: ProcessSummary]
    package var generator: ProcessSummary
    package var generatorSaturated: Bool
    package var verdict: Verdict
    package var markers: [Marker]
    package var history: HistoryCheck.Result
    package var reconnects: Reconnects

    package func writeJSON(to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(self).write(to: url)
    }

    package func writeHTML(to url: URL) throws {
        try Data(html().utf8).write(to: url)
    }

    // MARK: HTML

    private static let palette = [
        "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#17becf",
    ]

    func html() -> String {
        let names = processes.keys.sorted()
        func series(_ value: (SecondRow) -> Double) -> [Double] { timeline.map(value) }
        let charts = [
            Self.chart(
                "Fix → dashboard latency per second (ms)",
                [
                    ("p50", series { $0.feed.p50Ms }), ("p99", series { $0.feed.p99Ms }),
                    ("max", series { $0.feed.maxMs }),
                ],
                markers: markers
            ),
            Self.chart(
                "Throughput (per second)",
                [
                    ("webhook positions acknowledged", series { Double($0.feed.acknowledged) }),
                    (
                        "positions received by dashboards ÷ dashboards",
                        series { Double($0.feed.delivered) / Double(max(1, setup.dashboards)) }
                    ),
                ],
                markers: markers
            ),
            Self.chart(
                "CPU (cores)",
                names.map { name in (name, series { $0.processes[name]?.cpu ?? 0 }) }
                    + [("load generator", series { $0.generator.cpu })],
                markers: markers
            ),
            Self.chart(
                "Resident memory (MB)",
                names.map { name in (name, series { $0.processes[name]?.rssMB ?? 0 }) }
                    + [("load generator", series { $0.generator.rssMB })],
                markers: markers
            ),
        ]
        func row(_ cells: [String]) -> String {
            "<tr>" + cells.map { "<td>\(Self.escape($0))</td>" }.joined() + "</tr>"
        }
        func f(_ value: Double?, _ digits: Int = 0) -> String {
            value.map { String(format: "%.\(digits)f", $0) } ?? "–"
        }
        var latencyRows: [String] = []
        for kind in latencyMs.keys.sorted() {
            let l = latencyMs[kind] ?? [:]
            latencyRows.append(
                row([kind, f(l["count"]), f(l["p50"]), f(l["p90"]), f(l["p99"]), f(l["p99.9"]), f(l["max"])])
            )
        }
        var completenessRows: [String] = []
        for kind in completeness.keys.sorted() {
            let c = completeness[kind]!
            completenessRows.append(
                row([
                    kind, "\(c.dashboards)", f(c.lowestShare * 100, 3) + " %", f(c.meanShare * 100, 3) + " %",
                    "\(c.incomplete)",
                ])
            )
        }
        var processRows = names.map { name in
            let p = processes[name]!
            return row([name, f(p.meanCPU * 100, 1) + " %", f(p.peakCPU * 100, 1) + " %", f(p.peakRSSMB, 1)])
        }
        processRows.append(
            row([
                "load generator" + (generatorSaturated ? " (saturated)" : ""), f(generator.meanCPU * 100, 1) + " %",
                f(generator.peakCPU * 100, 1) + " %", f(generator.peakRSSMB, 1),
            ])
        )
        let verdictText = (verdict.pass ? "PASS" : "FAIL")
        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><title>Load test \(Self.escape(setup.startedAt))</title>
            <style>
            body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; max-width: 1000px; }
            table { border-collapse: collapse; margin: 8px 0 20px; } td, th { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
            td:first-child, th:first-child { text-align: left; } h2 { margin-top: 28px; }
            .pass { color: #1a7f37; } .fail { color: #c62828; } svg { display: block; margin: 6px 0 18px; }
            </style></head><body>
            <h1>Load test: <span class="\(verdict.pass ? "pass" : "fail")">\(verdictText)</span></h1>
            <p>\(Self.escape(setup.mode)) at \(Self.escape(setup.target)); \(setup.drivers) drivers at 1 Hz,
            \(setup.dashboards) dashboards (\(setup.dashboards - setup.unbatched) batched every \(setup.batchMs) ms,
            \(setup.unbatched) unbatched); \(setup.seconds) s measured from \(Self.escape(setup.startedAt)) on
            \(setup.machineCores) cores.</p>
            <ul>\(verdict.notes.map { "<li>\(Self.escape($0))</li>" }.joined())</ul>
            <h2>Latency, fix → dashboard (ms)</h2>
            <table><tr><th>dashboards</th><th>positions</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th></tr>
            \(latencyRows.joined())</table>
            <h2>Delivery</h2>
            <p>History: \(history.checked - history.missing) of \(history.checked) acknowledged positions found
            (\(history.missing) missing). Dashboard connections lost: \(reconnects.disconnects)\(reconnects.recoveredAfterMs.map { ", all back \($0) ms after the fault" } ?? "").</p>
            <p>\(owedPositions) positions acknowledged in the window; webhooks: \(webhooks.acknowledged) of \(webhooks.sent)
            acknowledged, p50 \(f(webhooks.p50Ms, 1)) ms, p99 \(f(webhooks.p99Ms, 1)) ms.</p>
            <table><tr><th>dashboards</th><th>count</th><th>lowest share</th><th>mean share</th><th>incomplete</th></tr>
            \(completenessRows.joined())</table>
            <h2>Processes</h2>
            <table><tr><th>process</th><th>mean CPU (one core = 100 %)</th><th>peak CPU</th><th>peak RSS (MB)</th></tr>
            \(processRows.joined())</table>
            \(charts.joined(separator: "\n"))
            </body></html>
            """
    }

    /// A line chart as inline SVG: time (s) across, one polyline per series, its legend below.
    static func chart(_ title: String, _ series: [(String, [Double])], markers: [Marker] = []) -> String {
        let width = 960.0
        let height = 240.0
        let left = 60.0
        let bottom = 24.0
        let top = 10.0
        let count = series.map(\.1.count).max() ?? 0
        let peak = max(series.flatMap(\.1).max() ?? 0, 1e-9)
        let scale = niceCeiling(peak)
        func x(_ i: Int) -> Double { left + (width - left - 10) * Double(i) / Double(max(count - 1, 1)) }
        func y(_ v: Double) -> Double { top + (height - top - bottom) * (1 - v / scale) }
        var svg =
            "<h2>\(escape(title))</h2><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" "
            + "height=\"\(Int(height))\" role=\"img\" aria-label=\"\(escape(title))\">"
        for step in 0...4 {
            let v = scale * Double(step) / 4
            svg +=
                "<line x1=\"\(left)\" x2=\"\(width - 10)\" y1=\"\(y(v))\" y2=\"\(y(v))\" stroke=\"#eee\"/>"
                + "<text x=\"\(left - 6)\" y=\"\(y(v) + 4)\" font-size=\"11\" text-anchor=\"end\">\(label(v))</text>"
        }
        var tick = 0
        while tick < count {
            svg +=
                "<text x=\"\(x(tick))\" y=\"\(height - 6)\" font-size=\"11\" text-anchor=\"middle\">\(tick) s</text>"
            tick += max(1, count / 10)
        }
        for marker in markers {
            svg +=
                "<line x1=\"\(x(marker.t))\" x2=\"\(x(marker.t))\" y1=\"\(top)\" y2=\"\(height - bottom)\" "
                + "stroke=\"#000\" stroke-dasharray=\"4 3\"/><text x=\"\(x(marker.t) + 4)\" y=\"\(top + 12)\" "
                + "font-size=\"11\">\(escape(marker.label))</text>"
        }
        for (index, (_, values)) in series.enumerated() where !values.isEmpty {
            let points = values.enumerated().map { "\(x($0.offset)),\(y($0.element))" }.joined(separator: " ")
            svg +=
                "<polyline fill=\"none\" stroke-width=\"1.5\" stroke=\"\(palette[index % palette.count])\" "
                + "points=\"\(points)\"/>"
        }
        svg += "</svg><p>"
        for (index, (name, _)) in series.enumerated() {
            svg += "<span style=\"color:\(palette[index % palette.count])\">■</span> \(escape(name)) &nbsp; "
        }
        return svg + "</p>"
    }

    static func niceCeiling(_ value: Double) -> Double {
        let magnitude = pow(10, floor(log10(value)))
        for factor in [1.0, 2.0, 2.5, 5.0, 10.0] where factor * magnitude >= value { return factor * magnitude }
        return 10 * magnitude
    }

    static func label(_ value: Double) -> String {
        value >= 100 || value == value.rounded() ? String(Int(value.rounded())) : String(format: "%.2f", value)
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
