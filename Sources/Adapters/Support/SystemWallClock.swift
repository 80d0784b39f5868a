public import Application
public import Domain

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The operating system's real-time clock (`CLOCK_REALTIME`), in milliseconds since the Unix epoch.
public struct SystemWallClock: WallClock {
    /// Creates the system clock.
    public init() {}

    /// The current instant of the system clock.
    public func now() -> Timestamp {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Timestamp(millisecondsSinceEpoch: Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000)
    }
}
