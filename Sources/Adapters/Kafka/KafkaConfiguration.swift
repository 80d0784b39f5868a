import CRdKafka

/// How a `KafkaEventBus` connects and which librdkafka properties it sets.
///
/// Every librdkafka property can be passed through `properties` (the composition root fills it from the
/// `kafka.*` configuration keys), so TLS and SASL need no code: `security.protocol`, `sasl.mechanisms`,
/// `ssl.ca.location`... A key prefixed `producer.` or `consumer.` applies to that client only (prefix
/// removed); other keys apply to every client. Properties given here override the adapter's defaults.
public struct KafkaConfiguration: Sendable {
    /// `bootstrap.servers`: `host:port,host:port`.
    public var bootstrapServers: String
    /// Partitions of the topics the bus creates (existing topics keep theirs).
    public var partitions: Int
    /// Replication factor of the topics the bus creates.
    public var replicationFactor: Int
    /// Extra librdkafka properties (see the type's documentation).
    public var properties: [String: String]
    /// `client.id` prefix of the bus's clients.
    public var clientId: String
    /// A subscription pauses its partitions when this many fetched messages wait for `next`, and resumes
    /// them when half of them were taken (backpressure).
    public var maxBufferedMessages: Int
    /// How long `subscribe` waits for the group to assign partitions to the new member before returning.
    public var assignmentTimeout: Duration
    /// Timeout of one metadata, admin or commit request.
    public var requestTimeout: Duration

    public init(
        bootstrapServers: String,
        partitions: Int = 12,
        replicationFactor: Int = 3,
        properties: [String: String] = [:],
        clientId: String = "tracker",
        maxBufferedMessages: Int = 10_000,
        assignmentTimeout: Duration = .seconds(30),
        requestTimeout: Duration = .seconds(10)
    ) {
        self.bootstrapServers = bootstrapServers
        self.partitions = partitions
        self.replicationFactor = replicationFactor
        self.properties = properties
        self.clientId = clientId
        self.maxBufferedMessages = maxBufferedMessages
        self.assignmentTimeout = assignmentTimeout
        self.requestTimeout = requestTimeout
    }

    /// The producer's defaults: idempotent, every in-sync replica acknowledges, lz4, 5 ms linger, and a
    /// 30 s delivery timeout (retries within it are transparent; after it `publish` throws).
    static let producerDefaults: [String: String] = [
        "enable.idempotence": "true",
        "acks": "all",
        "compression.type": "lz4",
        "linger.ms": "5",
        "message.timeout.ms": "30000",
    ]

    /// The consumers' defaults: cooperative rebalancing where the library is safe with it, commits only
    /// through `commit`, no EOF events, and a 50 ms fetch wait (a broker answers as soon as data arrives; the
    /// wait only bounds how long a fetch on a quiet partition is held, which the mock cluster holds in full even
    /// when data arrives meanwhile).
    static let consumerDefaults: [String: String] = [
        "fetch.wait.max.ms": "50",
        "partition.assignment.strategy": assignmentStrategy,
        "enable.auto.commit": "false",
        "enable.auto.offset.store": "false",
        "enable.partition.eof": "false",
    ]

    /// `cooperative-sticky` from librdkafka 2.3.0; before it (Debian 12 ships 2.0.2) the cooperative sticky
    /// assignor aborts the process when a member's session expires before its first assignment
    /// (`rd_kafka_sticky_assignor_state_destroy: Assertion 'assignor_state' failed`, librdkafka #4312, fixed
    /// by #4381), so the eager `range,roundrobin` is the default there. `partition.assignment.strategy` in the
    /// properties overrides either.
    static let assignmentStrategy = rd_kafka_version() >= 0x0203_00ff ? "cooperative-sticky" : "range,roundrobin"

    /// The properties of one client: defaults, then shared properties, then the client's own, then
    /// `overrides` (what the bus's semantics depend on: `group.id`, `auto.offset.reset`).
    func properties(for role: Role, overrides: [String: String] = [:]) -> [(String, String)] {
        var merged = ["bootstrap.servers": bootstrapServers]
        switch role {
        case .producer: merged.merge(Self.producerDefaults) { $1 }
        case .consumer: merged.merge(Self.consumerDefaults) { $1 }
        }
        let own = role == .producer ? "producer." : "consumer."
        for (key, value) in properties where !key.hasPrefix("producer.") && !key.hasPrefix("consumer.") {
            merged[key] = value
        }
        for (key, value) in properties where key.hasPrefix(own) {
            merged[String(key.dropFirst(own.count))] = value
        }
        merged.merge(overrides) { $1 }
        return merged.sorted { $0.key < $1.key }
    }

    enum Role { case producer, consumer }
}

/// librdkafka refused a property or could not create a client: the message names the property.
public struct KafkaConfigurationError: Error, CustomStringConvertible, Sendable {
    public var description: String
    package init(_ description: String) { self.description = description }
}
