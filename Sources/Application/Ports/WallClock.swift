public import Domain

/// The current time. Use cases never read the system clock directly, so tests and the simulator
/// can run on a controlled clock. Named `WallClock` to stay clear of the standard library's `Clock`.
public protocol WallClock: Sendable {
    /// The current instant. Must be cheap (called per position) and never decrease within one process
    /// by more than the system's clock adjustments.
    func now() -> Timestamp
}
