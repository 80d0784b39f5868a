import Domain

/// Entries that expire at an instant, swept lazily so memory follows the live entries: every sweep costs
/// one pass, and a sweep runs only after as many writes as there were entries (amortised O(1) per write).
struct ExpiringEntries<Key: Hashable, Value> {
    private struct Entry {
        var value: Value
        var expiresAt: Timestamp
    }

    private var entries: [Key: Entry] = [:]
    private var writesSinceSweep = 0

    /// The value of `key` if it has not expired at `now`.
    func value(_ key: Key, at now: Timestamp) -> Value? {
        guard let entry = entries[key], now < entry.expiresAt else { return nil }
        return entry.value
    }

    /// Every unexpired entry at `now`, in no particular order.
    func values(at now: Timestamp, where include: (Key) -> Bool) -> [Value] {
        entries.compactMap { include($0.key) && now < $0.value.expiresAt ? $0.value.value : nil }
    }

    mutating func set(_ key: Key, _ value: Value, expiresAt: Timestamp, now: Timestamp) {
        entries[key] = Entry(value: value, expiresAt: expiresAt)
        writesSinceSweep += 1
        if writesSinceSweep >= max(64, entries.count) {
            entries = entries.filter { now < $0.value.expiresAt }
            writesSinceSweep = 0
        }
    }

    mutating func remove(_ key: Key) {
        entries[key] = nil
    }

    /// How many entries are held, expired ones not yet swept included.
    var storedCount: Int { entries.count }
}
