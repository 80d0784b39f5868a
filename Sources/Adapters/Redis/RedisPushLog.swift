public import Application
import Domain
import Foundation
public import Logging
public import ServiceLifecycle
import Synchronization

/// Live pushes shared by every instance through two Redis streams, in the way of the Socket.IO Redis streams
/// adapter (`tracker.push.fanout=redis`):
///
/// - `tracker:push:live`: state updates (a message with a `key`, such as positions), capped at `liveLength`
///   entries: nothing replays them, a newer one supersedes each.
/// - `tracker:push:events`: events (visit events, alerts, driver events), kept for `recoveryWindow`
///   (`MINID`), so that a dashboard reconnecting to any instance gets what it missed: the entry id is the
///   Socket.IO recovery offset, the same on every instance.
/// - Sessions of connection state recovery: `tracker:sio:s:<pid>` (rooms, socket id, owner), refreshed while
///   the socket lives and kept `recoveryWindow` after, claimed once (`GETDEL`) by the instance restoring it.
///
/// Entry fields: `t` tenant, `e` event, `k` key (state updates), `r` rooms (`\n`-separated), `j` JSON.
public final class RedisPushLog: Sendable {
    /// One entry of a push stream.
    package struct Entry: Sendable, Hashable {
        package var id: String
        package var message: PushMessage
        package var rooms: [Room]
        /// Whether it came from the events stream (it then has a recovery offset: `id`).
        package var isEvent: Bool
    }

    package static let liveStream = "tracker:push:live"
    package static let eventsStream = "tracker:push:events"

    package let client: RedisClient
    package let recoveryWindow: Duration
    package let liveLength: Int

    /// A log on `client` keeping events for `recoveryWindow`, and at most about `liveLength` state updates.
    public init(client: RedisClient, recoveryWindow: Duration = .seconds(120), liveLength: Int = 20_000) {
        self.client = client
        self.recoveryWindow = recoveryWindow
        self.liveLength = liveLength
    }

    // MARK: Appending

    /// `XADD` of one message, to the events stream (trimmed by age) or the live stream (trimmed by length).
    package func append(_ message: PushMessage, to rooms: [Room]) async throws {
        var command: [[UInt8]] = [RedisKeys.bytes("XADD")]
        if message.key == nil {
            let oldest = Int64(Date().timeIntervalSince1970 * 1000) - Int64(recoveryWindow.milliseconds)
            command += [RedisKeys.bytes(Self.eventsStream), RedisKeys.bytes("MINID"), RedisKeys.bytes("~")]
            command.append(RedisKeys.bytes("\(max(0, oldest))"))
        } else {
            command += [RedisKeys.bytes(Self.liveStream), RedisKeys.bytes("MAXLEN"), RedisKeys.bytes("~")]
            command.append(RedisKeys.bytes("\(liveLength)"))
        }
        command += [RedisKeys.bytes("*"), RedisKeys.bytes("t"), RedisKeys.bytes(message.tenantId.rawValue)]
        command += [RedisKeys.bytes("e"), RedisKeys.bytes(message.event)]
        if let key = message.key { command += [RedisKeys.bytes("k"), RedisKeys.bytes(key)] }
        command += [RedisKeys.bytes("r"), RedisKeys.bytes(rooms.map(\.name).joined(separator: "\n"))]
        command += [RedisKeys.bytes("j"), message.json]
        let reply = try await client.pipeline([command])[0]
        if case .error(let text) = reply { throw StoreError.unavailable("Redis: \(text)") }
    }

    // MARK: Reading

    /// The ids each stream ends at now (where a tail starts).
    public func ends() async throws -> (live: String, events: String) {
        let replies = try await client.pipeline(
            [Self.liveStream, Self.eventsStream].map {
                [
                    RedisKeys.bytes("XREVRANGE"), RedisKeys.bytes($0), RedisKeys.bytes("+"), RedisKeys.bytes("-"),
                    RedisKeys.bytes("COUNT"), RedisKeys.bytes("1"),
                ]
            }
        )
        func last(_ reply: RedisReply) throws -> String {
            if case .error(let text) = reply { throw StoreError.unavailable("Redis: \(text)") }
            guard case .array(let entries) = reply, case .array(let first)? = entries.first,
                let id = first.first?.bytes
            else { return "0-0" }
            return String(decoding: id, as: UTF8.self)
        }
        return (try last(replies[0]), try last(replies[1]))
    }

