import Foundation
import Testing
import Octet
import _OctetTestSupport

/// Decoding against Pillow: every fixture's RGB equals `Image.open(f).convert("RGB")` byte for byte
/// (Scripts/make_image_fixtures.py wrote both), and broken files are one-sentence errors naming the file.
@Suite struct ImageDecodingTests {
    static let directory = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/images")

    static func fixture(_ name: String) throws -> Data { try Data(contentsOf: directory.appendingPathComponent(name)) }

    @Test(arguments: [
        ("jpeg_420.jpg", DecodedImage.Format.jpeg), ("jpeg_422.jpg", .jpeg), ("jpeg_444.jpg", .jpeg),
        ("jpeg_progressive.jpg", .jpeg), ("jpeg_gray.jpg", .jpeg), ("jpeg_cmyk.jpg", .jpeg),
        ("png_rgb8.png", .png), ("png_rgb16.png", .png), ("png_gray8.png", .png), ("png_gray16.png", .png),
        ("png_gray1.png", .png), ("png_gray_alpha.png", .png), ("png_palette.png", .png),
        ("png_palette_trns.png", .png), ("png_rgba.png", .png), ("png_interlaced.png", .png),
    ])
    func decodedRGBEqualsPillow(_ name: String, _ format: DecodedImage.Format) throws {
        let path = Self.directory.appendingPathComponent(name).path
        let image = try ImageFile.read(path: path)
        let expected = [UInt8](try Self.fixture(name.split(separator: ".")[0] + ".rgb"))
        #expect(image.format == format)
        #expect(image.width == 67 && image.height == 45)
        let mismatches = zip(image.pixels, expected).enumerated().filter { $0.element.0 != $0.element.1 }
        #expect(image.pixels.count == expected.count)
        #expect(
            mismatches.isEmpty,
            "\(name): \(mismatches.count) bytes differ; first at pixel \(mismatches.first.map { $0.offset / 3 } ?? -1): \(mismatches.first.map { "\($0.element.0) vs Pillow \($0.element.1)" } ?? "")")
    }

    /// PPM keeps working through the same entry point, with the bytes the PPM reader gives.
    @Test func ppmThroughTheGeneralReader() throws {
        let source = [UInt8](try Self.fixture("source_67x45.rgb"))
        let ppm = PPM.encode(RGBImage(width: 67, height: 45, pixels: source.map(Float.init)))
        let image = try ImageFile.decode(ppm, path: "coffee.ppm")
        #expect(image.format == .ppm)
        #expect(image.pixels == source)
    }

    /// The format comes from the magic bytes, not the name.
    @Test func formatIsChosenByMagicNotName() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("octet-magic-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let misnamed = directory.appendingPathComponent("really_a_png.jpg")
        try Self.fixture("png_rgb8.png").write(to: misnamed)
        let image = try ImageFile.read(path: misnamed.path)
        #expect(image.format == .png)
        #expect(image.pixels == [UInt8](try Self.fixture("png_rgb8.rgb")))
    }

    /// One sentence naming the file, as an OctetError, for each kind of broken input.
    @Test(arguments: [
        ("truncated JPEG", "jpeg_420.jpg", "truncated"),
        ("truncated progressive JPEG", "jpeg_progressive.jpg", "truncated"),
        ("corrupt JPEG header", "jpeg_444.jpg", "bad sampling"),
        ("corrupt JPEG data", "jpeg_444.jpg", "marker in scan"),
        ("truncated PNG", "png_rgb8.png", "truncated"),
        ("corrupt PNG", "png_rgb8.png", "corrupt"),
        ("absurd JPEG", "jpeg_420.jpg", "absurd"),
        ("absurd PNG", "png_rgb8.png", "absurd"),
        ("wrong magic", "png_rgb8.png", "magic"),
        ("empty", "png_rgb8.png", "empty"),
    ])
    func brokenFilesAreOneSentenceNamingTheFile(_ label: String, _ source: String, _ damage: String) throws {
        var bytes = [UInt8](try Self.fixture(source))
        var expectedPhrase: String
        switch damage {
        case "truncated":
            bytes = Array(bytes.prefix(bytes.count * 2 / 3))
            expectedPhrase = source.hasSuffix(".png") ? "truncated" : "Premature end of JPEG file"
        case "bad sampling":
            // The SOF0 marker's first sampling-factor byte to 0 (libjpeg: "Bogus sampling factors").
            let sof = try #require(bytes.indices.first { bytes[$0] == 0xFF && bytes[$0 + 1] == 0xC0 })
            bytes[sof + 11] = 0
            expectedPhrase = "cannot decode the JPEG image"
        case "marker in scan":
            // A restart marker in a scan without restart intervals: libjpeg warns and would pad with gray.
            bytes.replaceSubrange(bytes.count / 2..<bytes.count / 2 + 2, with: [0xFF, 0xD5])
            expectedPhrase = "cannot decode the JPEG image"
        case "corrupt":
            // Overwrite the middle of the compressed data (past the headers) with a repeating pattern.
            for i in bytes.count / 2..<bytes.count / 2 + 64 { bytes[i] = UInt8(truncatingIfNeeded: i &* 151) }
            expectedPhrase = source.hasSuffix(".png") ? "cannot decode the PNG image" : "cannot decode the JPEG image"
        case "absurd":
            if source.hasSuffix(".png") {
                // IHDR width and height (bytes 16…23) to 100000 x 100000, with the chunk's CRC recomputed.
                let size: [UInt8] = [0x00, 0x01, 0x86, 0xA0]
                bytes.replaceSubrange(16..<20, with: size)
                bytes.replaceSubrange(20..<24, with: size)
                let crc = crc32(bytes[12..<29])
                bytes.replaceSubrange(29..<33, with: [UInt8(crc >> 24), UInt8(crc >> 16 & 0xFF), UInt8(crc >> 8 & 0xFF), UInt8(crc & 0xFF)])
            } else {
                // The SOF0 marker's height and width fields to 65000 x 65000.
                let sof = try #require(bytes.indices.first { bytes[$0] == 0xFF && bytes[$0 + 1] == 0xC0 })
                bytes.replaceSubrange(sof + 5..<sof + 9, with: [0xFD, 0xE8, 0xFD, 0xE8])
            }
            expectedPhrase = "more than the limit of 2^28"
        case "magic":
            bytes = Array("GIF89a not supported".utf8)
            expectedPhrase = "not a JPEG, PNG or PPM image"
        default:
            bytes = []
            expectedPhrase = "empty"
        }
        let path = "/tmp/octet-test/\(label.replacingOccurrences(of: " ", with: "_"))"
        do {
            let image = try ImageFile.decode(Data(bytes), path: path)
            Issue.record("\(label): decoded a \(image.width)x\(image.height) image instead of failing")
        } catch let error as OctetError {
            let sentence = error.description
            #expect(sentence.hasPrefix(path + ": "), "\(label): \(sentence)")
            #expect(sentence.contains(expectedPhrase), "\(label): \(sentence)")
            #expect(sentence.hasSuffix(".") && !sentence.contains("\n"), "\(label): \(sentence)")
        }
    }

    /// Seeded mutations (flipped bytes, cut tails, overwritten runs) of every fixture: each decodes or throws an
    /// OctetError naming the file; none may crash, hang or exit (the C error handlers' longjmp paths).
    @Test(arguments: ["jpeg_420.jpg", "jpeg_progressive.jpg", "jpeg_gray.jpg", "jpeg_cmyk.jpg", "png_rgb8.png", "png_palette_trns.png", "png_interlaced.png", "png_rgb16.png"])
    func mutatedFilesNeverCrash(_ name: String) throws {
        let original = [UInt8](try Self.fixture(name))
        var generator = SeededGenerator(seed: UInt64(original.count))
        var decoded = 0, refused = 0
        for _ in 0..<150 {
            var bytes = original
            switch Int.random(in: 0..<3, using: &generator) {
            case 0:
                for _ in 0..<Int.random(in: 1...8, using: &generator) {
                    bytes[Int.random(in: 2..<bytes.count, using: &generator)] ^= UInt8.random(in: 1...255, using: &generator)
                }
            case 1: bytes = Array(bytes.prefix(Int.random(in: 3..<bytes.count, using: &generator)))
            default:
                let start = Int.random(in: 2..<bytes.count - 1, using: &generator)
                let value = UInt8.random(in: 0...255, using: &generator)
                for i in start..<min(bytes.count, start + Int.random(in: 1...40, using: &generator)) { bytes[i] = value }
            }
            do {
                let image = try ImageFile.decode(Data(bytes), path: "mutant-\(name)")
                #expect(image.pixels.count == image.width * image.height * 3)
                decoded += 1
            } catch let error as OctetError {
                #expect(error.description.hasPrefix("mutant-\(name): "), "\(error)")
                refused += 1
            }
        }
        #expect(decoded + refused == 150)
        #expect(refused > 0, "\(name): no mutation was refused; the corruption checks never fired")
    }

    @Test func unreadableFileIsAnError() throws {
        #expect(throws: OctetError.io(path: "/nonexistent/photo.jpg", reason: "cannot read an image file: no such file")) {
            try ImageFile.read(path: "/nonexistent/photo.jpg")
        }
    }
}

/// PNG's CRC-32 (ISO 3309), for rewriting a header in tests.
func crc32<C: Collection>(_ bytes: C) -> UInt32 where C.Element == UInt8 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes {
        crc ^= UInt32(byte)
        for _ in 0..<8 { crc = crc & 1 == 1 ? 0xEDB8_8320 ^ (crc >> 1) : crc >> 1 }
    }
    return crc ^ 0xFFFF_FFFF
}
