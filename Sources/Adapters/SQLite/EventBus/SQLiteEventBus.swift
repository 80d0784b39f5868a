import AdapterSupport
public import Application
import Domain
public import Logging
import Synchronization

/// A durable event bus in a SQLite file: the local-mode stand-in for Kafka, keeping every rule of
/// `EventBus` across crashes and restarts.
///
/// - **Log:** table `bus_messages`, keyed `(topic, partition, offset)`, with the key, the value (`BLOB`,
///   SQL NULL for a tombstone), the headers (a JSON object as text) and the accept time. A message goes to
///   `Partitioner.partition(forKey:partitions:)`; offsets count up per partition from 0 and are never
///   reused (`bus_partitions` keeps each partition's end, even after retention emptied it).
/// - **Durability:** `publish` returns after the transaction holding the whole batch committed (WAL), so a
///   webhook's 2xx means "on disk". A batch is one transaction: batching is what makes the bus fast.
/// - **Consumer groups:** committed offsets per `(group, topic, partition)` live in `bus_offsets`. A
///   group's partitions are split among its live subscriptions in this process (round-robin per topic, in
///   join order) and re-split when one joins or leaves; a subscription taking a partition over resumes at
///   the committed offset, so uncommitted messages are delivered again. After a restart every group resumes
///   at its committed offsets.
/// - **One process owns the file.** Membership and wake-ups are in-process state: two processes on one file
///   would not see each other's subscriptions (each would consume every partition) nor wake on the other's
///   publishes. Local mode runs one `tracker` process per data directory.
/// - **Waiting:** `next(maxCount:)` reads the database only when a publish made messages visible beyond
///   the subscription's position; otherwise it suspends on a continuation that a publish, a rebalance,
///   `close()` or cancellation resumes. Nothing polls.
/// - **`startAtEnd`:** applies the first time a group subscribes to a topic: the group's offsets are set to
///   the topic's current end. Afterwards the group resumes from its commits.
/// - **Retention:** `prune()` deletes, in batches of `Configuration.pruneBatchSize`, messages that every
///   group that ever subscribed to the topic has committed **and** that are older than
///   `Configuration.retention`. It runs in the background every `Configuration.pruneEveryMessages`
///   published messages, and can be called periodically. A group that stops consuming holds its topics'
///   messages until it is removed from `bus_offsets`.
///
/// Blocking SQLite calls run on the database's own threads, never on Swift's cooperative pool.
public final class SQLiteEventBus: EventBus {
    /// What a returned `publish` survives.
    public enum Durability: Sendable {
        /// The commit reached the OS (`synchronous=NORMAL` in WAL mode): survives `kill -9` of the process,
        /// not an OS crash or power loss.
        case processCrash
        /// The commit was fsynced (`synchronous=FULL`): survives power loss too.
        case powerLoss
    }

    /// Tuning of a bus.
    public struct Configuration: Sendable {
        /// The partition count of every topic. Recorded in the file when it is created; a file created with
        /// another count keeps its own (so a key's partition never changes).
        public var partitions: Int
        /// How long a committed message is kept at least.
        public var retention: Duration
        /// Run `prune()` in the background after this many published messages (0: never automatically).
        public var pruneEveryMessages: Int
        /// The most messages one pruning transaction deletes, so publishes are not held up for long.
        public var pruneBatchSize: Int
        /// What a returned `publish` survives (when the bus opens its own file).
        public var durability: Durability

        /// Creates a configuration (defaults: 8 partitions, 24 h retention, pruning every 10,000 messages in
        /// batches of 5,000, fsync on every commit).
        public init(
            partitions: Int = 8,
            retention: Duration = .seconds(24 * 3600),
            pruneEveryMessages: Int = 10_000,
            pruneBatchSize: Int = 5_000,
            durability: Durability = .powerLoss
        ) {
            self.durability = durability
            self.partitions = partitions
            self.retention = retention
            self.pruneEveryMessages = pruneEveryMessages
            self.pruneBatchSize = pruneBatchSize
        }
    }

