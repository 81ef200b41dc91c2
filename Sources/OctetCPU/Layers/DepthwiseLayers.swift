import COctetCPUKernels
import OctetCore
import OctetQuantization
import OctetRuntime

/// Builds the indirection buffer of a depthwise convolution: for each output pixel and tap, a pointer to
/// the input pixel's channels, or to `zero` for taps in the padding.
func depthwiseIndirection(
    input: UnsafeRawPointer, batch: Int, height: Int, width: Int, pixelBytes: Int, geometry g: WindowGeometry,
    outHeight: Int, outWidth: Int, zero: UnsafeRawPointer, into pointers: UnsafeMutablePointer<UnsafeRawPointer>
) {
    var index = 0
    for n in 0..<batch {
        for oy in 0..<outHeight {
            for ox in 0..<outWidth {
                for ky in 0..<g.kernel.0 {
                    for kx in 0..<g.kernel.1 {
                        let (iy, ix) = g.source(oy, ox, ky, kx)
                        pointers[index] = (iy >= 0 && iy < height && ix >= 0 && ix < width)
                            ? input + ((n * height + iy) * width + ix) * pixelBytes : zero
                        index += 1
                    }
                }
            }
        }
    }
}

/// INT8 depthwise convolution (one input channel per group, multiplier 1), NHWC, through an indirection
/// buffer; the kernels handle every kernel size. Padding taps point at a pixel of the input zero point
/// (real 0), whose `−z_x · Σ w` the bias already holds.
struct QuantizedDepthwiseLayer: CPULayer {
    let geometry: WindowGeometry
    let packed: PackedBytes
    let padByte: UInt8
    let params: octet_dwconv_params
    let kernelName: String

    init(_ conv: ConvolutionParameters, _ linear: QuantizedLinear, packer: WeightPacker) throws {
        let q = linear.epilogue
        geometry = WindowGeometry(kernel: conv.kernel, strides: conv.strides, dilations: conv.dilations, padsBegin: conv.padsBegin)
        let channels = conv.outputChannels, taps = geometry.taps
        packed = try packer.pack(count: octet_dwconv_q_packed_size(channels, taps)) { target in
            let q = linear.parameters
            // [tap][channel] from [channel][1][kh][kw].
            var w = [Int8](repeating: 0, count: taps * channels)
            for c in 0..<channels { for t in 0..<taps { w[t * channels + c] = q.weights[c * taps + t] } }
            w.withUnsafeBufferPointer { wp in
                q.bias.withUnsafeBufferPointer { b in
                    q.multipliers.withUnsafeBufferPointer { m in
                        octet_dwconv_q_pack(channels, taps, wp.baseAddress!, b.baseAddress, m.baseAddress!, target)
                    }
                }
            }
        }
        var p = octet_dwconv_params()
        p.min = q.bounds.min
        p.max = q.bounds.max
        p.input_signed = q.input.isSigned ? 1 : 0
        p.output_signed = (q.output?.isSigned ?? true) ? 1 : 0
        p.output_zero_point = q.output?.zeroPoint ?? 0
        p.saturation_clamps = octet_dwconv_q_saturation_clamps(channels, taps, packed.pointer, &p)
        params = p
        padByte = UInt8(truncatingIfNeeded: q.input.zeroPoint)
        kernelName = "dwconv_\(q.input.isSigned ? "s8" : "u8")s8_\(p.output_signed == 1 ? "s8" : "u8")_\(conv.kernel[0])x\(conv.kernel[1])_nhwc__\(String(cString: octet_cpu_isa_name(octet_cpu_isa())))"
    }

    func run(inputs: [CPUBuffer], outputs: [CPUBuffer], context: CPURunContext) throws {
        let (params, packed, taps) = (self.params, self.packed, geometry.taps)
        let channels = inputs[0].layout.channels
        try runThroughIndirection(inputs[0], outputs[0], geometry: geometry, elementSize: 1, padByte: padByte, context: context) { count, pointers, out in
            var p = params
            octet_dwconv_q(channels, count, taps, pointers, packed.pointer, out, channels, &p)
        }
    }
}

/// FP32 depthwise convolution, NHWC, through an indirection buffer.
struct FloatDepthwiseLayer: CPULayer {
    let geometry: WindowGeometry
    let packed: PackedBytes
    let bounds: (min: Float, max: Float)
    let kernelName: String

