import AdapterSupport
import Application
import Domain

/// The bus's tables and every statement on them; runs on the database's threads only.
///
/// - `bus_meta(name, value)`: `partitions`, fixed when the file is created.
/// - `bus_messages(topic, partition, offset, key, value, headers, timestamp)`: the log, `WITHOUT ROWID` so a
///   message is one B-tree insert; `value` NULL is a tombstone, `headers` a JSON object or NULL.
/// - `bus_partitions(topic, partition, end_offset)`: the next offset of each partition, kept when retention
///   empties it so offsets are never reused.
/// - `bus_offsets(grp, topic, partition, next_offset)`: committed offsets; a group's rows are created for
///   every partition when it first subscribes to a topic.
enum BusSchema {
    static let migrations: [SQLiteMigration] = [
        SQLiteMigration(
            "bus",
            1,
            sql: """
                CREATE TABLE bus_meta (
                    name TEXT PRIMARY KEY,
                    value TEXT NOT NULL
                ) WITHOUT ROWID;
                CREATE TABLE bus_messages (
                    topic TEXT NOT NULL,
                    "partition" INTEGER NOT NULL,
                    "offset" INTEGER NOT NULL,
                    key TEXT NOT NULL,
                    value BLOB,
                    headers TEXT,
                    timestamp INTEGER NOT NULL,
                    PRIMARY KEY (topic, "partition", "offset")
                ) WITHOUT ROWID;
                CREATE TABLE bus_partitions (
                    topic TEXT NOT NULL,
                    "partition" INTEGER NOT NULL,
                    end_offset INTEGER NOT NULL,
                    PRIMARY KEY (topic, "partition")
                ) WITHOUT ROWID;
                CREATE TABLE bus_offsets (
                    grp TEXT NOT NULL,
                    topic TEXT NOT NULL,
                    "partition" INTEGER NOT NULL,
                    next_offset INTEGER NOT NULL,
                    PRIMARY KEY (grp, topic, "partition")
                ) WITHOUT ROWID;
                CREATE INDEX bus_offsets_by_partition ON bus_offsets (topic, "partition", next_offset);
                """
        )
    ]

    /// Records the partition count on first use and returns the file's count and every partition's end.
    static func loadState(
        _ conn: SQLiteConnection,
        requestedPartitions: Int
    ) throws -> (Int, [TopicPartition: Int64]) {
        try conn.run(
            "INSERT OR IGNORE INTO bus_meta (name, value) VALUES ('partitions', ?1)",
            [.text(String(requestedPartitions))]
        )
        guard let stored = try conn.queryFirst("SELECT value FROM bus_meta WHERE name = 'partitions'")?.text(0),
            let partitions = Int(stored), partitions > 0
        else { throw StoreError.invalidData("bus_meta.partitions is not a positive integer") }
        var ends: [TopicPartition: Int64] = [:]
        for row in try conn.query(#"SELECT topic, "partition", end_offset FROM bus_partitions"#) {
            guard let topic = row.text(0), let partition = row.int(1), let end = row.int64(2) else { continue }
            ends[TopicPartition(topic: Topic(topic), partition: partition)] = end
        }
        return (partitions, ends)
    }

    // MARK: Publishing

