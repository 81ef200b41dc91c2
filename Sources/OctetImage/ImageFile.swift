import COctetImageCodecs
import Foundation
import OctetCore

/// An image as a classifier's preprocessing sees it: 8-bit RGB, row-major HWC, no alpha — the bytes of Pillow's
/// `Image.open(f).convert("RGB")`.
public struct DecodedImage: Sendable, Equatable {
    /// The container the pixels came from, told by the file's first bytes.
    public enum Format: String, Sendable, CaseIterable {
        case jpeg = "JPEG"
        case png = "PNG"
        case ppm = "PPM"
    }

    public var width: Int
    public var height: Int
    /// `height × width × 3` bytes, row-major, RGB.
    public var pixels: [UInt8]
    public var format: Format

    public init(width: Int, height: Int, pixels: [UInt8], format: Format) {
        precondition(pixels.count == width * height * 3)
        self.width = width
        self.height = height
        self.pixels = pixels
        self.format = format
    }

    /// The same pixels as floats in 0…255, for the float resizer of the `sample` and `tf` recipes.
    public var floatImage: RGBImage {
        RGBImage(width: width, height: height, pixels: pixels.map { Float($0) })
    }
}

/// One entry point for every image Octet reads: JPEG (libjpeg-turbo), PNG (libpng) and PPM, chosen by the
/// file's magic bytes, never by its name.
///
/// ```swift
/// let image = try ImageFile.read(path: "photo.jpg")   // "-" reads standard input
/// ```
///
/// Every failure is an ``OctetError`` whose sentence names the file: unreadable, wrong magic, corrupt or
/// truncated data, or a header claiming more than ``maxPixels`` pixels (refused before any pixel memory is
/// allocated). Conversions follow Pillow's `convert("RGB")`; docs/preprocessing.md lists them and the one
/// place Octet differs (16-bit grayscale PNG).
///
/// ### See Also
/// - ``PreprocessingRecipe``
public enum ImageFile {
    /// 2^28 pixels (about 268 megapixels, 805 MB of RGB): far above any photo, far below what would exhaust memory.
    public static let maxPixels = PPM.maxPixels

    /// The name standard input goes by in error messages when the path is `-`.
    public static let standardInputName = "<standard input>"

    /// Reads and decodes the file at `path`; `-` means standard input.
    public static func read(path: String) throws -> DecodedImage {
        if path == "-" {
            let data = FileHandle.standardInput.readDataToEndOfFile()
            return try decode(data, path: standardInputName)
        }
        return try decode(try FileReading.contents(of: path, what: "an image file"), path: path)
    }

    /// The format the first bytes announce, or nil.
    public static func format(of data: Data) -> DecodedImage.Format? {
        let head = [UInt8](data.prefix(8))
        if head.starts(with: [0xFF, 0xD8, 0xFF]) { return .jpeg }
        if head.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if head.count >= 2, head[0] == UInt8(ascii: "P"), head[1] == UInt8(ascii: "6") || head[1] == UInt8(ascii: "3") { return .ppm }
        return nil
    }

    /// Decodes image bytes; `path` only names the source in errors.
    public static func decode(_ data: Data, path: String) throws -> DecodedImage {
        guard !data.isEmpty else { throw OctetError.malformedFile(path: path, reason: "the image file is empty") }
        guard let format = format(of: data) else {
            throw OctetError.malformedFile(path: path, reason: "not a JPEG, PNG or PPM image (the first bytes are \(hex(data.prefix(4))))")
        }
        switch format {
        case .ppm:
            let image = try PPM.decode(data, path: path)
            // maxval 255 (every PPM Octet writes) is exact; other maxvals round to the nearest 8-bit level.
            return DecodedImage(
                width: image.width, height: image.height, pixels: image.pixels.map { UInt8(max(0, min(255, $0.rounded()))) },
                format: .ppm)
        case .jpeg: return try decodeWithCodec(data, path: path, format: format, octet_jpeg_decode)
        case .png: return try decodeWithCodec(data, path: path, format: format, octet_png_decode)
        }
    }

    private typealias Codec = (
        UnsafePointer<UInt8>?, Int, UnsafeMutablePointer<UInt8>?, Int, UnsafeMutablePointer<UInt32>?,
        UnsafeMutablePointer<UInt32>?, UnsafeMutablePointer<CChar>?, Int
    ) -> Int32

    /// Header first (dimensions only, no allocation), the size check, then the decode into the final array.
    private static func decodeWithCodec(_ data: Data, path: String, format: DecodedImage.Format, _ codec: Codec) throws -> DecodedImage {
        try data.withUnsafeBytes { raw -> DecodedImage in
            let bytes = raw.bindMemory(to: UInt8.self)
            var message = [CChar](repeating: 0, count: 512)
            var width: UInt32 = 0, height: UInt32 = 0
            func failure() -> OctetError {
                let text = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                return .malformedFile(path: path, reason: "cannot decode the \(format.rawValue) image: \(text)")
            }
            guard codec(bytes.baseAddress, bytes.count, nil, 0, &width, &height, &message, message.count) == 0 else { throw failure() }
            let (w, h) = (Int(width), Int(height))
            guard w > 0, h > 0 else { throw OctetError.malformedFile(path: path, reason: "the \(format.rawValue) image has zero size (\(w)x\(h))") }
            guard w * h <= maxPixels else {
                throw OctetError.malformedFile(
                    path: path, reason: "the \(format.rawValue) header claims \(w)x\(h) pixels, more than the limit of 2^28 (\(maxPixels))")
            }
            var status: Int32 = 0
            let pixels = [UInt8](unsafeUninitializedCapacity: w * h * 3) { buffer, initialized in
                status = codec(bytes.baseAddress, bytes.count, buffer.baseAddress, buffer.count, &width, &height, &message, message.count)
                initialized = status == 0 ? w * h * 3 : 0
            }
            guard status == 0 else { throw failure() }
            return DecodedImage(width: w, height: h, pixels: pixels, format: format)
        }
    }

    private static func hex(_ bytes: Data) -> String {
        bytes.map { String(format: "%02X", $0) }.joined(separator: " ")
    }
}