    init(_ conv: ConvolutionParameters, activation: Activation?, packer: WeightPacker) throws {
        geometry = WindowGeometry(kernel: conv.kernel, strides: conv.strides, dilations: conv.dilations, padsBegin: conv.padsBegin)
        let channels = conv.outputChannels, taps = geometry.taps
        packed = try packer.pack(count: octet_dwconv_f32_packed_size(channels, taps)) { target in
            var w = [Float](repeating: 0, count: taps * channels)
            for c in 0..<channels { for t in 0..<taps { w[t * channels + c] = conv.weights.values[c * taps + t] } }
            let floats = target.assumingMemoryBound(to: Float.self)
            let bias = conv.bias?.values
            w.withUnsafeBufferPointer { wp in
                if let bias {
                    bias.withUnsafeBufferPointer { octet_dwconv_f32_pack(channels, taps, wp.baseAddress!, $0.baseAddress, floats) }
                } else {
                    octet_dwconv_f32_pack(channels, taps, wp.baseAddress!, nil, floats)
                }
            }
        }
        bounds = floatBounds(activation)
        kernelName = "dwconv_f32_\(conv.kernel[0])x\(conv.kernel[1])_nhwc__\(String(cString: octet_cpu_isa_name(octet_cpu_isa())))"
    }

    func run(inputs: [CPUBuffer], outputs: [CPUBuffer], context: CPURunContext) throws {
        let (bounds, packed, taps) = (self.bounds, self.packed, geometry.taps)
        let channels = inputs[0].layout.channels
        try runThroughIndirection(inputs[0], outputs[0], geometry: geometry, elementSize: 4, padByte: 0, context: context) { count, pointers, out in
            octet_dwconv_f32(
                channels, count, taps, pointers, packed.pointer.assumingMemoryBound(to: Float.self),
                out.assumingMemoryBound(to: Float.self), channels * 4, bounds.min, bounds.max)
        }
    }
}

/// Output bounds of a float layer with a fused Relu or Clip (other activations are never fused).
func floatBounds(_ activation: Activation?) -> (min: Float, max: Float) {
    switch activation {
    case .relu?: (0, .infinity)
    case let .clip(lo, hi)?: (lo, hi)
    case nil, .sigmoid?, .tanh?, .leakyRelu?, .hardSigmoid?, .hardSwish?, .erf?, .gelu?, .sqrt?, .exp?: (-.infinity, .infinity)
    }
}

/// The driver of the window kernels that read through an indirection buffer (depthwise convolutions, 8-bit max
/// pooling): the table built once per arena (padding taps point at a pixel of `padByte` bytes), then the kernel
/// over output pixels on all threads.
func runThroughIndirection(
    _ x: CPUBuffer, _ y: CPUBuffer, geometry: WindowGeometry, elementSize: Int, padByte: UInt8, context: CPURunContext,
    kernel: (Int, UnsafePointer<UnsafeRawPointer>, UnsafeMutableRawPointer) -> Void
) throws {
    let channels = x.layout.channels
    let pixels = y.batch * y.layout.height * y.layout.width
    let taps = geometry.taps
    let zeroBytes = channels * elementSize
    let pointerBytes = pixels * taps * MemoryLayout<UnsafeRawPointer>.stride
    // The table points into the arena, which stays put while the batch size does: build it once.
    let table = context.cached(bytes: pointerBytes + zeroBytes + 64) { memory in
        let zero = memory + pointerBytes
        zero.initializeMemory(as: UInt8.self, repeating: padByte, count: zeroBytes)
        depthwiseIndirection(
            input: x.base, batch: x.batch, height: x.layout.height, width: x.layout.width, pixelBytes: channels * elementSize,
            geometry: geometry, outHeight: y.layout.height, outWidth: y.layout.width, zero: zero,
            into: memory.bindMemory(to: UnsafeRawPointer.self, capacity: pixels * taps))
    }
    let pointers = table.assumingMemoryBound(to: UnsafeRawPointer.self)
    let stride = channels * elementSize
    context.pool.run(pixels, granularity: 4) { range in
        kernel(range.count, pointers + range.lowerBound * taps, y.base + range.lowerBound * stride)
    }
}
