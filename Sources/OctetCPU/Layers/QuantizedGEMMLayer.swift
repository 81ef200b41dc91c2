import COctetCPUKernels
import OctetCore
import OctetQuantization
import OctetRuntime

/// INT8 convolution (any kernel, stride, dilation, groups) and fully connected layers as GEMM over NHWC
/// data: `C[pixel][oc] = requant(bias + Σ A[pixel][k] · W[k][oc])`, with `A` the input itself for pointwise
/// convolutions and fully connected layers, or an im2col patch matrix otherwise.
///
/// Packing folds the quantization bookkeeping in (STYLE.md habit 10): an int8 input is fed to `vpdpbusd`
/// as `q + 128` (`a_xor = 0x80`), so `bias' = bias − 128 · Σ_k W[k][oc]`, on top of the input zero point's
/// `−z_x · Σ_k W[k][oc]` that `QuantizedLinearParameters.bias` already holds. im2col pads with z_x's byte.
struct QuantizedGEMMLayer: CPULayer {
    let geometry: WindowGeometry
    let groups: Int
    let inputChannelsPerGroup: Int
    let outputChannelsPerGroup: Int
    /// K = taps × input channels per group, padded to a multiple of 4.
    let paddedK: Int
    /// True when the input rows can be used as `A` directly (pointwise, stride 1, K = channels, one group).
    let direct: Bool
    /// True when the GEMM reads each tap's channels in place through a table of pointers instead of im2col's
    /// patches (`octet_qigemm_avx512vnni`: AVX-512 VNNI, one group, uint8 input, channels a multiple of 4).
    let indirect: Bool
    /// The stored input zero point: what im2col writes for taps in the padding (real 0).
    let padByte: UInt8
    /// One packed weight matrix per group.
    let packed: [PackedBytes]
    let params: octet_qgemm_params
    /// For float output: weights `[oc][K]`, uncompensated bias and multipliers (`s_x · s_w`).
    let floatOutput: FloatOutputEpilogue?
    let kernelName: String

    /// For float output, how the fused activation applies: Relu/Clip as kernel bounds, others afterwards.
    struct FloatOutputEpilogue: Sendable {
        var clampActivation: Activation?
        var otherActivation: Activation?
    }

    init(
        weights: Weights, kernel: [Int], strides: [Int], dilations: [Int], padsBegin: [Int], groups: Int,
        quantized linear: QuantizedLinear, activation: Activation?, inputChannels: Int, packer: WeightPacker
    ) throws {
        let oc = weights.shape[0]
        let icg = inputChannels / groups
        let q = linear.epilogue
        self.geometry = WindowGeometry(kernel: kernel, strides: strides, dilations: dilations, padsBegin: padsBegin)
        self.groups = groups
        self.inputChannelsPerGroup = icg
        self.outputChannelsPerGroup = oc / groups
        let k = geometry.taps * icg
        let paddedK = (k + 3) / 4 * 4
        self.paddedK = paddedK
        self.direct = geometry.isPointwise && groups == 1 && icg % 4 == 0
        self.padByte = UInt8(truncatingIfNeeded: q.input.zeroPoint)
        let xor: UInt8 = q.input.isSigned ? 0x80 : 0
        self.indirect = !direct && groups == 1 && icg % 4 == 0 && xor == 0 && q.output != nil
            && octet_cpu_isa() == OCTET_ISA_AVX512VNNI
        let ocg = oc / groups
        let taps = geometry.taps, kw = kernel[1]
        var packs: [PackedBytes] = []
        for g in 0..<groups {
            packs.append(try packer.pack(count: octet_qgemm_packed_size(ocg, paddedK)) { target in
                let q = linear.parameters
                // W_kn[k][n] with k = (ky · kw + kx) · icg + c, matching the im2col column order.
                var wkn = [Int8](repeating: 0, count: paddedK * ocg)
                var compensatedBias = [Int32](repeating: 0, count: ocg)
                for n in 0..<ocg {
                    let o = g * ocg + n
                    var sum: Int32 = 0
                    for c in 0..<icg {
                        for t in 0..<taps {
                            let (ky, kx) = (t / kw, t % kw)
                            let w = q.weights[((o * icg + c) * kernel[0] + ky) * kw + kx]
                            wkn[(t * icg + c) * ocg + n] = w
                            sum += Int32(w)
                        }
                    }
                    compensatedBias[n] = q.bias[o] &- (xor == 0 ? 0 : 128 &* sum)
                }
                let multipliers = Array(q.multipliers[(g * ocg)..<((g + 1) * ocg)])
                wkn.withUnsafeBufferPointer { w in
                    compensatedBias.withUnsafeBufferPointer { b in
                        multipliers.withUnsafeBufferPointer { m in
                            octet_qgemm_pack(ocg, paddedK, w.baseAddress!, b.baseAddress, m.baseAddress!, target)
                        }
                    }
                }
            })
        }
        self.packed = packs
        var p = octet_qgemm_params()
        p.min = q.bounds.min
        p.max = q.bounds.max
        p.residual_multiplier = q.residualMultiplier
        p.output_signed = (q.output?.isSigned ?? true) ? 1 : 0
        p.residual_signed = (q.residual?.isSigned ?? true) ? 1 : 0
        p.a_xor = xor
        p.output_zero_point = q.output?.zeroPoint ?? 0
        p.residual_zero_point = q.residual?.zeroPoint ?? 0
        p.saturation_clamps = packs.allSatisfy { octet_qgemm_saturation_clamps(ocg, paddedK, $0.pointer, &p) != 0 } ? 1 : 0
        self.params = p
        if q.output == nil {
            let isClamp = activation?.isClamp ?? false
            floatOutput = FloatOutputEpilogue(clampActivation: isClamp ? activation : nil, otherActivation: isClamp ? nil : activation)
        } else {
            floatOutput = nil
        }
        let isa = String(cString: octet_cpu_isa_name(octet_cpu_isa()))
        let path = direct ? "direct" : indirect ? "indirect" : (geometry.isPointwise && groups == 1 ? "copy" : "im2col")
        let output = q.output.map { $0.isSigned ? "s8" : "u8" } ?? "f32"
        kernelName = "qgemm_\(q.input.isSigned ? "s8" : "u8")s8_\(output)_nhwc_\(path)\(groups > 1 ? "_g\(groups)" : "")__\(isa)"
    }

