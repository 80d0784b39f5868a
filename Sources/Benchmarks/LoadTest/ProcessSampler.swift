import Foundation

/// CPU and memory of named process groups, from `/proc`: a group is a process and its descendants (nginx's
/// workers, PostgreSQL's backends), summed. CPU as a share of one core between two samples; memory as the sum
/// of resident set sizes (shared pages such as PostgreSQL's shared buffers count once per process).
package struct ProcessSampler {
    package struct Reading: Codable, Sendable {
        /// CPU time over the last interval, in cores (1.0 = one core busy).
        package var cpu: Double
        package var rssMB: Double
        /// Processes in the group (0: gone).
        package var processes: Int
    }

    private struct Stat {
        var parent: Int32
        var cpuSeconds: Double
        var rssPages: Int
    }

    private var previous: [String: (cpuSeconds: Double, at: Double)] = [:]
    private static let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
    private static let pageMB = Double(sysconf(Int32(_SC_PAGESIZE))) / 1_048_576

    package init() {}

    /// One reading per group (name → root pid); the first call for a group reports 0 CPU.
    package mutating func sample(_ groups: [(name: String, pid: Int32)]) -> [String: Reading] {
        let table = Self.table()
        var children: [Int32: [Int32]] = [:]
        for (pid, stat) in table { children[stat.parent, default: []].append(pid) }
        let now = Date().timeIntervalSince1970
        var readings: [String: Reading] = [:]
        for (name, root) in groups {
            var members: [Int32] = []
            var queue = table[root] == nil ? [] : [root]
            while let pid = queue.popLast() {
                members.append(pid)
                queue += children[pid] ?? []
            }
            let cpu = members.reduce(0) { $0 + (table[$1]?.cpuSeconds ?? 0) }
            let rss = members.reduce(0) { $0 + (table[$1]?.rssPages ?? 0) }
            var share = 0.0
            if let last = previous[name], now > last.at, cpu >= last.cpuSeconds {
                share = (cpu - last.cpuSeconds) / (now - last.at)
            }
            previous[name] = (cpu, now)
            readings[name] = Reading(cpu: share, rssMB: Double(rss) * Self.pageMB, processes: members.count)
        }
        return readings
    }

    /// Every process: parent, CPU seconds (user + system), resident pages.
    private static func table() -> [Int32: Stat] {
        var table: [Int32: Stat] = [:]
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return table }
        for entry in entries {
            guard let pid = Int32(entry),
                let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { continue }
            // After the command's ")": state (field 3), ppid (4), ... utime (14), stime (15), ... rss (24).
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 21, let parent = Int32(fields[1]), let user = Double(fields[11]),
                let system = Double(fields[12]), let rss = Int(fields[21])
            else { continue }
            table[pid] = Stat(parent: parent, cpuSeconds: (user + system) / ticks, rssPages: rss)
        }
        return table
    }
}
