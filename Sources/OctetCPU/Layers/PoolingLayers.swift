import COctetCPUKernels
import OctetCore
import OctetQuantization
import OctetRuntime

/// Max and average pooling over NHWC data, in float or on stored 8-bit values (same arithmetic as the
/// reference: max of stored values, input and output sharing one quantization; average as
/// `Float(Σ (q − z_x)) · (s_x/s_y) / divisor`, rounded half to even relative to z_y, then `+ z_y`).
struct PoolingLayer: CPULayer {
    let pooling: PoolingParameters
    let input: TensorQuantization?
    let output: TensorQuantization?
    var kernelName: String {
        "pool_\(pooling.kind.rawValue)\(pooling.isGlobal ? "_global" : "")_\(input.map { $0.isSigned ? "s8" : "u8" } ?? "f32")_nhwc__\(sumsInC || maxInC ? CPUBackend.isa : "swift")"
    }

    /// Global average pooling of 8-bit data sums its channels in C (octet_sum_pixels_8bit); windowed max pooling
    /// of 8-bit data is C too (octet_maxpool_8bit); the rest is Swift.
    private var sumsInC: Bool { pooling.isGlobal && pooling.kind == .average && input != nil && output != nil }
    private var maxInC: Bool { !pooling.isGlobal && pooling.kind == .max && input != nil }

