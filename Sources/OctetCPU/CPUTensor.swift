import OctetCore
import OctetQuantization
import OctetRuntime

/// How the CPU backend stores a tensor: rank-4 activations as NHWC (channels contiguous, the layout the
/// GEMM and depthwise kernels want); every other rank row-major. Element type from the plan.
struct CPUTensorLayout: Sendable {
    /// Shape per sample (the logical NCHW shape without the batch axis).
    var sampleShape: [Int]
    var dataType: DataType
    var quantization: TensorQuantization?

    var isNHWC: Bool { sampleShape.count == 3 }
    var elementSize: Int { dataType == .float32 ? 4 : 1 }
    var elementsPerSample: Int { sampleShape.reduce(1, *) }
    var bytesPerSample: Int { elementsPerSample * elementSize }
    var channels: Int { sampleShape.first ?? 1 }
    var height: Int { isNHWC ? sampleShape[1] : 1 }
    var width: Int { isNHWC ? sampleShape[2] : 1 }

    func logicalShape(batch: Int) -> [Int] { [batch] + sampleShape }
}

/// A tensor's memory during one execution.
struct CPUBuffer {
    var base: UnsafeMutableRawPointer
    var layout: CPUTensorLayout
    var batch: Int

    var bytes: Int { layout.bytesPerSample * batch }
    var count: Int { layout.elementsPerSample * batch }

    var floats: UnsafeMutablePointer<Float> { base.assumingMemoryBound(to: Float.self) }
    var bytePointer: UnsafeMutablePointer<UInt8> { base.assumingMemoryBound(to: UInt8.self) }

    /// Reads the buffer in logical (NCHW) order.
    func logicalValue() -> TensorValue {
        let shape = layout.logicalShape(batch: batch)
        switch layout.dataType {
        case .float32:
            return .float(TensorData(shape: shape, values: gatherLogical { floats[$0] }))
        case .int8:
            return .quantized(shape: shape, values: gatherLogical { Int32(Int8(bitPattern: bytePointer[$0])) }, quantizationOrDefault)
        default:
            return .quantized(shape: shape, values: gatherLogical { Int32(bytePointer[$0]) }, quantizationOrDefault)
        }
    }

    private var quantizationOrDefault: TensorQuantization {
        layout.quantization ?? TensorQuantization(range: 1, unsigned: layout.dataType == .uint8)
    }

    /// Elements in logical order, read through `element(physicalIndex)`.
    private func gatherLogical<T>(_ element: (Int) -> T) -> [T] {
        guard layout.isNHWC else { return (0..<count).map(element) }
        let (c, hw) = (layout.sampleShape[0], layout.sampleShape[1] * layout.sampleShape[2])
        var result: [T] = []
        result.reserveCapacity(count)
        for n in 0..<batch {
            for ch in 0..<c {
                let base = n * c * hw + ch
                for i in 0..<hw { result.append(element(base + i * c)) }
            }
        }
        return result
    }

    /// Writes a logical (NCHW) value into the buffer's physical layout.
    func store(_ value: TensorValue) {
        if case let .float(t) = value, layout.isNHWC {
            // The network input path: NCHW → NHWC, plane by plane.
            let (c, hw) = (layout.sampleShape[0], layout.sampleShape[1] * layout.sampleShape[2])
            t.values.withUnsafeBufferPointer { source in
                for n in 0..<batch {
                    for ch in 0..<c {
                        let from = source.baseAddress! + (n * c + ch) * hw
                        let to = floats + n * c * hw + ch
                        for i in 0..<hw { to[i * c] = from[i] }
                    }
                }
            }
            return
        }
        let order = logicalToPhysical()
        switch value {
        case let .float(t):
            for (logical, physical) in order.enumerated() { floats[physical] = t.values[logical] }
        case let .quantized(_, values, _):
            for (logical, physical) in order.enumerated() { bytePointer[physical] = UInt8(truncatingIfNeeded: values[logical]) }
        }
    }

    /// For each logical (NCHW) element index, its physical element index.
    func logicalToPhysical() -> [Int] {
        guard layout.isNHWC else { return Array(0..<count) }
        let (c, h, w) = (layout.sampleShape[0], layout.sampleShape[1], layout.sampleShape[2])
        var order = [Int](repeating: 0, count: count)
        var index = 0
        for n in 0..<batch {
            for ch in 0..<c {
                for y in 0..<h {
                    for x in 0..<w {
                        order[index] = ((n * h + y) * w + x) * c + ch
                        index += 1
                    }
                }
            }
        }
        return order
    }
}
