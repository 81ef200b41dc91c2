import Foundation
import OctetCore
import SwiftProtobuf

/// Reading `.onnx` files: protobuf decoding, external data, and initializer conversion.
enum ModelFile {
    /// Decodes the model at `path`. Errors name the file and say what is wrong with it.
    static func load(path: String) throws -> Onnx_ModelProto {
        try decode(try FileReading.contents(of: path, what: "an ONNX model file"), path: path)
    }

    /// Decodes model bytes; `path` only names the source in errors.
    static func decode(_ data: Data, path: String) throws -> Onnx_ModelProto {
        guard !data.isEmpty else { throw OctetError.malformedFile(path: path, reason: "the file is empty, not an ONNX model") }
        let model: Onnx_ModelProto
        do {
            var options = BinaryDecodingOptions()
            options.messageDepthLimit = 64
            model = try Onnx_ModelProto(serializedBytes: data, options: options)
        } catch {
            throw OctetError.malformedFile(
                path: path, reason: "not a valid ONNX model: protobuf decoding failed (\(error))")
        }
        guard model.hasGraph, !model.graph.node.isEmpty else {
            throw OctetError.malformedFile(path: path, reason: "not a valid ONNX model: it contains no graph nodes")
        }
        guard model.irVersion > 0 else {
            throw OctetError.malformedFile(path: path, reason: "not a valid ONNX model: it has no IR version")
        }
        return model
    }

    /// Converts an initializer or `Constant` value to a `ConstantTensor`, reading external data relative to
    /// `directory` (nil: the model came from memory, and external data is refused).
    static func constant(_ proto: Onnx_TensorProto, directory: String?) throws -> ConstantTensor {
        let shape = proto.dims.map { Int($0) }
        guard shape.allSatisfy({ $0 >= 0 }) else { throw invalid(proto, "has negative dimensions \(shape)") }
        // The non-zero dims are bounded too: a zero elsewhere must not let later shape arithmetic overflow.
        guard let nonZero = Limits.product(shape.filter { $0 != 0 }), nonZero <= Limits.maxTensorElements else {
            throw invalid(proto, "with shape \(shape) has more than 2^31 elements, Octet's limit for one tensor")
        }
        let (count, overflow) = shape.reduce((1, false)) { acc, d in
            let (p, o) = acc.0.multipliedReportingOverflow(by: d)
            return (p, acc.1 || o)
        }
        guard !overflow, count <= Limits.maxTensorElements else {
            throw invalid(proto, "with shape \(shape) has more than 2^31 elements, Octet's limit for one tensor")
        }
        guard let type = Onnx_TensorProto.DataType(rawValue: Int(proto.dataType)) else {
            throw invalid(proto, "has unknown data type \(proto.dataType)")
        }
        guard elementSize(type) > 0 else { throw invalid(proto, "has data type \(type) which Octet does not support") }
        let raw: Data?
        if proto.dataLocation == .external {
            raw = try externalData(proto, directory: directory, bytes: count * elementSize(type))
        } else {
            raw = proto.rawData.isEmpty ? nil : proto.rawData
        }
        func decode<T>(_: T.Type, _ typed: [T]) throws -> [T] {
            if let raw {
                guard raw.count == count * MemoryLayout<T>.size else {
                    throw invalid(proto, "holds \(raw.count) bytes of data, \(shape) needs \(count * MemoryLayout<T>.size)")
                }
                return raw.withUnsafeBytes { bytes in (0..<count).map { bytes.loadUnaligned(fromByteOffset: $0 * MemoryLayout<T>.size, as: T.self) } }
            }
            guard typed.count == count else {
                throw invalid(proto, "holds \(typed.count) values, \(shape) needs \(count)")
            }
            return typed
        }
        switch type {
        case .float:
            return ConstantTensor(shape: shape, floats: try decode(Float.self, proto.floatData))
        case .double:
            return ConstantTensor(shape: shape, floats: try decode(Double.self, proto.doubleData).map { Float($0) })
        case .float16:
            let bits: [UInt16] = try decode(UInt16.self, proto.int32Data.map { UInt16(truncatingIfNeeded: $0) })
            return ConstantTensor(shape: shape, floats: bits.map { Float(halfBits: $0) })
        case .int64:
            return ConstantTensor(shape: shape, ints: try decode(Int64.self, proto.int64Data).map { .known(Int($0)) })
        case .int32:
            return ConstantTensor(shape: shape, ints: try decode(Int32.self, proto.int32Data).map { .known(Int($0)) })
        case .int8:
            let v: [Int8] = try decode(Int8.self, proto.int32Data.map { Int8(truncatingIfNeeded: $0) })
            var c = ConstantTensor(shape: shape, ints: v.map { .known(Int($0)) })
            c.sourceType = type
            return c
        case .uint8, .bool:
            let v: [UInt8] = try decode(UInt8.self, proto.int32Data.map { UInt8(truncatingIfNeeded: $0) })
            var c = ConstantTensor(shape: shape, ints: v.map { .known(Int($0)) })
            c.sourceType = type
            return c
        default:
            throw invalid(proto, "has data type \(type) which Octet does not support")
        }
    }

