import AdapterSupport
public import Application
import CRdKafka
import Dispatch
import Domain
import Foundation
public import Logging
import Synchronization

/// The event bus on Apache Kafka through librdkafka (production; spec §4, §6.3).
///
/// - **Publish:** one idempotent producer per bus (`enable.idempotence`, `acks=all`, lz4, 5 ms linger).
///   `publish` returns when librdkafka's delivery report confirmed every message of the batch, so a
///   webhook's 2xx means every in-sync replica has the position. A message's partition is
///   `Partitioner.partition(forKey:partitions:)` over the topic's partition count (ADR 0002), the same in
///   every process and adapter.
/// - **Topics:** created on first use with `KafkaConfiguration.partitions` and `.replicationFactor` through
///   the admin API; existing topics are kept as they are. When the cluster does not offer the admin API
///   (librdkafka's mock cluster), the topic is created by the broker's auto-creation on the first metadata
///   request.
/// - **Consume:** `subscribe` joins a consumer group with cooperative rebalancing (`KafkaEventSubscription`).
/// - **Threads:** librdkafka's blocking calls (poll, flush, consumer poll, commit, metadata, admin) run on
///   dedicated threads or Dispatch, never on Swift's cooperative pool. No librdkafka type leaves the adapter.
/// - **Retention:** the brokers' (`retention.ms`, 7 days by default): a group lagging beyond it loses messages.
public final class KafkaEventBus: EventBus {
    let configuration: KafkaConfiguration
    let logger: Logger
    private let producer: KafkaHandle
    private let stopPolling = StopFlag()
    /// Signalled by the poll thread once it flushed and destroyed the producer.
    private let producerDestroyed = DispatchSemaphore(value: 0)
    /// Partition count of every topic seen, from the cluster's metadata.
    private let partitionCounts = Mutex<[String: Int]>([:])
    /// Set once the cluster refused `CreateTopics` as unsupported: rely on auto-creation from then on.
    private let adminUnsupported = Atomic<Bool>(false)
    private let subscriptionCounter = Atomic<Int>(0)

    /// Connects a producer to `configuration.bootstrapServers` (connections are made lazily; an unreachable
    /// cluster shows as `publish` failing after the delivery timeout).
    ///
    /// - Throws: `KafkaConfigurationError` naming a property librdkafka refuses.
    public init(configuration: KafkaConfiguration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        let properties = configuration.properties(
            for: .producer,
            overrides: ["client.id": "\(configuration.clientId)-producer"]
        )
        let context = KafkaClientContext(logger: logger)
        let pointer = try makeKafkaClient(
            type: RD_KAFKA_PRODUCER,
            properties: properties,
            opaque: Unmanaged.passUnretained(context).toOpaque()
        ) { conf in
            rd_kafka_conf_set_dr_msg_cb(conf, deliveryReport)
        }
        producer = KafkaHandle(pointer: pointer)
        // Serves delivery reports until the bus is released, then flushes what is in flight and destroys
        // the producer.
        let handle = producer
        let stop = stopPolling
        let destroyed = producerDestroyed
        startDedicatedThread(name: "kafka-producer-poll") {
            while !stop.isSet {
                rd_kafka_poll(handle.pointer, 100)
            }
            _ = rd_kafka_flush(handle.pointer, 10_000)
            rd_kafka_destroy(handle.pointer)
            withExtendedLifetime(context) {}  // the log callback's opaque lives as long as the client
            destroyed.signal()
        }
    }

    /// Flushes the messages in flight (at most 10 s), then destroys the producer; `publish` throws
    /// `StoreError.closed` afterwards. Called by the composition root's shutdown after every flow that publishes
    /// has stopped. Subscriptions are closed by their consumer loops.
    public func close() async {
        guard !stopPolling.isSet else { return }
        stopPolling.set()
        let destroyed = producerDestroyed
        await offCooperativePool { destroyed.wait() }
    }

    deinit {
        // Only a leak guard for buses never closed (tests): the process's shutdown path is `close()`.
        stopPolling.set()
    }

