import Foundation

/// A tiny, fast, seedable generator (Steele, Lea & Flood 2014) so demo data and simulated tracks are
/// reproducible: the same seed always yields the same scenario and the same fixes.
package struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    package init(seed: UInt64) { state = seed }

    package mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniformly distributed value in `range`.
    package mutating func double(in range: ClosedRange<Double>) -> Double {
        // 53 random bits → [0, 1].
        let unit = Double(next() >> 11) / Double((1 as UInt64) << 53)
        return range.lowerBound + (range.upperBound - range.lowerBound) * unit
    }

    package mutating func int(in range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &self) }

    /// True with probability `p`.
    package mutating func chance(_ p: Double) -> Bool { double(in: 0...1) < p }

    /// A standard normal sample (Box–Muller).
    package mutating func gaussian() -> Double {
        let u1 = max(double(in: 0...1), 1e-12)
        let u2 = double(in: 0...1)
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }

    package mutating func pick<T>(_ items: [T]) -> T { items[Int.random(in: 0..<items.count, using: &self)] }

    /// An independent generator for a sub-stream (per driver, per purpose), so adding one driver does not
    /// reshuffle every other driver's data.
    package func derived(_ salt: UInt64) -> SplitMix64 {
        var copy = SplitMix64(seed: state ^ (salt &* 0xD1B5_4A32_D192_ED03))
        _ = copy.next()
        return copy
    }
}
