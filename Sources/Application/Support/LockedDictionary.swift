import Synchronization

/// A dictionary behind a mutex, for small synchronous caches on hot paths where an actor hop would cost
/// more than the work.
final class LockedDictionary<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private let storage = Mutex<[Key: Value]>([:])

    subscript(key: Key) -> Value? {
        get { storage.withLock { $0[key] } }
        set { storage.withLock { $0[key] = newValue } }
    }

    /// Stores `value`, first dropping every entry when the dictionary already holds `limit` entries: a cache
    /// of expiring entries whose keys come from outside (device ids) must not grow without bound.
    func set(_ value: Value, forKey key: Key, limit: Int) {
        storage.withLock { entries in
            if entries.count >= limit, entries[key] == nil { entries.removeAll(keepingCapacity: true) }
            entries[key] = value
        }
    }

    func removeValue(forKey key: Key) { _ = storage.withLock { $0.removeValue(forKey: key) } }

    func removeAll() { storage.withLock { $0.removeAll() } }
}