    /// Entries after `live` and `events`, waiting up to `block` for one (`XREAD BLOCK`).
    package func read(
        after live: String,
        _ events: String,
        block: Duration,
        count: Int = 2_000
    ) async throws
        -> [Entry]
    {
        let reply = try await client.pipeline([
            [
                "XREAD", "COUNT", "\(count)", "BLOCK", "\(max(1, block.milliseconds))", "STREAMS", Self.liveStream,
                Self.eventsStream, live, events,
            ].map { RedisKeys.bytes($0) }
        ])[0]
        if case .error(let text) = reply { throw StoreError.unavailable("Redis: \(text)") }
        guard case .array(let streams) = reply else { return [] }  // a timeout answers nil
        var entries: [Entry] = []
        for case .array(let stream) in streams where stream.count == 2 {
            let isEvent = stream[0].bytes == RedisKeys.bytes(Self.eventsStream)
            guard case .array(let items) = stream[1] else { continue }
            entries += items.compactMap { Self.entry($0, isEvent: isEvent) }
        }
        return entries
    }

    /// The events after `offset`, oldest first; nil when `offset` is not a stream id or older than what the
    /// stream still holds (what was missed cannot be told).
    package func events(after offset: String) async throws -> [Entry]? {
        guard Self.isStreamId(offset) else { return nil }
        let replies = try await client.pipeline([
            [
                RedisKeys.bytes("XRANGE"), RedisKeys.bytes(Self.eventsStream), RedisKeys.bytes("-"),
                RedisKeys.bytes("+"),
                RedisKeys.bytes("COUNT"), RedisKeys.bytes("1"),
            ],
            [
                RedisKeys.bytes("XRANGE"), RedisKeys.bytes(Self.eventsStream), RedisKeys.bytes("(" + offset),
                RedisKeys.bytes("+"),
            ],
        ])
        for case .error(let text) in replies { throw StoreError.unavailable("Redis: \(text)") }
        // The offset itself must still be in the stream (or be its very first entry's predecessor).
        if case .array(let first) = replies[0], case .array(let head)? = first.first,
            let id = head.first?.bytes.map({ String(decoding: $0, as: UTF8.self) }),
            Self.compare(id, offset) == .orderedDescending
        {
            return nil
        }
        // Nothing held and an offset older than the window: entries may have been trimmed since.
        let offsetMs = UInt64(offset.split(separator: "-")[0]) ?? 0
        let oldestKept = UInt64(max(0, Date().timeIntervalSince1970 * 1000 - Double(recoveryWindow.milliseconds)))
        if case .array(let first) = replies[0], first.isEmpty, offsetMs < oldestKept { return nil }
        guard case .array(let items) = replies[1] else { return [] }
        return items.compactMap { Self.entry($0, isEvent: true) }
    }

    // MARK: Sessions

    private static func sessionKey(_ pid: String) -> [UInt8] { RedisKeys.bytes("tracker:sio:s:\(pid)") }

    /// Stores sessions (pid → opaque record) for `ttl`.
    package func saveSessions(_ sessions: [(pid: String, record: [UInt8])], ttl: Duration) async throws {
        guard !sessions.isEmpty else { return }
        let replies = try await client.pipeline(
            sessions.map {
                [
                    RedisKeys.bytes("SET"), Self.sessionKey($0.pid), $0.record, RedisKeys.bytes("PX"),
                    RedisKeys.bytes("\(max(1, ttl.milliseconds))"),
                ]
            }
        )
        for case .error(let text) in replies { throw StoreError.unavailable("Redis: \(text)") }
    }

    /// Takes a session (at most one instance gets it).
    package func claimSession(_ pid: String) async throws -> [UInt8]? {
        let reply = try await client.pipeline([[RedisKeys.bytes("GETDEL"), Self.sessionKey(pid)]])[0]
        if case .error(let text) = reply { throw StoreError.unavailable("Redis: \(text)") }
        return reply.bytes
    }

    /// Deletes sessions that may not be recovered (the client left).
    package func forgetSessions(_ pids: [String]) async throws {
        guard !pids.isEmpty else { return }
        _ = try await client.pipeline([[RedisKeys.bytes("DEL")] + pids.map(Self.sessionKey)])
    }

    // MARK: Decoding

