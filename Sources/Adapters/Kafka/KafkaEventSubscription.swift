import AdapterSupport
public import Application
import CRdKafka
import Domain
import Foundation
import Logging
import Metrics
import Synchronization

/// One member of a Kafka consumer group (`KafkaEventBus.subscribe`).
///
/// - A dedicated thread owns the librdkafka consumer: it polls, serves rebalances and fills a buffer that
///   `next` takes from, in partition order.
/// - Rebalancing is cooperative (`cooperative-sticky`): on assignment a `startAtEnd` subscription starts
///   partitions without a committed offset at the end they had when `subscribe` was called; on revocation
///   in-flight commits finish first (so the next owner starts after them) and buffered messages of the
///   revoked partitions are dropped (the next owner receives them from the committed offset).
/// - Offsets are committed only by `commit` (synchronously, after the handler succeeded: at-least-once).
///   A commit for a partition this member no longer owns is skipped: its new owner receives the messages again.
/// - Backpressure: when `maxBufferedMessages` wait for `next`, the assigned partitions are paused; they are
///   resumed once half were taken.
/// - Dropping the last reference leaves the group as `close()` does.
public final class KafkaEventSubscription: EventSubscription {
    /// The consumer group this subscription belongs to.
    public let group: String
    /// The topics it consumes.
    public let topics: [Topic]
    private let core: ConsumerCore

    init(
        bus: KafkaEventBus,
        topics: [Topic],
        group: String,
        startAtEnd: Bool,
        partitionCounts: [String: Int],
        clientId: String
    ) throws {
        self.group = group
        self.topics = topics
        let core = ConsumerCore(
            configuration: bus.configuration,
            logger: bus.logger,
            group: group,
            startAtEnd: startAtEnd
        )
        let properties = bus.configuration.properties(
            for: .consumer,
            overrides: [
                "group.id": group,
                "client.id": clientId,
                "auto.offset.reset": startAtEnd ? "latest" : "earliest",
            ]
        )
        let pointer = try makeKafkaClient(
            type: RD_KAFKA_CONSUMER,
            properties: properties,
            opaque: Unmanaged.passUnretained(core).toOpaque()
        ) { conf in
            rd_kafka_conf_set_rebalance_cb(conf, rebalanceCallback)
        }
        rd_kafka_poll_set_consumer(pointer)
        core.start(
            handle: KafkaHandle(pointer: pointer),
            topics: topics.map(\.name),
            partitionCounts: partitionCounts
        )
        self.core = core
    }

    deinit {
        core.requestClose()
    }

    /// The partitions currently assigned to this member.
    public var assignedPartitions: [Topic: [Int]] {
        core.state.withLock { state in
            var result: [Topic: [Int]] = [:]
            for partition in state.assigned {
                result[Topic(partition.topic), default: []].append(Int(partition.partition))
            }
            return result.mapValues { $0.sorted() }
        }
    }

    /// Whether the partitions are paused because `maxBufferedMessages` wait for `next` (backpressure).
    public var isPaused: Bool { core.state.withLock { $0.paused } }

    /// Waits until the group assigned this member its partitions (or it closed), at most `timeout`; returns at
    /// once when the task is cancelled (a graceful shutdown during start-up).
    func waitForFirstAssignment(timeout: Duration) async {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while !core.state.withLock({ $0.assignedOnce || $0.closing }), !Task.isCancelled {
            if clock.now >= deadline {
                core.logger.warning(
                    "kafka consumer not assigned partitions in time; continuing",
                    metadata: ["consumer.group": "\(group)", "timeout": "\(timeout)"]
                )
                return
            }
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Waits for messages of the assigned partitions; returns `[]` once the subscription is closed or when
    /// the task is cancelled.
    public func next(maxCount: Int) async throws -> [BusMessage] {
        let maxCount = max(1, maxCount)
        if Task.isCancelled { return [] }
        let core = self.core
        let id = core.state.withLock { state in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<[BusMessage], Never>) in
                let immediate = core.state.withLock { state -> [BusMessage]? in
                    if state.closing { return [] }
                    if !state.buffer.isEmpty { return state.take(maxCount) }
                    if Task.isCancelled { return [] }
                    state.waiters[id] = ConsumerCore.Waiter(continuation: continuation, maxCount: maxCount)
                    return nil
                }
                if let immediate { continuation.resume(returning: immediate) }
            }
        } onCancel: {
            let waiter = core.state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.continuation.resume(returning: [])
        }
        core.wakeIfPaused()
        core.countDelivered(result)
        return result
    }

