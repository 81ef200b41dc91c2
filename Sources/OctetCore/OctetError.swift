/// Every error Octet reports. Each case carries what a user needs to find the problem: the file, line,
/// node or layer, and the failed condition as a sentence fragment. `description` is one clear sentence.
public enum OctetError: Error, Sendable, CustomStringConvertible, Equatable {
    /// A file could not be read or written.
    case io(path: String, reason: String)
    /// A file's contents are malformed (model, image, range file, tensor file).
    case malformedFile(path: String, line: Int? = nil, reason: String)
    /// An ONNX node cannot be imported: unsupported op, attribute, opset or a shape that makes no sense.
    case unsupportedNode(node: String, opType: String, reason: String)
    /// The model as a whole cannot be imported.
    case invalidModel(reason: String)
    /// A layer or network is inconsistent, or the builder cannot satisfy a request.
    case invalidNetwork(reason: String)
    /// A layer cannot run in the precision that was demanded of it.
    case precisionConstraint(layer: String, reason: String)
    /// Inputs given at run time do not fit the engine.
    case invalidInput(reason: String)
    /// A requested feature or device is not available on this machine or in this build.
    case unavailable(reason: String)

    /// One line whatever the file contained: names read from a malformed file may hold control characters.
    public var description: String {
        String(String.UnicodeScalarView(rawDescription.unicodeScalars.flatMap { scalar -> [Unicode.Scalar] in
            scalar.properties.generalCategory == .control ? Array("\\u{\(String(scalar.value, radix: 16))}".unicodeScalars) : [scalar]
        }))
    }

    private var rawDescription: String {
        switch self {
        case let .io(path, reason):
            "\(path): \(reason)."
        case let .malformedFile(path, line?, reason):
            "\(path):\(line): \(reason)."
        case let .malformedFile(path, nil, reason):
            "\(path): \(reason)."
        case let .unsupportedNode(node, opType, reason):
            "ONNX node '\(node)' (\(opType)): \(reason)."
        case let .invalidModel(reason):
            "Invalid model: \(reason)."
        case let .invalidNetwork(reason):
            "Invalid network: \(reason)."
        case let .precisionConstraint(layer, reason):
            "Layer '\(layer)' cannot run in the requested precision: \(reason)."
        case let .invalidInput(reason):
            "Invalid input: \(reason)."
        case let .unavailable(reason):
            "\(reason.prefix(1).uppercased())\(reason.dropFirst())."
        }
    }

    /// The same error, attributed to a file (used when a lower layer did not know the path).
    public func inFile(_ path: String) -> OctetError {
        switch self {
        case let .invalidModel(reason), let .invalidNetwork(reason): .malformedFile(path: path, reason: reason)
        case let .unsupportedNode(node, opType, reason):
            .malformedFile(path: path, reason: "ONNX node '\(node)' (\(opType)): \(reason)")
        default: self
        }
    }
}
