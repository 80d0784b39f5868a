import Domain
import Foundation
import Testing

@Suite("Trig")
struct TrigTests {
    /// |actual − expected| within `relative` of the expected magnitude, or `absolute` near zero.
    static func close(
        _ actual: Double,
        _ expected: Double,
        relative: Double = 1e-13,
        absolute: Double = 1e-16
    )
        -> Bool
    {
        if expected.isNaN { return actual.isNaN }
        return (actual - expected).magnitude <= max(relative * expected.magnitude, absolute)
    }

    static let pi = Double.pi

    /// Textbook angles give textbook values.
    @Test(arguments: [
        (0.0, 0.0, 1.0), (pi / 6, 0.5, 0.866_025_403_784_438_6),
        (pi / 4, 0.707_106_781_186_547_5, 0.707_106_781_186_547_6), (pi / 3, 0.866_025_403_784_438_6, 0.5),
        (pi / 2, 1, 0), (pi, 0, -1), (3 * pi / 2, -1, 0), (-pi / 6, -0.5, 0.866_025_403_784_438_6), (2 * pi, 0, 1),
        (100 * pi, 0, 1),
    ])
    func knownSinCos(x: Double, sine: Double, cosine: Double) {
        #expect(Self.close(Trig.sin(x), sine, relative: 1e-15, absolute: 1e-13), "sin(\(x))")
        #expect(Self.close(Trig.cos(x), cosine, relative: 1e-15, absolute: 1e-13), "cos(\(x))")
    }

    /// Inverse functions at textbook values.
    @Test func knownInverses() {
        #expect(Self.close(Trig.atan(1), Self.pi / 4, relative: 1e-16))
        #expect(Self.close(Trig.atan(-1), -Self.pi / 4, relative: 1e-16))
        #expect(Self.close(Trig.atan(3.0.squareRoot()), Self.pi / 3, relative: 1e-16))
        #expect(Self.close(Trig.asin(0.5), Self.pi / 6, relative: 1e-15))
        #expect(Self.close(Trig.asin(1), Self.pi / 2, relative: 1e-16))
        #expect(Self.close(Trig.asin(-1), -Self.pi / 2, relative: 1e-16))
        #expect(Self.close(Trig.atan2(1, -1), 3 * Self.pi / 4, relative: 1e-16))
        #expect(Self.close(Trig.atan2(-1, -1), -3 * Self.pi / 4, relative: 1e-16))
        #expect(Trig.asin(1.000_000_1).isNaN)
    }

    /// Special inputs follow IEEE 754 / C99 conventions.
    @Test func specialValues() {
        #expect(Trig.sin(.infinity).isNaN)
        #expect(Trig.cos(-.infinity).isNaN)
        #expect(Trig.sin(.nan).isNaN)
        #expect(Trig.atan(.nan).isNaN)
        #expect(Trig.atan2(.nan, 1).isNaN)
        #expect(Trig.atan(.infinity) == Self.pi / 2)
        #expect(Trig.atan(-.infinity) == -Self.pi / 2)
        // Huge arguments lose accuracy but must not trap.
        for x in [1e300, -1e300, 0x1p62, .greatestFiniteMagnitude] {
            #expect((-1...1).contains(Trig.sin(x)) && (-1...1).contains(Trig.cos(x)))
        }
        let cases: [(Double, Double)] = [
            (0, 1), (-0.0, 1), (0, -1), (-0.0, -1), (0, 0), (-0.0, -0.0), (1, 0), (-1, 0), (1, .infinity),
            (1, -.infinity), (.infinity, 1), (-.infinity, 1), (.infinity, .infinity), (-.infinity, -.infinity),
            (1e300, 1e-300), (1e-300, -1e300),
        ]
        for (y, x) in cases {
            let expected = Foundation.atan2(y, x)
            let actual = Trig.atan2(y, x)
            #expect(
                Self.close(actual, expected, relative: 1e-16, absolute: 0) && actual.sign == expected.sign,
                "atan2(\(y), \(x)) = \(actual), expected \(expected)"
            )
        }
    }

    /// sin and cos agree with the platform's libm on 200 000 seeded random angles up to ±1e6 rad.
    @Test(arguments: [1.0, 2.4, 10, 1e3, 1e6])
    func sinCosMatchLibm(range: Double) {
        var rng = SplitMix64(seed: 0x5EED_0001 ^ UInt64(range))
        var worst = 0.0
        for _ in 0..<50_000 {
            let x = Double.random(in: -range...range, using: &rng)
            let s = Foundation.sin(x)
            let c = Foundation.cos(x)
            #expect(Self.close(Trig.sin(x), s, relative: 1e-12, absolute: 1e-15), "sin(\(x))")
            #expect(Self.close(Trig.cos(x), c, relative: 1e-12, absolute: 1e-15), "cos(\(x))")
            worst = max(worst, (Trig.sin(x) - s).magnitude, (Trig.cos(x) - c).magnitude)
        }
        #expect(worst <= 4e-16 * max(1, range / 1e3))
    }

    /// atan, atan2 and asin agree with libm on seeded random inputs.
    @Test func inversesMatchLibm() {
        var rng = SplitMix64(seed: 0x5EED_0002)
        for _ in 0..<50_000 {
            let t = Double.random(in: -50...50, using: &rng)
            #expect(Self.close(Trig.atan(t), Foundation.atan(t), relative: 1e-15), "atan(\(t))")
            let y = Double.random(in: -1e3...1e3, using: &rng)
            let x = Double.random(in: -1e3...1e3, using: &rng)
            #expect(Self.close(Trig.atan2(y, x), Foundation.atan2(y, x), relative: 1e-15), "atan2(\(y), \(x))")
            let s = Double.random(in: -1...1, using: &rng)
            #expect(Self.close(Trig.asin(s), Foundation.asin(s), relative: 1e-14), "asin(\(s))")
        }
    }
}
