import Foundation
import Testing
import OctetCore
import _OctetTestSupport

/// `FloatMath`, the float functions every backend computes alike (CUDA's copies are checked bit for bit against these
/// by `octet selftest --device cuda`): accurate to the documented bound, with IEEE's edges.
@Suite struct FloatMathTests {
    /// Distance in units in the last place between `y` and the double-precision `want`, at `want`'s binade.
    private func ulps(_ y: Float, _ want: Double) -> Double {
        let binade = want < Double(Float.leastNormalMagnitude) ? -149 : Int(Foundation.log2(want).rounded(.down)) - 23
        return abs(Double(y) - want) / Foundation.pow(2.0, Double(binade))
    }

    @Test func expIsWithinOneUnitInTheLastPlace() {
        var generator = SystemRandomNumberGenerator()
        var worst = 0.0
        // The whole range, the subnormal results and the neighbourhood of 0, where r = x itself.
        let samples = (0..<60_000).map { i -> Float in
            switch i % 3 {
            case 0: Float.random(in: -103.9...88.72, using: &generator)
            case 1: Float.random(in: -103.9 ... -87, using: &generator)
            default: Float.random(in: -1e-3...1e-3, using: &generator)
            }
        }
        for x in samples {
            let want = Foundation.exp(Double(x))
            worst = max(worst, ulps(FloatMath.exp(x), want))
        }
        #expect(worst <= 1, "worst error \(worst) ulp")
        #expect(FloatMath.exp(0) == 1 && FloatMath.exp(-0.0) == 1)
        #expect(FloatMath.exp(1) == Float(Foundation.exp(1.0)))
        #expect(FloatMath.exp(89) == .infinity && FloatMath.exp(.infinity) == .infinity)
        #expect(FloatMath.exp(88.72283) < .infinity && FloatMath.exp(88.72283) > 3.4e38)
        #expect(FloatMath.exp(-104) == 0 && FloatMath.exp(-.infinity) == 0)
        #expect(FloatMath.exp(-103.9) > 0, "the smallest results are subnormal, not 0")
        #expect(FloatMath.exp(.nan).isNaN)
    }

    /// The exponents exporters write are exact operations; the others are the C library's pow.
    @Test func powTakesExactFormsForTheCommonExponents() {
        for x: Float in [-3.5, -0.0, 0, 1e-20, 0.3, 7, 1e20, .infinity, -.infinity] {
            #expect(FloatMath.pow(x, 2).bitPattern == (x * x).bitPattern)
            #expect(FloatMath.pow(x, 1).bitPattern == x.bitPattern)
            #expect(FloatMath.pow(x, 0.5).bitPattern == powf(x, 0.5).bitPattern || x > 0 && FloatMath.pow(x, 0.5) == x.squareRoot())
        }
        #expect(FloatMath.pow(-0.0, 0.5).sign == .plus && FloatMath.pow(-.infinity, 0.5) == .infinity)
        #expect(FloatMath.pow(2, 3) == 8 && FloatMath.pow(.nan, 2).isNaN)
    }

    /// Softmax sums in index order, whatever the stride, and sums to 1.
    @Test func softmaxOfAStridedRow() {
        let length = 37, stride = 3
        var values = (0..<(length * stride)).map { Float($0 % 11) - 5 }
        let original = values
        values.withUnsafeMutableBufferPointer { p in
            FloatMath.softmax(p.baseAddress! + 1, p.baseAddress! + 1, length: length, stride: stride)
        }
        let row = (0..<length).map { values[1 + $0 * stride] }
        let want = (0..<length).map { Foundation.exp(Double(original[1 + $0 * stride] - 5)) }
        let total = want.reduce(0, +)
        for (y, w) in zip(row, want) { #expect(abs(Double(y) - w / total) <= 1e-6) }
        #expect(abs(row.reduce(0, +) - 1) < 1e-5)
        #expect((0..<values.count).filter { $0 % stride != 1 }.allSatisfy { values[$0] == original[$0] }, "other places untouched")
    }

    /// CUDA's copies (`octet_exp`, `octet_pow`, `activate`'s sigmoid in common.cuh), compiled on the host without
    /// contraction as NVRTC compiles them (Scripts/emulate-float-math.sh), give these functions' floats bit for bit.
    @Test func cudaCopiesGiveTheSameFloatsOnTheHost() throws {
        guard let result = try OctetBinary.runEmulation("emulate-float-math.sh") else { return }
        #expect(result.status == 0, "\(result.stderr)")
        func float(_ hex: Substring) -> Float { Float(bitPattern: UInt32(hex, radix: 16)!) }
        func same(_ a: Float, _ b: Float) -> Bool { a.bitPattern == b.bitPattern || a.isNaN && b.isNaN }
        var checked = 0, differing: [String] = []
        for line in result.stdout.split(separator: "\n") {
            let f = line.split(separator: " ")
            let want: Float, got: Float
            switch f.first {
            case "exp": (want, got) = (FloatMath.exp(float(f[1])), float(f[2]))
            case "sigmoid": (want, got) = (Activation.sigmoid(float(f[1])), float(f[2]))
            case "pow": (want, got) = (FloatMath.pow(float(f[1]), float(f[2])), float(f[3]))
            default: continue
            }
            checked += 1
            if !same(want, got), differing.count < 5 { differing.append("\(line): host \(want.bitPattern)") }
        }
        #expect(checked > 170_000 && differing.isEmpty, "\(checked) lines, differing: \(differing)")
    }
}
