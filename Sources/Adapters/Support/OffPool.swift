import Dispatch

/// Runs a blocking call (SQLite open/migrate/close, librdkafka metadata/admin/commit) on a Dispatch thread
/// rather than Swift's cooperative pool, and awaits its result. Shared by the adapters that wrap C libraries.
package func offCooperativePool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
        DispatchQueue.global().async {
            continuation.resume(with: Result { try body() })
        }
    }
}

/// The non-throwing form of `offCooperativePool(_:)`.
package func offCooperativePool(_ body: @escaping @Sendable () -> Void) async {
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
        DispatchQueue.global().async {
            body()
            continuation.resume()
        }
    }
}