    func run(inputs: [CPUBuffer], outputs: [CPUBuffer], context: CPURunContext) throws {
        let x = inputs[0], y = outputs[0]
        let batch = x.batch
        let (height, width, channels) = (x.layout.height, x.layout.width, x.layout.channels)
        let (outHeight, outWidth) = (y.layout.height, y.layout.width)
        let outChannels = y.layout.channels
        let rows = batch * outHeight * outWidth
        let residual = inputs.count > 1 ? inputs[1] : nil
        if let floatOutput {
            try runFloatOutput(x, y, residual: residual, rows: rows, floatOutput, context: context)
            return
        }
        if indirect {
            runIndirect(x, y, rows: rows, residual: residual, context: context)
            return
        }
        if !direct && groups == 1 && rows >= context.pool.threads * 12 {
            runPatchBlocks(x, y, rows: rows, residual: residual, context: context)
            return
        }
        for g in 0..<groups {
            let a: UnsafeRawPointer
            let aStride: Int
            if direct {
                a = UnsafeRawPointer(x.base)
                aStride = channels
            } else {
                let matrix = context.scratch(bytes: rows * paddedK)
                context.pool.run(rows, granularity: 16) { range in
                    im2col(
                        input: x.base, height: height, width: width, channels: channels, channelOffset: g * inputChannelsPerGroup,
                        groupChannels: inputChannelsPerGroup, geometry: geometry, outHeight: outHeight, outWidth: outWidth,
                        rows: range, elementSize: 1, rowLength: paddedK, padByte: padByte, flip: params.a_xor,
                        destination: matrix + range.lowerBound * paddedK)
                }
                a = UnsafeRawPointer(matrix)
                aStride = paddedK
            }
            let c = y.base + g * outputChannelsPerGroup
            let r = residual.map { UnsafeRawPointer($0.base + g * outputChannelsPerGroup) }
            gemm(
                rows: rows, a: a, aStride: aStride, aShifted: !direct, packed: packed[g].pointer, c: c, cStride: outChannels,
                residual: r, context: context)
        }
    }

