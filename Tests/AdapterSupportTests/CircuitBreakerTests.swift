import AdapterSupport
import Testing

/// `CircuitBreaker` as transition lists against a manual clock: each step is an event at an instant and the
/// answer it must produce.
@Suite("Circuit breaker")
struct CircuitBreakerTests {
    typealias Breaker = CircuitBreaker<ManualClock>

    enum Event {
        /// A call wants to start.
        case call
        /// A call ended with an answer (`probe`: it was admitted as the probe).
        case success(probe: Bool)
        /// A call ended unreachable or timed out.
        case failure(probe: Bool)
    }

    enum Answer: Equatable {
        case admission(Breaker.Admission)
        case transition(Breaker.Transition)
    }

    /// Milliseconds since the start of the test.
    static func at(_ milliseconds: Int) -> ManualClock.Instant {
        ManualClock.Instant(offset: .milliseconds(milliseconds))
    }

    /// Runs `steps` (milliseconds, event, expected answer) on a breaker with a threshold of 3 and a 1 s cool-down.
    func run(
        _ steps: [(Int, Event, Answer)],
        configuration: Breaker.Configuration = .init(failureThreshold: 3, coolDown: .seconds(1)),
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        var breaker = Breaker(configuration: configuration)
        for (index, (milliseconds, event, expected)) in steps.enumerated() {
            let now = Self.at(milliseconds)
            let answer: Answer =
                switch event {
                case .call: .admission(breaker.callStarting(at: now))
                case .success(let probe): .transition(breaker.callSucceeded(probe: probe, at: now))
                case .failure(let probe): .transition(breaker.callFailed(probe: probe, at: now))
                }
            #expect(answer == expected, "step \(index): \(event) at \(milliseconds) ms", sourceLocation: sourceLocation)
        }
    }

    /// Closed: calls run; failures below the threshold keep it closed, and an answer resets the count, so only
    /// consecutive failures count.
    @Test func closedCountsOnlyConsecutiveFailures() {
        run([
            (0, .call, .admission(.run)),
            (1, .failure(probe: false), .transition(.none)),
            (2, .failure(probe: false), .transition(.none)),
            (3, .success(probe: false), .transition(.none)),
            (4, .failure(probe: false), .transition(.none)),
            (5, .failure(probe: false), .transition(.none)),
            (6, .call, .admission(.run)),
        ])
    }

    /// The threshold-th consecutive failure opens the circuit for the cool-down; calls then fail fast, saying
    /// until when and after how many failures.
    @Test func thresholdOpensAndCallsFailFast() {
        run([
            (0, .failure(probe: false), .transition(.none)),
            (10, .failure(probe: false), .transition(.none)),
            (20, .failure(probe: false), .transition(.opened(until: Self.at(1020), failures: 3))),
            (21, .call, .admission(.failFast(until: Self.at(1020), failures: 3))),
            (1019, .call, .admission(.failFast(until: Self.at(1020), failures: 3))),
        ])
    }

    /// After the cool-down exactly one call runs, as the probe; the others fail fast while it runs. Its answer
    /// closes the circuit.
    @Test func probeSuccessCloses() {
        run([
            (0, .failure(probe: false), .transition(.none)),
            (0, .failure(probe: false), .transition(.none)),
            (0, .failure(probe: false), .transition(.opened(until: Self.at(1000), failures: 3))),
            (1000, .call, .admission(.probe)),
            (1001, .call, .admission(.failFast(until: nil, failures: 3))),
            (1002, .call, .admission(.failFast(until: nil, failures: 3))),
            (1500, .success(probe: true), .transition(.closed)),
            (1501, .call, .admission(.run)),
            // The count starts again from zero.
            (1502, .failure(probe: false), .transition(.none)),
            (1503, .failure(probe: false), .transition(.none)),
            (1504, .call, .admission(.run)),
        ])
    }

    /// A failed probe opens the circuit for another cool-down from the probe's end.
    @Test func probeFailureReopens() {
        run([
            (0, .failure(probe: false), .transition(.none)),
            (0, .failure(probe: false), .transition(.none)),
            (0, .failure(probe: false), .transition(.opened(until: Self.at(1000), failures: 3))),
            (2000, .call, .admission(.probe)),
            (2700, .failure(probe: true), .transition(.opened(until: Self.at(3700), failures: 4))),
            (2701, .call, .admission(.failFast(until: Self.at(3700), failures: 4))),
            (3700, .call, .admission(.probe)),
            (3710, .success(probe: true), .transition(.closed)),
        ])
    }

    /// Outcomes of calls that started before the circuit opened do not decide anything while it is open or
    /// half-open: only the probe does.
    @Test func staleOutcomesAreIgnored() {
        run([
            (0, .call, .admission(.run)),
            (0, .call, .admission(.run)),
            (0, .call, .admission(.run)),
            (0, .call, .admission(.run)),
            (1, .failure(probe: false), .transition(.none)),
            (2, .failure(probe: false), .transition(.none)),
            (3, .failure(probe: false), .transition(.opened(until: Self.at(1003), failures: 3))),
            // The fourth call answers late: the circuit stays open.
            (4, .success(probe: false), .transition(.none)),
            (5, .call, .admission(.failFast(until: Self.at(1003), failures: 3))),
            (1003, .call, .admission(.probe)),
            (1004, .failure(probe: false), .transition(.none)),
            (1005, .success(probe: false), .transition(.none)),
            (1006, .call, .admission(.failFast(until: nil, failures: 3))),
            (1010, .success(probe: true), .transition(.closed)),
        ])
    }

    /// A threshold of one opens on the first failure.
    @Test func thresholdOfOne() {
        run(
            [
                (0, .call, .admission(.run)),
                (5, .failure(probe: false), .transition(.opened(until: Self.at(255), failures: 1))),
                (6, .call, .admission(.failFast(until: Self.at(255), failures: 1))),
                (255, .call, .admission(.probe)),
            ],
            configuration: .init(failureThreshold: 1, coolDown: .milliseconds(250))
        )
    }
}
