import Foundation
import Logging
import SocketIOAdapters
import Synchronization

/// The load test's dashboards: each one stays connected, as the dispatcher dashboard does, reconnecting
/// (through the load balancer: another instance when its own is gone) as soon as its connection ends.
final class Dashboards: Sendable {
    private struct State {
        var clients: [Int: SocketIOClient] = [:]
        var stopping = false
        var disconnects = 0
        /// When the last dashboard that lost its connection got it back (ms since the epoch).
        var lastReconnect: Int64?
    }

    private let state = Mutex(State())
    private let tasks = Mutex<[Task<Void, Never>]>([])

    /// Dashboards connected now.
    var connected: Int { state.withLock { $0.clients.count } }
    /// Connections lost so far.
    var disconnects: Int { state.withLock { $0.disconnects } }
    var lastReconnect: Int64? { state.withLock { $0.lastReconnect } }

    /// Starts dashboard `index`: connects, and reconnects whenever its connection ends, until `closeAll`.
    func start(
        index: Int,
        url: String,
        auth: String,
        logger: Logger,
        onEvent: @escaping @Sendable (String, String) -> Void
    ) {
        let task = Task { [self] in
            var lost = false
            while !state.withLock({ $0.stopping }) {
                guard
                    let client = try? await SocketIOClient.connect(
                        url: url,
                        auth: auth,
                        logger: logger,
                        onEvent: onEvent
                    )
                else {
                    try? await Task.sleep(for: .milliseconds(200))
                    continue
                }
                let stopping = state.withLock { state in
                    state.clients[index] = client
                    if lost { state.lastReconnect = Int64(Date().timeIntervalSince1970 * 1000) }
                    return state.stopping
                }
                if stopping {
                    await client.close()
                    return
                }
                await client.waitUntilClosed()
                lost = state.withLock { state in
                    state.clients[index] = nil
                    if !state.stopping { state.disconnects += 1 }
                    return !state.stopping
                }
            }
        }
        tasks.withLock { $0.append(task) }
    }

    /// Waits until `count` dashboards are connected, at most `timeout`.
    func waitConnected(_ count: Int, timeout: Duration) async {
        let deadline = ContinuousClock.now + timeout
        while connected < count, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(50)) }
    }

    func closeAll() async {
        let clients = state.withLock { state in
            state.stopping = true
            return Array(state.clients.values)
        }
        for client in clients { await client.close() }
        for task in tasks.withLock({ $0 }) { await task.value }
    }
}