    func run(inputs: [CPUBuffer], outputs: [CPUBuffer], context: CPURunContext) throws {
        let x = inputs[0], y = outputs[0]
        let (h, w, c) = (x.layout.height, x.layout.width, x.layout.channels)
        let (oh, ow) = (y.layout.height, y.layout.width)
        let p = pooling
        let kernel = p.isGlobal ? [h, w] : p.kernel, strides = p.isGlobal ? [1, 1] : p.strides
        let dilations = p.isGlobal ? [1, 1] : p.dilations
        let padsBegin = p.isGlobal ? [0, 0] : p.padsBegin, padsEnd = p.isGlobal ? [0, 0] : p.padsEnd
        let isMax = p.kind == .max
        let multiplier = (input?.scale ?? 1) / (output?.scale ?? 1)
        let signed = input?.isSigned ?? false
        let inputZero = input?.zeroPoint ?? 0
        let (lo, hi) = output?.relativeBounds ?? (0, 0)
        let pixels = x.batch * oh * ow
        if maxInC, let input {
            // Max of stored bytes, through the depthwise convolutions' indirection: padding taps read a pixel of
            // the type's minimum, which never wins (and is the result where every tap is padding, as below).
            let geometry = WindowGeometry(kernel: p.kernel, strides: p.strides, dilations: p.dilations, padsBegin: p.padsBegin)
            let (taps, signed) = (geometry.taps, input.isSigned ? Int32(1) : 0)
            try runThroughIndirection(x, y, geometry: geometry, elementSize: 1, padByte: input.isSigned ? 0x80 : 0, context: context) { count, pointers, out in
                octet_maxpool_8bit(c, count, taps, pointers, signed, out.assumingMemoryBound(to: UInt8.self), c)
            }
            return
        }
        if isMax, let input {
            // Global max of stored bytes: no arithmetic, so compare the 8-bit values directly.
            context.pool.run(pixels, granularity: 8) { range in
                for pixel in range {
                    let n = pixel / (oh * ow), oy = (pixel / ow) % oh, ox = pixel % ow
                    let target = y.bytePointer + pixel * c
                    var first = true
                    for ky in 0..<kernel[0] {
                        let iy = oy * strides[0] - padsBegin[0] + ky * dilations[0]
                        if iy < 0 || iy >= h { continue }
                        for kx in 0..<kernel[1] {
                            let ix = ox * strides[1] - padsBegin[1] + kx * dilations[1]
                            if ix < 0 || ix >= w { continue }
                            let source = x.bytePointer + ((n * h + iy) * w + ix) * c
                            if first {
                                target.update(from: source, count: c)
                                first = false
                            } else if input.isSigned {
                                let s = UnsafeMutableRawPointer(source).assumingMemoryBound(to: Int8.self)
                                let t = UnsafeMutableRawPointer(target).assumingMemoryBound(to: Int8.self)
                                for i in 0..<c { t[i] = max(t[i], s[i]) }
                            } else {
                                for i in 0..<c { target[i] = max(target[i], source[i]) }
                            }
                        }
                    }
                    if first { target.initialize(repeating: input.isSigned ? 0x80 : 0, count: c) }
                }
            }
            return
        }
        if sumsInC, let output {
            // Global average pooling of 8-bit data: each image's channel sums in C with SIMD (the general loop
            // below does not vectorize: it was 4.3 % of MobileNetV2's time at batch 1), then the same rounding.
            // Σ (q − z_x) = Σ q − count · z_x, wrapping like the kernel's int32 sums.
            let count = h * w, divisor = max(count, 1)
            context.pool.run(x.batch) { range in
                var sums = [Int32](repeating: 0, count: c)
                for n in range {
                    sums.withUnsafeMutableBufferPointer { buffer in
                        buffer.update(repeating: 0)
                        octet_sum_pixels_8bit(count, c, x.bytePointer + n * count * c, signed ? 1 : 0, buffer.baseAddress!)
                    }
                    for i in 0..<c {
                        let sum = sums[i] &- Int32(truncatingIfNeeded: count) &* inputZero
                        let q = QuantizationMath.averagePoolingOutput(sum: sum, divisor: divisor, multiplier: multiplier, bounds: (lo, hi), zeroPoint: output.zeroPoint)
                        y.bytePointer[n * c + i] = UInt8(truncatingIfNeeded: q)
                    }
                }
            }
            return
        }
        context.pool.run(pixels) { range in
            var accF = [Float](repeating: 0, count: c)
            var accI = [Int32](repeating: 0, count: c)
            for pixel in range {
                let n = pixel / (oh * ow), oy = (pixel / ow) % oh, ox = pixel % ow
                for i in 0..<c { accF[i] = -.infinity; accI[i] = isMax ? Int32.min : 0 }
                var valid = 0, padded = 0
                for ky in 0..<kernel[0] {
                    let iy = oy * strides[0] - padsBegin[0] + ky * dilations[0]
                    for kx in 0..<kernel[1] {
                        let ix = ox * strides[1] - padsBegin[1] + kx * dilations[1]
                        if iy < h + padsEnd[0], ix < w + padsEnd[1] { padded += 1 }
                        if iy < 0 || iy >= h || ix < 0 || ix >= w { continue }
                        valid += 1
                        let offset = ((n * h + iy) * w + ix) * c
                        if input == nil {
                            let source = x.floats + offset
                            if isMax { for i in 0..<c { accF[i] = max(accF[i], source[i]) } }
                            else {
                                if valid == 1 { for i in 0..<c { accF[i] = 0 } }
                                for i in 0..<c { accF[i] += source[i] }
                            }
                        } else {
                            let source = x.bytePointer + offset
                            for i in 0..<c {
                                let v = signed ? Int32(Int8(bitPattern: source[i])) : Int32(source[i])
                                accI[i] = isMax ? max(accI[i], v) : accI[i] + (v - inputZero)
                            }
                        }
                    }
                }
                let divisor = max(p.countIncludePad ? padded : valid, 1)
                let target = pixel * c
                if let output {
                    for i in 0..<c {
                        let q: Int32 = isMax
                            ? accI[i]
                            : QuantizationMath.averagePoolingOutput(sum: accI[i], divisor: divisor, multiplier: multiplier, bounds: (lo, hi), zeroPoint: output.zeroPoint)
                        y.bytePointer[target + i] = UInt8(truncatingIfNeeded: q)
                    }
                } else {
                    for i in 0..<c { y.floats[target + i] = isMax ? accF[i] : (valid == 0 ? 0 : accF[i] / Float(divisor)) }
                }
            }
        }
    }
}
