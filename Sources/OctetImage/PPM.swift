import Foundation
import OctetCore

/// An 8-bit-per-channel RGB image in host memory, row-major HWC. Images with a larger `maxval` are
/// rescaled to 0…255 (as floats, so no precision is lost before normalization).
public struct RGBImage: Sendable, Equatable {
    public var width: Int
    public var height: Int
    /// `height × width × 3` values in 0…255, row-major, RGB.
    public var pixels: [Float]

    public init(width: Int, height: Int, pixels: [Float]) {
        precondition(pixels.count == width * height * 3)
        self.width = width
        self.height = height
        self.pixels = pixels
    }
}

/// Netpbm PPM reading: binary P6 and text P3, any size, `maxval` up to 65535 (two bytes per sample,
/// big-endian, as the format defines), with `#` comments in the header.
public enum PPM {
    /// Images larger than this are refused as absurd before any allocation.
    public static let maxPixels = 1 << 28

    public static func read(path: String) throws -> RGBImage {
        try decode(try FileReading.contents(of: path, what: "a PPM image file"), path: path)
    }

    /// Decodes PPM bytes; `path` only names the source in errors.
    public static func decode(_ data: Data, path: String = "<data>") throws -> RGBImage {
        let bytes = [UInt8](data)
        func fail(_ reason: String) -> OctetError { .malformedFile(path: path, reason: reason) }
        guard bytes.count >= 2, bytes[0] == UInt8(ascii: "P"), bytes[1] == UInt8(ascii: "6") || bytes[1] == UInt8(ascii: "3")
        else { throw fail("not a PPM image: the file does not start with P6 or P3") }
        let binary = bytes[1] == UInt8(ascii: "6")
        var position = 2

        func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D || b == 0x0B || b == 0x0C }
        /// Next unsigned decimal integer, skipping white space and comments.
        func nextNumber(_ what: String) throws -> Int {
            while position < bytes.count {
                if isSpace(bytes[position]) {
                    position += 1
                } else if bytes[position] == UInt8(ascii: "#") {
                    while position < bytes.count, bytes[position] != 0x0A, bytes[position] != 0x0D { position += 1 }
                } else {
                    break
                }
            }
            var value = 0
            var digits = 0
            while position < bytes.count, bytes[position] >= 0x30, bytes[position] <= 0x39 {
                value = value * 10 + Int(bytes[position] - 0x30)
                digits += 1
                position += 1
                guard value <= 1 << 30 else { throw fail("the \(what) is absurdly large") }
            }
            guard digits > 0 else { throw fail("the header has no valid \(what)") }
            return value
        }

        let width = try nextNumber("width")
        let height = try nextNumber("height")
        let maxValue = try nextNumber("maxval")
        guard width > 0, height > 0 else { throw fail("the image has zero size (\(width)x\(height))") }
        guard width * height <= maxPixels else { throw fail("the image size \(width)x\(height) is absurd") }
        guard maxValue > 0, maxValue <= 65535 else { throw fail("maxval \(maxValue) is outside 1…65535") }
        let count = width * height * 3
        let rescale = Float(255) / Float(maxValue)

        if binary {
            // Exactly one white-space byte separates the header from the samples.
            guard position < bytes.count, isSpace(bytes[position]) else { throw fail("the header is not followed by pixel data") }
            position += 1
            let sampleBytes = maxValue > 255 ? 2 : 1
            let needed = count * sampleBytes
            guard bytes.count - position >= needed else {
                throw fail("the pixel data is short: \(width)x\(height) needs \(needed) bytes, the file has \(bytes.count - position)")
            }
            // Allocated only now: a 20-byte header claiming 2^28 pixels must not cost gigabytes first.
            var pixels = [Float](repeating: 0, count: count)
            for i in 0..<count {
                let raw = sampleBytes == 1
                    ? Int(bytes[position + i])
                    : Int(bytes[position + 2 * i]) << 8 | Int(bytes[position + 2 * i + 1])
                guard raw <= maxValue else { throw fail("sample \(i) is \(raw), above maxval \(maxValue)") }
                pixels[i] = Float(raw) * rescale
            }
            return RGBImage(width: width, height: height, pixels: pixels)
        } else {
            // Each text sample takes at least two bytes (a digit and a separator; the last needs none).
            guard bytes.count - position >= 2 * count - 1 else {
                throw fail("the pixel data is short: \(width)x\(height) needs \(count) samples, the file has at most \((bytes.count - position + 1) / 2)")
            }
            var pixels = [Float](repeating: 0, count: count)
            for i in 0..<count {
                let raw: Int
                do { raw = try nextNumber("sample") } catch {
                    throw fail("the pixel data is short: \(width)x\(height) needs \(count) samples, the file has \(i)")
                }
                guard raw <= maxValue else { throw fail("sample \(i) is \(raw), above maxval \(maxValue)") }
                pixels[i] = Float(raw) * rescale
            }
            return RGBImage(width: width, height: height, pixels: pixels)
        }
    }

    /// Encodes an image as binary P6 with maxval 255 (values rounded and clamped).
    public static func encode(_ image: RGBImage) -> Data {
        var data = Data("P6\n\(image.width) \(image.height)\n255\n".utf8)
        data.append(contentsOf: image.pixels.map { UInt8(max(0, min(255, $0.rounded()))) })
        return data
    }
}
