public import Application
public import Domain
import Synchronization

/// A clock that only moves when told to: for tests, simulations and replays.
///
/// Safe to share between tasks; every reader sees the latest `set`/`advance`.
public final class ManualWallClock: WallClock {
    private let current: Mutex<Timestamp>

    /// Creates a clock reading `start` (the Unix epoch by default).
    public init(_ start: Timestamp = Timestamp(millisecondsSinceEpoch: 0)) {
        self.current = Mutex(start)
    }

    /// The instant last set.
    public func now() -> Timestamp {
        current.withLock { $0 }
    }

    /// Moves the clock to `instant` (backwards too, to simulate clock adjustments).
    public func set(_ instant: Timestamp) {
        current.withLock { $0 = instant }
    }

    /// Moves the clock forward by `duration` and returns the new instant.
    @discardableResult
    public func advance(by duration: Duration) -> Timestamp {
        current.withLock { now in
            now = now + duration
            return now
        }
    }
}
