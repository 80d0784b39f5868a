/// A circuit breaker as a state machine: events in (a call wants to start, a call ended), actions out (run it,
/// run it as the probe, fail it fast), no I/O and no clock of its own: the owner passes `now` from the clock it
/// was given, so tests drive it with a manual clock.
///
/// - **Closed:** every call runs. `failureThreshold` consecutive failures (the service could not be reached or
///   timed out; answers such as "no such row" are successes) open the circuit.
/// - **Open:** calls fail fast until `coolDown` has passed since the circuit opened.
/// - **Half-open:** the first call after the cool-down runs as the probe; the others fail fast while it runs.
///   Its success closes the circuit, its failure opens it for another `coolDown`.
///
/// Outcomes of calls that started before the circuit opened (or that were not the probe) are ignored while it
/// is open or half-open: only the probe decides.
package struct CircuitBreaker<C: Clock>: Sendable where C.Duration == Duration {
    /// The breaker's parameters.
    package struct Configuration: Sendable, Hashable {
        /// Consecutive failures that open the circuit (at least 1).
        package var failureThreshold: Int
        /// How long an open circuit fails calls fast before letting a probe through.
        package var coolDown: Duration

        package init(failureThreshold: Int = 3, coolDown: Duration = .seconds(10)) {
            precondition(failureThreshold >= 1, "failureThreshold must be at least 1")
            self.failureThreshold = failureThreshold
            self.coolDown = coolDown
        }
    }

    /// What to do with a call that wants to start.
    package enum Admission: Hashable, Sendable {
        /// Run it (circuit closed).
        case run
        /// Run it as the half-open probe; report its outcome with `probe: true`.
        case probe
        /// Fail it without calling the service: the circuit is open until `until` (or a probe is running,
        /// `until == nil`), after `failures` consecutive failures.
        case failFast(until: C.Instant?, failures: Int)
    }

    /// What changed after an outcome, for the owner to log.
    package enum Transition: Hashable, Sendable {
        /// Nothing worth telling.
        case none
        /// The circuit opened (from closed, or again after a failed probe) until `until`.
        case opened(until: C.Instant, failures: Int)
        /// A probe succeeded: the circuit is closed again.
        case closed
    }

    private enum State: Hashable, Sendable {
        case closed(failures: Int)
        case open(until: C.Instant, failures: Int)
        case halfOpen(failures: Int)
    }

    package let configuration: Configuration
    private var state: State = .closed(failures: 0)

    package init(configuration: Configuration = .init()) {
        self.configuration = configuration
    }

    /// Whether calls currently run without restriction.
    package var isClosed: Bool {
        if case .closed = state { return true }
        return false
    }

    /// A call wants to start at `now`.
    package mutating func callStarting(at now: C.Instant) -> Admission {
        switch state {
        case .closed:
            return .run
        case .open(let until, let failures):
            guard now >= until else { return .failFast(until: until, failures: failures) }
            state = .halfOpen(failures: failures)
            return .probe
        case .halfOpen(let failures):
            return .failFast(until: nil, failures: failures)
        }
    }

    /// A call ended with an answer from the service (found or not found alike).
    package mutating func callSucceeded(probe: Bool, at now: C.Instant) -> Transition {
        switch state {
        case .closed:
            state = .closed(failures: 0)
            return .none
        case .open:
            return .none
        case .halfOpen:
            guard probe else { return .none }
            state = .closed(failures: 0)
            return .closed
        }
    }

    /// A call ended because the service could not be reached or did not answer in time.
    package mutating func callFailed(probe: Bool, at now: C.Instant) -> Transition {
        switch state {
        case .closed(let failures):
            let failures = failures + 1
            guard failures >= configuration.failureThreshold else {
                state = .closed(failures: failures)
                return .none
            }
            let until = now.advanced(by: configuration.coolDown)
            state = .open(until: until, failures: failures)
            return .opened(until: until, failures: failures)
        case .open:
            return .none
        case .halfOpen(let failures):
            guard probe else { return .none }
            let until = now.advanced(by: configuration.coolDown)
            state = .open(until: until, failures: failures + 1)
            return .opened(until: until, failures: failures + 1)
        }
    }
}
