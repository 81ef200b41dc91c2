import OctetCore

/// Typed attribute access with the ONNX spec default written at the call site:
/// `node.attr("group", default: 1)`.
extension Onnx_NodeProto {
    var displayName: String { name.isEmpty ? (output.first ?? opType) : name }

    func attribute(_ key: String) -> Onnx_AttributeProto? { attribute.first { $0.name == key } }

    func hasAttr(_ key: String) -> Bool { attribute(key) != nil }

    func attr(_ key: String, default value: Int) throws -> Int {
        guard let a = attribute(key) else { return value }
        guard a.type == .int || (a.type == .undefined && a.ints.isEmpty) else { throw wrongType(key, "an integer") }
        return Int(a.i)
    }

    func attr(_ key: String, default value: Float) throws -> Float {
        guard let a = attribute(key) else { return value }
        guard a.type == .float || a.type == .undefined else { throw wrongType(key, "a float") }
        return a.f
    }

    func attr(_ key: String, default value: String) throws -> String {
        guard let a = attribute(key) else { return value }
        guard a.type == .string || a.type == .undefined else { throw wrongType(key, "a string") }
        return String(decoding: a.s, as: UTF8.self)
    }

    func attr(_ key: String, default value: [Int]) throws -> [Int] {
        guard let a = attribute(key) else { return value }
        guard a.type == .ints || a.type == .undefined else { throw wrongType(key, "a list of integers") }
        return a.ints.map { Int($0) }
    }

    func attr(_ key: String, default value: [Float]) throws -> [Float] {
        guard let a = attribute(key) else { return value }
        guard a.type == .floats || a.type == .undefined else { throw wrongType(key, "a list of floats") }
        return a.floats
    }

    /// An error about this node.
    func unsupported(_ reason: String) -> OctetError {
        .unsupportedNode(node: displayName, opType: opType, reason: reason)
    }

    private func wrongType(_ key: String, _ expected: String) -> OctetError {
        unsupported("attribute '\(key)' must be \(expected)")
    }
}