    /// im2col and GEMM a block of rows at a time, each thread in its own slice of the scratch: the patches (K
    /// bytes a row, 9 times the input for a 3x3 kernel) are read back from L2 right after they are written
    /// instead of making a round trip through memory (ResNet-50's 3x3 layers at batch 8: 14 MB of patches each
    /// in res2). A block holds at least 128 KiB of patches and, up to 1 MiB, as many bytes as the packed weights,
    /// which each block reads again: so the weights never cost more traffic than the patches. Patches of int8
    /// input are written already shifted to uint8 (im2col's `flip`), so the GEMM runs without its XOR.
    private func runPatchBlocks(_ x: CPUBuffer, _ y: CPUBuffer, rows: Int, residual: CPUBuffer?, context: CPURunContext) {
        let k = paddedK, n = outputChannelsPerGroup
        let blockBytes = min(max(128 << 10, packed[0].count), 1 << 20)
        let blockRows = max(6, blockBytes / k / 6 * 6)
        let scratch = context.scratch(bytes: context.pool.threads * blockRows * k)
        let (height, width, channels) = (x.layout.height, x.layout.width, x.layout.channels)
        let (outHeight, outWidth) = (y.layout.height, y.layout.width)
        let (packed, geometry, padByte, icg) = (self.packed[0].pointer, geometry, padByte, inputChannelsPerGroup)
        var p = params
        p.a_xor = 0
        let flip = params.a_xor
        context.pool.runNumbered(rows, granularity: 6) { slot, range in
            let patches = scratch + slot * blockRows * k
            var first = range.lowerBound
            while first < range.upperBound {
                let block = first..<min(first + blockRows, range.upperBound)
                im2col(
                    input: x.base, height: height, width: width, channels: channels, channelOffset: 0, groupChannels: icg,
                    geometry: geometry, outHeight: outHeight, outWidth: outWidth, rows: block, elementSize: 1,
                    rowLength: k, padByte: padByte, flip: flip, destination: patches)
                octet_qgemm(
                    block.count, n, k, patches.assumingMemoryBound(to: UInt8.self), k, packed, y.base + first * n, n,
                    residual.map { UnsafeRawPointer($0.base + first * n) }, n, &p)
                first = block.upperBound
            }
        }
    }

    /// The convolution as an indirect GEMM: each thread builds, a block of rows at a time, the table of where every
    /// tap of a row reads its channels (or the pad row, `channels` bytes of the pad byte) and multiplies the taps in
    /// place, so the patches (9x the input for a 3x3 kernel) are never written. Rows split over threads as
    /// `runPatchBlocks` does, or by 16-column panels when there are few rows (the late layers at batch 1).
    private func runIndirect(_ x: CPUBuffer, _ y: CPUBuffer, rows: Int, residual: CPUBuffer?, context: CPURunContext) {
        let channels = x.layout.channels, taps = geometry.taps, n = outputChannelsPerGroup
        let (height, width) = (x.layout.height, x.layout.width)
        let (outHeight, outWidth) = (y.layout.height, y.layout.width)
        let g = geometry
        let threads = context.pool.threads
        let byRows = splitsByRows(rows, threads: threads)
        // Row splits build their tables 256 rows at a time; a panel split, every row once.
        let tableRows = byRows ? 256 : rows
        let tableBytes = tableRows * taps * MemoryLayout<UnsafePointer<UInt8>>.stride
        let scratch = context.scratch(bytes: threads * tableBytes + channels)
        let padRow = UnsafePointer((scratch + threads * tableBytes).assumingMemoryBound(to: UInt8.self))
        (scratch + threads * tableBytes).initializeMemory(as: UInt8.self, repeating: padByte, count: channels)
        let (packed, input) = (self.packed[0].pointer, UnsafePointer(x.base.assumingMemoryBound(to: UInt8.self)))
        var p = params
        // One block of rows and columns: its table, then the GEMM.
        let multiply = { (slot: Int, block: Range<Int>, columns: Range<Int>) in
            let table = (scratch + slot * tableBytes).assumingMemoryBound(to: UnsafePointer<UInt8>.self)
            octet_im2col_indirection(
                input, height, width, channels, g.kernel.0, g.kernel.1, g.strides.0, g.strides.1, g.dilations.0, g.dilations.1,
                g.padsBegin.0, g.padsBegin.1, outHeight, outWidth, block.lowerBound, block.count, padRow, table)
            let panelBytes = octet_qgemm_packed_size(16, taps * channels)
            octet_qigemm_avx512vnni(
                block.count, columns.count, taps, channels, table, packed + columns.lowerBound / 16 * panelBytes,
                y.base + block.lowerBound * n + columns.lowerBound, n,
                residual.map { UnsafeRawPointer($0.base + block.lowerBound * n + columns.lowerBound) }, n, &p)
        }
        if byRows {
            context.pool.runNumbered(rows, granularity: 6) { slot, range in
                var first = range.lowerBound
                while first < range.upperBound {
                    let block = first..<min(first + tableRows, range.upperBound)
                    multiply(slot, block, 0..<n)
                    first = block.upperBound
                }
            }
        } else {
            // Few rows, many columns: each thread its panels.
            context.pool.runNumbered((n + 15) / 16) { slot, panels in
                multiply(slot, 0..<rows, (panels.lowerBound * 16)..<min(n, panels.upperBound * 16))
            }
        }
    }

    /// Whether a GEMM over `rows` rows is split over threads by rows (at least two 6-row tiles a thread, or a
    /// single panel of columns) rather than by 16-column panels.
    private func splitsByRows(_ rows: Int, threads: Int) -> Bool {
        rows >= threads * 12 || outputChannelsPerGroup <= 16
    }

