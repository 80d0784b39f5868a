public import Domain

/// Marks drivers offline when their device has sent no fix for the stale period (default 5 min) and
/// announces it (`driver-event` offline + `device_stale` alert). Run periodically by one instance or
/// all: the snapshot write and the once-only alert make repeated sweeps harmless.
public struct StaleDeviceSweep: Sendable {
    let fleet: any FleetStore
    let bus: any EventBus
    let clock: any WallClock
    let policy: AlertPolicy

    public init(fleet: any FleetStore, bus: any EventBus, clock: any WallClock, policy: AlertPolicy = .init()) {
        self.fleet = fleet
        self.bus = bus
        self.clock = clock
        self.policy = policy
    }

    /// One sweep; returns how many drivers went offline.
    @discardableResult
    public func run() async throws -> Int {
        let now = clock.now()
        var events: [DomainEvent] = []
        var count = 0
        for snapshot in try await fleet.staleSnapshots(before: now - policy.staleAfter) {
            let (updated, raised) = policy.staleCheck(snapshot: snapshot, now: now)
            guard updated != snapshot else { continue }
            try await fleet.saveSnapshot(updated)
            events.append(contentsOf: raised)
            count += 1
        }
        try await publish(events: events, bus: bus)
        return count
    }
}
