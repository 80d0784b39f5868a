import Application
import Foundation

/// A unit of work for a connection thread. `finish` is called exactly once, on the worker thread, after
/// the work's transaction ended (for writes: after COMMIT returned, so success means durable).
struct SQLiteJob: Sendable {
    enum Kind: Sendable { case read, write }
    let kind: Kind
    let run: @Sendable (SQLiteConnection) throws -> Void
    let finish: @Sendable ((any Error)?) -> Void
}

/// Carries a connection to the thread that will own it.
///
/// `@unchecked Sendable`: the connection is handed over once, before the thread starts, and from then on
/// used by that thread only.
struct ConnectionHandoff: @unchecked Sendable {
    let connection: SQLiteConnection
}

/// A job queue served by dedicated threads (not Swift's cooperative pool, since every SQLite call blocks),
/// each thread owning one connection.
///
/// `@unchecked Sendable`: all mutable state is guarded by `condition`.
final class SQLiteWorkers: @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [SQLiteJob] = []
    private var head = 0
    private var isClosed = false
    private var liveThreads = 0
    private let name: String
    /// The most write jobs grouped into one transaction (group commit).
    static let maxWriteBatch = 256

    init(name: String) { self.name = name }

    /// Starts one thread per connection. `isWriter` threads group consecutive writes into one transaction.
    func start(_ connections: [SQLiteConnection], isWriter: Bool) {
        condition.lock()
        liveThreads += connections.count
        condition.unlock()
        for (index, connection) in connections.enumerated() {
            let handoff = ConnectionHandoff(connection: connection)
            let thread = Thread { [self] in
                self.serve(handoff.connection, isWriter: isWriter)
                handoff.connection.close()
                self.condition.lock()
                self.liveThreads -= 1
                self.condition.broadcast()
                self.condition.unlock()
            }
            thread.name = "\(name)-\(index)"
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    /// Queues `job`; throws `StoreError.closed` after `close()`.
    func submit(_ job: SQLiteJob) throws {
        condition.lock()
        defer { condition.unlock() }
        guard !isClosed else { throw StoreError.closed("the SQLite database is closed") }
        jobs.append(job)
        condition.signal()
    }

    /// Stops accepting jobs, lets the threads finish the queued ones, and waits until they closed their
    /// connections. Must not be called from a job.
    func close() {
        condition.lock()
        isClosed = true
        condition.broadcast()
        while liveThreads > 0 { condition.wait() }
        condition.unlock()
    }

    /// The next jobs to run, or nil once closed and drained: one read, or a run of consecutive writes when
    /// `groupWrites`.
    private func take(groupWrites: Bool) -> [SQLiteJob]? {
        condition.lock()
        defer { condition.unlock() }
        while head == jobs.count {
            if isClosed { return nil }
            condition.wait()
        }
        var batch = [jobs[head]]
        head += 1
        if groupWrites, batch[0].kind == .write {
            while head < jobs.count, jobs[head].kind == .write, batch.count < Self.maxWriteBatch {
                batch.append(jobs[head])
                head += 1
            }
        }
        if head == jobs.count {
            jobs.removeAll(keepingCapacity: jobs.capacity <= 1024)
            head = 0
        } else if head >= 1024 {
            jobs.removeFirst(head)
            head = 0
        }
        return batch
    }

    private func serve(_ connection: SQLiteConnection, isWriter: Bool) {
        while let batch = take(groupWrites: isWriter) {
            if batch[0].kind == .read {
                Self.runRead(batch[0], on: connection)
            } else {
                Self.runWrites(batch[...], on: connection)
            }
        }
    }

    /// Runs a read in a deferred transaction, so all its queries see one snapshot.
    private static func runRead(_ job: SQLiteJob, on connection: SQLiteConnection) {
        do {
            try connection.execute("BEGIN")
            try job.run(connection)
            try? connection.execute("COMMIT")
            if connection.isInTransaction { try? connection.execute("ROLLBACK") }
            job.finish(nil)
        } catch {
            if connection.isInTransaction { try? connection.execute("ROLLBACK") }
            job.finish(error)
        }
    }

    /// Runs writes in one `BEGIN IMMEDIATE … COMMIT` (group commit): with several jobs, each runs inside a
    /// savepoint so a failing job rolls back alone; every job is finished only after the COMMIT.
    private static func runWrites(_ batch: ArraySlice<SQLiteJob>, on connection: SQLiteConnection) {
        var pending = batch
        while !pending.isEmpty {
            do {
                try connection.execute("BEGIN IMMEDIATE")
            } catch {
                for job in pending { job.finish(error) }
                return
            }
            var done: [SQLiteJob] = []
            var transactionLost = false
            let grouped = pending.count > 1
            while let job = pending.popFirst() {
                do {
                    if grouped { try connection.execute("SAVEPOINT job") }
                    try job.run(connection)
                    if grouped { try connection.execute("RELEASE job") }
                    done.append(job)
                } catch {
                    guard connection.isInTransaction else {
                        // SQLite rolled the whole transaction back (I/O error, disk full...): the jobs that
                        // ran before are lost too; report them failed and go on in a new transaction.
                        job.finish(error)
                        for earlier in done {
                            earlier.finish(StoreError.unavailable("transaction rolled back by SQLite: \(error)"))
                        }
                        done = []
                        transactionLost = true
                        break
                    }
                    if grouped {
                        try? connection.execute("ROLLBACK TO job; RELEASE job")
                        job.finish(error)
                    } else {
                        try? connection.execute("ROLLBACK")
                        job.finish(error)
                        transactionLost = true
                    }
                }
            }
            if transactionLost { continue }
            do {
                try connection.execute("COMMIT")
            } catch {
                if connection.isInTransaction { try? connection.execute("ROLLBACK") }
                for job in done { job.finish(error) }
                continue
            }
            for job in done { job.finish(nil) }
        }
    }
}

/// Holds a job's result between the worker thread's `run` and `finish`, both on that thread.
///
/// `@unchecked Sendable`: written and read on the worker thread only, strictly in that order.
final class ResultBox<T>: @unchecked Sendable {
    var value: T?
}
