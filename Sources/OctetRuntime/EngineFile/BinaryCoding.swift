import Foundation
import OctetCore

/// Appends little-endian values to a byte array: the one writer of engine files and timing caches
/// (docs/engine-format.md). Counts and lengths are unsigned 64-bit, strings are UTF-8 with their byte length first.
public struct BinaryWriter: Sendable {
    public private(set) var bytes: [UInt8] = []
    /// The engine file format a plan is written in: the newest, or an older one where a test writes a file
    /// of that version to check it still reads.
    var planFormat = EngineFile.formatVersion

    public init() {}

    public mutating func u8(_ value: UInt8) { bytes.append(value) }
    public mutating func bool(_ value: Bool) { bytes.append(value ? 1 : 0) }
    public mutating func u32(_ value: UInt32) { append(value.littleEndian) }
    public mutating func i32(_ value: Int32) { append(value.littleEndian) }
    public mutating func u64(_ value: UInt64) { append(value.littleEndian) }
    public mutating func i64(_ value: Int) { append(Int64(value).littleEndian) }
    public mutating func f32(_ value: Float) { append(value.bitPattern.littleEndian) }
    public mutating func f64(_ value: Double) { append(value.bitPattern.littleEndian) }
    /// A count of elements (or bytes) that follow.
    public mutating func count(_ value: Int) { u64(UInt64(value)) }

    public mutating func string(_ value: String) {
        let utf8 = Array(value.utf8)
        count(utf8.count)
        bytes.append(contentsOf: utf8)
    }

    public mutating func strings(_ values: [String]) {
        count(values.count)
        for value in values { string(value) }
    }

    public mutating func ints(_ values: [Int]) {
        count(values.count)
        for value in values { i64(value) }
    }

    /// A count, then the values' IEEE-754 bits, little-endian.
    public mutating func floats(_ values: [Float]) {
        count(values.count)
        #if _endian(little)
        values.withUnsafeBytes { bytes.append(contentsOf: $0) }
        #else
        for value in values { f32(value) }
        #endif
    }

    /// A byte count, then the bytes.
    public mutating func blob(_ value: UnsafeRawBufferPointer) {
        count(value.count)
        bytes.append(contentsOf: value)
    }

    public mutating func blob(_ value: [UInt8]) { value.withUnsafeBytes { blob($0) } }

    /// Overwrites 8 bytes at `offset` (a length known only after what follows it was written).
    public mutating func patchU64(_ value: UInt64, at offset: Int) {
        withUnsafeBytes(of: value.littleEndian) { for (i, byte) in $0.enumerated() { bytes[offset + i] = byte } }
    }

    private mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value) { bytes.append(contentsOf: $0) }
    }
}

/// Reads what `BinaryWriter` wrote, checking every read against the end of the data: a truncated or damaged file
/// ends in `OctetError.malformedFile` naming the file and the byte offset, never in a trap. Counts are checked
/// against the bytes that remain (and against `Limits`) before anything is allocated for them.
public struct BinaryReader: Sendable {
    /// The file, for errors.
    public let path: String
    /// The file's bytes (read in place: a file of hundreds of megabytes is not copied).
    private let data: Data
    /// The next byte to read, from the start of the file.
    public private(set) var offset: Int
    /// One past the last byte this reader may read.
    public let end: Int

    public init(_ data: Data, path: String, offset: Int = 0, end: Int? = nil) {
        self.data = data
        self.path = path
        self.offset = offset
        self.end = min(end ?? data.count, data.count)
    }

    public init(_ bytes: [UInt8], path: String, offset: Int = 0, end: Int? = nil) {
        self.init(Data(bytes), path: path, offset: offset, end: end)
    }

    public var remaining: Int { end - offset }
    public var isAtEnd: Bool { offset == end }

    /// The error for malformed content at the current offset.
    public func malformed(_ reason: String) -> OctetError {
        .malformedFile(path: path, reason: "\(reason) (at byte \(offset))")
    }

    private mutating func take(_ n: Int, _ what: String) throws -> Int {
        guard n >= 0, n <= remaining else {
            throw OctetError.malformedFile(path: path, reason: "truncated at byte \(offset): \(what) needs \(n) bytes and \(remaining) remain")
        }
        defer { offset += n }
        return offset
    }