    // MARK: Publish

    /// Produces every message to its key's partition and returns when all are confirmed.
    ///
    /// - Throws: `StoreError.unavailable` when a message is not confirmed within `message.timeout.ms`
    ///   (30 s by default) or the producer refuses it; any subset of the batch may have been written.
    public func publish(_ messages: [OutgoingMessage], to topic: Topic) async throws {
        guard !messages.isEmpty else { return }
        guard !stopPolling.isSet else { throw StoreError.closed() }
        let partitions = try await partitionCount(of: topic)
        let batch = DeliveryBatch(count: messages.count)
        for message in messages {
            let partition = Int32(Partitioner.partition(forKey: message.key, partitions: partitions))
            var attempts = 0
            while true {
                let result = produce(message, topic: topic.name, partition: partition, batch: batch)
                if result == RD_KAFKA_RESP_ERR_NO_ERROR { break }
                if result == RD_KAFKA_RESP_ERR__QUEUE_FULL, attempts < 30_000 {
                    // The local queue is full: the poll thread is draining it; wait a little.
                    attempts += 1
                    try? await Task.sleep(for: .milliseconds(1))
                    continue
                }
                batch.delivered(error: "produce to \(topic): \(kafkaErrorText(result))")
                break
            }
        }
        if let error = await batch.wait() {
            throw StoreError(.unavailable, detail: error)
        }
    }

    private func produce(
        _ message: OutgoingMessage,
        topic: String,
        partition: Int32,
        batch: DeliveryBatch
    )
        -> rd_kafka_resp_err_t
    {
        let headers = rd_kafka_headers_new(message.headers.count)!
        for (name, value) in message.headers {
            _ = rd_kafka_header_add(headers, name, -1, value, -1)
        }
        let opaque = Unmanaged.passRetained(batch).toOpaque()
        let key = Array(message.key.utf8)
        let result = key.withUnsafeBytes { key in
            if let value = message.value {
                // A non-NULL pointer for an empty value keeps it empty rather than a tombstone.
                return value.withUnsafeBytes { value in
                    crdkafka_produce(
                        producer.pointer,
                        topic,
                        partition,
                        key.baseAddress,
                        key.count,
                        value.baseAddress ?? UnsafeRawPointer(bitPattern: 1),
                        value.count,
                        headers,
                        opaque
                    )
                }
            }
            return crdkafka_produce(
                producer.pointer,
                topic,
                partition,
                key.baseAddress,
                key.count,
                nil,
                0,
                headers,
                opaque
            )
        }
        if result != RD_KAFKA_RESP_ERR_NO_ERROR {
            rd_kafka_headers_destroy(headers)
            Unmanaged<DeliveryBatch>.fromOpaque(opaque).release()
        }
        return result
    }

    // MARK: Subscribe

    /// Joins consumer group `group` for `topics` (created when missing) and returns once the group assigned
    /// this member its partitions (or after `assignmentTimeout`, logged).
    public func subscribe(topics: [Topic], group: String, startAtEnd: Bool) async throws -> any EventSubscription {
        var counts: [String: Int] = [:]
        for topic in topics { counts[topic.name] = try await partitionCount(of: topic) }
        let number = subscriptionCounter.add(1, ordering: .relaxed).newValue
        let subscription = try KafkaEventSubscription(
            bus: self,
            topics: topics,
            group: group,
            startAtEnd: startAtEnd,
            partitionCounts: counts,
            clientId: "\(configuration.clientId)-consumer-\(number)"
        )
        await subscription.waitForFirstAssignment(timeout: configuration.assignmentTimeout)
        return subscription
    }

    // MARK: Topics

    /// The topic's partition count, creating the topic first when the cluster does not know it.
    ///
    /// - Throws: `StoreError.unavailable` when the cluster cannot be reached or the topic cannot be created.
    func partitionCount(of topic: Topic) async throws -> Int {
        if let count = partitionCounts.withLock({ $0[topic.name] }) { return count }
        let count = try await offCooperativePool { [self] in try ensureTopic(topic.name) }
        partitionCounts.withLock { $0[topic.name] = count }
        return count
    }

