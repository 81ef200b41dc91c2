import COctetCPUKernels
import OctetCore
import OctetRuntime

/// FP32 convolution (any kernel, stride, dilation, groups) and fully connected layers as GEMM over NHWC
/// data, with bias, residual and Relu/Clip fused into the kernel.
struct FloatGEMMLayer: CPULayer {
    let geometry: WindowGeometry
    let groups: Int
    let inputChannelsPerGroup: Int
    let outputChannelsPerGroup: Int
    let k: Int
    let direct: Bool
    let packed: [PackedBytes]
    let bounds: (min: Float, max: Float)
    /// A non-clamp activation (Sigmoid, HardSwish, …) applied after the GEMM.
    let activation: Activation?
    let kernelName: String

    init(weights: Weights, bias: Weights?, kernel: [Int], strides: [Int], dilations: [Int], padsBegin: [Int], groups: Int, activation: Activation?, inputChannels: Int, packer: WeightPacker) throws {
        let oc = weights.shape[0], icg = inputChannels / groups, ocg = oc / groups
        geometry = WindowGeometry(kernel: kernel, strides: strides, dilations: dilations, padsBegin: padsBegin)
        self.groups = groups
        inputChannelsPerGroup = icg
        outputChannelsPerGroup = ocg
        let taps = geometry.taps, kw = kernel[1]
        let k = taps * icg
        self.k = k
        direct = geometry.isPointwise && groups == 1
        var packs: [PackedBytes] = []
        for g in 0..<groups {
            packs.append(try packer.pack(count: octet_sgemm_packed_size(ocg, k)) { target in
                var wkn = [Float](repeating: 0, count: k * ocg)
                for n in 0..<ocg {
                    let o = g * ocg + n
                    for c in 0..<icg {
                        for t in 0..<taps {
                            wkn[(t * icg + c) * ocg + n] = weights.values[((o * icg + c) * kernel[0] + t / kw) * kw + t % kw]
                        }
                    }
                }
                let b = bias.map { Array($0.values[(g * ocg)..<((g + 1) * ocg)]) }
                let floats = target.assumingMemoryBound(to: Float.self)
                wkn.withUnsafeBufferPointer { w in
                    if let b {
                        b.withUnsafeBufferPointer { octet_sgemm_pack(ocg, k, w.baseAddress!, $0.baseAddress, floats) }
                    } else {
                        octet_sgemm_pack(ocg, k, w.baseAddress!, nil, floats)
                    }
                }
            })
        }
        packed = packs
        let isClamp = activation?.isClamp ?? false
        bounds = isClamp ? floatBounds(activation) : (-.infinity, .infinity)
        self.activation = isClamp ? nil : activation
        kernelName = "sgemm_f32_nhwc_\(direct ? "direct" : "im2col")\(groups > 1 ? "_g\(groups)" : "")__\(String(cString: octet_cpu_isa_name(octet_cpu_isa())))"
    }

    func run(inputs: [CPUBuffer], outputs: [CPUBuffer], context: CPURunContext) throws {
        let x = inputs[0], y = outputs[0]
        let rows = y.batch * y.layout.height * y.layout.width
        let outChannels = y.layout.channels
        let residual = inputs.count > 1 ? inputs[1] : nil
        for g in 0..<groups {
            let a: UnsafePointer<Float>
            let lda: Int
            if direct {
                a = UnsafePointer(x.floats)
                lda = x.layout.channels
            } else {
                let matrix = context.scratch(bytes: rows * k * 4)
                context.pool.run(rows, granularity: 16) { range in
                    im2col(
                        input: x.base, height: x.layout.height, width: x.layout.width, channels: x.layout.channels,
                        channelOffset: g * inputChannelsPerGroup, groupChannels: inputChannelsPerGroup, geometry: geometry,
                        outHeight: y.layout.height, outWidth: y.layout.width, rows: range,
                        elementSize: 4, rowLength: k, padByte: 0, destination: matrix + range.lowerBound * k * 4)
                }
                a = UnsafePointer(matrix.assumingMemoryBound(to: Float.self))
                lda = k
            }
            let c = y.floats + g * outputChannelsPerGroup
            let r = residual.map { UnsafePointer($0.floats + g * outputChannelsPerGroup) }
            let n = outputChannelsPerGroup
            let b = packed[g].pointer.assumingMemoryBound(to: Float.self)
            if rows >= context.pool.threads * 16 || n <= 16 {
                context.pool.run(rows, granularity: 8) { range in
                    octet_sgemm(range.count, n, k, a + range.lowerBound * lda, lda, b, c + range.lowerBound * outChannels, outChannels,
                                r.map { $0 + range.lowerBound * outChannels }, bounds.min, bounds.max)
                }
            } else {
                let panelFloats = octet_sgemm_packed_size(16, k) / 4
                context.pool.run((n + 15) / 16) { range in
                    let first = range.lowerBound * 16
                    octet_sgemm(rows, min(n, range.upperBound * 16) - first, k, a, lda, b + range.lowerBound * panelFloats,
                                c + first, outChannels, r.map { $0 + first }, bounds.min, bounds.max)
                }
            }
        }
        if let activation {
            let out = y.floats
            context.pool.run(y.count, granularity: 1024) { range in for i in range { out[i] = activation(out[i]) } }
        }
    }
}
