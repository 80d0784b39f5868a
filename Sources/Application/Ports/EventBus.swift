public import Domain

/// A named stream of messages. The spec §6.3 topics are predefined; premium tenants may map to
/// dedicated topics by configuration (`gps.positions.<tenant>`).
public struct Topic: Hashable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    public var name: String
    public init(_ name: String) { self.name = name }
    public init(stringLiteral value: String) { self.name = value }
    public var description: String { name }

    /// Raw positions from the Traccar webhook, keyed by driver id.
    public static let positions: Topic = "gps.positions"
    /// Enriched positions, keyed by driver id.
    public static let enrichedPositions: Topic = "gps.positions.enriched"
    /// Traccar events (ignition, geofence, alarms), keyed by driver id.
    public static let gpsEvents: Topic = "gps.events"
    /// Visit lifecycle events, keyed by visit id.
    public static let visitEvents: Topic = "visits.events"
    /// Driver events and alerts pushed to dashboards, keyed by driver id.
    public static let driverEvents: Topic = "drivers.events"
    /// Change events of a source-of-truth table (`cdc.Customers`...), keyed by primary key.
    public static func cdc(_ table: String) -> Topic { Topic("cdc.\(table)") }
    /// Where a message that keeps failing is parked, with headers saying why and where it came from.
    public var deadLetter: Topic { Topic("\(name).dlq") }
}

/// Standard header names carried by every message.
public enum MessageHeader {
    public static let tenantId = "tenant-id"
    public static let eventType = "event-type"
    public static let schemaVersion = "schema-version"
    public static let contentType = "content-type"
    public static let dlqReason = "dlq-reason"
    public static let dlqSourceTopic = "dlq-source-topic"
    public static let dlqSourcePartition = "dlq-source-partition"
    public static let dlqSourceOffset = "dlq-source-offset"
}

/// A message to publish. `value` is the encoded payload (JSON for every built-in topic); `nil` is a
/// tombstone (Debezium deletes).
public struct OutgoingMessage: Hashable, Sendable {
    public var key: String
    public var value: [UInt8]?
    public var headers: [String: String]

    public init(key: String, value: [UInt8]?, headers: [String: String] = [:]) {
        self.key = key
        self.value = value
        self.headers = headers
    }
}

/// A message as delivered to a consumer.
public struct BusMessage: Hashable, Sendable {
    public var topic: Topic
    public var partition: Int
    public var offset: Int64
    public var key: String
    public var value: [UInt8]?
    public var headers: [String: String]
    /// When the bus accepted the message.
    public var timestamp: Timestamp

    public init(
        topic: Topic,
        partition: Int,
        offset: Int64,
        key: String,
        value: [UInt8]?,
        headers: [String: String],
        timestamp: Timestamp
    ) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.key = key
        self.value = value
        self.headers = headers
        self.timestamp = timestamp
    }
}

/// The durable log between the webhook, enrichment, CDC and push (Kafka in production).
///
/// Semantics every adapter must keep (checked by `EventBusContract`):
/// - **Durability:** `publish` returns only when every message is durably accepted (Kafka: delivery report
///   with `acks=all`; SQLite: committed to disk; in-memory: in the process's log). If it throws, any subset
///   of the batch may have been written (callers retry; consumers are idempotent).
/// - **Partitioning and ordering:** a message's partition is a stable function of its key
///   (the same in every process and across restarts), so messages with the same key are delivered in
///   publish order. No order across keys.
/// - **Consumer groups:** each group sees every message of its topics; within a group each partition is
///   consumed by one live subscription at a time. Different groups are independent.
/// - **At-least-once:** a group resumes after its last committed offset per partition. Messages delivered
///   but not committed are delivered again when their subscription closes or fails and a subscription of
///   the same group takes the partition over.
/// - **Retention:** messages may be deleted once every group committed them, or when they are older than the
///   adapter's retention period (documented by each adapter); a group lagging beyond retention loses them.
/// - **Errors:** `StoreError.unavailable` when the bus cannot be reached; `.closed` from `next`/`commit` of a
///   subscription after its `close()`.
public protocol EventBus: Sendable {
    /// Appends the messages to `topic`, returning once all are durable.
    func publish(_ messages: [OutgoingMessage], to topic: Topic) async throws

    /// Joins consumer group `group` for `topics`. New groups start at the earliest retained message
    /// unless `startAtEnd` is true (then only messages published after joining are delivered).
    func subscribe(topics: [Topic], group: String, startAtEnd: Bool) async throws -> any EventSubscription
}
