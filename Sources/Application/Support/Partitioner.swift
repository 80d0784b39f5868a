/// Maps a message key to a partition, identically in every process, adapter and restart.
///
/// Every event bus adapter (in-memory, SQLite, Kafka) routes with this function, so per-key order
/// survives switching adapters and restarting processes (ADR 0002). It is FNV-1a 64 over the key's
/// UTF-8 bytes, not Swift's `Hasher`, whose seed changes per process.
public enum Partitioner {
    /// FNV-1a 64-bit offset basis.
    private static let offsetBasis: UInt64 = 0xcbf2_9ce4_8422_2325
    /// FNV-1a 64-bit prime.
    private static let prime: UInt64 = 0x0000_0100_0000_01b3

    /// The FNV-1a 64-bit hash of the UTF-8 bytes of `key`.
    public static func fnv1a64(_ key: String) -> UInt64 {
        var hash = offsetBasis
        for byte in key.utf8 {
            hash ^= UInt64(byte)
            hash &*= prime
        }
        return hash
    }

    /// The partition, in `0..<partitions`, of messages with `key`.
    ///
    /// - Precondition: `partitions > 0`.
    public static func partition(forKey key: String, partitions: Int) -> Int {
        precondition(partitions > 0, "a topic needs at least one partition")
        return Int(fnv1a64(key) % UInt64(partitions))
    }
}
