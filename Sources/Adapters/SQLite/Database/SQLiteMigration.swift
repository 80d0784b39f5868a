/// One versioned schema change of one adapter.
///
/// Migrations are namespaced so several adapters can share a database file or use their own: each
/// adapter declares its list (`fleet.1`, `fleet.2`, `history.1`, `bus.1`, `core.1`...) next to its code and
/// passes it to `SQLiteDatabase.init(migrations:)` or `migrate(_:)`. Versions of a namespace start at 1
/// and only grow; a released migration never changes (add a new version instead).
package struct SQLiteMigration: Sendable {
    /// The owner of the migration (`fleet`, `history`, `reference`, `bus`, `core`...); no dots.
    package let namespace: String
    /// The version within the namespace, from 1.
    package let version: Int
    /// Applies the change, inside the migration transaction.
    package let apply: @Sendable (SQLiteConnection) throws -> Void

    /// A migration running `sql` (one or more `;`-separated statements).
    package init(_ namespace: String, _ version: Int, sql: String) {
        self.init(namespace, version) { try $0.execute(sql) }
    }

    /// A migration running arbitrary code on the writer connection.
    package init(_ namespace: String, _ version: Int, apply: @escaping @Sendable (SQLiteConnection) throws -> Void) {
        precondition(!namespace.isEmpty && !namespace.contains("."), "invalid migration namespace \(namespace)")
        precondition(version >= 1, "migration versions start at 1")
        self.namespace = namespace
        self.version = version
        self.apply = apply
    }

    /// `namespace.version`, as stored in `schema_migrations`.
    package var id: String { "\(namespace).\(version)" }
}
