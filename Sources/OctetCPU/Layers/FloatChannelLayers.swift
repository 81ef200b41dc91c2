import Foundation
import OctetCore
import OctetRuntime

/// FP32 layers that act along the channel axis of NHWC data (channels contiguous per pixel), so they run
/// natively instead of through the logical fallback.

/// Per-channel affine `y = x · scale[c] + shift[c]` (an unfolded BatchNormalization).
struct FloatScaleLayer: CPULayer {
    let scale: [Float]
    let shift: [Float]
    let kernelName = "scale_f32_nhwc__swift"

    func run(inputs: [CPUBuffer], outputs: [CPUBuffer], context: CPURunContext) throws {
        let x = inputs[0].floats, y = outputs[0].floats
        let c = scale.count
        let pixels = inputs[0].count / c
        scale.withUnsafeBufferPointer { s in
            shift.withUnsafeBufferPointer { b in
                let (s, b) = (UnsafeSendable(s), UnsafeSendable(b))
                context.pool.run(pixels, granularity: 64) { range in
                    for p in range {
                        for i in 0..<c { y[p * c + i] = x[p * c + i] * s.value[i] + b.value[i] }
                    }
                }
            }
        }
    }
}

/// `x[n, c, h, w] ⊙ s[n, c, 1, 1]` for Mul/Add/Sub/Div (squeeze-and-excitation gates), broadcasting a
/// per-sample channel vector over the pixels.
/// `x op s` (or `s op x` when `scalarFirst`) for a one-element constant `s`, with an optional fused activation.
struct FloatScalarBinaryLayer: CPULayer {
    let operation: ElementwiseOperation
    let scalar: Float
    let scalarFirst: Bool
    let activation: Activation?
    var kernelName: String { "eltwise_\(operation.rawValue)_scalar_f32__swift" }

    func run(inputs: [CPUBuffer], outputs: [CPUBuffer], context: CPURunContext) throws {
        let input = inputs[scalarFirst ? 1 : 0]
        let x = input.floats, y = outputs[0].floats
        let op = operation, s = scalar, first = scalarFirst, activation = self.activation
        context.pool.run(input.count, granularity: 4096) { range in
            for i in range {
                var r = first ? op(s, x[i]) : op(x[i], s)
                if let activation { r = activation(r) }
                y[i] = r
            }
        }
    }
}

struct FloatChannelBroadcastLayer: CPULayer {
    let operation: ElementwiseOperation
    /// True when the channel vector is the first operand.
    let vectorFirst: Bool
    let activation: Activation?
    let kernelName = "eltwise_channel_broadcast_f32_nhwc__swift"

    func run(inputs: [CPUBuffer], outputs: [CPUBuffer], context: CPURunContext) throws {
        let (tensor, vector) = vectorFirst ? (inputs[1], inputs[0]) : (inputs[0], inputs[1])
        let x = tensor.floats, v = vector.floats, y = outputs[0].floats
        let c = tensor.layout.channels, pixelsPerSample = tensor.layout.height * tensor.layout.width
        let op = operation, first = vectorFirst, activation = self.activation
        context.pool.run(tensor.batch * pixelsPerSample, granularity: 64) { range in
            for p in range {
                let n = p / pixelsPerSample
                for i in 0..<c {
                    let (a, b) = first ? (v[n * c + i], x[p * c + i]) : (x[p * c + i], v[n * c + i])
                    var r = op(a, b)
                    if let activation { r = activation(r) }
                    y[p * c + i] = r
                }
            }
        }
    }
}

/// Softmax over the last axis of a 2-D tensor (classifier heads), max-subtracted as the reference.
struct FloatSoftmaxLayer: CPULayer {
    let kernelName = "softmax_f32_rows__swift"

    func run(inputs: [CPUBuffer], outputs: [CPUBuffer], context: CPURunContext) throws {
        let x = inputs[0].floats, y = outputs[0].floats
        let length = inputs[0].layout.sampleShape.last ?? 1
        let rows = inputs[0].count / max(length, 1)
        context.pool.run(rows) { range in
            for r in range { FloatMath.softmax(x + r * length, y + r * length, length: length, stride: 1) }
        }
    }
}