    /// Creates `topic` when it does not exist (admin API), then reads its partition count (blocking).
    func ensureTopic(_ topic: String) throws -> Int {
        if let count = try? metadataPartitionCount(topic, namingTopic: false, attempts: 1) { return count }
        if !adminUnsupported.load(ordering: .relaxed) {
            do {
                try createTopic(topic)
            } catch let error as AdminUnsupported {
                adminUnsupported.store(true, ordering: .relaxed)
                logger.notice(
                    "the Kafka cluster does not offer CreateTopics: topics are auto-created by the broker",
                    metadata: ["error": "\(error.text)"]
                )
            } catch {
                // No answer or refused (e.g. no ACL): the topic may exist or be auto-created; metadata decides.
                logger.warning(
                    "kafka CreateTopics failed; relying on an existing or auto-created topic",
                    metadata: ["topic": "\(topic)", "error": "\(String(reflecting: error))"]
                )
            }
        }
        return try metadataPartitionCount(topic, namingTopic: true, attempts: 50)
    }

    private struct AdminUnsupported: Error { var text: String }

    /// `CreateTopics` with the configured partitions and replication; an existing topic is fine.
    private func createTopic(_ topic: String) throws {
        let client = producer.pointer
        var errstr = [CChar](repeating: 0, count: 512)
        guard
            let newTopic = rd_kafka_NewTopic_new(
                topic,
                Int32(configuration.partitions),
                Int32(configuration.replicationFactor),
                &errstr,
                errstr.count
            )
        else { throw StoreError(.unavailable, detail: "cannot describe topic \(topic): \(cString(errstr))") }
        defer { rd_kafka_NewTopic_destroy(newTopic) }
        let queue = rd_kafka_queue_new(client)!
        defer { rd_kafka_queue_destroy(queue) }
        let options = rd_kafka_AdminOptions_new(client, RD_KAFKA_ADMIN_OP_CREATETOPICS)!
        defer { rd_kafka_AdminOptions_destroy(options) }
        _ = rd_kafka_AdminOptions_set_operation_timeout(
            options,
            configuration.requestTimeout.kafkaMilliseconds,
            &errstr,
            errstr.count
        )
        _ = rd_kafka_AdminOptions_set_request_timeout(
            options,
            configuration.requestTimeout.kafkaMilliseconds,
            &errstr,
            errstr.count
        )
        var topics: [OpaquePointer?] = [newTopic]
        rd_kafka_CreateTopics(client, &topics, 1, options, queue)
        guard let event = rd_kafka_queue_poll(queue, configuration.requestTimeout.kafkaMilliseconds + 5000) else {
            throw StoreError(.unavailable, detail: "CreateTopics \(topic): no answer")
        }
        defer { rd_kafka_event_destroy(event) }
        let eventError = rd_kafka_event_error(event)
        if eventError != RD_KAFKA_RESP_ERR_NO_ERROR {
            let text = "\(kafkaErrorText(eventError)) \(String(cString: rd_kafka_event_error_string(event)))"
            if eventError == RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE
                || eventError == RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION
                || eventError == RD_KAFKA_RESP_ERR_INVALID_REQUEST
            {
                throw AdminUnsupported(text: text)
            }
            throw StoreError(.unavailable, detail: "CreateTopics \(topic): \(text)")
        }
        guard let result = rd_kafka_event_CreateTopics_result(event) else { return }
        var count = 0
        guard let results = rd_kafka_CreateTopics_result_topics(result, &count) else { return }
        for index in 0..<count {
            let error = rd_kafka_topic_result_error(results[index])
            if error == RD_KAFKA_RESP_ERR_NO_ERROR || error == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS { continue }
            let text = kafkaErrorText(error)
            if error == RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION || error == RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE {
                throw AdminUnsupported(text: text)
            }
            throw StoreError(.unavailable, detail: "CreateTopics \(topic): \(text)")
        }
        logger.info(
            "kafka topic created",
            metadata: [
                "topic": "\(topic)", "partitions": "\(configuration.partitions)",
                "replication": "\(configuration.replicationFactor)",
            ]
        )
    }

