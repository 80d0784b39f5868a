/// A clock that only moves when told to, for state machines that take `now` from their owner (the circuit
/// breaker, the Engine.IO session): tests build instants as offsets from zero and never sleep on it.
package struct ManualClock: Clock {
    package struct Instant: InstantProtocol {
        package var offset: Duration

        package init(offset: Duration) {
            self.offset = offset
        }

        package func advanced(by duration: Duration) -> Self { Instant(offset: offset + duration) }
        package func duration(to other: Self) -> Duration { other.offset - offset }
        package static func < (lhs: Self, rhs: Self) -> Bool { lhs.offset < rhs.offset }
    }

    package var now = Instant(offset: .zero)
    package var minimumResolution: Duration { .nanoseconds(1) }

    package init() {}

    /// The instant `milliseconds` after zero.
    package static func at(milliseconds: Int) -> Instant { Instant(offset: .milliseconds(milliseconds)) }

    package func sleep(until deadline: Instant, tolerance: Duration?) async throws {
        preconditionFailure("ManualClock does not sleep")
    }
}
