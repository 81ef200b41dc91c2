import Foundation
import Octet

/// A request the server refuses or could not answer: one sentence, and the kind that picks the HTTP status
/// (`{"error": message}`) and the gRPC status code.
public struct ServingError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable {
        /// Malformed or impossible request: HTTP 400, gRPC INVALID_ARGUMENT.
        case invalidRequest
        /// Unknown model or version: HTTP 404, gRPC NOT_FOUND.
        case notFound
        /// Request body over the limit: HTTP 413, gRPC RESOURCE_EXHAUSTED.
        case tooLarge
        /// Full queue, queue timeout, shutting down: HTTP 503, gRPC UNAVAILABLE.
        case unavailable
        /// The engine failed on an accepted request: HTTP 500, gRPC INTERNAL.
        case `internal`
    }

    public var kind: Kind
    public var message: String

    /// `message` may quote names from the request; their control characters are escaped (`\u{a}`) so the
    /// answer stays one line, as `OctetError` does for names read from files.
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = String(String.UnicodeScalarView(message.unicodeScalars.flatMap { scalar -> [Unicode.Scalar] in
            scalar.properties.generalCategory == .control ? Array("\\u{\(String(scalar.value, radix: 16))}".unicodeScalars) : [scalar]
        }))
    }

    public var description: String { message }

    public var httpStatus: Int {
        switch kind {
        case .invalidRequest: 400
        case .notFound: 404
        case .tooLarge: 413
        case .unavailable: 503
        case .internal: 500
        }
    }
}

/// The Open Inference Protocol's tensor datatypes (`FP32`, `BYTES`, ...), with their element size.
enum WireDataType: String, CaseIterable {
    case bool = "BOOL", uint8 = "UINT8", uint16 = "UINT16", uint32 = "UINT32", uint64 = "UINT64"
    case int8 = "INT8", int16 = "INT16", int32 = "INT32", int64 = "INT64"
    case fp16 = "FP16", bf16 = "BF16", fp32 = "FP32", fp64 = "FP64", bytes = "BYTES"

    /// Bytes per element; nil for BYTES (each element carries its own length).
    var elementSize: Int? {
        switch self {
        case .bool, .uint8, .int8: 1
        case .uint16, .int16, .fp16, .bf16: 2
        case .uint32, .int32, .fp32: 4
        case .uint64, .int64, .fp64: 8
        case .bytes: nil
        }
    }
}

/// A tensor's elements on the wire, in either direction.
enum TensorContents: Sendable {
    /// FP32 values, row-major.
    case floats([Float])
    /// BYTES elements (image files, classification strings), in order.
    case bytes([Data])
}

/// One input tensor of an inference request, decoded from JSON, the binary extension or protobuf.
struct InferenceInput: Sendable {
    var name: String
    var datatype: WireDataType
    var shape: [Int]
    var contents: TensorContents
}

/// An output the client asked for, with the extensions' parameters.
struct RequestedOutput: Sendable {
    var name: String
    /// Binary tensor extension: `binary_data` (nil: the request's default).
    var binary: Bool?
    /// Classification extension: top-k "score:index:label" strings instead of the tensor.
    var classification: Int?
}

struct InferenceRequest: Sendable {
    var id: String?
    var inputs: [InferenceInput]
    /// nil: every output of the model.
    var outputs: [RequestedOutput]?
    /// `binary_data_output`: every output in binary unless it says otherwise.
    var binaryOutputs = false
}

/// One output tensor of an answer.
struct InferenceOutput: Sendable {
    var name: String
    var datatype: WireDataType
    var shape: [Int]
    var contents: TensorContents
    /// Sent after the JSON in binary (the binary tensor extension), or in the JSON `data`.
    var binary: Bool
}

struct InferenceResponse: Sendable {
    var modelName: String
    var modelVersion: String
    var id: String?
    var outputs: [InferenceOutput]
}

/// Metadata of a served tensor: `-1` marks the batch dimension.
struct TensorMetadata: Sendable {
    var name: String
    var datatype: String
    var shape: [Int]
}
