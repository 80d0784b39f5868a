import AdapterSupport
import Application
import Logging

/// Runs plain SQL on a core database file through a connection of its own, as another application writing
/// the source tables would (for tests and tooling): the triggers capture the change; the source's relay
/// publishes it at its next run.
package enum CoreForeignWriter {
    /// Executes `sql` (one or more statements) in one transaction on the core file at `path`.
    package static func execute(_ sql: String, onCoreFileAt path: String) async throws {
        let database = try await offCooperativePool {
            try SQLiteDatabase(path: path, readers: 0, logger: Logger(label: "tracker.sqlite.core.foreign"))
        }
        do {
            try await database.write { conn in try conn.execute(sql) }
        } catch {
            await offCooperativePool { database.close() }
            throw error
        }
        await offCooperativePool { database.close() }
    }
}