    private static func invalid(_ proto: Onnx_TensorProto, _ reason: String) -> OctetError {
        .invalidModel(reason: "tensor '\(proto.name)' \(reason)")
    }

    /// Bytes per element of the stored types Octet reads (0 for the others, which `constant` refuses).
    private static func elementSize(_ type: Onnx_TensorProto.DataType) -> Int {
        switch type {
        case .double, .int64: 8
        case .float, .int32: 4
        case .float16: 2
        case .int8, .uint8, .bool: 1
        default: 0
        }
    }

    /// Reads the bytes of an initializer stored outside the model (ONNX external data: `location`,
    /// `offset`, `length`, relative to the model's directory). As ONNX Runtime does, the file must lie inside
    /// the model's directory: an absolute location, `..` or a symbolic link leading out of it is refused, so
    /// a model cannot make Octet read arbitrary files.
    /// - Parameter bytes: what the tensor's dims and type need; a larger range is never read.
    private static func externalData(_ proto: Onnx_TensorProto, directory: String?, bytes expected: Int) throws -> Data {
        var entries: [String: String] = [:]
        for entry in proto.externalData { entries[entry.key] = entry.value }
        guard let location = entries["location"], !location.isEmpty else {
            throw invalid(proto, "is stored externally but names no location")
        }
        guard let directory else {
            throw invalid(proto, "is stored externally in '\(location)', and a model read from memory has no directory to find it in")
        }
        guard !location.hasPrefix("/") else {
            throw invalid(proto, "names external data by an absolute path '\(location)'; it must be relative to the model's directory")
        }
        let path = directory + "/" + location
        guard let root = realPath(directory) else {
            throw OctetError.io(path: directory, reason: "cannot resolve the model's directory")
        }
        guard let resolved = realPath(path) else {
            throw OctetError.io(path: path, reason: "cannot open the external data of tensor '\(proto.name)': no such file")
        }
        guard resolved.hasPrefix(root == "/" ? "/" : root + "/") else {
            throw invalid(proto, "names external data '\(location)' that resolves to \(resolved), outside the model's directory \(root)")
        }
        var info = stat()
        guard stat(resolved, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            throw OctetError.io(path: path, reason: "the external data of tensor '\(proto.name)' is not a regular file")
        }
        let fileSize = Int(info.st_size)
        func number(_ key: String) throws -> Int? {
            guard let text = entries[key] else { return nil }
            guard let value = Int(text), value >= 0 else { throw invalid(proto, "has external data \(key) '\(text)', not a non-negative integer") }
            return value
        }
        let offset = try number("offset") ?? 0
        let length = try number("length") ?? max(0, fileSize - offset)
        guard offset <= fileSize, length <= fileSize - offset else {
            throw OctetError.malformedFile(
                path: path, reason: "external data of tensor '\(proto.name)' (offset \(offset), length \(length)) lies beyond the end of the \(fileSize)-byte file")
        }
        guard length == expected else {
            throw invalid(proto, "has \(length) bytes of external data, its dims \(proto.dims) and type need \(expected)")
        }
        guard let handle = FileHandle(forReadingAtPath: resolved) else {
            throw OctetError.io(path: path, reason: "cannot open the external data of tensor '\(proto.name)'")
        }
        defer { try? handle.close() }
        do {
            try handle.seek(toOffset: UInt64(offset))
            let data = try handle.read(upToCount: length) ?? Data()
            guard data.count == length else {
                throw OctetError.malformedFile(path: path, reason: "external data of tensor '\(proto.name)' is truncated")
            }
            return data
        } catch let error as OctetError {
            throw error
        } catch {
            throw OctetError.io(path: path, reason: "cannot read the external data of tensor '\(proto.name)' (\(FileReading.reason(error, path: path)))")
        }
    }

    /// The canonical path (symbolic links and `..` resolved), or nil when it does not exist.
    private static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}

extension Float {
    /// IEEE 754 binary16 to binary32.
    init(halfBits h: UInt16) {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = Int((h >> 10) & 0x1F)
        let mantissa = UInt32(h & 0x3FF)
        if exponent == 0 {
            self = (sign != 0 ? -1 : 1) * Float(mantissa) * 0x1p-24
        } else if exponent == 31 {
            self = Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        } else {
            self = Float(bitPattern: sign | UInt32(exponent + 112) << 23 | (mantissa << 13))
        }
    }
}
