import COctetCPUKernels
import OctetCore
import OctetQuantization
import OctetRuntime

/// Quantize, dequantize or requantize every element (both sides share the layout).
struct ReformatLayer: CPULayer {
    let input: TensorQuantization?
    let output: TensorQuantization?
    /// Quantizing float runs in C (octet_quantize_f32); the other conversions are Swift.
    var kernelName: String { "reformat_\(name(input))_to_\(name(output))__\(input == nil && output != nil ? CPUBackend.isa : "swift")" }

    private func name(_ q: TensorQuantization?) -> String { q.map { $0.isSigned ? "s8" : "u8" } ?? "f32" }

    func run(inputs: [CPUBuffer], outputs: [CPUBuffer], context: CPURunContext) throws {
        let x = inputs[0], y = outputs[0]
        let (input, output) = (self.input, self.output)
        context.pool.run(x.count, granularity: 4096) { range in
            switch (input, output) {
            case let (nil, q?):
                // QuantizationMath.quantize (a true division, NaN as 0) in C with SIMD: Swift's loop did not
                // vectorize, and was 4.6 % of MobileNetV2's time at batch 1 (pointwise_*.c).
                var parameters = octet_quantize_params(scale: q.scale, lo: q.relativeBounds.min, hi: q.relativeBounds.max, zero_point: q.zeroPoint)
                octet_quantize_f32(range.count, x.floats + range.lowerBound, y.bytePointer + range.lowerBound, &parameters)
            case let (q?, nil):
                for i in range { y.floats[i] = QuantizationMath.dequantize(storedValue(x.bytePointer[i], q), q) }
            case let (qi?, qo?):
                for i in range {
                    y.bytePointer[i] = UInt8(truncatingIfNeeded: QuantizationMath.requantize(storedValue(x.bytePointer[i], qi), from: qi, to: qo))
                }
            case (nil, nil):
                for i in range { y.floats[i] = x.floats[i] }
            }
        }
    }
}

@inline(__always)
func storedValue(_ byte: UInt8, _ q: TensorQuantization) -> Int32 {
    q.isSigned ? Int32(Int8(bitPattern: byte)) : Int32(byte)
}

/// Any unary activation on a quantized tensor, exactly, as a 256-entry table (QuantizationMath.lookupTable).
struct LookupTableLayer: CPULayer {
    let table: [UInt8]
    let input: TensorQuantization
    let kernelName = "lut_8bit__swift"

    init(_ activation: Activation, input: TensorQuantization, output: TensorQuantization) {
        self.input = input
        table = QuantizationMath.lookupTable(input: input, output: output) { activation($0) }.map { UInt8(truncatingIfNeeded: $0) }
    }

    func run(inputs: [CPUBuffer], outputs: [CPUBuffer], context: CPURunContext) throws {
        let x = inputs[0].bytePointer, y = outputs[0].bytePointer
        let offset = input.isSigned ? 128 : 0
        table.withUnsafeBufferPointer { t in
            let tableBox = UnsafeSendable(t)
            context.pool.run(inputs[0].count, granularity: 4096) { range in
                for i in range {
                    let index = input.isSigned ? Int(Int8(bitPattern: x[i])) + offset : Int(x[i])
                    y[i] = tableBox.value[index]
                }
            }
        }
    }
}

/// A float activation applied to every element.
struct FloatActivationLayer: CPULayer {
    let activation: Activation
    let kernelName = "activation_f32__swift"

    func run(inputs: [CPUBuffer], outputs: [CPUBuffer], context: CPURunContext) throws {
        let x = inputs[0].floats, y = outputs[0].floats
        let activation = self.activation
        context.pool.run(inputs[0].count, granularity: 4096) { range in for i in range { y[i] = activation(x[i]) } }
    }
}

/// Elementwise Add / Sub / Mul of two tensors of the same shape (same layout), float or quantized with the
/// reference arithmetic; an optional fused Relu/Clip.
struct SameShapeElementwiseLayer: CPULayer {
    let operation: ElementwiseOperation
    /// The INT8 arithmetic, or nil for float tensors.
    let arithmetic: QuantizedBinaryArithmetic?
    let activation: Activation?
    var kernelName: String { "eltwise_\(operation.rawValue)_\(arithmetic == nil ? "f32" : "q8")__swift" }

    func run(inputs buffers: [CPUBuffer], outputs: [CPUBuffer], context: CPURunContext) throws {
        let a = buffers[0], b = buffers[1], y = outputs[0]
        let op = operation, activation = self.activation, arithmetic = self.arithmetic
        if let arithmetic {
            let (qa, qb) = (arithmetic.a, arithmetic.b)
            context.pool.run(a.count, granularity: 4096) { range in
                for i in range {
                    let q = arithmetic.apply(storedValue(a.bytePointer[i], qa), storedValue(b.bytePointer[i], qb))
                    y.bytePointer[i] = UInt8(truncatingIfNeeded: q)
                }
            }
        } else {
            context.pool.run(a.count, granularity: 4096) { range in
                for i in range {
                    var r = op(a.floats[i], b.floats[i])
                    if let activation { r = activation(r) }
                    y.floats[i] = r
                }
            }
        }
    }
}

/// Concatenation along the channel axis of NHWC tensors (or the last axis of 2-D ones): per pixel, each
/// input's channels in turn, requantized to the output's scale when quantized.
struct ChannelConcatLayer: CPULayer {
    let inputQuantizations: [TensorQuantization?]
    let output: TensorQuantization?
    var kernelName: String { "concat_channels_\(output == nil ? "f32" : "q8")__swift" }

    func run(inputs: [CPUBuffer], outputs: [CPUBuffer], context: CPURunContext) throws {
        let y = outputs[0]
        let outChannels = y.layout.channels
        let pixels = y.count / outChannels
        let output = self.output, qs = inputQuantizations
        context.pool.run(pixels, granularity: 64) { range in
            for pixel in range {
                var offset = 0
                for (index, x) in inputs.enumerated() {
                    let c = x.count / pixels
                    if let output, let q = qs[index] {
                        for i in 0..<c {
                            let v = QuantizationMath.requantize(storedValue(x.bytePointer[pixel * c + i], q), from: q, to: output)
                            y.bytePointer[pixel * outChannels + offset + i] = UInt8(truncatingIfNeeded: v)
                        }
                    } else {
                        for i in 0..<c { y.floats[pixel * outChannels + offset + i] = x.floats[pixel * c + i] }
                    }
                    offset += c
                }
            }
        }
    }
}

/// A reshape whose input and output hold their elements in the same physical order: a copy.
struct CopyLayer: CPULayer {
    let kernelName = "copy__swift"

    func run(inputs: [CPUBuffer], outputs: [CPUBuffer], context: CPURunContext) throws {
        outputs[0].base.copyMemory(from: inputs[0].base, byteCount: inputs[0].bytes)
    }
}

/// Layers without a native NHWC kernel (Softmax, Transpose, Slice, broadcasting elementwise, Scale, …):
/// read the inputs in logical order, run the reference implementation, write the result back. Named in
/// the build report so users see which layers take this path.
struct LogicalFallbackLayer: CPULayer {
    let kernelName: String
    let evaluate: @Sendable ([TensorValue]) throws -> TensorValue

    func run(inputs: [CPUBuffer], outputs: [CPUBuffer], context: CPURunContext) throws {
        let value = try evaluate(inputs.map { $0.logicalValue() })
        outputs[0].store(value)
    }
}