    /// Appends the batch and returns the new end of every partition it touched.
    static func append(
        _ messages: [OutgoingMessage],
        to topic: Topic,
        partitions: Int,
        timestamp: Int64,
        _ conn: SQLiteConnection
    ) throws -> [TopicPartition: Int64] {
        let name = topic.name
        let targets = messages.map { Partitioner.partition(forKey: $0.key, partitions: partitions) }
        var next: [Int: Int64] = [:]
        try conn.withStatement(#"SELECT end_offset FROM bus_partitions WHERE topic = ?1 AND "partition" = ?2"#) {
            statement in
            for partition in Set(targets) {
                statement.reset()
                try statement.bind(name, at: 1)
                try statement.bind(partition, at: 2)
                next[partition] = try statement.step() ? statement.int64(at: 0) : 0
            }
        }
        try conn.withStatement(
            #"""
            INSERT INTO bus_messages (topic, "partition", "offset", key, value, headers, timestamp)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
            """#
        ) { statement in
            for (message, partition) in zip(messages, targets) {
                let offset = next[partition] ?? 0
                next[partition] = offset + 1
                statement.reset()
                try statement.bind(name, at: 1)
                try statement.bind(partition, at: 2)
                try statement.bind(offset, at: 3)
                try statement.bind(message.key, at: 4)
                if let value = message.value { try statement.bind(value, at: 5) } else { try statement.bindNull(at: 5) }
                try statement.bind(HeaderCoding.encode(message.headers), at: 6)
                try statement.bind(timestamp, at: 7)
                try statement.step()
            }
        }
        var ends: [TopicPartition: Int64] = [:]
        try conn.withStatement(
            #"""
            INSERT INTO bus_partitions (topic, "partition", end_offset) VALUES (?1, ?2, ?3)
            ON CONFLICT (topic, "partition") DO UPDATE SET end_offset = excluded.end_offset
            """#
        ) { statement in
            for (partition, end) in next {
                statement.reset()
                try statement.bind(name, at: 1)
                try statement.bind(partition, at: 2)
                try statement.bind(end, at: 3)
                try statement.step()
                ends[TopicPartition(topic: topic, partition: partition)] = end
            }
        }
        return ends
    }

    // MARK: Consuming

    /// Creates the group's offsets for topics it has not subscribed to before (at the end with
    /// `startAtEnd`, else at 0, the earliest retained message) and returns all its offsets for `topics`.
    static func registerGroup(
        _ group: String,
        topics: [Topic],
        partitions: Int,
        startAtEnd: Bool,
        _ conn: SQLiteConnection
    ) throws -> [TopicPartition: Int64] {
        let insert =
            startAtEnd
            ? #"""
            INSERT OR IGNORE INTO bus_offsets (grp, topic, "partition", next_offset)
            VALUES (?1, ?2, ?3, coalesce((SELECT end_offset FROM bus_partitions WHERE topic = ?2 AND "partition" = ?3), 0))
            """#
            : #"INSERT OR IGNORE INTO bus_offsets (grp, topic, "partition", next_offset) VALUES (?1, ?2, ?3, 0)"#
        var committed: [TopicPartition: Int64] = [:]
        for topic in topics {
            for partition in 0..<partitions {
                try conn.run(insert, [.text(group), .text(topic.name), .integer(partition)])
            }
            for row in try conn.query(
                #"SELECT "partition", next_offset FROM bus_offsets WHERE grp = ?1 AND topic = ?2"#,
                [.text(group), .text(topic.name)]
            ) {
                guard let partition = row.int(0), let offset = row.int64(1) else { continue }
                committed[TopicPartition(topic: topic, partition: partition)] = offset
            }
        }
        return committed
    }

    /// Reads up to `range.limit` messages of one partition from `range.from`.
    static func read(_ range: FetchRange, _ conn: SQLiteConnection) throws -> [BusMessage] {
        try conn.withStatement(
            #"""
            SELECT "offset", key, value, headers, timestamp FROM bus_messages
            WHERE topic = ?1 AND "partition" = ?2 AND "offset" >= ?3 ORDER BY "offset" LIMIT ?4
            """#
        ) { statement in
            try statement.bind(range.partition.topic.name, at: 1)
            try statement.bind(range.partition.partition, at: 2)
            try statement.bind(range.from, at: 3)
            try statement.bind(range.limit, at: 4)
            var messages: [BusMessage] = []
            messages.reserveCapacity(range.limit)
            while try statement.step() {
                messages.append(
                    BusMessage(
                        topic: range.partition.topic,
                        partition: range.partition.partition,
                        offset: statement.int64(at: 0),
                        key: statement.text(at: 1),
                        value: statement.isNull(at: 2) ? nil : statement.blob(at: 2),
                        headers: try HeaderCoding.decode(statement.optionalText(at: 3)),
                        timestamp: Timestamp(millisecondsSinceEpoch: statement.int64(at: 4))
                    )
                )
            }
            return messages
        }
    }

    /// Raises the group's committed offsets (never lowers them).
    static func commit(_ offsets: [TopicPartition: Int64], group: String, _ conn: SQLiteConnection) throws {
        try conn.withStatement(
            #"""
            INSERT INTO bus_offsets (grp, topic, "partition", next_offset) VALUES (?1, ?2, ?3, ?4)
            ON CONFLICT (grp, topic, "partition") DO UPDATE SET next_offset = max(next_offset, excluded.next_offset)
            """#
        ) { statement in
            for (partition, offset) in offsets {
                statement.reset()
                try statement.bind(group, at: 1)
                try statement.bind(partition.topic.name, at: 2)
                try statement.bind(partition.partition, at: 3)
                try statement.bind(offset, at: 4)
                try statement.step()
            }
        }
    }

    // MARK: Retention

    /// Deletes up to `limit` of the oldest messages of `partition` that every group of the topic committed
    /// and that were accepted before `cutoff` (epoch ms). Returns how many were deleted.
    static func prune(
        _ partition: TopicPartition,
        olderThan cutoff: Int64,
        limit: Int,
        _ conn: SQLiteConnection
    ) throws -> Int {
        let floor =
            try conn.queryFirst(
                #"SELECT min(next_offset) FROM bus_offsets WHERE topic = ?1 AND "partition" = ?2"#,
                [.text(partition.topic.name), .integer(partition.partition)]
            )?.int64(0) ?? Int64.max
        try conn.run(
            #"""
            DELETE FROM bus_messages WHERE topic = ?1 AND "partition" = ?2 AND "offset" IN (
                SELECT "offset" FROM bus_messages
                WHERE topic = ?1 AND "partition" = ?2 AND "offset" < ?3 AND timestamp < ?4
                ORDER BY "offset" LIMIT ?5)
            """#,
            [
                .text(partition.topic.name), .integer(partition.partition), .integer(floor), .integer(cutoff),
                .integer(limit),
            ]
        )
        return conn.changes
    }
}
