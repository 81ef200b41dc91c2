import CFuzzerDriver
import Foundation
import Octet

// The server's request decoder, compiled from its own sources (RESTCodec.swift and InferenceTypes.swift are links
// to Sources/OctetServing/), so the harness needs neither the server's packages nor a public API for them.

/// An inference request body → `RESTCodec.decodeRequest`. The first byte picks the framing: odd means binary
/// tensor data with `Inference-Header-Content-Length` from the next two bytes (little-endian), even plain JSON.
/// A decoded request must be self-consistent (every FP32 tensor holds exactly its shape's element count), and its
/// refusal one line.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let flag = bytes.first else { return 0 }
    var headerLength: Int?
    var body = Array(bytes.dropFirst())
    if flag & 1 == 1, body.count >= 2 {
        headerLength = Int(body[0]) | Int(body[1]) << 8
        body.removeFirst(2)
    }
    do {
        let request = try RESTCodec.decodeRequest(body, headerLength: headerLength)
        for input in request.inputs {
            let count = input.shape.reduce(1, *)
            switch input.contents {
            case let .floats(values) where input.datatype == .fp32:
                precondition(values.count == count, "FP32 input '\(input.name)' holds \(values.count) values for shape \(input.shape)")
            case let .bytes(elements):
                precondition(elements.count == count, "BYTES input '\(input.name)' holds \(elements.count) elements for shape \(input.shape)")
            default: break
            }
        }
        // What the server would answer for it must encode too.
        let outputs = request.inputs.map { InferenceOutput(name: $0.name, datatype: $0.datatype == .bytes ? .bytes : .fp32, shape: $0.shape, contents: $0.contents, binary: request.binaryOutputs) }
        _ = RESTCodec.encodeResponse(InferenceResponse(modelName: "m", modelVersion: "1", id: request.id, outputs: outputs))
    } catch {
        if error.message.contains("\n") { preconditionFailure("error is not one line: \(error)") }
    }
    return 0
}

/// The process entry: SwiftPM links executables with `main` aliased to `<Module>_main`.
@_cdecl("FuzzInferenceRequest_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    octet_fuzz_main(argc, argv) { data, size in data.map { fuzz($0, size) } ?? 0 }
}