    /// The partition count of every topic (the one recorded in the file).
    public let partitions: Int
    /// The configuration the bus was opened with (`partitions` may differ; see `partitions`).
    public let configuration: Configuration
    let database: SQLiteDatabase
    let coordinator: BusCoordinator
    private let ownsDatabase: Bool
    private let clock: any WallClock
    private let logger: Logger
    private let pruning: Mutex<PruneState>

    private struct PruneState {
        var publishedSincePrune = 0
        var running = false
    }

    /// Opens (creating if needed) the bus in the SQLite file at `path` (`":memory:"` for a bus that lives as
    /// long as this object). `clock` stamps messages and drives retention (default: the system clock).
    ///
    /// - Throws: `SQLiteOpenError` when the file is not a usable tracker database or was written by a newer
    ///   version (nothing is overwritten); `StoreError` for other SQLite failures.
    public convenience init(
        path: String,
        configuration: Configuration = .init(),
        clock: (any WallClock)? = nil,
        logger: Logger = Logger(label: "tracker.sqlite.bus")
    ) async throws {
        let durability: SQLiteDatabase.Durability =
            configuration.durability == .powerLoss ? .powerLoss : .processCrash
        let database = try await offCooperativePool {
            try SQLiteDatabase(
                path: path,
                readers: 2,
                durability: durability,
                migrations: BusSchema.migrations,
                logger: logger
            )
        }
        do {
            try await self.init(
                database: database,
                ownsDatabase: true,
                configuration: configuration,
                clock: clock,
                logger: logger
            )
        } catch {
            await offCooperativePool { database.close() }
            throw error
        }
    }

    /// Opens the bus in an already open database (possibly sharing its file with other stores), applying the
    /// `bus` migrations. `configuration.durability` is then the database's.
    package init(
        database: SQLiteDatabase,
        ownsDatabase: Bool = false,
        configuration: Configuration = .init(),
        clock: (any WallClock)? = nil,
        logger: Logger
    ) async throws {
        precondition(configuration.partitions > 0, "a topic needs at least one partition")
        self.database = database
        self.ownsDatabase = ownsDatabase
        self.configuration = configuration
        self.clock = clock ?? SystemWallClock()
        self.logger = logger
        self.pruning = Mutex(PruneState())
        try await offCooperativePool { try database.migrate(BusSchema.migrations) }
        let requested = configuration.partitions
        let (partitions, ends) = try await database.write { conn in
            try BusSchema.loadState(conn, requestedPartitions: requested)
        }
        if partitions != requested {
            logger.debug(
                "bus file keeps its partition count",
                metadata: ["bus.partitions": "\(partitions)", "bus.requested": "\(requested)"]
            )
        }
        self.partitions = partitions
        self.coordinator = BusCoordinator(ends: ends, partitions: partitions)
    }

    // MARK: EventBus

    /// Appends `messages` to `topic` in one transaction, returning once it committed.
    ///
    /// - Throws: `StoreError.closed` after `close()`; `StoreError.unavailable` (or another mapped SQLite
    ///   error) when the transaction fails, in which case nothing of the batch was written.
    public func publish(_ messages: [OutgoingMessage], to topic: Topic) async throws {
        try checkOpen()
        guard !messages.isEmpty else { return }
        let now = clock.now().millisecondsSinceEpoch
        let partitions = self.partitions
        let newEnds = try await database.write { conn in
            try BusSchema.append(messages, to: topic, partitions: partitions, timestamp: now, conn)
        }
        let ready = coordinator.state.withLock { $0.published(newEnds) }
        BusCoordinator.resume(ready)
        schedulePruneIfDue(after: messages.count)
    }

    /// Joins consumer group `group`; see `join(topics:group:startAtEnd:)`.
    public func subscribe(topics: [Topic], group: String, startAtEnd: Bool) async throws -> any EventSubscription {
        try await join(topics: topics, group: group, startAtEnd: startAtEnd)
    }