    private static func entry(_ reply: RedisReply, isEvent: Bool) -> Entry? {
        guard case .array(let pair) = reply, pair.count == 2, let id = pair[0].bytes,
            case .array(let flat) = pair[1]
        else { return nil }
        var fields: [String: [UInt8]] = [:]
        var index = 0
        while index + 1 < flat.count {
            if let name = flat[index].bytes, let value = flat[index + 1].bytes {
                fields[String(decoding: name, as: UTF8.self)] = value
            }
            index += 2
        }
        guard let tenant = fields["t"], let event = fields["e"], let json = fields["j"], let rooms = fields["r"]
        else { return nil }
        let tenantId = TenantID(String(decoding: tenant, as: UTF8.self))
        return Entry(
            id: String(decoding: id, as: UTF8.self),
            message: PushMessage(
                event: String(decoding: event, as: UTF8.self),
                json: json,
                tenantId: tenantId,
                key: fields["k"].map { String(decoding: $0, as: UTF8.self) }
            ),
            rooms: String(decoding: rooms, as: UTF8.self).split(separator: "\n").compactMap {
                Room(name: String($0))
            },
            isEvent: isEvent
        )
    }

    static func isStreamId(_ text: String) -> Bool {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        return parts.count == 2 && parts.allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isNumber) }
    }

    /// Orders two stream ids (`<ms>-<seq>`).
    static func compare(_ a: String, _ b: String) -> ComparisonResult {
        let x = a.split(separator: "-").compactMap { UInt64($0) }
        let y = b.split(separator: "-").compactMap { UInt64($0) }
        guard x.count == 2, y.count == 2 else { return .orderedSame }
        if x[0] != y[0] { return x[0] < y[0] ? .orderedAscending : .orderedDescending }
        if x[1] != y[1] { return x[1] < y[1] ? .orderedAscending : .orderedDescending }
        return .orderedSame
    }
}

/// The `PushGateway` of `tracker.push.fanout=redis`: every broadcast goes to the shared push log, which every
/// instance tails (`RedisPushTail`) and delivers to its own sockets. Best effort, as the port says: while
/// Redis refuses, messages go to `fallback` (this instance's sockets), so live pushes degrade to the
/// dashboards of the instance that consumed them rather than stop.
public struct RedisPushFanout: PushGateway {
    let log: RedisPushLog
    let fallback: (any PushGateway)?
    let logger: Logger

    public init(log: RedisPushLog, fallback: (any PushGateway)? = nil, logger: Logger) {
        self.log = log
        self.fallback = fallback
        self.logger = logger
    }

    public func broadcast(_ message: PushMessage, to room: Room) async {
        await broadcast(message, to: [room])
    }

    public func broadcast(_ message: PushMessage, to rooms: [Room]) async {
        do {
            try await log.append(message, to: rooms)
        } catch {
            logger.debug("push not shared: Redis unavailable", metadata: ["push.event": "\(message.event)"])
            await fallback?.broadcast(message, to: rooms)
        }
    }
}

/// Tails the shared push log on a connection of its own (`XREAD BLOCK`) and hands every entry, in order, to
/// `deliver` (the local gateway), with the entry id as the recovery offset of events. Starts at the end of
/// both streams; after an outage it resumes where it stopped, as far as the streams still reach.
public final class RedisPushTail: Service, Sendable {
    let log: RedisPushLog
    let deliver: @Sendable (PushMessage, [Room], String?) async -> Void
    let logger: Logger
    let start: (live: String, events: String)?

    /// - Parameters:
    ///   - start: the ids to read after (from `RedisPushLog.ends()`); nil: the streams' ends when it starts.
    ///   - deliver: message, rooms and, for events, the recovery offset.
    public init(
        log: RedisPushLog,
        logger: Logger,
        start: (live: String, events: String)? = nil,
        deliver: @escaping @Sendable (PushMessage, [Room], String?) async -> Void
    ) {
        self.log = log
        self.logger = logger
        self.start = start
        self.deliver = deliver
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown { await self.follow() }
        await log.client.shutdown()
    }

    private func follow() async {
        var position = start
        var failures = 0
        while !Task.isCancelled {
            do {
                if position == nil { position = try await log.ends() }
                guard let (live, events) = position else { continue }
                let entries = try await log.read(after: live, events, block: .milliseconds(500))
                failures = 0
                var next = (live: live, events: events)
                for entry in entries {
                    if entry.isEvent { next.events = entry.id } else { next.live = entry.id }
                    await deliver(entry.message, entry.rooms, entry.isEvent ? entry.id : nil)
                }
                position = next
            } catch {
                failures += 1
                if failures == 1 {
                    logger.warning("push log unreachable; retrying", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: .milliseconds(min(5_000, 100 * (1 << min(failures, 6)))))
            }
        }
    }
}
