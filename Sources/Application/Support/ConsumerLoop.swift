import Domain
public import Logging

/// Runs a handler over a consumer group with the bus's at-least-once contract: a batch is committed only
/// after the handler returned; a failing batch is retried, and a message that still fails after
/// `maxAttempts` is parked on `<topic>.dlq` with headers saying why and where it came from, and consumption
/// continues. `StoreError.unavailable`/`.closed` (an outage) are never dead-lettered: the loop stops without
/// committing and its caller restarts it. Handlers must therefore be idempotent.
public struct ConsumerLoop: Sendable {
    public struct Configuration: Sendable {
        public var topics: [Topic]
        public var group: String
        public var startAtEnd: Bool
        public var batchSize: Int
        public var maxAttempts: Int
        public var retryDelay: Duration
        /// After a small batch, wait this long before fetching again so the next batch amortises the per-batch
        /// work (history append, publish, commit), like Kafka's `fetch.wait.max.ms`. Adds at most this latency.
        public var linger: Duration

        public init(
            topics: [Topic],
            group: String,
            startAtEnd: Bool = false,
            batchSize: Int = 256,
            maxAttempts: Int = 5,
            retryDelay: Duration = .milliseconds(200),
            linger: Duration = .milliseconds(5)
        ) {
            self.topics = topics
            self.group = group
            self.startAtEnd = startAtEnd
            self.batchSize = batchSize
            self.maxAttempts = maxAttempts
            self.retryDelay = retryDelay
            self.linger = linger
        }
    }

    public typealias Handler = @Sendable ([BusMessage]) async throws -> Void
    /// Told about each message parked on the dead-letter topic, with the reason.
    public typealias DeadLetterObserver = @Sendable (BusMessage, String) async -> Void

    let bus: any EventBus
    public let configuration: Configuration
    let logger: Logger
    let handler: Handler
    let onDeadLetter: DeadLetterObserver?

    public init(
        bus: any EventBus,
        configuration: Configuration,
        logger: Logger,
        onDeadLetter: DeadLetterObserver? = nil,
        handler: @escaping Handler
    ) {
        self.bus = bus
        self.configuration = configuration
        self.logger = logger
        self.onDeadLetter = onDeadLetter
        self.handler = handler
    }

    /// Consumes until the task is cancelled or the subscription closes. The subscription is closed on the way
    /// out, so its partitions go to the group's other members.
    public func run() async throws {
        let subscription = try await bus.subscribe(
            topics: configuration.topics,
            group: configuration.group,
            startAtEnd: configuration.startAtEnd
        )
        do {
            while !Task.isCancelled {
                let batch = try await subscription.next(maxCount: configuration.batchSize)
                if batch.isEmpty { break }
                try await process(batch)
                try await subscription.commit(batch)
                if batch.count < configuration.batchSize / 4, configuration.linger > .zero {
                    try await Task.sleep(for: configuration.linger)
                }
            }
        } catch {
            await subscription.close()
            throw error
        }
        await subscription.close()
    }

    /// Handles one batch: whole batch first; on failure, message by message so one poison message
    /// cannot hold back the others.
    func process(_ batch: [BusMessage]) async throws {
        do {
            try await handler(batch)
            return
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            logger.debug(
                "batch failed, retrying message by message",
                metadata: ["consumer.group": "\(configuration.group)", "error": "\(error)"]
            )
        }
        for message in batch {
            var attempt = 1
            while true {
                do {
                    try await handler([message])
                    break
                } catch is CancellationError {
                    throw CancellationError()
                } catch {
                    let code = (error as? StoreError)?.code
                    // An outage is not the message's fault: stop without committing, so the loop restarts
                    // and the batch is delivered again once the dependency is back.
                    if code == .unavailable || code == .closed { throw error }
                    if code == .invalidData || attempt >= configuration.maxAttempts {
                        try await deadLetter(message, reason: Self.reason(error), attempts: attempt)
                        break
                    }
                    attempt += 1
                    try await Task.sleep(for: configuration.retryDelay * attempt)
                }
            }
        }
    }

    /// The dead-letter reason: a store error's code and detail (operators read it, API clients never do).
    static func reason(_ error: any Error) -> String {
        guard let error = error as? StoreError else { return "\(error)" }
        return error.detail.isEmpty ? "\(error.code)" : "\(error.code): \(error.detail)"
    }

    func deadLetter(_ message: BusMessage, reason: String, attempts: Int) async throws {
        var headers = message.headers
        headers[MessageHeader.dlqReason] = String(reason.prefix(500))
        headers[MessageHeader.dlqSourceTopic] = message.topic.name
        headers[MessageHeader.dlqSourcePartition] = String(message.partition)
        headers[MessageHeader.dlqSourceOffset] = String(message.offset)
        headers["dlq-attempts"] = String(attempts)
        try await bus.publish(
            [OutgoingMessage(key: message.key, value: message.value, headers: headers)],
            to: message.topic.deadLetter
        )
        await onDeadLetter?(message, reason)
        logger.debug(
            "message dead-lettered",
            metadata: [
                "topic": "\(message.topic)", "partition": "\(message.partition)", "offset": "\(message.offset)",
            ]
        )
    }
}
