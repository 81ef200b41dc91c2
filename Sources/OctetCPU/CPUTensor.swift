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
        var result: [T] = []
        result.reserveCapacity(count)
        forEachElement { _, physical in result.append(element(physical)) }
        return result
    }

    /// Writes a logical (NCHW) value into the buffer's physical layout (the network input path, constants,
    /// and layers run on logical data).
    func store(_ value: TensorValue) {
        switch value {
        case let .float(t):
            t.values.withUnsafeBufferPointer { source in forEachElement { floats[$1] = source[$0] } }
        case let .quantized(_, values, _):
            values.withUnsafeBufferPointer { source in forEachElement { bytePointer[$1] = UInt8(truncatingIfNeeded: source[$0]) } }
        }
    }

    /// Visits every element in logical (NCHW) order with its logical and physical (NHWC for rank 4) index.
    @inline(__always)
    private func forEachElement(_ body: (_ logical: Int, _ physical: Int) -> Void) {
        guard layout.isNHWC else {
            for i in 0..<count { body(i, i) }
            return
        }
        let (c, hw) = (layout.sampleShape[0], layout.sampleShape[1] * layout.sampleShape[2])
        var logical = 0
        for n in 0..<batch {
            for ch in 0..<c {
                let base = n * c * hw + ch
                for i in 0..<hw {
                    body(logical, base + i * c)
                    logical += 1
                }
            }
        }
    }
}
