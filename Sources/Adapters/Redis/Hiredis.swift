import Application
import CHiredis
import Domain
import Foundation

/// hiredis's blocking API, shared by the command client and the subscriber (each owns its connection and
/// the thread that uses it).
enum Hiredis {
    /// Connects with `timeout` on connect and on every read and write, then authenticates and selects the
    /// database of `endpoint`.
    static func connect(
        _ endpoint: RedisEndpoint,
        timeout: Duration
    ) throws(StoreError) -> UnsafeMutablePointer<redisContext> {
        let tv = timeval(tv_sec: Int(timeout.secondsValue), tv_usec: Int(timeout.milliseconds % 1000) * 1000)
        guard let context = redisConnectWithTimeout(endpoint.host, Int32(endpoint.port), tv) else {
            throw .unavailable("cannot allocate a Redis context")
        }
        if context.pointee.err != 0 {
            let message = Self.errorText(context)
            redisFree(context)
            throw .unavailable("cannot connect to Redis at \(endpoint.target): \(message)")
        }
        redisSetTimeout(context, tv)
        _ = redisEnableKeepAlive(context)
        var setup: [[[UInt8]]] = []
        if let password = endpoint.password {
            setup.append(
                (endpoint.user.map { ["AUTH", $0, password] } ?? ["AUTH", password]).map { Array($0.utf8) }
            )
        }
        if endpoint.database != 0 { setup.append(["SELECT", "\(endpoint.database)"].map { Array($0.utf8) }) }
        do {
            for reply in try send(setup, on: context) {
                if case .error(let message) = reply {
                    redisFree(context)
                    // AUTH errors name no secret; SELECT errors name the database only.
                    throw StoreError.unavailable("Redis refused the connection setup: \(message)")
                }
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw .unavailable("Redis setup failed")
        }
        return context
    }

    /// Appends every command, then reads one reply each; a connection error throws.
    static func send(
        _ commands: [[[UInt8]]],
        on context: UnsafeMutablePointer<redisContext>
    ) throws
        -> [RedisReply]
    {
        for command in commands {
            // One buffer holding every argument; hiredis copies them into its output buffer at once.
            var bytes: [UInt8] = []
            var offsets: [Int] = []
            var lengths: [Int] = []
            for part in command {
                offsets.append(bytes.count)
                lengths.append(part.count)
                bytes.append(contentsOf: part)
            }
            bytes.append(0)
            let status = bytes.withUnsafeBufferPointer { buffer -> Int32 in
                let base = UnsafeRawPointer(buffer.baseAddress!).assumingMemoryBound(to: CChar.self)
                var pointers: [UnsafePointer<CChar>?] = offsets.map { base + $0 }
                return redisAppendCommandArgv(context, Int32(command.count), &pointers, &lengths)
            }
            guard status == REDIS_OK else { throw StoreError.unavailable("Redis: \(errorText(context))") }
        }
        var replies: [RedisReply] = []
        replies.reserveCapacity(commands.count)
        for _ in commands { replies.append(try read(context)) }
        return replies
    }

    /// Reads the next reply (blocking up to the read timeout); a connection error throws.
    static func read(_ context: UnsafeMutablePointer<redisContext>) throws(StoreError) -> RedisReply {
        var raw: UnsafeMutableRawPointer?
        guard redisGetReply(context, &raw) == REDIS_OK, let raw else {
            throw StoreError.unavailable("Redis: \(errorText(context))")
        }
        defer { freeReplyObject(raw) }
        return decode(raw.assumingMemoryBound(to: redisReply.self))
    }

    static func decode(_ reply: UnsafeMutablePointer<redisReply>) -> RedisReply {
        let r = reply.pointee
        func text() -> [UInt8] {
            guard let str = r.str, r.len > 0 else { return [] }
            return str.withMemoryRebound(to: UInt8.self, capacity: Int(r.len)) {
                Array(UnsafeBufferPointer(start: $0, count: Int(r.len)))
            }
        }
        switch r.type {
        case REDIS_REPLY_STRING: return .string(text())
        case REDIS_REPLY_INTEGER: return .integer(Int64(r.integer))
        case REDIS_REPLY_STATUS: return .status(String(decoding: text(), as: UTF8.self))
        case REDIS_REPLY_ERROR: return .error(String(decoding: text(), as: UTF8.self))
        case REDIS_REPLY_ARRAY:
            return .array((0..<Int(r.elements)).map { decode(r.element[$0]!) })
        default: return .null
        }
    }

    static func errorText(_ context: UnsafeMutablePointer<redisContext>) -> String {
        withUnsafePointer(to: context.pointee.errstr) {
            $0.withMemoryRebound(to: CChar.self, capacity: 128) { String(cString: $0) }
        }
    }
}
