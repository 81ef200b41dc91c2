import Foundation
import Testing
import Octet

/// Inputs the libFuzzer harnesses in Fuzz/ found (or that guard what they found), each failing with one
/// sentence instead of a trap or a huge allocation (docs/RELIABILITY.md).
@Suite struct ParserFuzzRegressionTests {
    /// FuzzNumPy: a `)` before the `(` of the shape made the slice's bounds cross (Swift trap, SIGILL).
    @Test func npyShapeWithClosingParenthesisFirst() throws {
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
        let header = "{'descr': '<f4', 'fortran_order': False, 'shape': )3, 4(, }\n"
        data.append(contentsOf: [UInt8(header.utf8.count), 0])
        data.append(contentsOf: Array(header.utf8))
        #expect(throws: OctetError.malformedFile(path: "x.npy", reason: "the shape is malformed")) {
            try NumPyFile.decode(data, path: "x.npy")
        }
    }

    /// FuzzPPM ran at 1,700 inputs a second because a short file claiming up to 2^28 pixels allocated (and
    /// zeroed) gigabytes before the length check; the check now comes first, for P3 text too.
    @Test func ppmHeaderClaimingAHugeImageFailsBeforeAllocating() throws {
        #expect(throws: OctetError.malformedFile(path: "x.ppm", reason: "the pixel data is short: 16384x16384 needs 805306368 bytes, the file has 3")) {
            try PPM.decode(Data("P6\n16384 16384\n255\nabc".utf8), path: "x.ppm")
        }
        #expect(throws: OctetError.malformedFile(path: "x.ppm", reason: "the pixel data is short: 16384x16384 needs 805306368 samples, the file has at most 3")) {
            try PPM.decode(Data("P3\n16384 16384\n255\n1 2 3".utf8), path: "x.ppm")
        }
        // The smallest valid text image still reads: its last sample needs no separator.
        let image = try PPM.decode(Data("P3 1 1 255 1 2 3".utf8), path: "x.ppm")
        #expect(image.pixels == [1, 2, 3])
    }
}
