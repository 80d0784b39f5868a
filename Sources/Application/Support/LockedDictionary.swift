import Synchronization

/// A dictionary behind a mutex, for small synchronous caches on hot paths where an actor hop would cost
/// more than the work.
final class LockedDictionary<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private let storage = Mutex<[Key: Value]>([:])

    subscript(key: Key) -> Value? {
        get { storage.withLock { $0[key] } }
        set { storage.withLock { $0[key] = newValue } }
    }

    func removeAll() { storage.withLock { $0.removeAll() } }

    func removeValue(forKey key: Key) { _ = storage.withLock { $0.removeValue(forKey: key) } }
}
