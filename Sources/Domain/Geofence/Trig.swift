/// Trigonometry for the domain, which imports neither Foundation nor Glibc (the standard library has no `sin`).
///
/// The algorithms and coefficients are fdlibm's (Sun Microsystems, freely redistributable): Cody–Waite reduction
/// by π/2 with a three-part constant, then the `__kernel_sin`/`__kernel_cos` minimax polynomials on [-π/4, π/4],
/// and `atan` with its table of `atan(0.5)`, `atan(1)`, `atan(1.5)` and an 11-term polynomial. Results are within a
/// couple of ulps of the correctly rounded value for |x| < 2^20·π/2 (about 1.6e6 rad); beyond that the reduction
/// is no longer exact and only an absolute accuracy of about |x|·1e-16 remains, far outside anything geographic.
package enum Trig {
    package static let pi = 3.141_592_653_589_793_116
    package static let halfPi = 1.570_796_326_794_896_558
    package static let degreesToRadians = pi / 180
    package static let radiansToDegrees = 180 / pi

    // MARK: sin, cos

    /// The sine of `x` radians.
    @inlinable
    package static func sin(_ x: Double) -> Double {
        if x.magnitude <= 0.785_398_163_397_448_279 { return kernelSin(x) }
        guard x.isFinite else { return .nan }
        let (n, r) = reduce(x)
        switch n & 3 {
        case 0: return kernelSin(r)
        case 1: return kernelCos(r)
        case 2: return -kernelSin(r)
        default: return -kernelCos(r)
        }
    }

    /// The cosine of `x` radians.
    @inlinable
    package static func cos(_ x: Double) -> Double {
        let ax = x.magnitude
        if ax <= 0.785_398_163_397_448_279 { return kernelCos(x) }
        if ax <= 2.356_194_490_192_344_837 {
            // Quadrant 1 (every latitude above 45°): cos(π/2 + r) = −sin(r), reduced with the same 3-part π/2.
            let r =
                (((ax - 1.570_796_326_734_125_614_17e+00) - 6.077_100_506_303_965_976_60e-11)
                    - 2.022_266_248_711_166_455_80e-21) - 8.478_427_660_368_899_569_97e-32
            return -kernelSin(r)
        }
        guard x.isFinite else { return .nan }
        let (n, r) = reduce(x)
        switch n & 3 {
        case 0: return kernelCos(r)
        case 1: return -kernelSin(r)
        case 2: return -kernelCos(r)
        default: return kernelSin(r)
        }
    }

    /// `x - n·π/2` in [-π/4, π/4] (up to rounding) and the quadrant `n`.
    ///
    /// π/2 is split into three 33-bit parts so each `n·part` product is exact for |n| < 2^20; each subtraction then
    /// rounds relative to its own (shrinking) result, so there is no catastrophic cancellation.
    @usableFromInline
    static func reduce(_ x: Double) -> (Int, Double) {
        let pio2_1 = 1.570_796_326_734_125_614_17e+00  // first 33 bits of π/2
        let pio2_2 = 6.077_100_506_303_965_976_60e-11  // next 33 bits
        let pio2_3 = 2.022_266_248_711_166_455_80e-21  // next 33 bits
        let pio2_3t = 8.478_427_660_368_899_569_97e-32  // π/2 - (pio2_1 + pio2_2 + pio2_3)
        let invPio2 = 6.366_197_723_675_813_824_33e-01
        var x = x
        var scaled = x * invPio2
        if scaled.magnitude >= 0x1p20 {
            // Beyond exact reduction: fold into one turn first (exact remainder by the double nearest 2π, so only
            // about |x|·1e-16 of absolute accuracy remains; no geographic input comes near).
            x = x.truncatingRemainder(dividingBy: 2 * pi)
            scaled = x * invPio2
        }
        // Round to nearest by adding and removing 1.5·2^52: no libm `rint` call on baseline x86-64.
        let nd = (scaled + 0x1.8p52) - 0x1.8p52
        let r = ((((x - nd * pio2_1) - nd * pio2_2) - nd * pio2_3) - nd * pio2_3t)
        return (Int(nd), r)
    }

    /// sin on [-π/4, π/4].
    @usableFromInline
    static func kernelSin(_ x: Double) -> Double {
        let s1 = -1.666_666_666_666_663_243_48e-01
        let s2 = 8.333_333_333_322_489_461_24e-03
        let s3 = -1.984_126_982_985_794_931_34e-04
        let s4 = 2.755_731_370_707_006_767_89e-06
        let s5 = -2.505_076_025_340_686_341_95e-08
        let s6 = 1.589_690_995_211_550_102_21e-10
        let z = x * x
        let r = s2 + z * (s3 + z * (s4 + z * (s5 + z * s6)))
        return x + (z * x) * (s1 + z * r)
    }

    /// cos on [-π/4, π/4].
    @usableFromInline
    static func kernelCos(_ x: Double) -> Double {
        let c1 = 4.166_666_666_666_660_190_37e-02
        let c2 = -1.388_888_888_887_410_957_49e-03
        let c3 = 2.480_158_728_947_672_941_78e-05
        let c4 = -2.755_731_435_139_066_330_35e-07
        let c5 = 2.087_572_321_298_174_827_90e-09
        let c6 = -1.135_964_755_778_819_482_65e-11
        let z = x * x
        let r = z * (c1 + z * (c2 + z * (c3 + z * (c4 + z * (c5 + z * c6)))))
        let hz = 0.5 * z
        let w = 1 - hz
        // (1 - w) - hz recovers the rounding error of w, as in fdlibm.
        return w + (((1 - w) - hz) + z * r)
    }

    // MARK: atan, atan2, asin

    /// The arctangent of `x`, in radians in [-π/2, π/2].
    package static func atan(_ x: Double) -> Double {
        if x.isNaN { return x }
        let ax = x.magnitude
        if ax >= 7.378_697_629_483_820_646e19 {  // 2^66: atan(x) rounds to ±π/2
            let z = 1.570_796_326_794_896_558_00e+00 + 6.123_233_995_736_766_035_87e-17
            return x < 0 ? -z : z
        }
        var t: Double
        let id: Int
        if ax < 0.4375 {
            if ax < 7.450_580_596_923_828_125e-9 { return x }  // 2^-27
            id = -1
            t = x
        } else if ax < 1.1875 {
            if ax < 0.6875 {
                id = 0
                t = (2 * ax - 1) / (2 + ax)
            } else {
                id = 1
                t = (ax - 1) / (ax + 1)
            }
        } else if ax < 2.4375 {
            id = 2
            t = (ax - 1.5) / (1 + 1.5 * ax)
        } else {
            id = 3
            t = -1 / ax
        }
        let z = t * t
        let w = z * z
        let s1 =
            z
            * (3.333_333_333_333_293_180_27e-01
                + w
                * (1.428_571_427_250_346_637_11e-01
                    + w
                    * (9.090_887_133_436_506_561_96e-02
                        + w
                        * (6.661_073_137_387_531_206_69e-02
                            + w
                            * (4.976_877_994_615_932_360_17e-02
                                + w * 1.628_582_011_536_578_236_23e-02)))))
        let s2 =
            w
            * (-1.999_999_999_987_648_324_76e-01
                + w
                * (-1.111_111_040_546_235_578_80e-01
                    + w
                    * (-7.691_876_205_044_829_994_95e-02
                        + w
                        * (-5.833_570_133_790_573_486_45e-02
                            + w * -3.653_157_274_421_691_552_70e-02))))
        if id < 0 { return t - t * (s1 + s2) }
        let hi: Double
        let lo: Double
        switch id {
        case 0: (hi, lo) = (4.636_476_090_008_060_935_15e-01, 2.269_877_745_296_168_709_24e-17)
        case 1: (hi, lo) = (7.853_981_633_974_482_789_99e-01, 3.061_616_997_868_383_017_93e-17)
        case 2: (hi, lo) = (9.827_937_232_473_290_540_82e-01, 1.390_331_103_123_099_845_16e-17)
        default: (hi, lo) = (1.570_796_326_794_896_558_00e+00, 6.123_233_995_736_766_035_87e-17)
        }
        t = hi - ((t * (s1 + s2) - lo) - t)
        return x < 0 ? -t : t
    }

    /// The angle of the point (`x`, `y`) from the positive x axis, in radians in [-π, π].
    package static func atan2(_ y: Double, _ x: Double) -> Double {
        if x.isNaN || y.isNaN { return .nan }
        let piLo = 1.224_646_799_147_353_207_17e-16  // π - Trig.pi
        if y == 0 {
            // atan2(±0, +x) = ±0, atan2(±0, -x) = ±π (including x = ±0 by its sign).
            if x.sign == .plus { return y }
            return y.sign == .minus ? -(pi + piLo) : pi + piLo
        }
        if x == 0 { return y < 0 ? -halfPi : halfPi }
        if x.isInfinite {
            if y.isInfinite {
                let z = x > 0 ? pi / 4 : 3 * pi / 4
                return y < 0 ? -z : z
            }
            let z = x > 0 ? 0.0 : pi + piLo
            return y < 0 ? -z : z
        }
        if y.isInfinite { return y < 0 ? -halfPi : halfPi }
        let z: Double
        let ratio = y.magnitude / x.magnitude
        if ratio > 1.152_921_504_606_846_976e18 {  // 2^60
            z = halfPi + 0.5 * piLo
        } else if x < 0, ratio < 8.673_617_379_884_035_472e-19 {  // 2^-60
            z = 0
        } else {
            z = atan(ratio)
        }
        let angle: Double = x > 0 ? z : pi - (z - piLo)
        return y < 0 ? -angle : angle
    }

    /// The arcsine of `x` in radians in [-π/2, π/2]; NaN outside [-1, 1].
    package static func asin(_ x: Double) -> Double {
        guard x.magnitude <= 1 else { return .nan }
        return atan2(x, ((1 - x) * (1 + x)).squareRoot())
    }
}
