import Foundation
import Octet

/// The HTTP/REST body of an inference request and answer: JSON as the Open Inference Protocol's REST spec gives
/// it, and Triton's binary tensor data extension (the JSON header first, `Inference-Header-Content-Length` bytes
/// long, then each binary input's raw little-endian row-major bytes in input order; BYTES elements as a 4-byte
/// little-endian length and the bytes). Decoding never trusts a size in the request: every shape, length and
/// offset is checked against the body before anything is read or allocated.
enum RESTCodec {
    /// Decodes an inference request body; `headerLength` is `Inference-Header-Content-Length` (nil: all JSON).
    static func decodeRequest(_ body: [UInt8], headerLength: Int?) throws(ServingError) -> InferenceRequest {
        let jsonLength = headerLength ?? body.count
        guard jsonLength >= 0, jsonLength <= body.count else {
            throw ServingError(.invalidRequest, "Inference-Header-Content-Length \(jsonLength) is outside the body of \(body.count) bytes")
        }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(body[0..<jsonLength]))
        } catch {
            throw ServingError(.invalidRequest, "the request body is not valid JSON\(headerLength == nil ? " (binary tensor data needs the Inference-Header-Content-Length header)" : "")")
        }
        guard let root = object as? [String: Any] else { throw ServingError(.invalidRequest, "the request body is not a JSON object") }
        var binary = BinarySection(bytes: body, offset: jsonLength)
        var request = InferenceRequest(inputs: [])
        if let id = root["id"] {
            guard let id = id as? String else { throw ServingError(.invalidRequest, "'id' must be a string") }
            request.id = id
        }
        let parameters = try dictionary(root["parameters"], "'parameters'")
        request.binaryOutputs = try bool(parameters?["binary_data_output"], "parameter 'binary_data_output'") ?? false
        guard let inputs = root["inputs"] as? [Any], !inputs.isEmpty else {
            throw ServingError(.invalidRequest, "the request needs 'inputs': a non-empty array of tensors")
        }
        for (index, item) in inputs.enumerated() {
            request.inputs.append(try decodeInput(item, index: index, binary: &binary))
        }
        guard binary.offset == body.count else {
            throw ServingError(.invalidRequest, "the body holds \(body.count - binary.offset) bytes after the last binary input; the binary_data_size values do not add up")
        }
        if let outputs = root["outputs"] {
            guard let outputs = outputs as? [Any] else { throw ServingError(.invalidRequest, "'outputs' must be an array") }
            request.outputs = try outputs.enumerated().map { index, item throws(ServingError) in try decodeOutput(item, index: index) }
        }
        return request
    }

    private static func decodeInput(_ item: Any, index: Int, binary: inout BinarySection) throws(ServingError) -> InferenceInput {
        guard let tensor = item as? [String: Any] else { throw ServingError(.invalidRequest, "input \(index) is not a JSON object") }
        guard let name = tensor["name"] as? String else { throw ServingError(.invalidRequest, "input \(index) needs a 'name' string") }
        let what = "input '\(name)'"
        guard let typeName = tensor["datatype"] as? String else { throw ServingError(.invalidRequest, "\(what) needs a 'datatype' string") }
        guard let datatype = WireDataType(rawValue: typeName) else {
            throw ServingError(.invalidRequest, "\(what) has unknown datatype '\(typeName)' (the protocol's are \(WireDataType.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        guard let shapeItems = tensor["shape"] as? [Any] else { throw ServingError(.invalidRequest, "\(what) needs a 'shape' array") }
        let shape = try shapeItems.map { item throws(ServingError) in
            guard let dim = integer(item), dim >= 0 else { throw ServingError(.invalidRequest, "\(what) has a shape that is not a list of non-negative integers") }
            return dim
        }
        let count = try elementCount(shape, what)
        let parameters = try dictionary(tensor["parameters"], "\(what) 'parameters'")
        if let sizeItem = parameters?["binary_data_size"] {
            guard let size = integer(sizeItem), size >= 0 else { throw ServingError(.invalidRequest, "\(what) has a binary_data_size that is not a non-negative integer") }
            guard tensor["data"] == nil else { throw ServingError(.invalidRequest, "\(what) has both 'data' and binary_data_size") }
            let bytes = try binary.take(size, what)
            return InferenceInput(name: name, datatype: datatype, shape: shape, contents: try binaryContents(bytes, datatype: datatype, count: count, what))
        }
        guard let data = tensor["data"] else { throw ServingError(.invalidRequest, "\(what) has neither 'data' nor a binary_data_size parameter") }
        var flat: [Any] = []
        try flatten(data, into: &flat, limit: count, what)
        guard flat.count == count else {
            throw ServingError(.invalidRequest, "\(what) has \(flat.count) values in 'data', but its shape \(shape) holds \(count)")
        }
        switch datatype {
        case .fp32:
            var values = [Float]()
            values.reserveCapacity(count)
            for item in flat {
                guard let number = item as? NSNumber, !isBoolean(item) else {
                    throw ServingError(.invalidRequest, "\(what) is FP32 but 'data' holds a value that is not a number")
                }
                values.append(number.floatValue)
            }
            return InferenceInput(name: name, datatype: datatype, shape: shape, contents: .floats(values))
        case .bytes:
            let strings = try flat.map { item throws(ServingError) in
                guard let text = item as? String else { throw ServingError(.invalidRequest, "\(what) is BYTES but 'data' holds a value that is not a string") }
                return Data(text.utf8)
            }
            return InferenceInput(name: name, datatype: datatype, shape: shape, contents: .bytes(strings))
        default:
            // Decoded far enough to name the problem; the service refuses the datatype with the model's.
            return InferenceInput(name: name, datatype: datatype, shape: shape, contents: .floats([]))
        }
    }

    private static func decodeOutput(_ item: Any, index: Int) throws(ServingError) -> RequestedOutput {
        guard let tensor = item as? [String: Any], let name = tensor["name"] as? String else {
            throw ServingError(.invalidRequest, "output \(index) needs a 'name' string")
        }
        let parameters = try dictionary(tensor["parameters"], "output '\(name)' 'parameters'")
        var output = RequestedOutput(name: name)
        output.binary = try bool(parameters?["binary_data"], "output '\(name)' parameter 'binary_data'")
        if let k = parameters?["classification"] {
            guard let k = integer(k) else { throw ServingError(.invalidRequest, "output '\(name)' parameter 'classification' must be an integer") }
            output.classification = k
        }
        return output
    }

    /// The element count of `shape`, or an error when it overflows or exceeds Octet's tensor limit.
    static func elementCount(_ shape: [Int], _ what: String) throws(ServingError) -> Int {
        var count = 1
        for dim in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: dim)
            guard !overflow, product <= Limits.maxTensorElements else {
                throw ServingError(.invalidRequest, "\(what) has shape \(shape), more than 2^31 elements")
            }
            count = product
        }
        return count
    }

    /// Raw binary contents as FP32 values or BYTES elements; other datatypes are kept unread for the service to refuse.
    static func binaryContents(_ bytes: ArraySlice<UInt8>, datatype: WireDataType, count: Int, _ what: String) throws(ServingError) -> TensorContents {
        switch datatype {
        case .bytes:
            var elements: [Data] = []
            var offset = bytes.startIndex
            while offset < bytes.endIndex {
                guard bytes.endIndex - offset >= 4 else { throw ServingError(.invalidRequest, "\(what): a BYTES element's 4-byte length is cut off") }
                let length = Int(UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24)
                offset += 4
                guard length <= bytes.endIndex - offset else {
                    throw ServingError(.invalidRequest, "\(what): a BYTES element of \(length) bytes runs past the tensor's binary data")
                }
                elements.append(Data(bytes[offset..<offset + length]))
                offset += length
                guard elements.count <= count else { break }
            }
            guard elements.count == count else {
                throw ServingError(.invalidRequest, "\(what) holds \(elements.count) BYTES elements in its binary data, but its shape holds \(count)")
            }
            return .bytes(elements)
        default:
            guard let size = datatype.elementSize, bytes.count == count * size else {
                throw ServingError(.invalidRequest, "\(what) has \(bytes.count) bytes of binary data, but \(count) \(datatype.rawValue) values take \(count * (datatype.elementSize ?? 0))")
            }
            guard datatype == .fp32 else { return .floats([]) }
            return .floats(littleEndianFloats(bytes))
        }
    }

    static func littleEndianFloats(_ bytes: ArraySlice<UInt8>) -> [Float] {
        var values = [Float](repeating: 0, count: bytes.count / 4)
        values.withUnsafeMutableBytes { destination in bytes.withUnsafeBytes { destination.copyMemory(from: $0) } }
        return values.map { Float(bitPattern: UInt32(littleEndian: $0.bitPattern)) }
    }

    /// The binary part of a body, read front to back.
    private struct BinarySection {
        let bytes: [UInt8]
        var offset: Int

        mutating func take(_ size: Int, _ what: String) throws(ServingError) -> ArraySlice<UInt8> {
            guard size <= bytes.count - offset else {
                throw ServingError(.invalidRequest, "\(what) has binary_data_size \(size), but only \(bytes.count - offset) bytes of binary data are left in the body")
            }
            defer { offset += size }
            return bytes[offset..<offset + size]
        }
    }

    private static func flatten(_ value: Any, into flat: inout [Any], limit: Int, _ what: String) throws(ServingError) {
        if let array = value as? [Any] {
            for item in array {
                try flatten(item, into: &flat, limit: limit, what)
                guard flat.count <= limit else { return }  // counted as a mismatch by the caller
            }
        } else {
            flat.append(value)
        }
    }

    private static func dictionary(_ value: Any?, _ what: String) throws(ServingError) -> [String: Any]? {
        guard let value else { return nil }
        guard let dictionary = value as? [String: Any] else { throw ServingError(.invalidRequest, "\(what) must be a JSON object") }
        return dictionary
    }

    private static func bool(_ value: Any?, _ what: String) throws(ServingError) -> Bool? {
        guard let value else { return nil }
        guard let flag = value as? Bool else { throw ServingError(.invalidRequest, "\(what) must be true or false") }
        return flag
    }

    /// An integer JSON number (not a fraction, not a boolean), within Int.
    private static func integer(_ value: Any) -> Int? {
        guard let number = value as? NSNumber, !isBoolean(value) else { return nil }
        let double = number.doubleValue
        guard double.isFinite, double == double.rounded(), abs(double) < 9e15 else { return nil }
        return Int(double)
    }

    /// JSON `true`/`false`, which Foundation may hand over as a number.
    private static func isBoolean(_ value: Any) -> Bool {
        type(of: value) == Bool.self || (value as? NSNumber).map { String(cString: $0.objCType) == "c" } == true
    }

    // MARK: - Answers

    /// The answer's body, and the JSON header's length when outputs follow in binary.
    static func encodeResponse(_ response: InferenceResponse) -> (body: [UInt8], headerLength: Int?) {
        var json = "{\"model_name\":\(quoted(response.modelName)),\"model_version\":\(quoted(response.modelVersion))"
        if let id = response.id { json += ",\"id\":\(quoted(id))" }
        json += ",\"outputs\":["
        var binary: [UInt8] = []
        for (index, output) in response.outputs.enumerated() {
            if index > 0 { json += "," }
            json += "{\"name\":\(quoted(output.name)),\"datatype\":\"\(output.datatype.rawValue)\",\"shape\":[\(output.shape.map(String.init).joined(separator: ","))]"
            if output.binary {
                let start = binary.count
                appendBinary(output.contents, to: &binary)
                json += ",\"parameters\":{\"binary_data_size\":\(binary.count - start)}}"
            } else {
                json += ",\"data\":["
                switch output.contents {
                case let .floats(values): json += values.map(number).joined(separator: ",")
                case let .bytes(elements): json += elements.map { quoted(String(decoding: $0, as: UTF8.self)) }.joined(separator: ",")
                }
                json += "]}"
            }
        }
        json += "]}"
        let header = Array(json.utf8)
        return binary.isEmpty && !response.outputs.contains(where: \.binary) ? (header, nil) : (header + binary, header.count)
    }

    static func appendBinary(_ contents: TensorContents, to buffer: inout [UInt8]) {
        switch contents {
        case let .floats(values):
            for value in values { withUnsafeBytes(of: value.bitPattern.littleEndian) { buffer.append(contentsOf: $0) } }
        case let .bytes(elements):
            for element in elements {
                withUnsafeBytes(of: UInt32(element.count).littleEndian) { buffer.append(contentsOf: $0) }
                buffer.append(contentsOf: element)
            }
        }
    }

    /// A float as JSON: Swift's shortest round-trip spelling, so the client reads back the same float32; the
    /// non-finite values as Python's json module spells them (JSON itself has none).
    static func number(_ value: Float) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value < 0 ? "-Infinity" : "Infinity" }
        return "\(value)"
    }

    /// A JSON string literal.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// `{"error": message}`, as the protocol answers every refusal.
    static func errorBody(_ message: String) -> [UInt8] { Array("{\"error\":\(quoted(message))}".utf8) }
}