    /// Commits `messages` (and everything before them in their partitions) for the group, waiting for the
    /// group coordinator's answer. Offsets lower than one this member committed are ignored, as are
    /// messages of topics it does not consume and of partitions it no longer owns.
    ///
    /// - Throws: `StoreError.closed` after `close()`; `.unavailable` when the coordinator keeps refusing.
    public func commit(_ messages: [BusMessage]) async throws {
        var offsets: [TopicPartition: Int64] = [:]
        for message in messages where topics.contains(message.topic) {
            let partition = TopicPartition(topic: message.topic.name, partition: Int32(message.partition))
            offsets[partition] = max(offsets[partition] ?? Int64.min, message.offset + 1)
        }
        try await core.commit(offsets)
    }

    /// Leaves the group: pending `next` calls return `[]`; the group's other members take the partitions over
    /// from the committed offsets.
    public func close() async {
        core.requestClose()
        await core.waitClosed()
    }
}

/// The state a subscription shares with its consumer thread and librdkafka's rebalance callback.
final class ConsumerCore: KafkaClientContext, @unchecked Sendable {
    struct Waiter {
        var continuation: CheckedContinuation<[BusMessage], Never>
        var maxCount: Int
    }

    struct State {
        var buffer: [BusMessage] = []
        var waiters: [UInt64: Waiter] = [:]
        var nextWaiterID: UInt64 = 0
        var closing = false
        var closed = false
        var closeWaiters: [CheckedContinuation<Void, Never>] = []
        var assignedOnce = false
        var assigned: Set<TopicPartition> = []
        var paused = false
        var committed: [TopicPartition: Int64] = [:]
        /// Per partition owned now: the offset from which messages are not yet committed by this member (its
        /// last commit, else the first offset received since the assignment). The consumer lag's base.
        var pendingFrom: [TopicPartition: Int64] = [:]
        var commitsInFlight = 0
        /// The consumer queue, to wake the thread's poll (`rd_kafka_queue_yield`); nil once destroyed.
        var queue: KafkaHandle?

        mutating func take(_ maxCount: Int) -> [BusMessage] {
            let count = min(maxCount, buffer.count)
            let taken = Array(buffer[..<count])
            buffer.removeFirst(count)
            return taken
        }

        /// Hands buffered messages to waiting `next` calls.
        mutating func serveWaiters() -> [(CheckedContinuation<[BusMessage], Never>, [BusMessage])] {
            var ready: [(CheckedContinuation<[BusMessage], Never>, [BusMessage])] = []
            while !buffer.isEmpty, let (id, waiter) = waiters.min(by: { $0.key < $1.key }) {
                waiters[id] = nil
                ready.append((waiter.continuation, take(waiter.maxCount)))
            }
            return ready
        }
    }

    let state = Mutex(State())
    let configuration: KafkaConfiguration
    let group: String
    let startAtEnd: Bool
    /// Set once by `start`, before the thread runs.
    private(set) var handle: KafkaHandle?
    /// The subscribed topics' names (set by `start`).
    private var topics: [String] = []
    /// `tracker_kafka_delivered_messages_total{group,topic}` per subscribed topic (made once by `start`).
    private var deliveredCounters: [String: Counter] = [:]
    /// Thread-only: the end offsets at subscribe time of a `startAtEnd` subscription.
    private var startOffsets: [TopicPartition: Int64] = [:]
    /// `tracker_kafka_consumer_lag{group,topic}` per subscribed topic (made once by `start`).
    private var lagGauges: [String: Gauge] = [:]

    init(configuration: KafkaConfiguration, logger: Logger, group: String, startAtEnd: Bool) {
        self.configuration = configuration
        self.group = group
        self.startAtEnd = startAtEnd
        super.init(logger: logger)
    }

    // MARK: Thread

