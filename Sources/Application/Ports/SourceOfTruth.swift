public import Domain

/// The system of record for customers, accounts, products and orders (SQL Server in production,
/// read-only there). Used as the last fallback of the customer cache and, in local mode, written by
/// the API and the demo seeding; every write then comes back as a change event on `cdc.<Table>`.
public protocol SourceOfTruth: Sendable {
    /// Direct read; should rarely happen (the cache levels answer first).
    func customer(_ id: CustomerID, tenantId: TenantID) async throws -> Customer?
    /// Whether `upsert`/`delete` are supported (local mode); production SQL Server is read-only.
    var isWritable: Bool { get }
    /// Writes a record; its change event is published on `cdc.<Table>` before this returns.
    /// Throws `StoreError.unavailable` when `isWritable` is false.
    func upsert(_ record: ReferenceRecord) async throws
    /// Deletes a record; returns false when it did not exist.
    func delete(_ key: ReferenceKey, tenantId: TenantID) async throws -> Bool
}
