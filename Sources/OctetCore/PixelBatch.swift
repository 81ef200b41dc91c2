/// How 0…255 pixel values become network input values, channel by channel. Each case is a fixed sequence of
/// IEEE single-precision operations, so every place that applies it — the image preprocessing on the host, a
/// GPU kernel fed 8-bit pixels — produces the same floats, and an INT8 engine the same integers.
public enum ChannelNormalization: Sendable, Equatable {
    /// `(p / 255 − mean[c]) / std[c]`: torchvision's `ToTensor` followed by `Normalize`.
    case meanStd(mean: [Float], std: [Float])
    /// `(p − offset[c]) · scale[c]`: the fixed formulas of `--normalization` (TensorRT's sample: offset 127.5,
    /// scale 2/255).
    case offsetScale(offset: [Float], scale: [Float])

    /// The number of channels it has parameters for.
    public var channels: Int {
        switch self {
        case let .meanStd(mean, _): mean.count
        case let .offsetScale(offset, _): offset.count
        }
    }

    /// The value of pixel sample `p` (0…255; fractional after a float resize) of channel `c`.
    @inlinable
    public func callAsFunction(_ p: Float, channel c: Int) -> Float {
        switch self {
        case let .meanStd(mean, std): (p / 255 - mean[c]) / std[c]
        case let .offsetScale(offset, scale): (p - offset[c]) * scale[c]
        }
    }
}

/// A batch of 8-bit images as decoders and cameras deliver them: `[N, H, W, C]`, channels interleaved, with the
/// normalization that turns them into the network's float input. A quarter of the bytes of the float32 NCHW
/// input; an engine on a GPU uploads these bytes and normalizes on the device (`ExecutionContext.execute(pixels:)`).
public struct PixelBatch: Sendable, Equatable {
    /// `[N, H, W, C]`.
    public let shape: [Int]
    /// `N·H·W·C` samples in row-major NHWC order.
    public let pixels: [UInt8]
    public let normalization: ChannelNormalization

    /// - Throws: `OctetError.invalidInput` when the shape is not `[N, H, W, C]` with positive sizes, the pixel
    ///   count does not match it, or the normalization has parameters for another number of channels.
    public init(shape: [Int], pixels: [UInt8], normalization: ChannelNormalization) throws {
        guard shape.count == 4, shape.allSatisfy({ $0 > 0 }) else {
            throw OctetError.invalidInput(reason: "a pixel batch has shape [N, H, W, C] with positive sizes, got \(shape)")
        }
        let count = shape.reduce(1) { $0.multipliedReportingOverflow(by: $1).overflow ? Int.max : $0 * $1 }
        guard pixels.count == count else {
            throw OctetError.invalidInput(reason: "a pixel batch of shape \(shape) holds \(count) samples, got \(pixels.count)")
        }
        guard normalization.channels == shape[3] else {
            throw OctetError.invalidInput(reason: "the normalization has parameters for \(normalization.channels) channels, the pixels have \(shape[3])")
        }
        self.shape = shape
        self.pixels = pixels
        self.normalization = normalization
    }

    public var batch: Int { shape[0] }
    /// `[N, C, H, W]`: the shape of the network input these pixels become.
    public var tensorShape: [Int] { [shape[0], shape[3], shape[1], shape[2]] }

    /// The float32 NCHW network input: normalized, channels moved to axis 1.
    public func floatTensor() -> TensorData {
        let (n, plane, channels) = (shape[0], shape[1] * shape[2], shape[3])
        var values = [Float](repeating: 0, count: pixels.count)
        for image in 0..<n {
            for i in 0..<plane {
                for c in 0..<channels {
                    let p = pixels[(image * plane + i) * channels + c]
                    values[(image * channels + c) * plane + i] = normalization(Float(p), channel: c)
                }
            }
        }
        return TensorData(shape: tensorShape, values: values)
    }
}
