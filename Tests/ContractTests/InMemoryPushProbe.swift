import AdapterContracts
import Application
import Domain
import InMemoryAdapters

/// Observes an `InMemoryPushGateway` for `PushGatewayContract` through real connections.
struct InMemoryPushProbe: PushProbe {
    let gateway: InMemoryPushGateway

    func connect(tenantId: TenantID, consuming: Bool) async throws -> any PushProbeConnection {
        // A stalled client keeps a small buffer, so the gateway has to drop for it.
        let connection = gateway.connect(tenantId: tenantId, bufferSize: consuming ? nil : 16)
        let collector = Collector()
        let reader: Task<Void, Never>? =
            consuming
            ? Task {
                for await message in connection.messages { await collector.add(message) }
            }
            : nil
        return InMemoryProbeConnection(connection: connection, collector: collector, reader: reader)
    }
}

private struct InMemoryProbeConnection: PushProbeConnection {
    let connection: InMemoryPushGateway.Connection
    let collector: Collector
    let reader: Task<Void, Never>?

    func join(_ room: Room) async throws -> Bool {
        connection.join(room)
    }

    func messages(until isLast: @escaping @Sendable (PushMessage) -> Bool, timeout: Duration) async -> [PushMessage] {
        await collector.wait(until: isLast, timeout: timeout)
    }

    func disconnect() async {
        connection.disconnect()
        await reader?.value
    }
}

/// Records received messages and wakes waiters whose condition a message satisfies.
actor Collector {
    private var received: [PushMessage] = []
    private var waiters:
        [Int: (isLast: @Sendable (PushMessage) -> Bool, continuation: CheckedContinuation<[PushMessage], Never>)] = [:]
    private var lastID = 0

    func add(_ message: PushMessage) {
        received.append(message)
        for (id, waiter) in waiters where waiter.isLast(message) {
            waiters[id] = nil
            waiter.continuation.resume(returning: received)
        }
    }

    func wait(until isLast: @escaping @Sendable (PushMessage) -> Bool, timeout: Duration) async -> [PushMessage] {
        if received.contains(where: isLast) { return received }
        lastID += 1
        let id = lastID
        return await withCheckedContinuation { continuation in
            waiters[id] = (isLast, continuation)
            Task {
                try? await Task.sleep(for: timeout)
                self.expire(id)
            }
        }
    }

    private func expire(_ id: Int) {
        waiters.removeValue(forKey: id)?.continuation.resume(returning: received)
    }
}
