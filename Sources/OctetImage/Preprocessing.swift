import OctetCore

/// How pixel values in 0…255 become network inputs. The default is TensorRT sampleINT8API's.
public enum Normalization: String, Sendable, CaseIterable, CustomStringConvertible {
    /// `x · 2/255 − 1`, into [−1, 1]: TensorRT's sampleINT8API (the default).
    case sample
    /// `(x/255 − mean) / std` with ImageNet's mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225):
    /// torchvision models.
    case imagenet
    /// `(x − 128) / 128`: TFLite-converted MobileNets.
    case mobilenet
    /// `(x − 127) / 128`: TF EfficientNet-Lite.
    case efficientnet
    /// `x / 255`, into [0, 1].
    case unit
    /// `x` unchanged, in [0, 255].
    case raw

    /// `(offset, scale)` per channel: `y = (x − offset[c]) · scale[c]`.
    public var affine: (offset: [Float], scale: [Float]) {
        switch self {
        case .sample: ([127.5, 127.5, 127.5], [2 / 255, 2 / 255, 2 / 255])
        case .imagenet:
            ([0.485 * 255, 0.456 * 255, 0.406 * 255], [1 / (0.229 * 255), 1 / (0.224 * 255), 1 / (0.225 * 255)])
        case .mobilenet: ([128, 128, 128], [1 / 128, 1 / 128, 1 / 128])
        case .efficientnet: ([127, 127, 127], [1 / 128, 1 / 128, 1 / 128])
        case .unit: ([0, 0, 0], [1 / 255, 1 / 255, 1 / 255])
        case .raw: ([0, 0, 0], [1, 1, 1])
        }
    }

    /// The formula as the arithmetic every input path shares.
    public var channelNormalization: ChannelNormalization { .offsetScale(offset: affine.offset, scale: affine.scale) }

    public var description: String {
        switch self {
        case .sample: "x*2/255-1 (TensorRT sample)"
        case .imagenet: "(x/255-mean)/std (ImageNet)"
        case .mobilenet: "(x-128)/128"
        case .efficientnet: "(x-127)/128"
        case .unit: "x/255"
        case .raw: "x"
        }
    }
}

extension RGBImage {
    /// Bilinear resize with half-pixel centres (the convention of OpenCV's and PIL's bilinear filters, without
    /// antialiasing).
    public func resized(width newWidth: Int, height newHeight: Int) -> RGBImage {
        if newWidth == width, newHeight == height { return self }
        var out = [Float](repeating: 0, count: newWidth * newHeight * 3)
        let sx = Float(width) / Float(newWidth), sy = Float(height) / Float(newHeight)
        for y in 0..<newHeight {
            let fy = max(0, (Float(y) + 0.5) * sy - 0.5)
            let y0 = min(Int(fy), height - 1), y1 = min(y0 + 1, height - 1)
            let wy = fy - Float(y0)
            for x in 0..<newWidth {
                let fx = max(0, (Float(x) + 0.5) * sx - 0.5)
                let x0 = min(Int(fx), width - 1), x1 = min(x0 + 1, width - 1)
                let wx = fx - Float(x0)
                for c in 0..<3 {
                    func p(_ yy: Int, _ xx: Int) -> Float { pixels[(yy * width + xx) * 3 + c] }
                    let top = p(y0, x0) * (1 - wx) + p(y0, x1) * wx
                    let bottom = p(y1, x0) * (1 - wx) + p(y1, x1) * wx
                    out[(y * newWidth + x) * 3 + c] = top * (1 - wy) + bottom * wy
                }
            }
        }
        return RGBImage(width: newWidth, height: newHeight, pixels: out)
    }

    /// The network input for this image: resized to `height × width` if needed, normalized, HWC → CHW, with
    /// a batch axis of 1: shape `[1, 3, height, width]`.
    public func inputTensor(height targetHeight: Int, width targetWidth: Int, normalization: Normalization = .sample)
        -> TensorData
    {
        let image = resized(width: targetWidth, height: targetHeight)
        let normalize = normalization.channelNormalization
        let plane = targetWidth * targetHeight
        var values = [Float](repeating: 0, count: 3 * plane)
        for i in 0..<plane {
            for c in 0..<3 { values[c * plane + i] = normalize(image.pixels[i * 3 + c], channel: c) }
        }
        return TensorData(shape: [1, 3, targetHeight, targetWidth], values: values)
    }
}
