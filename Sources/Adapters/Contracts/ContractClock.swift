public import Application
public import Domain
import Synchronization

/// The clock TTL contracts control. An adapter whose expiry runs on a `WallClock` wires this clock in from
/// the contract's factory; the contract then moves time with `advance(by:)` instead of sleeping.
public final class ContractClock: WallClock {
    private let current: Mutex<Timestamp>

    /// Creates a clock reading `start`.
    public init(start: Timestamp = Timestamp(millisecondsSinceEpoch: 1_710_460_800_000)) {
        self.current = Mutex(start)
    }

    /// The instant the contract last set.
    public func now() -> Timestamp {
        current.withLock { $0 }
    }

    /// Moves the clock forward.
    public func advance(by duration: Duration) {
        current.withLock { $0 = $0 + duration }
    }
}

/// How a TTL contract lets time pass.
public enum ContractTimeSource: Hashable, Sendable {
    /// The adapter's TTLs run on the `ContractClock` passed to the factory; time passes instantly.
    case contractClock
    /// The adapter's TTLs run on real time (a server-side expiry such as Redis `PX`): the contract uses TTLs
    /// of `ttl` and sleeps, which makes it slower.
    case realTime(ttl: Duration)

    /// The TTL the contract's expiring entries get.
    var ttl: Duration {
        switch self {
        case .contractClock: .seconds(60)
        case .realTime(let ttl): ttl
        }
    }

    /// Lets `duration` pass for the adapter.
    func elapse(_ duration: Duration, on clock: ContractClock) async throws {
        switch self {
        case .contractClock: clock.advance(by: duration)
        case .realTime: try await Task.sleep(for: duration)
        }
    }
}
