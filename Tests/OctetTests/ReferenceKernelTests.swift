import Foundation
import Testing
import _OctetTestSupport
@testable import OctetReference
import Octet

/// The FP32 reference executor is the oracle for every later kernel, so it is checked here against
/// hand-computed values and against a second, textbook implementation written independently below.
@Suite struct ReferenceKernelTests {
    private func run(_ kind: LayerKind, _ inputs: [TensorData]) throws -> TensorData {
        try ReferenceExecutor.evaluate(kind, inputs)[0]
    }

    private let oneToNine = TensorData(shape: [1, 1, 3, 3], values: (1...9).map(Float.init))

    @Test func convolutionByHand() throws {
        let ones = Weights(shape: [1, 1, 2, 2], values: [1, 1, 1, 1])
        let plain = try run(.convolution(ConvolutionParameters(weights: ones, bias: nil)), [oneToNine])
        #expect(plain.shape == [1, 1, 2, 2])
        #expect(plain.values == [12, 16, 24, 28])

        let dilated = try run(.convolution(ConvolutionParameters(weights: ones, bias: Weights(shape: [1], values: [0.5]), dilations: [2, 2])), [oneToNine])
        #expect(dilated.values == [20.5])  // 1 + 3 + 7 + 9, plus bias

        let padded = try run(.convolution(ConvolutionParameters(weights: ones, bias: nil, strides: [2, 2], padsBegin: [1, 1], padsEnd: [0, 0])), [oneToNine])
        let paddedExpected: [Float] = [1, 5, 11, 28]  // windows {1}, {2,3}, {4,7}, {5,6,8,9}
        #expect(padded.values == paddedExpected)

        // Two groups of one channel each: a per-channel scale.
        let twoChannels = TensorData(shape: [1, 2, 1, 2], values: [1, 2, 3, 4])
        let grouped = try run(.convolution(ConvolutionParameters(weights: Weights(shape: [2, 1, 1, 1], values: [2, 3]), bias: nil, groups: 2)), [twoChannels])
        #expect(grouped.values == [2, 4, 9, 12])
    }

    /// The textbook definition, one output element at a time: an independent twin of the reference loop.
    private func textbookConvolution(_ x: TensorData, _ p: ConvolutionParameters) throws -> TensorData {
        let shape = try LayerKind.convolution(p).outputShapes(inputs: [x.shape])[0]
        var out = TensorData(zeros: shape)
        let icg = p.inputChannelsPerGroup, ocg = p.outputChannels / p.groups
        for n in 0..<shape[0] {
            for o in 0..<shape[1] {
                for oy in 0..<shape[2] {
                    for ox in 0..<shape[3] {
                        var acc = Double(p.bias?.values[o] ?? 0)
                        for i in 0..<icg {
                            for ky in 0..<p.kernel[0] {
                                for kx in 0..<p.kernel[1] {
                                    let iy = oy * p.strides[0] - p.padsBegin[0] + ky * p.dilations[0]
                                    let ix = ox * p.strides[1] - p.padsBegin[1] + kx * p.dilations[1]
                                    guard iy >= 0, iy < x.shape[2], ix >= 0, ix < x.shape[3] else { continue }
                                    let c = (o / ocg) * icg + i
                                    acc += Double(x.values[((n * x.shape[1] + c) * x.shape[2] + iy) * x.shape[3] + ix])
                                        * Double(p.weights.values[((o * icg + i) * p.kernel[0] + ky) * p.kernel[1] + kx])
                                }
                            }
                        }
                        out.values[((n * shape[1] + o) * shape[2] + oy) * shape[3] + ox] = Float(acc)
                    }
                }
            }
        }
        return out
    }

