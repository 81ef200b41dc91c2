/// Storage type of a tensor, and the arithmetic a layer computes in.
///
/// `int8` and `uint8` are quantized types: their real value is `scale · q`, with the scale coming from the
/// tensor's dynamic range (see `OctetQuantization`).
public enum DataType: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case float32, float16, int8, uint8, int32, int64, bool

    /// Size of one element in bytes.
    public var byteSize: Int {
        switch self {
        case .float32, .int32: 4
        case .float16: 2
        case .int8, .uint8, .bool: 1
        case .int64: 8
        }
    }

    public var isQuantized: Bool { self == .int8 || self == .uint8 }

    public var description: String {
        switch self {
        case .float32: "FP32"
        case .float16: "FP16"
        case .int8: "INT8"
        case .uint8: "UINT8"
        case .int32: "INT32"
        case .int64: "INT64"
        case .bool: "BOOL"
        }
    }

    /// Parses the spellings users type: `fp32`, `float`, `int8`, `fp16`, `half`, `uint8` (case-insensitive).
    public init?(userSpelling: String) {
        switch userSpelling.lowercased() {
        case "fp32", "float", "float32", "kfloat": self = .float32
        case "fp16", "half", "float16", "khalf": self = .float16
        case "int8", "kint8": self = .int8
        case "uint8", "kuint8": self = .uint8
        case "int32", "kint32": self = .int32
        default: return nil
        }
    }
}
