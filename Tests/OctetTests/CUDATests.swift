import Foundation
import Testing
import _OctetTestSupport
@testable import OctetCUDA
import Octet
import OctetCore
import OctetQuantization

/// CUDA runs only where a driver is present (the GPU machine runs `octet selftest --device cuda`); elsewhere
/// these tests skip and say why. The embedded kernel sources must match the .cu files they come from.
@Suite struct CUDATests {
    static let cudaMissing: String? = {
        do {
            _ = try CUDADriver()
            return nil
        } catch {
            return "\(error)"
        }
    }()

    @Test func embeddedKernelSourcesMatchTheCUFiles() throws {
        let directory = TestPaths.packageRoot().appendingPathComponent("Sources/OctetCUDA/Kernels")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".cu") || $0.hasSuffix(".cuh") }
        #expect(Set(files) == Set(KernelSources.files.keys), "run Scripts/embed-cuda-kernels.sh")
        for file in files {
            let text = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
            #expect(KernelSources.files[file].map { $0 + "\n" } == text, "\(file) changed: run Scripts/embed-cuda-kernels.sh")
        }
    }

    /// conv_pointwise.cu run on the host with the PTX ISA's mma.m16n8k32 modelled (Scripts/emulate-conv-pointwise.sh):
    /// every warp shape, one to four k steps, K with bytes beyond it, row tails, residuals of both signednesses, both
    /// conversions; byte for byte the reference, and nothing written past the output. Runs without a GPU.
    @Test func pointwiseKernelEmulatedOnTheHostMatchesTheReference() throws {
        guard let result = try OctetBinary.runEmulation("emulate-conv-pointwise.sh") else { return }
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("PASSED: 18 of 18 cases"), "\(result.stdout)")
    }

    /// conv_igemm.cu's warpgroup-MMA tiles run on the host with cp.async and wgmma.mma_async (shared-memory
    /// descriptors, swizzle, accumulator fragments, completion at the wait) modelled (Scripts/emulate-conv-wgmma.sh):
    /// every tile, 1x1 to 5x5 kernels, both strides, row, K and channel tails, every output mode, residuals; equal to a
    /// direct convolution, and nothing written past the output. Runs without a GPU.
    @Test func warpgroupTilesEmulatedOnTheHostMatchTheReference() throws {
        guard let result = try OctetBinary.runEmulation("emulate-conv-wgmma.sh") else { return }
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("PASSED: 14 of 14 cases"), "\(result.stdout)")
    }

    @Test(.enabled(if: CUDATests.cudaMissing == nil, Comment(rawValue: "CUDA tests skipped: \(CUDATests.cudaMissing ?? "")")))
    func kernelsMatchTheReferenceOnTheGPU() throws {
        #expect(try CUDASelfTest.run { print($0) } == 0)
    }

    @Test func cudaWithoutADriverIsAClearError() throws {
        guard let reason = Self.cudaMissing else { return }
        #expect(reason.contains("libcuda") || reason.contains("NVRTC"))
        let result = try OctetBinary.run(["run", "--device", "cuda", "--model", TestPaths.packageRoot().appendingPathComponent("data/int8_api/efficientnet_lite0.onnx").path])
        #expect(result.status == 1)
        #expect(result.stderr.contains("CUDA"))
        let selftest = try OctetBinary.run(["selftest", "--device", "cuda"])
        #expect(selftest.status == 1)
        #expect(selftest.stderr.contains("libcuda.so.1"))
        let calibrate = try OctetBinary.run(["calibrate", "--device", "cuda", "--model", "data/int8_api/efficientnet_lite0.onnx", "--images", "data/int8_api", "--output", "/dev/null"], in: TestPaths.packageRoot())
        #expect(calibrate.status == 1)
        #expect(calibrate.stderr.contains("CUDA is not available"))
    }

    /// `--device auto` runs on the CPU when there is no GPU and says why under --verbose; `compare --versus cpu`
    /// (the check that CUDA engines equal CPU engines) refuses to compare the CPU with itself, which would
    /// report a success that checks nothing.
    @Test func autoDeviceAndCompareVersusCPU() throws {
        guard Self.cudaMissing != nil else { return }
        let root = TestPaths.packageRoot()
        let auto = try OctetBinary.run(["run", "--device", "auto", "--verbose"], in: root)
        #expect(auto.status == 0, "\(auto.stderr)")
        #expect((auto.stdout + auto.stderr).contains("Device: cpu"))
        #expect(auto.stdout.contains("[V] --device auto runs on the CPU: CUDA is not available on this machine"))
        for device in ["cpu", "auto"] {
            let compare = try OctetBinary.run(["compare", "--versus", "cpu", "--device", device, "--images", "data/int8_api"], in: root)
            #expect(compare.status == 1)
            #expect(compare.stderr.contains("--versus cpu checks another device against the CPU"), "\(compare.stderr)")
        }
    }

    /// The host half of conv_igemm.cu's gather, simulated on the CPU: for every output pixel, the bytes the kernel
    /// would copy (window corner + table offset where the bounds test passes, else zero) equal the textbook
    /// im2col row, for strides, padding, dilation, partial tables and channel counts of 4, 8 and 16.
    @Test(arguments: [(5, 7, 4, 3, 3, 2, 1, 1), (6, 5, 8, 3, 2, 1, 2, 1), (4, 9, 16, 1, 1, 1, 0, 1), (7, 6, 12, 5, 3, 2, 2, 2)])
    func gatherTableMatchesIm2col(_ h: Int, _ w: Int, _ c: Int, _ kh: Int, _ kw: Int, _ stride: Int, _ pad: Int, _ dilation: Int) throws {
        let p = ConvolutionParameters(
            weights: Weights(shape: [1, c, kh, kw], values: [Float](repeating: 0, count: c * kh * kw)), bias: nil,
            strides: [stride, stride], dilations: [dilation, dilation], padsBegin: [pad, pad], padsEnd: [pad, pad])
        let g = try #require(ConvolutionShape(p, input: [1, c, h, w]))
        let k = kh * kw * c, rowLength = (k + 127) / 128 * 128
        let table = g.gatherTable(rowLength: rowLength)
        #expect(table.count == rowLength / 2)
        let x = (0..<(h * w * c)).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        for oy in 0..<g.outputHeight {
            for ox in 0..<g.outputWidth {
                let (iy0, ix0) = (oy * stride - pad, ox * stride - pad)
                let corner = (iy0 * w + ix0) * c
                for word in 0..<(rowLength / 4) {
                    let (offset, packed) = (Int(table[2 * word]), Int(table[2 * word + 1]))
                    let (dy, dx) = (packed >> 16, packed & 0xffff)
                    let valid = (0..<h).contains(iy0 + dy) && (0..<w).contains(ix0 + dx)
                    for byte in 0..<4 {
                        let got = valid ? x[corner + offset + byte] : 0
                        let kk = word * 4 + byte
                        var want: UInt8 = 0
                        if kk < k {
                            let (tap, channel) = (kk / c, kk % c)
                            let (iy, ix) = (iy0 + (tap / kw) * dilation, ix0 + (tap % kw) * dilation)
                            if (0..<h).contains(iy), (0..<w).contains(ix) { want = x[(iy * w + ix) * c + channel] }
                        }
                        #expect(got == want, "pixel (\(oy), \(ox)) k \(kk)")
                        if got != want { return }
                    }
                }
            }
        }
    }

    /// The stem's rearrangement (`ConvolutionShape.folded`, conv_igemm.cu's octet_fold_input_nhwc, mirrored here
    /// from its formula): the folded convolution with the folded weights over the folded input gives exactly the
    /// original convolution's integer sums, for space-to-depth strides 2 to 4, odd and even kernels, asymmetric
    /// padding and the channel-padding case (stride 1).
    @Test(arguments: [(11, 13, 3, 7, 7, 2, 3, 3), (9, 8, 3, 3, 3, 2, 1, 0), (10, 7, 1, 4, 5, 3, 1, 2), (12, 12, 1, 3, 3, 4, 0, 1), (7, 9, 3, 3, 3, 1, 1, 1)])
    func foldedConvolutionSumsTheSameProducts(_ h: Int, _ w: Int, _ c: Int, _ kh: Int, _ kw: Int, _ stride: Int, _ padTop: Int, _ padLeft: Int) throws {
        let oc = 5
        let p = ConvolutionParameters(
            weights: Weights(shape: [oc, c, kh, kw], values: [Float](repeating: 0, count: oc * c * kh * kw)), bias: nil,
            strides: [stride, stride], padsBegin: [padTop, padLeft], padsEnd: [1, 2])
        let g = try #require(ConvolutionShape(p, input: [1, c, h, w]))
        #expect(g.foldStride == stride)
        let channels = stride > 1 ? 16 : 4
        let f = g.folded(stride: stride, channels: channels)
        let weights = (0..<(oc * c * kh * kw)).map { Int(Int8(truncatingIfNeeded: $0 &* 29 &+ 7)) }
        let x = (0..<(h * w * c)).map { Int(UInt8(truncatingIfNeeded: $0 &* 37 &+ 11)) }
        // The rearrangement: stride 1 pads channels only (the GEMM keeps the padding); else space-to-depth.
        let (top, left) = stride > 1 ? (padTop, padLeft) : (0, 0)
        var folded = [Int](repeating: 0, count: f.height * f.width * channels)
        for y in 0..<f.height {
            for xx in 0..<f.width {
                for channel in 0..<channels {
                    let (tap, ch) = (channel / c, channel % c)
                    let (iy, ix) = (stride * y + tap / stride - top, stride * xx + tap % stride - left)
                    if tap < stride * stride, (0..<h).contains(iy), (0..<w).contains(ix) { folded[(y * f.width + xx) * channels + channel] = x[(iy * w + ix) * c + ch] }
                }
            }
        }
        let direct = Self.convolve(x, g, weights)
        let viaFold = Self.convolve(folded, f, g.foldWeights(weights, stride: stride, channels: channels))
        #expect(f.outputHeight == g.outputHeight && f.outputWidth == g.outputWidth)
        #expect(direct == viaFold)
        #expect(direct.contains { $0 != 0 })
    }

    /// A textbook integer convolution: NHWC input of one image, weights [OC][C][KH][KW], sums [OH][OW][OC].
    static func convolve(_ x: [Int], _ g: ConvolutionShape, _ weights: [Int]) -> [Int] {
        var sums = [Int](repeating: 0, count: g.outputHeight * g.outputWidth * g.outputChannels)
        for oy in 0..<g.outputHeight {
            for ox in 0..<g.outputWidth {
                for o in 0..<g.outputChannels {
                    var sum = 0
                    for c in 0..<g.channels {
                        for ky in 0..<g.kernel.0 {
                            for kx in 0..<g.kernel.1 {
                                let iy = oy * g.strides.0 - g.padsBegin.0 + ky * g.dilations.0
                                let ix = ox * g.strides.1 - g.padsBegin.1 + kx * g.dilations.1
                                guard (0..<g.height).contains(iy), (0..<g.width).contains(ix) else { continue }
                                sum += x[(iy * g.width + ix) * g.channels + c] * weights[((o * g.channels + c) * g.kernel.0 + ky) * g.kernel.1 + kx]
                            }
                        }
                    }
                    sums[(oy * g.outputWidth + ox) * g.outputChannels + o] = sum
                }
            }
        }
        return sums
    }

    /// The bound that lets the CUDA epilogues convert sums with FP32 adds: Σ|w| · max|x| + |bias| < 2^22 per
    /// output channel, with 255 for uint8 inputs and 128 for int8.
    @Test func sumsBelow2To22IsTheWorstCaseBound() {
        var q = QuantizedLinearParameters(
            weights: Weights(shape: [2, 129], values: [Float](repeating: 1, count: 258)), bias: nil,
            input: TensorQuantization(range: 1, unsigned: true), output: nil, residual: nil, activation: nil)
        #expect(q.weights.allSatisfy { $0 == 127 })
        q.bias = [0, 16638] // 129 · 127 · 255 = 4 177 665; + 16 638 = 2^22 − 1
        #expect(q.sumsBelow2To22)
        q.bias = [0, -16639]
        #expect(!q.sumsBelow2To22)
        q.input = TensorQuantization(range: 1, unsigned: false)
        #expect(q.sumsBelow2To22) // 129 · 127 · 128 + 16 639 is far below
    }

    @Test func cpuSelftestPasses() throws {
        let result = try OctetBinary.run(["selftest"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.hasSuffix("&&&& PASSED Octet.selftest\n"))
    }
}