    /// Splits the GEMM over threads by rows, or by 16-column panels when there are few rows. `aShifted`: A is
    /// im2col's patches, already shifted to uint8 where the input is int8.
    private func gemm(
        rows: Int, a: UnsafeRawPointer, aStride: Int, aShifted: Bool, packed: UnsafeRawPointer, c: UnsafeMutableRawPointer,
        cStride: Int, residual: UnsafeRawPointer?, context: CPURunContext
    ) {
        let n = outputChannelsPerGroup, k = paddedK
        var p = params
        if aShifted { p.a_xor = 0 }
        let panelBytes = octet_qgemm_packed_size(16, k)
        if splitsByRows(rows, threads: context.pool.threads) {
            context.pool.run(rows, granularity: 6) { range in
                let offsetA = a + range.lowerBound * aStride
                let offsetC = c + range.lowerBound * cStride
                let offsetR = residual.map { $0 + range.lowerBound * cStride }
                octet_qgemm(range.count, n, k, offsetA.assumingMemoryBound(to: UInt8.self), aStride, packed, offsetC, cStride, offsetR, cStride, &p)
            }
        } else {
            let panels = (n + 15) / 16
            context.pool.run(panels) { range in
                let first = range.lowerBound * 16
                let width = min(n, range.upperBound * 16) - first
                octet_qgemm(
                    rows, width, k, a.assumingMemoryBound(to: UInt8.self), aStride, packed + range.lowerBound * panelBytes,
                    c + first, cStride, residual.map { $0 + first }, cStride, &p)
            }
        }
    }

    /// INT8 arithmetic with float output (a network output, or a tensor only FP32 layers read):
    /// `y = act(Float(acc) · m [+ Float(r − z_r) · s_r])`, split over threads by 16-column panels.
    private func runFloatOutput(_ x: CPUBuffer, _ y: CPUBuffer, residual: CPUBuffer?, rows: Int, _ e: FloatOutputEpilogue, context: CPURunContext) throws {
        guard groups == 1 else { throw OctetError.unavailable(reason: "grouped INT8 convolution with float output is not implemented") }
        let a: UnsafeRawPointer
        let aStride: Int
        if direct {
            a = UnsafeRawPointer(x.base)
            aStride = x.layout.channels
        } else {
            let matrix = context.scratch(bytes: rows * paddedK)
            im2col(
                input: x.base, height: x.layout.height, width: x.layout.width, channels: x.layout.channels, channelOffset: 0,
                groupChannels: inputChannelsPerGroup, geometry: geometry, outHeight: y.layout.height, outWidth: y.layout.width,
                rows: 0..<rows, elementSize: 1, rowLength: paddedK, padByte: padByte, flip: params.a_xor, destination: matrix)
            a = UnsafeRawPointer(matrix)
            aStride = paddedK
        }
        let n = outputChannelsPerGroup, k = paddedK
        // With a residual the clamp comes after the sum (below), as in the reference.
        let clamp = floatBounds(e.clampActivation)
        let bounds: (min: Float, max: Float) = residual == nil ? clamp : (-.infinity, .infinity)
        let xor = direct ? params.a_xor : 0  // im2col's patches are already shifted
        let packed = self.packed[0].pointer
        let panelBytes = octet_qgemm_packed_size(16, k)
        let out = y.floats
        context.pool.run((n + 15) / 16) { range in
            let first = range.lowerBound * 16
            octet_qgemm_f32out(
                rows, min(n, range.upperBound * 16) - first, k, a.assumingMemoryBound(to: UInt8.self), aStride,
                packed + range.lowerBound * panelBytes, out + first, n, bounds.min, bounds.max, xor)
        }
        if let residual {
            let r = residual.base, signed = params.residual_signed != 0
            let (zeroPoint, multiplier) = (params.residual_zero_point, params.residual_multiplier)
            context.pool.run(y.count, granularity: 4096) { range in
                for i in range {
                    let stored = signed ? Int32(r.load(fromByteOffset: i, as: Int8.self)) : Int32(r.load(fromByteOffset: i, as: UInt8.self))
                    out[i] = Swift.min(Swift.max(out[i] + Float(stored - zeroPoint) * multiplier, clamp.min), clamp.max)
                }
            }
        }
        if let activation = e.otherActivation {
            context.pool.run(y.count, granularity: 4096) { range in for i in range { out[i] = activation(out[i]) } }
        }
    }
}

/// Owned, 64-byte aligned bytes (packed weights), freed with the compiled layer.
final class PackedBytes: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer
    let count: Int

    init(count: Int) {
        self.count = count
        pointer = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1), alignment: 64)
        pointer.initializeMemory(as: UInt8.self, repeating: 0, count: max(count, 1))
    }

    deinit { pointer.deallocate() }
}
