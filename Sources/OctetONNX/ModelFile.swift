import Foundation
import OctetCore
import SwiftProtobuf

/// Reading `.onnx` files: protobuf decoding, external data, and initializer conversion.
enum ModelFile {
    /// Decodes the model at `path`. Errors name the file and say what is wrong with it.
    static func load(path: String) throws -> Onnx_ModelProto {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw OctetError.io(path: path, reason: "cannot read the model file (\(Self.reason(error)))")
        }
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

    static func reason(_ error: Error) -> String {
        (error as NSError).localizedFailureReason ?? (error as NSError).localizedDescription
    }

    /// Converts an initializer or `Constant` value to a `ConstantTensor`, reading external data relative to
    /// `directory`.
    static func constant(_ proto: Onnx_TensorProto, directory: String) throws -> ConstantTensor {
        let shape = proto.dims.map { Int($0) }
        guard shape.allSatisfy({ $0 >= 0 }) else { throw invalid(proto, "has negative dimensions \(shape)") }
        let (count, overflow) = shape.reduce((1, false)) { acc, d in
            let (p, o) = acc.0.multipliedReportingOverflow(by: d)
            return (p, acc.1 || o)
        }
        guard !overflow, count <= 1 << 31 else { throw invalid(proto, "has an absurd size \(shape)") }
        let raw: Data?
        if proto.dataLocation == .external {
            raw = try externalData(proto, directory: directory)
        } else {
            raw = proto.rawData.isEmpty ? nil : proto.rawData
        }
        guard let type = Onnx_TensorProto.DataType(rawValue: Int(proto.dataType)) else {
            throw invalid(proto, "has unknown data type \(proto.dataType)")
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

    /// Reads the bytes of an initializer stored outside the model (ONNX external data: `location`,
    /// `offset`, `length`, relative to the model's directory).
    private static func externalData(_ proto: Onnx_TensorProto, directory: String) throws -> Data {
        var entries: [String: String] = [:]
        for entry in proto.externalData { entries[entry.key] = entry.value }
        guard let location = entries["location"], !location.isEmpty else {
            throw invalid(proto, "is stored externally but names no location")
        }
        let path = location.hasPrefix("/") ? location : directory + "/" + location
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw OctetError.io(path: path, reason: "cannot open the external data of tensor '\(proto.name)'")
        }
        defer { try? handle.close() }
        let offset = UInt64(entries["offset"].flatMap { UInt64($0) } ?? 0)
        do {
            try handle.seek(toOffset: offset)
            let data: Data?
            if let length = entries["length"].flatMap({ Int($0) }) {
                data = try handle.read(upToCount: length)
                guard data?.count == length else {
                    throw OctetError.malformedFile(path: path, reason: "external data of tensor '\(proto.name)' is truncated")
                }
            } else {
                data = try handle.readToEnd()
            }
            return data ?? Data()
        } catch let error as OctetError {
            throw error
        } catch {
            throw OctetError.io(path: path, reason: "cannot read the external data of tensor '\(proto.name)' (\(reason(error)))")
        }
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