    func start(handle: KafkaHandle, topics: [String], partitionCounts: [String: Int]) {
        self.handle = handle
        self.topics = topics
        deliveredCounters = Dictionary(
            uniqueKeysWithValues: topics.map { topic in
                (
                    topic,
                    Counter(
                        label: "tracker_kafka_delivered_messages_total",
                        dimensions: [("group", group), ("topic", topic)]
                    )
                )
            }
        )
        lagGauges = Dictionary(
            uniqueKeysWithValues: topics.map { topic in
                (topic, Gauge(label: "tracker_kafka_consumer_lag", dimensions: [("group", group), ("topic", topic)]))
            }
        )
        let queue = rd_kafka_queue_get_consumer(handle.pointer).map(KafkaHandle.init(pointer:))
        state.withLock { $0.queue = queue }
        startDedicatedThread(name: "kafka-consumer-\(group)") { [self] in
            run(topics: topics, partitionCounts: partitionCounts)
        }
    }

    private func run(topics: [String], partitionCounts: [String: Int]) {
        let client = handle!.pointer
        if startAtEnd { startOffsets = endOffsets(partitionCounts) }
        let list = rd_kafka_topic_partition_list_new(Int32(topics.count))!
        for topic in topics { rd_kafka_topic_partition_list_add(list, topic, RD_KAFKA_PARTITION_UA) }
        let error = rd_kafka_subscribe(client, list)
        rd_kafka_topic_partition_list_destroy(list)
        if error != RD_KAFKA_RESP_ERR_NO_ERROR {
            logger.error(
                "kafka subscribe failed",
                metadata: ["consumer.group": "\(group)", "error": "\(kafkaErrorText(error))"]
            )
            requestClose()
        }
        let clock = ContinuousClock()
        var lagRecorded = clock.now
        while !state.withLock({ $0.closing }) {
            applyBackpressure()
            if clock.now - lagRecorded >= .seconds(1) {
                recordLag()
                lagRecorded = clock.now
            }
            guard let first = rd_kafka_consumer_poll(client, 100) else { continue }
            var batch: [BusMessage] = []
            var next: UnsafeMutablePointer<rd_kafka_message_t>? = first
            while let message = next {
                if let converted = convert(message) { batch.append(converted) }
                rd_kafka_message_destroy(message)
                next = batch.count < 1000 ? rd_kafka_consumer_poll(client, 0) : nil
            }
            if !batch.isEmpty { deliver(batch) }
        }
        // In-flight commits use the client: let them finish (bounded) before closing it.
        waitForCommits(atMost: configuration.requestTimeout)
        // Revokes the assignment (through the rebalance callback) and leaves the group.
        rd_kafka_consumer_close(client)
        state.withLock { state in
            if let queue = state.queue { rd_kafka_queue_destroy(queue.pointer) }
            state.queue = nil
        }
        rd_kafka_destroy(client)
        let waiters = state.withLock { state in
            state.closed = true
            defer { state.closeWaiters = [] }
            return state.closeWaiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// The high watermark of every partition (what a `startAtEnd` member starts at when the group has no
    /// commit for it).
    private func endOffsets(_ partitionCounts: [String: Int]) -> [TopicPartition: Int64] {
        let client = handle!.pointer
        var offsets: [TopicPartition: Int64] = [:]
        for (topic, count) in partitionCounts {
            for partition in 0..<Int32(count) {
                var low: Int64 = 0
                var high: Int64 = 0
                for attempt in 0..<5 {
                    let error = rd_kafka_query_watermark_offsets(
                        client,
                        topic,
                        partition,
                        &low,
                        &high,
                        configuration.requestTimeout.kafkaMilliseconds
                    )
                    if error == RD_KAFKA_RESP_ERR_NO_ERROR {
                        offsets[TopicPartition(topic: topic, partition: partition)] = high
                        break
                    }
                    logger.debug(
                        "kafka watermark query failed",
                        metadata: [
                            "topic": "\(topic)", "partition": "\(partition)", "attempt": "\(attempt)",
                            "error": "\(kafkaErrorText(error))",
                        ]
                    )
                    usleep(100_000)
                }
            }
        }
        return offsets
    }

    private func convert(_ message: UnsafeMutablePointer<rd_kafka_message_t>) -> BusMessage? {
        let m = message.pointee
        if m.err != RD_KAFKA_RESP_ERR_NO_ERROR {
            if m.err != RD_KAFKA_RESP_ERR__PARTITION_EOF {
                logger.warning(
                    "kafka consumer error",
                    metadata: [
                        "consumer.group": "\(group)", "error": "\(kafkaErrorText(m.err))",
                    ]
                )
            }
            return nil
        }
        let topic = String(cString: rd_kafka_topic_name(m.rkt))
        let key =
            m.key.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: m.key_len), as: UTF8.self) } ?? ""
        let value = m.payload.map { Array(UnsafeRawBufferPointer(start: $0, count: m.len)) }
        var headers: [String: String] = [:]
        var list: OpaquePointer?
        if rd_kafka_message_headers(message, &list) == RD_KAFKA_RESP_ERR_NO_ERROR, let list {
            var index = 0
            var name: UnsafePointer<CChar>?
            var bytes: UnsafeRawPointer?
            var size = 0
            while rd_kafka_header_get_all(list, index, &name, &bytes, &size) == RD_KAFKA_RESP_ERR_NO_ERROR {
                if let name {
                    headers[String(cString: name)] =
                        bytes.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: size), as: UTF8.self) }
                        ?? ""
                }
                index += 1
            }
        }
        var timestampType = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        let milliseconds = rd_kafka_message_timestamp(message, &timestampType)
        return BusMessage(
            topic: Topic(topic),
            partition: Int(m.partition),
            offset: m.offset,
            key: key,
            value: value,
            headers: headers,
            timestamp: Timestamp(millisecondsSinceEpoch: max(0, milliseconds))
        )
    }

    /// Adds polled messages to the buffer (only of partitions still assigned) and serves waiting `next` calls.
    private func deliver(_ batch: [BusMessage]) {
        let ready = state.withLock { state in
            for message in batch {
                let partition = TopicPartition(topic: message.topic.name, partition: Int32(message.partition))
                guard state.assigned.contains(partition) else { continue }
                state.buffer.append(message)
                if state.pendingFrom[partition] == nil { state.pendingFrom[partition] = message.offset }
            }
            return state.serveWaiters()
        }
        for (continuation, messages) in ready { continuation.resume(returning: messages) }
    }

    /// Pauses every assigned partition when the buffer is full; resumes them when it drained to half.
    private func applyBackpressure() {
        let client = handle!.pointer
        let (count, paused) = state.withLock { ($0.buffer.count, $0.paused) }
        let limit = max(1, configuration.maxBufferedMessages)
        if !paused, count >= limit {
            var list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
            guard rd_kafka_assignment(client, &list) == RD_KAFKA_RESP_ERR_NO_ERROR, let list else { return }
            _ = rd_kafka_pause_partitions(client, list)
            rd_kafka_topic_partition_list_destroy(list)
            state.withLock { $0.paused = true }
            logger.debug("kafka consumer paused (buffer full)", metadata: ["consumer.group": "\(group)"])
        } else if paused, count <= limit / 2 {
            var list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
            guard rd_kafka_assignment(client, &list) == RD_KAFKA_RESP_ERR_NO_ERROR, let list else { return }
            _ = rd_kafka_resume_partitions(client, list)
            rd_kafka_topic_partition_list_destroy(list)
            state.withLock { $0.paused = false }
            logger.debug("kafka consumer resumed", metadata: ["consumer.group": "\(group)"])
        }
    }

    /// `tracker_kafka_delivered_messages_total{group,topic}`: messages handed to the application by `next`.
    func countDelivered(_ messages: [BusMessage]) {
        guard !messages.isEmpty else { return }
        var perTopic: [String: Int64] = [:]
        for message in messages { perTopic[message.topic.name, default: 0] += 1 }
        for (topic, count) in perTopic { deliveredCounters[topic]?.increment(by: count) }
    }

    /// `tracker_kafka_consumer_lag{group,topic}`: messages of the partitions this member owns that it has not
    /// committed yet (received or not), from librdkafka's cached high watermarks: no request to the brokers.
    /// A partition not fetched yet is not counted. 0 when this member is caught up; what an operator watches, and
    /// what `scripts/production` waits on before it stops the mock cluster.
    private func recordLag() {
        let client = handle!.pointer
        let (assigned, pendingFrom) = state.withLock { ($0.assigned, $0.pendingFrom) }
        var lag = Dictionary(uniqueKeysWithValues: topics.map { ($0, Int64(0)) })
        if !assigned.isEmpty {
            let list = makePartitionList(Dictionary(uniqueKeysWithValues: assigned.map { ($0, Int64(0)) }))
            defer { rd_kafka_topic_partition_list_destroy(list) }
            _ = rd_kafka_position(client, list)
            for (partition, position, _) in entries(of: list) {
                var low: Int64 = -1
                var high: Int64 = -1
                let error = rd_kafka_get_watermark_offsets(client, partition.topic, partition.partition, &low, &high)
                guard error == RD_KAFKA_RESP_ERR_NO_ERROR, high >= 0 else { continue }
                guard let from = pendingFrom[partition] ?? (position >= 0 ? position : nil) else { continue }
                lag[partition.topic, default: 0] += max(0, high - from)
            }
        }
        for (topic, value) in lag { lagGauges[topic]?.record(value) }
    }

    /// `tracker_kafka_assigned_partitions{group,topic}`: partitions this member owns.
    private func recordAssignment(_ assigned: Set<TopicPartition>) {
        for topic in topics {
            Gauge(label: "tracker_kafka_assigned_partitions", dimensions: [("group", group), ("topic", topic)])
                .record(assigned.filter { $0.topic == topic }.count)
        }
    }

    /// Wakes the consumer thread so a paused consumer resumes without waiting for its poll timeout.
    func wakeIfPaused() {
        state.withLock { state in
            if state.paused, let queue = state.queue { rd_kafka_queue_yield(queue.pointer) }
        }
    }

    /// Waits (bounded) until no `commit` is in flight.
    private func waitForCommits(atMost limit: Duration) {
        let clock = ContinuousClock()
        let deadline = clock.now + limit
        while state.withLock({ $0.commitsInFlight > 0 }), clock.now < deadline { usleep(1000) }
    }

    // MARK: Rebalance (on the consumer thread, inside rd_kafka_consumer_poll / close)

    fileprivate func rebalance(
        _ error: rd_kafka_resp_err_t,
        _ partitions: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>
    ) {
        let client = handle!.pointer
        let cooperative = String(cString: rd_kafka_rebalance_protocol(client)) == "COOPERATIVE"
        let changed = Set(entries(of: partitions).map(\.0))
        switch error {
        case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
            if startAtEnd, partitions.pointee.cnt > 0 { startAtEndWithoutCommits(partitions) }
            if cooperative {
                if let failure = takeKafkaError(rd_kafka_incremental_assign(client, partitions)) {
                    logger.error(
                        "kafka assign failed",
                        metadata: ["consumer.group": "\(group)", "error": "\(failure)"]
                    )
                }
            } else {
                _ = rd_kafka_assign(client, partitions)
            }
            let (paused, count) = state.withLock { state in
                state.assigned.formUnion(changed)
                state.assignedOnce = true
                return (state.paused, state.assigned)
            }
            recordAssignment(count)
            if paused { _ = rd_kafka_pause_partitions(client, partitions) }
            logger.debug(
                "kafka partitions assigned",
                metadata: [
                    "consumer.group": "\(group)", "partitions": "\(changed.count)",
                ]
            )
        case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
            // Commits in flight land before the partitions go (the next owner starts after them); buffered
            // messages of revoked partitions are dropped: the next owner receives them from the commit.
            // Bounded: a commit the coordinator refuses during the rebalance must not hold the group for long.
            if rd_kafka_assignment_lost(client) == 0 { waitForCommits(atMost: .seconds(3)) }
            let count = state.withLock { state in
                state.assigned.subtract(changed)
                for partition in changed { state.pendingFrom[partition] = nil }
                state.buffer.removeAll {
                    changed.contains(TopicPartition(topic: $0.topic.name, partition: Int32($0.partition)))
                }
                return state.assigned
            }
            recordAssignment(count)
            if cooperative {
                if let failure = takeKafkaError(rd_kafka_incremental_unassign(client, partitions)) {
                    logger.error(
                        "kafka unassign failed",
                        metadata: ["consumer.group": "\(group)", "error": "\(failure)"]
                    )
                }
            } else {
                _ = rd_kafka_assign(client, nil)
            }
            logger.debug(
                "kafka partitions revoked",
                metadata: [
                    "consumer.group": "\(group)", "partitions": "\(changed.count)",
                ]
            )
        default:
            logger.warning(
                "kafka rebalance error",
                metadata: [
                    "consumer.group": "\(group)", "error": "\(kafkaErrorText(error))",
                ]
            )
            _ = rd_kafka_assign(client, nil)
            state.withLock { state in
                state.assigned = []
                state.buffer = []
                state.pendingFrom = [:]
            }
        }
    }

    /// Sets the start offset of assigned partitions the group never committed to the end offset captured at
    /// subscribe time, so messages published after `subscribe` returned are delivered.
    private func startAtEndWithoutCommits(_ partitions: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) {
        let client = handle!.pointer
        guard let copy = rd_kafka_topic_partition_list_copy(partitions) else { return }
        defer { rd_kafka_topic_partition_list_destroy(copy) }
        let error = rd_kafka_committed(client, copy, configuration.requestTimeout.kafkaMilliseconds)
        let committed = error == RD_KAFKA_RESP_ERR_NO_ERROR ? entries(of: copy) : []
        for index in 0..<Int(partitions.pointee.cnt) {
            let element = partitions.pointee.elems[index]
            let partition = TopicPartition(topic: String(cString: element.topic), partition: element.partition)
            let hasCommit = committed.contains { $0.0 == partition && $0.offset >= 0 }
            if !hasCommit {
                partitions.pointee.elems[index].offset = startOffsets[partition] ?? Int64(RD_KAFKA_OFFSET_END)
            }
        }
    }

    // MARK: Commit and close (any thread)

    func commit(_ requested: [TopicPartition: Int64]) async throws {
        let offsets = try state.withLock { state -> [TopicPartition: Int64] in
            if state.closing { throw StoreError(.closed, detail: "subscription closed") }
            let offsets = requested.filter { partition, offset in
                state.assigned.contains(partition) && offset > (state.committed[partition] ?? Int64.min)
            }
            if !offsets.isEmpty { state.commitsInFlight += 1 }
            return offsets
        }
        guard !offsets.isEmpty, let handle else { return }
        defer { state.withLock { $0.commitsInFlight -= 1 } }
        let timeout = configuration.requestTimeout
        let failure: String? = try await offCooperativePool {
            let clock = ContinuousClock()
            let deadline = clock.now + timeout
            var lastError = RD_KAFKA_RESP_ERR_NO_ERROR
            repeat {
                let list = makePartitionList(offsets)
                defer { rd_kafka_topic_partition_list_destroy(list) }
                lastError = rd_kafka_commit(handle.pointer, list, 0)
                if lastError == RD_KAFKA_RESP_ERR_NO_ERROR || lastError == RD_KAFKA_RESP_ERR__NO_OFFSET { return nil }
                usleep(50_000)
            } while clock.now < deadline
            return kafkaErrorText(lastError)
        }
        let stillAssigned = state.withLock { state -> Bool in
            if failure == nil {
                for (partition, offset) in offsets {
                    state.committed[partition] = max(state.committed[partition] ?? Int64.min, offset)
                    if state.assigned.contains(partition) {
                        state.pendingFrom[partition] = max(state.pendingFrom[partition] ?? offset, offset)
                    }
                }
            }
            return offsets.keys.contains { state.assigned.contains($0) }
        }
        if let failure {
            // Partitions moved to another member meanwhile: it receives the messages again (at-least-once).
            if !stillAssigned { return }
            throw StoreError(.unavailable, detail: "kafka commit for group \(group): \(failure)")
        }
    }

    func requestClose() {
        let waiters = state.withLock { state in
            state.closing = true
            if let queue = state.queue { rd_kafka_queue_yield(queue.pointer) }
            defer { state.waiters = [:] }
            return state.waiters.values
        }
        for waiter in waiters { waiter.continuation.resume(returning: []) }
    }

    func waitClosed() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = state.withLock { state -> Bool in
                if state.closed { return true }
                state.closeWaiters.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
    }
}

/// librdkafka's rebalance callback; the opaque is the subscription's `ConsumerCore`.
private func rebalanceCallback(
    _ client: OpaquePointer?,
    _ error: rd_kafka_resp_err_t,
    _ partitions: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?,
    _ opaque: UnsafeMutableRawPointer?
) {
    guard let opaque, let partitions else { return }
    Unmanaged<ConsumerCore>.fromOpaque(opaque).takeUnretainedValue().rebalance(error, partitions)
}