    /// (batch, channels, height, width, outChannels, kernel, stride, dilation, padsBegin, padsEnd, groups)
    static let convolutionCases: [(Int, Int, Int, Int, Int, Int, Int, Int, [Int], [Int], Int)] = [
        (1, 3, 7, 9, 5, 3, 1, 1, [1, 1], [1, 1], 1),
        (2, 1, 5, 5, 1, 1, 1, 1, [0, 0], [0, 0], 1),
        (1, 4, 8, 8, 6, 3, 2, 1, [0, 0], [1, 1], 2),   // TF "SAME" style asymmetric padding
        (1, 6, 9, 7, 6, 3, 1, 2, [2, 2], [2, 2], 6),   // depthwise, dilated
        (1, 5, 11, 11, 3, 5, 2, 1, [1, 1], [2, 2], 1), // 5x5 stride 2, pads [1,1,2,2]
        (3, 2, 6, 5, 4, 7, 3, 1, [3, 3], [3, 3], 2),
        (1, 17, 4, 4, 33, 1, 1, 1, [0, 0], [0, 0], 1),
    ]

    @Test(arguments: convolutionCases.indices)
    func convolutionMatchesTextbook(_ index: Int) throws {
        let (n, c, h, w, oc, k, s, d, pb, pe, g) = Self.convolutionCases[index]
        let p = ConvolutionParameters(
            weights: .random([oc, c / g, k, k], seed: UInt64(index) * 2), bias: .random([oc], seed: UInt64(index) * 2 + 1),
            strides: [s, s], dilations: [d, d], padsBegin: pb, padsEnd: pe, groups: g)
        let x = TensorData.random([n, c, h, w], seed: 100 + UInt64(index))
        let got = try run(.convolution(p), [x])
        let want = try textbookConvolution(x, p)
        #expect(got.shape == want.shape)
        let worst = worstTolerance(got.values, want.values, atol: 1e-5, rtol: 1e-5)
        #expect(worst.ratio <= 1, "case \(index): element \(worst.index) differs beyond atol 1e-5 + rtol 1e-5")
    }

    /// (height, width, kernel, strides, dilations, padsBegin, padsEnd, ceilMode)
    static let windowCases: [(Int, Int, [Int], [Int], [Int], [Int], [Int], Bool)] = [
        (1, 1, [3, 3], [1, 1], [1, 1], [1, 1], [1, 1], false),   // one pixel, all but the centre tap in padding
        (7, 9, [3, 5], [2, 3], [1, 2], [2, 0], [0, 3], false),   // every parameter different on the two axes
        (5, 5, [2, 2], [2, 2], [1, 1], [0, 0], [0, 0], true),    // ceil mode: the last window reaches past the input
        (4, 11, [4, 3], [3, 1], [2, 3], [3, 1], [0, 2], false),  // dilated taps that jump over the image
        (2, 3, [5, 5], [1, 2], [1, 1], [4, 4], [4, 4], true),    // window larger than the input
        (6, 1, [1, 1], [4, 1], [1, 1], [0, 0], [0, 0], false),   // 1 × 1 kernel, stride larger than the kernel
    ]

