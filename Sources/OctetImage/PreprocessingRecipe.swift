import Foundation
import OctetCore

/// How a decoded image becomes a network input: geometry (resize, crop) and per-channel normalization, as
/// named recipes that reproduce the pipelines models were trained with.
///
/// ```swift
/// let recipe = try PreprocessingRecipe.named("torchvision", height: 224, width: 224)
/// let x = try recipe.inputTensor(try ImageFile.read(path: "photo.jpg"), path: "photo.jpg")  // [1, 3, 224, 224]
/// ```
///
/// Sizes follow the model: the crop is the input's H×W, and a recipe that resizes the shorter side first takes
/// `round(min(H, W) / 0.875)` (256 for 224, 342 for 299, 146 for 128), as torchvision's 224 → 256.
///
/// ### See Also
/// - ``ImageFile``, ``PillowResample``, docs/preprocessing.md
public struct PreprocessingRecipe: Sendable, Equatable {
    /// The named recipes. `sample` is the default: TensorRT sampleINT8API's preprocessing, unchanged.
    public enum Name: String, Sendable, CaseIterable {
        case torchvision, inception, sample, tf, none

        /// The formula, as `--help` and the `[I]` line print it.
        public var formula: String {
            switch self {
            case .torchvision:
                "shorter side to 256 (Pillow's antialiased bilinear, as torchvision's Resize), centre crop 224, (x/255 - mean)/std with ImageNet mean 0.485,0.456,0.406 and std 0.229,0.224,0.225"
            case .inception: "as torchvision but shorter side to 342, centre crop 299 (torchvision's Inception v3)"
            case .sample: "bilinear stretch to the input's HxW (aspect not kept), x*2/255 - 1 (TensorRT sampleINT8API)"
            case .tf: "central crop of 0.875 of each side, bilinear stretch to HxW, x*2/255 - 1 in [-1, 1] (TF/Keras Inception-style)"
            case .none: "no resize, no crop, x as decoded in 0..255 (the image must already be HxW)"
            }
        }
    }

    /// Where the pixels of the input come from.
    public enum Geometry: Sendable, Equatable {
        /// Half-pixel bilinear without antialiasing straight to the input size (``RGBImage/resized(width:height:)``).
        case stretch
        /// Shorter side to `shorterSide` with ``PillowResample`` (nil: no resize), then a centre crop of the
        /// input size at torchvision's offsets (`round((size − crop) / 2)`, half to even).
        case resizeThenCenterCrop(shorterSide: Int?)
        /// TF's `central_crop(fraction)`, then ``stretch``.
        case centralFractionThenStretch(Double)
        /// The decoded pixels as they are; the image must already have the input size.
        case unchanged
    }

    /// How 0…255 samples become network values.
    public enum PixelNormalization: Sendable, Equatable {
        /// `(x/255 − mean[c]) / std[c]`, in `Float`, the operations of torchvision's `ToTensor` + `Normalize`.
        case meanStd(mean: [Float], std: [Float])
        /// One of the formulas of `--normalization`, computed exactly as before recipes existed.
        case formula(Normalization)

        /// The arithmetic itself, shared with the engines that take 8-bit pixels.
        public var channelNormalization: ChannelNormalization {
            switch self {
            case let .meanStd(mean, std): .meanStd(mean: mean, std: std)
            case let .formula(formula): formula.channelNormalization
            }
        }
    }

    public static let imageNetMean: [Float] = [0.485, 0.456, 0.406]
    public static let imageNetStandardDeviation: [Float] = [0.229, 0.224, 0.225]

    /// The recipe's name as printed (`torchvision`, or `torchvision + --mean` when overridden).
    public var name: String
    public var geometry: Geometry
    public var normalization: PixelNormalization
    /// The network input's size, which is the crop.
    public var height: Int
    public var width: Int

    public init(name: String, geometry: Geometry, normalization: PixelNormalization, height: Int, width: Int) {
        self.name = name
        self.geometry = geometry
        self.normalization = normalization
        self.height = height
        self.width = width
    }

    /// `round(min(H, W) / 0.875)`: torchvision's resize-to-crop ratio (256 → 224), for any input size.
    public static func shorterSide(forCropHeight height: Int, width: Int) -> Int {
        Int((Double(min(height, width)) / 0.875).rounded())
    }

    /// The named recipe for an input of `height × width`.
    public static func named(_ name: Name, height: Int, width: Int) -> PreprocessingRecipe {
        let imageNet = PixelNormalization.meanStd(mean: imageNetMean, std: imageNetStandardDeviation)
        let resize = shorterSide(forCropHeight: height, width: width)
        switch name {
        case .torchvision, .inception:
            return PreprocessingRecipe(name: name.rawValue, geometry: .resizeThenCenterCrop(shorterSide: resize), normalization: imageNet, height: height, width: width)
        case .sample:
            return PreprocessingRecipe(name: name.rawValue, geometry: .stretch, normalization: .formula(.sample), height: height, width: width)
        case .tf:
            return PreprocessingRecipe(name: name.rawValue, geometry: .centralFractionThenStretch(0.875), normalization: .formula(.sample), height: height, width: width)
        case .none:
            return PreprocessingRecipe(name: name.rawValue, geometry: .unchanged, normalization: .formula(.raw), height: height, width: width)
        }
    }

