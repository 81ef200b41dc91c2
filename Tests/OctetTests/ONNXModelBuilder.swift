import Foundation
import SwiftProtobuf
@testable import OctetONNX
import Octet

/// Builds small ONNX models in memory for importer tests, the way the `onnx` Python package's helper does.
struct ONNXModelBuilder {
    var model = Onnx_ModelProto()

    init(opset: Int = 13, input: String = "input", shape: [Int?] = [nil, 3, 8, 8]) {
        model.irVersion = 7
        model.producerName = "octet-tests"
        var op = Onnx_OperatorSetIdProto()
        op.version = Int64(opset)
        model.opsetImport = [op]
        model.graph.name = "test"
        addInput(input, shape: shape)
    }

    mutating func addInput(_ name: String, shape: [Int?]) {
        var value = Onnx_ValueInfoProto()
        value.name = name
        value.type.tensorType.elemType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        value.type.tensorType.shape.dim = shape.map { size in
            var dim = Onnx_TensorShapeProto.Dimension()
            if let size { dim.dimValue = Int64(size) } else { dim.dimParam = "batch" }
            return dim
        }
        model.graph.input.append(value)
    }

    mutating func output(_ name: String) {
        var value = Onnx_ValueInfoProto()
        value.name = name
        model.graph.output.append(value)
    }

    @discardableResult
    mutating func initializer(_ name: String, _ shape: [Int], _ values: [Float]) -> String {
        var t = Onnx_TensorProto()
        t.name = name
        t.dims = shape.map { Int64($0) }
        t.dataType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        t.floatData = values
        model.graph.initializer.append(t)
        return name
    }

    @discardableResult
    mutating func ints(_ name: String, _ values: [Int], shape: [Int]? = nil) -> String {
        var t = Onnx_TensorProto()
        t.name = name
        t.dims = (shape ?? [values.count]).map { Int64($0) }
        t.dataType = Int32(Onnx_TensorProto.DataType.int64.rawValue)
        t.int64Data = values.map { Int64($0) }
        model.graph.initializer.append(t)
        return name
    }

    /// An integer initializer of the given ONNX element type (int8, uint8 or int32), stored in raw_data.
    @discardableResult
    mutating func quantized(_ name: String, _ shape: [Int], _ values: [Int], type: Onnx_TensorProto.DataType) -> String {
        var t = Onnx_TensorProto()
        t.name = name
        t.dims = shape.map { Int64($0) }
        t.dataType = Int32(type.rawValue)
        switch type {
        case .int8: t.rawData = Data(values.map { UInt8(bitPattern: Int8($0)) })
        case .uint8: t.rawData = Data(values.map { UInt8($0) })
        default: t.int32Data = values.map { Int32($0) }
        }
        model.graph.initializer.append(t)
        return name
    }

    enum Attribute {
        case int(Int), float(Float), ints([Int]), string(String)
    }

    mutating func node(_ op: String, _ inputs: [String], _ outputs: [String], name: String = "", _ attributes: [String: Attribute] = [:]) {
        var n = Onnx_NodeProto()
        n.opType = op
        n.name = name
        n.input = inputs
        n.output = outputs
        n.attribute = attributes.sorted { $0.key < $1.key }.map { key, value in
            var a = Onnx_AttributeProto()
            a.name = key
            switch value {
            case let .int(v): a.type = .int; a.i = Int64(v)
            case let .float(v): a.type = .float; a.f = v
            case let .ints(v): a.type = .ints; a.ints = v.map { Int64($0) }
            case let .string(v): a.type = .string; a.s = Data(v.utf8)
            }
            return a
        }
        model.graph.node.append(n)
    }

    func data() throws -> Data { try model.serializedData() }

    /// Writes the model to a temporary file and imports it.
    func importNetwork() throws -> Network {
        let path = try write()
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try ONNXImporter.importModel(path: path).network
    }

    func write(to path: String = FileManager.default.temporaryDirectory.appendingPathComponent("octet-\(UUID().uuidString).onnx").path) throws -> String {
        try data().write(to: URL(fileURLWithPath: path))
        return path
    }

    /// `y = input · w` over an input `[N, 3]`, with the 3×2 float weights `w` stored as external data at
    /// `location` (`offset` and `length` when given), as tools that save large models write them.
    static func externalMatMul(location: String, offset: Int? = nil, length: Int? = nil) -> ONNXModelBuilder {
        var b = ONNXModelBuilder(shape: [nil, 3])
        var t = Onnx_TensorProto()
        t.name = "w"
        t.dims = [3, 2]
        t.dataType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        t.dataLocation = .external
        var entries = [("location", location)]
        if let offset { entries.append(("offset", "\(offset)")) }
        if let length { entries.append(("length", "\(length)")) }
        t.externalData = entries.map { key, value in
            var entry = Onnx_StringStringEntryProto()
            entry.key = key
            entry.value = value
            return entry
        }
        b.model.graph.initializer.append(t)
        b.node("MatMul", ["input", "w"], ["y"])
        b.output("y")
        return b
    }
}