    /// The topic's partition count from the cluster's metadata, retrying while the topic is being created.
    /// `namingTopic` asks for this topic only, which lets a broker with auto-creation create it; otherwise
    /// every topic is listed (nothing is created).
    private func metadataPartitionCount(_ topic: String, namingTopic: Bool, attempts: Int) throws -> Int {
        let client = producer.pointer
        // A topic handle makes the metadata request name the topic; the producer's
        // `allow.auto.create.topics` (true by default) lets the broker create it.
        guard let handle = rd_kafka_topic_new(client, topic, nil) else {
            throw StoreError(.unavailable, detail: "cannot open topic \(topic)")
        }
        defer { rd_kafka_topic_destroy(handle) }
        var lastError = "no metadata"
        for attempt in 0..<attempts {
            if attempt > 0 { usleep(100_000) }
            var metadata: UnsafePointer<rd_kafka_metadata>?
            let error = rd_kafka_metadata(
                client,
                namingTopic ? 0 : 1,
                namingTopic ? handle : nil,
                &metadata,
                configuration.requestTimeout.kafkaMilliseconds
            )
            guard error == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else {
                lastError = kafkaErrorText(error)
                continue
            }
            defer { rd_kafka_metadata_destroy(metadata) }
            for index in 0..<Int(metadata.pointee.topic_cnt) {
                let entry = metadata.pointee.topics[index]
                guard String(cString: entry.topic) == topic else { continue }
                if entry.err == RD_KAFKA_RESP_ERR_NO_ERROR, entry.partition_cnt > 0 {
                    return Int(entry.partition_cnt)
                }
                lastError = kafkaErrorText(entry.err)
            }
        }
        throw StoreError(.unavailable, detail: "metadata of topic \(topic): \(lastError)")
    }
}

/// A flag a thread polls to know when to stop.
final class StopFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    var isSet: Bool { flag.load(ordering: .acquiring) }
    func set() { flag.store(true, ordering: .releasing) }
}

/// The messages of one `publish` call awaiting their delivery reports.
final class DeliveryBatch: Sendable {
    private struct State {
        var remaining: Int
        var error: String?
        var continuation: CheckedContinuation<String?, Never>?
    }
    private let state: Mutex<State>

    init(count: Int) { state = Mutex(State(remaining: count)) }

    /// One message was confirmed (`error == nil`) or failed.
    func delivered(error: String?) {
        let continuation = state.withLock { state -> CheckedContinuation<String?, Never>? in
            state.remaining -= 1
            if let error, state.error == nil { state.error = error }
            guard state.remaining == 0 else { return nil }
            defer { state.continuation = nil }
            return state.continuation
        }
        continuation?.resume(returning: state.withLock { $0.error })
    }

    /// Waits for every report; returns the first failure.
    func wait() async -> String? {
        await withCheckedContinuation { continuation in
            let done = state.withLock { state -> Bool in
                if state.remaining == 0 { return true }
                state.continuation = continuation
                return false
            }
            if done { continuation.resume(returning: state.withLock { $0.error }) }
        }
    }
}

/// librdkafka's delivery report (on the producer's poll thread): one per message, with the batch as opaque.
private func deliveryReport(
    _ client: OpaquePointer?,
    _ message: UnsafePointer<rd_kafka_message_t>?,
    _ opaque: UnsafeMutableRawPointer?
) {
    guard let message, let batchPointer = message.pointee._private else { return }
    let batch = Unmanaged<DeliveryBatch>.fromOpaque(batchPointer).takeRetainedValue()
    let error = message.pointee.err
    batch.delivered(error: error == RD_KAFKA_RESP_ERR_NO_ERROR ? nil : "delivery: \(kafkaErrorText(error))")
}
