import Foundation

/// Float functions that every backend computes the same way, bit for bit.
///
/// A float layer between INT8 layers (Softmax in attention, a sigmoid, a decomposed LayerNorm's square) feeds a
/// quantizer, and a last-bit difference there can move an integer across a rounding boundary. The C library's
/// `expf` and CUDA's differ in the last bit on some inputs, so the reference, the CPU and CUDA (`octet_exp` and
/// `octet_pow` in Sources/OctetCUDA/Kernels/common.cuh, the same steps in C) use these instead. Each is a fixed
/// sequence of IEEE single-precision operations, each rounded to nearest even, with no fused multiply-add (NVRTC runs
/// with --fmad=false), and hexadecimal constants (a decimal Float literal may be rounded twice on its way from
/// text). Change one side only together with the other: `FloatMathTests` compares the C copies compiled on the host,
/// and `octet selftest --device cuda` the GPU's, bit for bit.
public enum FloatMath {
    /// e^x within one unit in the last place (every float in [-104, 89] checked against the double-precision `exp`:
    /// 0.990 ulp at worst, 99.2 % correctly rounded), +inf from ln(FLT_MAX) up, 0 below half the smallest subnormal,
    /// NaN for NaN.
    ///
    /// Cephes' `expf`: n = round(x / ln 2) (by adding and subtracting 1.5 · 2^23, which rounds to nearest even),
    /// r = x − n ln 2 in two steps (the first product is exact: ln 2's high part has 9 significant bits), e^r by a
    /// degree-7 polynomial on |r| ≤ ln 2 / 2, then 2^n applied in two halves so that n = 128 and the subnormal
    /// results need no special case.
    @inline(__always)
    public static func exp(_ x: Float) -> Float {
        guard x < 0x1.62e43p+6 else { return x.isNaN ? x : .infinity }
        guard x >= -0x1.9fe36cp+6 else { return 0 }
        let n = (x * 0x1.715476p+0 + 0x1.8p+23) - 0x1.8p+23
        var r = x - n * 0x1.63p-1
        r = r - n * -0x1.bd0106p-13
        let z = r * r
        var p: Float = 0x1.a0d2cep-13
        p = p * r + 0x1.6e879cp-10
        p = p * r + 0x1.111210p-7
        p = p * r + 0x1.555382p-5
        p = p * r + 0x1.555554p-3
        p = p * r + 0.5
        let q = p * z + r + 1
        let e = Int32(n), e1 = e / 2, e2 = e - e1
        return q * Float(bitPattern: UInt32(e1 + 127) << 23) * Float(bitPattern: UInt32(e2 + 127) << 23)
    }

    /// x^y as ONNX's Pow. The exponents that classifiers use are exact operations: y = 2 (a decomposed LayerNorm's
    /// square) is x · x, y = 1 is x, y = 0.5 is √x for x > 0 (correctly rounded on every backend). Other exponents
    /// use the C library's `powf` (CUDA's on the GPU), which may differ in the last bit between backends.
    @inline(__always)
    public static func pow(_ x: Float, _ y: Float) -> Float {
        if y == 2 { return x * x }
        if y == 1 { return x }
        if y == 0.5, x > 0 { return x.squareRoot() }
        return powf(x, y)
    }

    /// Softmax of the `length` values `stride` apart from `source`, written at the same places from `target` (which
    /// may be `source`): the largest value subtracted, then e^(x − largest) summed in index order, then each divided
    /// by the sum. The reference, the CPU and CUDA (`octet_softmax_*`) all sum in this order.
    @inline(__always)
    public static func softmax(_ source: UnsafePointer<Float>, _ target: UnsafeMutablePointer<Float>, length: Int, stride: Int) {
        var largest = -Float.infinity
        for k in 0..<length { largest = Swift.max(largest, source[k * stride]) }
        var sum: Float = 0
        for k in 0..<length {
            let e = exp(source[k * stride] - largest)
            target[k * stride] = e
            sum += e
        }
        for k in 0..<length { target[k * stride] /= sum }
    }
}