    private mutating func read<T: FixedWidthInteger>(_ type: T.Type, _ what: String) throws -> T {
        let start = try take(MemoryLayout<T>.size, what)
        var value: T = 0
        withUnsafeMutableBytes(of: &value) { target in
            data.withUnsafeBytes { target.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[start..<start + MemoryLayout<T>.size])) }
        }
        return T(littleEndian: value)
    }

    public mutating func u8(_ what: String = "a byte") throws -> UInt8 { try read(UInt8.self, what) }
    public mutating func u32(_ what: String = "a 32-bit integer") throws -> UInt32 { try read(UInt32.self, what) }
    public mutating func i32(_ what: String = "a 32-bit integer") throws -> Int32 { try read(Int32.self, what) }
    public mutating func u64(_ what: String = "a 64-bit integer") throws -> UInt64 { try read(UInt64.self, what) }
    public mutating func i64(_ what: String = "a 64-bit integer") throws -> Int { Int(try read(Int64.self, what)) }
    public mutating func f32(_ what: String = "a float") throws -> Float { Float(bitPattern: try read(UInt32.self, what)) }
    public mutating func f64(_ what: String = "a double") throws -> Double { Double(bitPattern: try read(UInt64.self, what)) }

    public mutating func bool(_ what: String = "a flag") throws -> Bool {
        switch try u8(what) {
        case 0: return false
        case 1: return true
        case let other: throw malformed("\(what) is \(other), neither 0 nor 1")
        }
    }

    /// A count of elements of `elementSize` bytes each that follow: at most `limit`, and at most what the
    /// remaining bytes can hold, so no allocation exceeds the file's size.
    public mutating func count(_ what: String, elementSize: Int, limit: Int = Limits.maxTensorElements) throws -> Int {
        let raw = try u64("the count of \(what)")
        guard raw <= UInt64(limit) else { throw malformed("\(what): count \(raw) is above the limit \(limit)") }
        let n = Int(raw)
        guard n.multipliedReportingOverflow(by: max(elementSize, 1)).partialValue <= remaining, n <= remaining / max(elementSize, 1) else {
            throw OctetError.malformedFile(path: path, reason: "truncated at byte \(offset): \(n) \(what) need more than the \(remaining) bytes that remain")
        }
        return n
    }

    public mutating func string(_ what: String = "a string") throws -> String {
        let n = try count(what, elementSize: 1, limit: 1 << 24)
        let start = try take(n, what)
        guard let text = data.withUnsafeBytes({ String(validating: $0[start..<start + n], as: UTF8.self) }) else {
            throw malformed("\(what) is not UTF-8")
        }
        return text
    }

    public mutating func strings(_ what: String) throws -> [String] {
        let n = try count(what, elementSize: 8, limit: 1 << 24)
        return try (0..<n).map { _ in try string(what) }
    }

    public mutating func ints(_ what: String, limit: Int = 1 << 20) throws -> [Int] {
        let n = try count(what, elementSize: 8, limit: limit)
        return try (0..<n).map { _ in try i64(what) }
    }

    public mutating func floats(_ what: String) throws -> [Float] {
        let n = try count(what, elementSize: 4)
        let start = try take(4 * n, what)
        return [Float](unsafeUninitializedCapacity: n) { buffer, initialized in
            data.withUnsafeBytes { source in
                UnsafeMutableRawBufferPointer(buffer).copyMemory(from: UnsafeRawBufferPointer(rebasing: source[start..<start + 4 * n]))
            }
            #if _endian(big)
            for i in 0..<n { buffer[i] = Float(bitPattern: UInt32(littleEndian: buffer[i].bitPattern)) }
            #endif
            initialized = n
        }
    }

    /// A byte count and the bytes, handed to `body` without a copy.
    public mutating func blob<R>(_ what: String, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        let n = try count(what, elementSize: 1, limit: Int.max)
        let start = try take(n, what)
        return try data.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[start..<start + n])) }
    }

    public mutating func blob(_ what: String) throws -> [UInt8] { try blob(what) { Array($0) } }

    /// A reader of the next `length` bytes (a section), which this reader skips.
    public mutating func section(_ what: String) throws -> BinaryReader {
        let n = try count(what, elementSize: 1, limit: Int.max)
        let start = try take(n, what)
        return BinaryReader(data, path: path, offset: start, end: start + n)
    }

    /// Throws unless every byte was read: trailing bytes mean the writer and reader disagree.
    public func expectEnd(_ what: String) throws {
        guard isAtEnd else { throw malformed("\(remaining) unexpected bytes after \(what)") }
    }
}

/// CRC-32 (IEEE 802.3, the polynomial of zip and PNG, reflected, 0xEDB88320), slicing by sixteen: the engine file's
/// checksum, which catches damage before any section is decoded.
public enum CRC32 {
    /// Sixteen tables of 256 entries, one after the other: table t advances a byte through t more zero bytes.
    private static let tables: [UInt32] = {
        var tables = [UInt32](repeating: 0, count: 16 * 256)
        for i in 0..<256 {
            var c = UInt32(i)
            for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
            tables[i] = c
        }
        for t in 1..<16 {
            for i in 0..<256 { tables[t * 256 + i] = (tables[(t - 1) * 256 + i] >> 8) ^ tables[Int(tables[(t - 1) * 256 + i] & 0xFF)] }
        }
        return tables
    }()

    /// The CRC-32 of `bytes` (`checksum("123456789") == 0xCBF43926`).
    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        tables.withUnsafeBufferPointer { t in
            var crc: UInt32 = 0xFFFF_FFFF
            var i = 0
            let n = bytes.count
            /// The eight bytes of `word` looked up in tables `first`, `first − 1`, ..., `first − 7`.
            @inline(__always) func lookup(_ word: UInt64, _ first: Int) -> UInt32 {
                var x: UInt32 = 0
                for b in 0..<8 { x ^= t[(first - b) * 256 + Int((word >> (8 * UInt64(b))) & 0xFF)] }
                return x
            }
            while i + 16 <= n {
                // Sixteen bytes at once: the running CRC enters with the first four, and byte k goes through table 15 − k.
                let low = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)) ^ UInt64(crc)
                let high = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: i + 8, as: UInt64.self))
                crc = lookup(low, 15) ^ lookup(high, 7)
                i += 16
            }
            while i < n {
                crc = t[Int((crc ^ UInt32(bytes[i])) & 0xFF)] ^ (crc >> 8)
                i += 1
            }
            return ~crc
        }
    }

    public static func checksum(_ bytes: [UInt8]) -> UInt32 { bytes.withUnsafeBytes { checksum($0) } }
}