    /// The shared window walk (`SlidingWindows`, used by every convolution and pooling reference) hands each output
    /// pixel exactly its in-bounds taps, in kernel order, and its tap counts are the pooling divisors: both checked
    /// against a bounds test per tap.
    @Test(arguments: windowCases.indices)
    func windowWalkVisitsTheInBoundsTapsInKernelOrder(_ index: Int) throws {
        let (h, w, kernel, strides, dilations, padsBegin, padsEnd, ceilMode) = Self.windowCases[index]
        let p = PoolingParameters(kind: .max, kernel: kernel, strides: strides, dilations: dilations, padsBegin: padsBegin, padsEnd: padsEnd, ceilMode: ceilMode)
        let output = try LayerKind.pooling(p).outputShapes(inputs: [[1, 1, h, w]])[0]
        let (oh, ow) = (output[2], output[3])
        let windows = SlidingWindows(p, input: [1, 1, h, w], output: output)
        var walked = [[(tap: Int, input: Int)]](repeating: [], count: oh * ow)
        windows.forEachRun { tap, input, output, count in
            for t in 0..<count { walked[output + t].append((tap, input + t * windows.inputStep)) }
        }
        var inside = [Int](), padded = [Int]()
        for oy in 0..<oh {
            for ox in 0..<ow {
                var expected: [(tap: Int, input: Int)] = []
                var paddedTaps = 0
                for ky in 0..<kernel[0] {
                    for kx in 0..<kernel[1] {
                        let iy = oy * strides[0] - padsBegin[0] + ky * dilations[0]
                        let ix = ox * strides[1] - padsBegin[1] + kx * dilations[1]
                        if iy < h + padsEnd[0], ix < w + padsEnd[1] { paddedTaps += 1 }
                        if iy >= 0, iy < h, ix >= 0, ix < w { expected.append((ky * kernel[1] + kx, iy * w + ix)) }
                    }
                }
                let got = walked[oy * ow + ox]
                #expect(got.map(\.tap) == expected.map(\.tap) && got.map(\.input) == expected.map(\.input),
                        "case \(index), output (\(oy), \(ox)): walked \(got), bounds test gives \(expected)")
                inside.append(expected.count)
                padded.append(paddedTaps)
            }
        }
        #expect(windows.tapCounts(includingPadding: false) == inside, "case \(index)")
        #expect(windows.tapCounts(includingPadding: true) == padded, "case \(index)")
    }

    @Test func averagePoolingCountIncludePad() throws {
        var p = PoolingParameters(kind: .average, kernel: [3, 3], strides: [2, 2], padsBegin: [1, 1], padsEnd: [1, 1])
        let excluded = try run(.pooling(p), [oneToNine])
        #expect(excluded.values == [3, 4, 6, 7])
        p.countIncludePad = true
        let included = try run(.pooling(p), [oneToNine])
        let expected: [Float] = [12.0 / 9, 16.0 / 9, 24.0 / 9, 28.0 / 9]
        #expect(included.values == expected)
    }

    @Test func poolingCeilMode() throws {
        let x = TensorData(shape: [1, 1, 5, 5], values: (1...25).map(Float.init))
        var p = PoolingParameters(kind: .max, kernel: [2, 2], strides: [2, 2])
        #expect(try run(.pooling(p), [x]).values == [7, 9, 17, 19])
        p.ceilMode = true
        #expect(try run(.pooling(p), [x]).values == [7, 9, 10, 17, 19, 20, 22, 24, 25])
        p.kind = .average
        p.countIncludePad = true  // the partial windows divide by the window clipped to the input
        #expect(try run(.pooling(p), [x]).values == [4, 6, 7.5, 14, 16, 17.5, 21.5, 23.5, 25])
        // ceil_mode never starts a window in the trailing padding: 2 wide, kernel 1, stride 2, pad 1 gives
        // windows at -1 and 1; the third (at 3) would lie wholly in the padding and is dropped.
        let y = TensorData.random([1, 1, 2, 2], seed: 3)
        let q = PoolingParameters(kind: .max, kernel: [1, 1], strides: [2, 2], padsBegin: [1, 1], padsEnd: [1, 1], ceilMode: true)
        #expect(try run(.pooling(q), [y]).shape == [1, 1, 2, 2])
        let r = PoolingParameters(kind: .max, kernel: [3, 3], strides: [2, 2], padsBegin: [1, 1], padsEnd: [1, 1], ceilMode: true)
        #expect(try run(.pooling(r), [TensorData.random([1, 1, 6, 6], seed: 4)]).shape == [1, 1, 4, 4])
    }

    @Test func dilatedMaxPoolingAndGlobalPooling() throws {
        let p = PoolingParameters(kind: .max, kernel: [2, 2], dilations: [2, 2])
        #expect(try run(.pooling(p), [oneToNine]).values == [9])
        #expect(try run(.pooling(.global(.average)), [oneToNine]).values == [5])
        #expect(try run(.pooling(.global(.max)), [oneToNine]).values == [9])
    }

    @Test func fullyConnectedAndScale() throws {
        let x = TensorData(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
        let fc = FullyConnectedParameters(weights: Weights(shape: [2, 3], values: [1, 0, -1, 0.5, 0.5, 0.5]), bias: Weights(shape: [2], values: [10, 0]))
        #expect(try run(.fullyConnected(fc), [x]).values == [8, 3, 8, 7.5])
        let s = try run(.scale(ScaleParameters(scale: [2, -1], shift: [1, 0])), [TensorData(shape: [1, 2, 1, 2], values: [1, 2, 3, 4])])
        #expect(s.values == [3, 5, -3, -4])
    }

    @Test func activations() throws {
        let x = TensorData(shape: [1, 6], values: [-4, -1, 0, 0.5, 3, 8])
        #expect(try run(.activation(.relu), [x]).values == [0, 0, 0, 0.5, 3, 8])
        #expect(try run(.activation(.clip(min: 0, max: 6)), [x]).values == [0, 0, 0, 0.5, 3, 6])
        let leaky: [Float] = [-0.4, -0.1, 0, 0.5, 3, 8]
        #expect(try run(.activation(.leakyRelu(alpha: 0.1)), [x]).values == leaky)
        let hardSigmoid: [Float] = [0, 0.3, 0.5, 0.6, 1, 1]
        #expect(try run(.activation(.hardSigmoid(alpha: 0.2, beta: 0.5)), [x]).values == hardSigmoid)
        let hardSwish: [Float] = [0, -1.0 / 3, 0, 0.5 * (0.5 / 6 + 0.5), 3, 8]
        #expect(worstTolerance(try run(.activation(.hardSwish), [x]).values, hardSwish, atol: 1e-7, rtol: 1e-6).ratio <= 1)
        let sigmoid = try run(.activation(.sigmoid), [x]).values
        #expect(abs(sigmoid[2] - 0.5) < 1e-7 && abs(sigmoid[4] - 0.952574) < 1e-6)
        let tanh = try run(.activation(.tanh), [x]).values
        #expect(abs(tanh[1] + 0.761594) < 1e-6)
    }

    @Test func elementwiseBroadcasting() throws {
        let a = TensorData(shape: [1, 2, 2, 2], values: [1, 2, 3, 4, 5, 6, 7, 8])
        let perChannel = TensorData(shape: [1, 2, 1, 1], values: [10, 100])
        #expect(try run(.elementwise(.mul), [a, perChannel]).values == [10, 20, 30, 40, 500, 600, 700, 800])
        let scalar = TensorData(shape: [], values: [1])
        #expect(try run(.elementwise(.sub), [a, scalar]).values == [0, 1, 2, 3, 4, 5, 6, 7])
        let row = TensorData(shape: [2], values: [2, 4])
        #expect(try run(.elementwise(.div), [a, row]).values == [0.5, 0.5, 1.5, 1, 2.5, 1.5, 3.5, 2])
        #expect(try run(.elementwise(.max), [a, scalar.withValue(4.5)]).values == [4.5, 4.5, 4.5, 4.5, 5, 6, 7, 8])
        #expect(try run(.elementwise(.min), [a, scalar.withValue(2)]).values == [1, 2, 2, 2, 2, 2, 2, 2])
        #expect(throws: OctetError.self) { try run(.elementwise(.add), [a, TensorData(shape: [3], values: [1, 2, 3])]) }
    }

    @Test func softmax() throws {
        let x = TensorData(shape: [1, 3], values: [1, 2, 3])
        let y = try run(.softmax(axis: 1, coerced2D: false), [x]).values
        for (got, want) in zip(y, [0.0900306, 0.244728, 0.665241] as [Float]) { #expect(abs(got - want) < 1e-6) }
        // Over axis 1 of [1, 2, 2]: columns normalize separately; coerced to 2-D, all four together.
        let z = TensorData(shape: [1, 2, 2], values: [0, 0, 0, log(3)])
        #expect(try run(.softmax(axis: 1, coerced2D: false), [z]).values.map { ($0 * 1000).rounded() } == [500, 250, 500, 750])
        #expect(try run(.softmax(axis: 1, coerced2D: true), [z]).values.map { ($0 * 1000).rounded() } == [167, 167, 167, 500])
    }

    @Test func dataMovement() throws {
        let x = TensorData(shape: [1, 2, 3], values: [1, 2, 3, 4, 5, 6])
        #expect(try run(.transpose(permutation: [0, 2, 1]), [x]).values == [1, 4, 2, 5, 3, 6])
        #expect(try run(.concatenation(axis: 2), [x, x]).values == [1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6])
        #expect(try run(.concatenation(axis: 1), [x, x]).shape == [1, 4, 3])
        let slice = SliceParameters(starts: [0, 1, 0], ends: [1, 2, 3], steps: [1, 1, 2])
        #expect(try run(.slice(slice), [x]).values == [4, 6])
        let reshaped = try run(.reshape(sampleShape: [6]), [x])
        #expect(reshaped.shape == [1, 6] && reshaped.values == x.values)
        // Layers work per sample: a batch of two gives each sample's result.
        let two = TensorData.batch([x, TensorData(shape: [1, 2, 3], values: [7, 8, 9, 10, 11, 12])])
        #expect(try run(.transpose(permutation: [0, 2, 1]), [two]).values == [1, 4, 2, 5, 3, 6, 7, 10, 8, 11, 9, 12])
        #expect(try run(.slice(slice), [two]).values == [4, 6, 10, 12])
    }

    /// The INT8 arithmetic with zero points, against values worked out by hand.
    @Test func quantizationWithZeroPointsByHand() {
        let u8 = TensorQuantization(dataType: .uint8, scale: 0.5, zeroPoint: 10)  // reals [-5, 122.5]
        let s8 = TensorQuantization(dataType: .int8, scale: 0.25, zeroPoint: -3)  // reals [-31.25, 32.5]
        // quantize: round(x / s) clamped to [qmin − z, qmax − z], + z.
        #expect([3, -10, 200, 1.25, 1.75, 0].map { QuantizationMath.quantize($0, u8) } == [16, 0, 255, 12, 14, 10])
        #expect([1, -40, 40, 0].map { QuantizationMath.quantize($0, s8) } == [1, -128, 127, -3])
        // dequantize: (q − z) · s.
        #expect([16, 0, 10, 255].map { QuantizationMath.dequantize($0, u8) } == [3, -5, 0, 122.5])
        #expect(QuantizationMath.dequantize(-128, s8) == -31.25)
        // requantize between quantizations: (16 − 10) · 0.5 / 0.25 = 12 → 12 − 3 = 9; 245 · 2 saturates at 130 − 3.
        #expect(QuantizationMath.requantize(16, from: u8, to: s8) == 9)
        #expect(QuantizationMath.requantize(255, from: u8, to: s8) == 127)
        #expect(QuantizationMath.requantize(0, from: u8, to: s8) == -23)  // −5 → −20 relative
        #expect(QuantizationMath.requantize(77, from: u8, to: u8) == 77)
        // Bounds are relative to the zero point; Relu raises the floor to real 0, Clip rounds a / s and b / s.
        #expect(QuantizationMath.bounds(u8, activation: nil) == (-10, 245))
        #expect(QuantizationMath.bounds(u8, activation: .relu) == (0, 245))
        #expect(QuantizationMath.bounds(s8, activation: .clip(min: -1, max: 2)) == (-4, 8))
        // The epilogue: y = 100 · 0.1 + (20 − 10) · 0.5 = 15 → 15 + z 10 = 25; y = −5 is clamped at real 0 (Relu).
        let (lo, hi) = QuantizationMath.bounds(u8, activation: .relu)
        #expect(QuantizationMath.requantize(100, multiplier: 0.1, residual: 20, residualZeroPoint: 10, residualMultiplier: 0.5, min: lo, max: hi, zeroPoint: 10) == 25)
        #expect(QuantizationMath.requantize(-100, multiplier: 0.1, residual: 20, residualZeroPoint: 10, residualMultiplier: 0.5, min: lo, max: hi, zeroPoint: 10) == 10)
        // Input zero point folded into the bias: bias − z_x · Σ_k w.
        #expect(QuantizationMath.compensateBias([100, -7], inputZeroPoint: 5, weights: [1, 2, 3, -4, 0, 1]) == [70, 8])
        #expect(QuantizationMath.compensateBias([100, -7], inputZeroPoint: 0, weights: [1, 2, 3, -4, 0, 1]) == [100, -7])
        // A lookup table through dequantize / quantize: Relu from u8 to itself is the identity above z.
        let relu = QuantizationMath.lookupTable(input: u8, output: u8) { max($0, 0) }
        #expect(relu[0] == 10 && relu[9] == 10 && relu[10] == 10 && relu[11] == 11 && relu[255] == 255)
        // Symmetric quantization is unchanged: zero point 0.
        #expect(TensorQuantization(range: 2.54, unsigned: false).zeroPoint == 0)
    }
}

extension TensorData {
    fileprivate func withValue(_ v: Float) -> TensorData { TensorData(shape: shape, values: [v]) }
}
