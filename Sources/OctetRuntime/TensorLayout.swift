import OctetCore
import OctetQuantization

/// How the backends store a tensor (the CPU in host memory, CUDA in device memory): rank-4 activations as NHWC
/// (channels contiguous, the layout the GEMM and depthwise kernels want); every other rank row-major. Element
/// type from the plan: 4 bytes for float32, 1 for int8 and uint8.
public struct TensorLayout: Sendable {
    /// Shape per sample (the logical NCHW shape without the batch axis).
    public var sampleShape: [Int]
    public var dataType: DataType
    public var quantization: TensorQuantization?

    public var isNHWC: Bool { sampleShape.count == 3 }
    public var elementSize: Int { dataType == .float32 ? 4 : 1 }
    public var elementsPerSample: Int { sampleShape.reduce(1, *) }
    public var bytesPerSample: Int { elementsPerSample * elementSize }

    // The pixel view, rows of contiguous channels, which the GEMM, pooling and channel kernels walk: an NHWC
    // tensor's own H, W and C; any other rank as `height` rows of its last axis (`width` 1), so a fully connected
    // layer over the last axis of a rank-3 tensor ([N, tokens, features]) is the same GEMM as over a rank-2 one.

    /// The contiguous innermost axis: C of an NHWC tensor, the last axis of any other.
    public var channels: Int { isNHWC ? sampleShape[0] : (sampleShape.last ?? 1) }
    /// H of an NHWC tensor; of any other, the rows of its last axis per sample.
    public var height: Int { isNHWC ? sampleShape[1] : elementsPerSample / max(channels, 1) }
    public var width: Int { isNHWC ? sampleShape[2] : 1 }

    public func logicalShape(batch: Int) -> [Int] { [batch] + sampleShape }

    /// The logical shape and the element stride of each logical axis in this physical layout (NHWC for rank 4,
    /// else row-major), the stride 0 for an axis of size 1 (so it broadcasts), both padded at the front to `rank`
    /// (size 1, stride 0): how a kernel that walks logical coordinates over physical memory (MatMul) indexes it.
    public func broadcastStrides(batch: Int, rank: Int) -> (shape: [Int], strides: [Int]) {
        let shape = logicalShape(batch: batch)
        let strides = zip(shape, physicalStrides(batch: batch)).map { $0 == 1 ? 0 : $1 }
        let pad = rank - shape.count
        return (Array(repeating: 1, count: pad) + shape, Array(repeating: 0, count: pad) + strides)
    }

    /// The element stride of each logical axis in this physical layout (NHWC for rank 4, else row-major).
    public func physicalStrides(batch: Int) -> [Int] {
        let shape = logicalShape(batch: batch)
        guard isNHWC else { return rowMajorStrides(shape) }
        let (c, h, w) = (shape[1], shape[2], shape[3])
        return [h * w * c, 1, w * c, c]
    }

    public init(sampleShape: [Int], dataType: DataType, quantization: TensorQuantization?) {
        self.sampleShape = sampleShape
        self.dataType = dataType
        self.quantization = quantization
    }
}

/// A tensor in host memory in its physical layout: a CPU buffer during execution, or a staging copy of a
/// device buffer. Converts to and from logical (NCHW) order.
public struct HostTensor {
    public var base: UnsafeMutableRawPointer
    public var layout: TensorLayout
    public var batch: Int

    public init(base: UnsafeMutableRawPointer, layout: TensorLayout, batch: Int) {
        self.base = base
        self.layout = layout
        self.batch = batch
    }

    public var bytes: Int { layout.bytesPerSample * batch }
    public var count: Int { layout.elementsPerSample * batch }

    public var floats: UnsafeMutablePointer<Float> { base.assumingMemoryBound(to: Float.self) }
    public var bytePointer: UnsafeMutablePointer<UInt8> { base.assumingMemoryBound(to: UInt8.self) }

    /// Reads the buffer in logical (NCHW) order.
    public func logicalValue() -> TensorValue {
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
    public func store(_ value: TensorValue) {
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
