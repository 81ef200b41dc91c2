import Foundation
import OctetCore

/// NumPy `.npy` files (format version 1.0/2.0, little-endian float32 or float64, C order): how tensors are
/// exchanged with other tools (`--save-outputs`, `--load-inputs`).
public enum NumPyFile {
    public static func write(_ tensor: TensorData, to path: String) throws {
        let shapeText = tensor.shape.count == 1 ? "(\(tensor.shape[0]),)" : "(\(tensor.shape.map(String.init).joined(separator: ", ")))"
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shapeText), }"
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
        let length = UInt16(header.utf8.count)
        data.append(contentsOf: [UInt8(length & 0xFF), UInt8(length >> 8)])
        data.append(contentsOf: Array(header.utf8))
        tensor.values.withUnsafeBytes { data.append(contentsOf: $0) }
        do {
            try data.write(to: URL(fileURLWithPath: path))
        } catch {
            throw OctetError.io(path: path, reason: "cannot write the tensor file")
        }
    }

    public static func read(path: String) throws -> TensorData {
        try decode(try FileReading.contents(of: path, what: "a NumPy .npy file"), path: path)
    }

    /// Decodes `.npy` bytes; `path` only names the source in errors.
    public static func decode(_ data: Data, path: String = "<data>") throws -> TensorData {
        let bytes = [UInt8](data)
        func fail(_ reason: String) -> OctetError { .malformedFile(path: path, reason: reason) }
        guard bytes.count >= 10, bytes[0] == 0x93, Array(bytes[1..<6]) == Array("NUMPY".utf8) else {
            throw fail("not a NumPy .npy file")
        }
        let major = bytes[6]
        let (headerLength, headerStart): (Int, Int)
        switch major {
        case 1: (headerLength, headerStart) = (Int(bytes[8]) | Int(bytes[9]) << 8, 10)
        case 2, 3:
            guard bytes.count >= 12 else { throw fail("the header is truncated") }
            (headerLength, headerStart) = (Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24, 12)
        default: throw fail("NumPy format version \(major) is not supported")
        }
        guard bytes.count >= headerStart + headerLength else { throw fail("the header is truncated") }
        let header = String(decoding: bytes[headerStart..<(headerStart + headerLength)], as: UTF8.self)
        func field(_ key: String) -> String? {
            guard let range = header.range(of: "'\(key)':") else { return nil }
            return String(header[range.upperBound...]).trimmingCharacters(in: .whitespaces)
        }
        guard let descr = field("descr"), let order = field("fortran_order"), let shapeField = field("shape") else {
            throw fail("the header lacks descr, fortran_order or shape")
        }
        guard order.hasPrefix("False") else { throw fail("Fortran-ordered arrays are not supported") }
        let elementSize: Int
        if descr.hasPrefix("'<f4'") { elementSize = 4 } else if descr.hasPrefix("'<f8'") { elementSize = 8 } else {
            throw fail("element type \(descr.prefix(6)) is not supported (float32 or float64 expected)")
        }
        guard let open = shapeField.firstIndex(of: "("),
              let close = shapeField[open...].firstIndex(of: ")")
        else {
            throw fail("the shape is malformed")
        }
        let shape = try shapeField[shapeField.index(after: open)..<close].split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            .map { text -> Int in
                guard let v = Int(text), v >= 0, v <= 1 << 30 else { throw fail("the shape is malformed") }
                return v
            }
        let (count, overflow) = shape.reduce((1, false)) { acc, d in
            let (p, o) = acc.0.multipliedReportingOverflow(by: d)
            return (p, acc.1 || o)
        }
        guard !overflow, count <= 1 << 30 else { throw fail("the shape \(shape) is absurd") }
        let start = headerStart + headerLength
        guard bytes.count - start >= count * elementSize else {
            throw fail("the data is short: shape \(shape) needs \(count * elementSize) bytes, the file has \(bytes.count - start)")
        }
        let values: [Float] = bytes.withUnsafeBytes { raw in
            (0..<count).map { i in
                elementSize == 4
                    ? raw.loadUnaligned(fromByteOffset: start + 4 * i, as: Float.self)
                    : Float(raw.loadUnaligned(fromByteOffset: start + 8 * i, as: Double.self))
            }
        }
        return TensorData(shape: shape, values: values)
    }
}