    /// Joins consumer group `group` for `topics`, returning the concrete subscription.
    ///
    /// The first time a group subscribes to a topic, its offsets are recorded (at the topic's end with
    /// `startAtEnd`, else at the earliest retained message), so retention keeps what it has not consumed.
    ///
    /// - Throws: `StoreError.closed` after `close()`.
    public func join(topics: [Topic], group: String, startAtEnd: Bool) async throws -> SQLiteEventSubscription {
        try checkOpen()
        var unique: [Topic] = []
        for topic in topics where !unique.contains(topic) { unique.append(topic) }
        let partitions = self.partitions
        let topicsToLoad = unique
        let committed = try await database.write { conn in
            try BusSchema.registerGroup(
                group,
                topics: topicsToLoad,
                partitions: partitions,
                startAtEnd: startAtEnd,
                conn
            )
        }
        let (memberID, ready) = try coordinator.state.withLock { state in
            guard !state.isClosed else { throw StoreError.closed("bus closed") }
            state.load(committed, group: group)
            return state.join(topics: unique, group: group)
        }
        BusCoordinator.resume(ready)
        logger.trace("subscription joined", metadata: ["consumer.group": "\(group)", "bus.member": "\(memberID)"])
        return SQLiteEventSubscription(bus: self, memberID: memberID, group: group, topics: unique)
    }

    /// Closes the bus: pending and later `next` calls return `[]`; `publish`, `subscribe` and `commit` throw
    /// `StoreError.closed`. Closes the database if the bus opened it. Committed offsets stay in the file.
    public func close() async {
        let ready = coordinator.state.withLock { $0.close() }
        BusCoordinator.resume(ready)
        if ownsDatabase {
            let database = self.database
            await offCooperativePool { database.close() }
        }
    }

    // MARK: Inspection and retention

    /// How many messages `topic` currently retains, over all partitions (for metrics and tests).
    public func retainedMessageCount(in topic: Topic) async throws -> Int {
        try checkOpen()
        let name = topic.name
        return try await database.read { conn in
            try conn.queryFirst("SELECT count(*) FROM bus_messages WHERE topic = ?1", [.text(name)])?.int(0) ?? 0
        }
    }

    /// The offsets `group` has committed for `topic`, by partition: the next offset it will consume.
    public func committedOffsets(group: String, topic: Topic) async throws -> [Int: Int64] {
        try checkOpen()
        let name = topic.name
        return try await database.read { conn in
            var offsets: [Int: Int64] = [:]
            for row in try conn.query(
                #"SELECT "partition", next_offset FROM bus_offsets WHERE grp = ?1 AND topic = ?2"#,
                [.text(group), .text(name)]
            ) {
                if let partition = row.int(0), let offset = row.int64(1) { offsets[partition] = offset }
            }
            return offsets
        }
    }

    /// Deletes messages committed by every group of their topic and older than the retention period, in
    /// batches (one transaction each). Returns how many were deleted.
    @discardableResult
    public func prune() async throws -> Int {
        try checkOpen()
        let cutoff = (clock.now() - configuration.retention).millisecondsSinceEpoch
        let batch = max(1, configuration.pruneBatchSize)
        let partitions = coordinator.state.withLock { Array($0.ends.keys) }.sorted()
        var total = 0
        for partition in partitions {
            while true {
                let deleted = try await database.write { conn in
                    try BusSchema.prune(partition, olderThan: cutoff, limit: batch, conn)
                }
                total += deleted
                if deleted < batch { break }
            }
        }
        if total > 0 { logger.debug("bus pruned", metadata: ["bus.deleted": "\(total)"]) }
        return total
    }

    private func schedulePruneIfDue(after count: Int) {
        let every = configuration.pruneEveryMessages
        guard every > 0 else { return }
        let due = pruning.withLock { state -> Bool in
            state.publishedSincePrune += count
            guard state.publishedSincePrune >= every, !state.running else { return false }
            state.publishedSincePrune = 0
            state.running = true
            return true
        }
        guard due else { return }
        Task { [self] in
            do {
                try await prune()
            } catch {
                logger.debug("bus pruning failed", metadata: ["error": "\(error)"])
            }
            pruning.withLock { $0.running = false }
        }
    }

    func checkOpen() throws {
        if coordinator.state.withLock({ $0.isClosed }) { throw StoreError.closed("bus closed") }
    }
}