    /// What this recipe does, in one line (for the `[I]` line of `octet run`).
    public var summary: String {
        var steps: [String] = []
        switch geometry {
        case .stretch: steps.append("bilinear stretch to \(width)x\(height)")
        case let .resizeThenCenterCrop(side?):
            steps.append("shorter side to \(side) (Pillow antialiased bilinear), centre crop \(width)x\(height)")
        case .resizeThenCenterCrop(nil): steps.append("centre crop \(width)x\(height), no resize")
        case .unchanged: steps.append("no resize or crop (\(width)x\(height) images only)")
        case let .centralFractionThenStretch(fraction):
            steps.append("central crop \(fraction), bilinear stretch to \(width)x\(height)")
        }
        switch normalization {
        case let .meanStd(mean, std):
            func list(_ v: [Float]) -> String { v.map { "\($0)" }.joined(separator: ",") }
            steps.append("(x/255 - mean)/std, mean \(list(mean)), std \(list(std))")
        case let .formula(formula): steps.append(formula.description)
        }
        return "\(name): " + steps.joined(separator: ", ")
    }

    /// The pixels of the network input, `height × width` RGB, still in 0…255 (floats for the stretch recipes).
    public func geometryApplied(to image: DecodedImage, path: String) throws -> RGBImage {
        switch geometry {
        case .unchanged:
            guard image.width == width, image.height == height else {
                throw OctetError.invalidInput(reason: "\(path) is \(image.width)x\(image.height), and recipe \(name) needs exactly the input size \(width)x\(height)")
            }
            return image.floatImage
        case .stretch:
            return image.floatImage.resized(width: width, height: height)
        case let .centralFractionThenStretch(fraction):
            // tf.image.central_crop: start = int((size − size·fraction) / 2), size − 2·start kept.
            let top = Int((Double(image.height) - Double(image.height) * fraction) / 2)
            let left = Int((Double(image.width) - Double(image.width) * fraction) / 2)
            let crop = Self.crop(image, x0: left, y0: top, width: image.width - 2 * left, height: image.height - 2 * top)
            return crop.floatImage.resized(width: width, height: height)
        case let .resizeThenCenterCrop(side):
            var (resizedW, resizedH) = (image.width, image.height)
            if let side {
                // torchvision: the shorter side becomes `side`, the longer int(side · long / short).
                if image.width <= image.height {
                    (resizedW, resizedH) = (side, Int(Double(side * image.height) / Double(image.width)))
                } else {
                    (resizedW, resizedH) = (Int(Double(side * image.width) / Double(image.height)), side)
                }
            }
            guard resizedW >= width, resizedH >= height else {
                throw OctetError.invalidInput(
                    reason: "\(path) is \(image.width)x\(image.height)\(side == nil ? "" : ", \(resizedW)x\(resizedH) after the resize"), smaller than the \(width)x\(height) crop of recipe \(name)")
            }
            // torchvision's CenterCrop offsets: int(round((size − crop) / 2)), Python's round (half to even).
            let top = Int((Double(resizedH - height) / 2).rounded(.toNearestOrEven))
            let left = Int((Double(resizedW - width) / 2).rounded(.toNearestOrEven))
            let pixels: DecodedImage
            if resizedW == image.width, resizedH == image.height {
                pixels = Self.crop(image, x0: left, y0: top, width: width, height: height)
            } else {
                pixels = PillowResample.resize(image, width: resizedW, height: resizedH, window: (left, top, width, height))
            }
            return pixels.floatImage
        }
    }

    /// The network input `[1, 3, height, width]`: geometry, then normalization, HWC → CHW.
    public func inputTensor(_ image: DecodedImage, path: String) throws -> TensorData {
        let pixels = try geometryApplied(to: image, path: path)
        let plane = width * height
        let normalize = normalization.channelNormalization
        var values = [Float](repeating: 0, count: 3 * plane)
        for i in 0..<plane {
            for c in 0..<3 { values[c * plane + i] = normalize(pixels.pixels[i * 3 + c], channel: c) }
        }
        return TensorData(shape: [1, 3, height, width], values: values)
    }

    /// The 8-bit pixels of the network input, `height × width` RGB, for `ExecutionContext.execute(pixels:)`:
    /// what `inputTensor` computes before its normalization, which the engine then applies (on the GPU where
    /// it runs). Only for recipes whose geometry keeps whole pixel values (torchvision's resize and crop, none):
    /// a bilinear stretch makes fractional values that 8 bits cannot carry.
    /// - Throws: `OctetError.invalidInput` for a stretching recipe or an image the recipe cannot use.
    public func pixelBatch(_ images: [DecodedImage], paths: [String]) throws -> PixelBatch {
        var pixels: [UInt8] = []
        pixels.reserveCapacity(images.count * height * width * 3)
        for (image, path) in zip(images, paths) {
            let applied = try geometryApplied(to: image, path: path)
            for value in applied.pixels {
                guard let byte = UInt8(exactly: value) else {
                    throw OctetError.invalidInput(reason: "recipe \(name) resamples \(path) to fractional pixel values; 8-bit pixel input needs a recipe that keeps whole values (torchvision, inception, none)")
                }
                pixels.append(byte)
            }
        }
        return try PixelBatch(shape: [images.count, height, width, 3], pixels: pixels, normalization: normalization.channelNormalization)
    }

    static func crop(_ image: DecodedImage, x0: Int, y0: Int, width: Int, height: Int) -> DecodedImage {
        if x0 == 0, y0 == 0, width == image.width, height == image.height { return image }
        var pixels = [UInt8]()
        pixels.reserveCapacity(width * height * 3)
        for y in y0..<y0 + height {
            let start = (y * image.width + x0) * 3
            pixels.append(contentsOf: image.pixels[start..<start + width * 3])
        }
        return DecodedImage(width: width, height: height, pixels: pixels, format: image.format)
    }
}
