import Application
import CSQLite3
import Dispatch
package import Logging

/// A SQLite database file (or a private in-memory database) shared by the SQLite adapters.
///
/// - **Threads:** SQLite calls block, so they never run on Swift's cooperative pool: one dedicated writer
///   thread owns the only writing connection, and a small pool of reader threads own `query_only`
///   connections. WAL mode lets readers run while the writer writes.
/// - **Writes** are serialized on the writer thread, each inside `BEGIN IMMEDIATE … COMMIT` (rolled back if
///   the body throws). Writes queued at the same time share one transaction and one fsync (group commit),
///   each in its own savepoint so one failing body does not affect the others; `write` returns only after
///   the COMMIT, so a returned write is durable and visible to every later `read`.
/// - **Durability:** `.processCrash` (the default, `synchronous=NORMAL`): in WAL mode every commit is written
///   to the WAL file (in the OS) before `write` returns, so a returned write survives `kill -9` or a crash of
///   the process, which is what local mode promises; only an OS crash or power loss may lose the last
///   commits (never corrupt the file). `.powerLoss` (`synchronous=FULL`) also fsyncs the WAL on every
///   commit, surviving power loss at about 25% less append throughput (see `tracker bench history`).
/// - **`:memory:`** opens one private in-memory database with one connection: reads run on the writer
///   thread too (each in its own transaction, never inside another caller's write).
/// - **Opening** refuses, before writing anything, a file that is not a database, belongs to another
///   application or was written by a newer tracker (`SQLiteOpenError`, see `Migrator`).
/// - **Errors:** SQLite failures surface as `StoreError` (see `SQLiteResultCode.storeErrorCode`);
///   `.closed` after `close()`.
package final class SQLiteDatabase: Sendable {
    /// How much a returned write survives.
    package enum Durability: Sendable {
        /// `synchronous=NORMAL`: survives a crash or `kill -9` of the process, not of the OS.
        case processCrash
        /// `synchronous=FULL`: survives power loss too.
        case powerLoss
    }

    /// The file path, or `:memory:`.
    package let path: String
    /// Whether this is a private in-memory database.
    package let isInMemory: Bool
    package let logger: Logger
    private let writer: SQLiteWorkers
    /// Nil when reads go to the writer thread (in-memory, or `readers == 0`).
    private let readers: SQLiteWorkers?

    /// How long a connection waits for a lock held by another process before failing with `.unavailable`.
    package static let busyTimeoutMilliseconds = 5_000
    /// Page cache per connection. Time-series appends from many drivers keep one hot leaf page per driver.
    static let cacheKibibytes = 32_000
    /// Reads map the file instead of copying pages through `read()`.
    static let mmapBytes = 256 << 20
    /// WAL pages before an automatic checkpoint (SQLite's default is 1,000 = 4 MB). Batches interleaving many
    /// drivers touch hundreds of pages each; a larger WAL lets a checkpoint write each hot page once instead
    /// of after every other commit.
    static let walAutocheckpointPages = 16_000

    /// Opens (creating if needed) the database at `path` and applies `migrations`.
    ///
    /// - Parameters:
    ///   - path: a file path, or `:memory:` for a private in-memory database.
    ///   - readers: reader connections for a file database (at least 0; 0 routes reads to the writer).
    ///   - durability: see `Durability`.
    ///   - migrations: the migrations of every adapter that will use this database (more can be applied later
    ///     with `migrate(_:)`).
    /// - Throws: `SQLiteOpenError` when the file cannot be opened or is not a tracker database of this or an
    ///   older version (the file is then left untouched); `StoreError` for other SQLite failures.
    package init(
        path: String,
        readers: Int = 2,
        durability: Durability = .processCrash,
        migrations: [SQLiteMigration] = [],
        logger: Logger
    ) throws {
        self.path = path
        self.logger = logger
        isInMemory = path == ":memory:" || path.isEmpty
        let writerConnection: SQLiteConnection
        do {
            writerConnection = try SQLiteConnection.open(
                path: isInMemory ? ":memory:" : path,
                flags: SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                isWriter: true
            )
        } catch let error as StoreError {
            throw SQLiteOpenError(.cannotOpen, path: path, message: "cannot open \(path): \(error.detail)")
        }
        var readerConnections: [SQLiteConnection] = []
        do {
            try Migrator.inspect(writerConnection, path: path)
            try writerConnection.execute("PRAGMA busy_timeout = \(Self.busyTimeoutMilliseconds)")
            if !isInMemory {
                let mode = try writerConnection.queryFirst("PRAGMA journal_mode = WAL")?.text(0)
                guard mode?.lowercased() == "wal" else {
                    throw StoreError.unavailable("cannot enable WAL on \(path) (journal_mode is \(mode ?? "?"))")
                }
            }
            try writerConnection.execute(
                """
                PRAGMA synchronous = \(durability == .powerLoss ? "FULL" : "NORMAL");
                PRAGMA foreign_keys = ON;
                PRAGMA temp_store = MEMORY;
                PRAGMA cache_size = -\(Self.cacheKibibytes);
                PRAGMA mmap_size = \(isInMemory ? 0 : Self.mmapBytes);
                PRAGMA wal_autocheckpoint = \(Self.walAutocheckpointPages);
                """
            )
            try Migrator.prepare(writerConnection)
            let applied = try Migrator.migrate(writerConnection, migrations, path: path)
            if !applied.isEmpty {
                logger.debug(
                    "applied SQLite migrations",
                    metadata: ["sqlite.path": "\(path)", "sqlite.migrations": "\(applied)"]
                )
            }
            if !isInMemory {
                for _ in 0..<max(0, readers) {
                    let reader = try SQLiteConnection.open(path: path, flags: SQLITE_OPEN_READWRITE, isWriter: false)
                    readerConnections.append(reader)
                    try reader.execute(
                        """
                        PRAGMA busy_timeout = \(Self.busyTimeoutMilliseconds);
                        PRAGMA query_only = ON;
                        PRAGMA foreign_keys = ON;
                        PRAGMA temp_store = MEMORY;
                        PRAGMA cache_size = -\(Self.cacheKibibytes);
                        PRAGMA mmap_size = \(Self.mmapBytes);
                        """
                    )
                }
            }
        } catch {
            for reader in readerConnections { reader.close() }
            writerConnection.close()
            throw error
        }
        let name = isInMemory ? "memory" : (path.split(separator: "/").last.map(String.init) ?? path)
        writer = SQLiteWorkers(name: "sqlite-writer-\(name)")
        writer.start([writerConnection], isWriter: true)
        if readerConnections.isEmpty {
            self.readers = nil
        } else {
            let pool = SQLiteWorkers(name: "sqlite-reader-\(name)")
            pool.start(readerConnections, isWriter: false)
            self.readers = pool
        }
        logger.debug(
            "opened SQLite database",
            metadata: ["sqlite.path": "\(path)", "sqlite.readers": "\(readerConnections.count)"]
        )
    }

    deinit {
        readers?.close()
        writer.close()
    }

    /// Runs `body` in a write transaction on the writer thread and returns its result once committed.
    ///
    /// The body must not begin or end transactions itself (use `SAVEPOINT` for nested rollback) and must not
    /// call back into this database synchronously. If it throws, its changes are rolled back and the error is
    /// rethrown. Cancellation does not interrupt a queued write.
    package func write<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        try await submit(to: writer, kind: .write, body)
    }

    /// Runs `body` on a reader connection inside a read transaction (one consistent snapshot, including
    /// every write that returned before). Reads run in parallel with each other and with the writer.
    package func read<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        try await submit(to: readers ?? writer, kind: .read, body)
    }

    private func submit<T: Sendable>(
        to workers: SQLiteWorkers,
        kind: SQLiteJob.Kind,
        _ body: @escaping @Sendable (SQLiteConnection) throws -> T
    ) async throws -> T {
        let box = ResultBox<T>()
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let job = SQLiteJob(
                kind: kind,
                run: { connection in box.value = try body(connection) },
                finish: { error in
                    if let error {
                        continuation.resume(throwing: error)
                    } else if let value = box.value {
                        continuation.resume(returning: value)
                    } else {
                        continuation.resume(throwing: StoreError.unavailable("SQLite job produced no result"))
                    }
                }
            )
            do {
                try workers.submit(job)
            } catch {
                continuation.resume(throwing: error)
            }
        }
    }

    /// Applies `migrations` not yet applied (see `Migrator`), blocking the caller until done. For adapter
    /// initializers; idempotent.
    ///
    /// - Throws: `SQLiteOpenError(.newerVersion)` when the file has a namespace newer than `migrations`
    ///   know (nothing is written then); `StoreError` when a migration fails (all are rolled back).
    package func migrate(_ migrations: [SQLiteMigration]) throws {
        let semaphore = DispatchSemaphore(value: 0)
        let outcome = ResultBox<(any Error)?>()
        let path = path
        try writer.submit(
            SQLiteJob(
                kind: .read,  // runs alone, outside any write batch; `migrate` opens its own transaction
                run: { connection in
                    if connection.isInTransaction { try connection.execute("COMMIT") }
                    try Migrator.migrate(connection, migrations, path: path)
                },
                finish: { error in
                    outcome.value = .some(error)
                    semaphore.signal()
                }
            )
        )
        semaphore.wait()
        if let error = outcome.value ?? nil { throw error }
    }

    /// The highest applied migration version of each namespace.
    package func appliedMigrations() async throws -> [String: Int] {
        try await read { try Migrator.appliedVersions($0) }
    }

    /// Finishes the queued work, then closes every connection (the last one checkpoints the WAL into the
    /// file). Later calls throw `StoreError.closed`. Must not be called from inside a `read`/`write` body.
    package func close() {
        readers?.close()
        writer.close()
    }
}
