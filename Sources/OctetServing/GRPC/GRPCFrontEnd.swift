import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import Octet
import ServiceLifecycle
import SwiftProtobuf

/// The Open Inference Protocol over gRPC (`inference.GRPCInferenceService`, the service Triton's and KServe's
/// clients call), on grpc-swift-2 with the HTTP/2 transport. Messages come from the generated code
/// (Scripts/generate-grpc-service.sh); each call maps to the ``InferenceService`` the REST front end calls.
/// Outputs travel in `raw_output_contents`, which the protocol names the fast form.
struct GRPCFrontEnd: Service {
    let service: InferenceService
    let host: String
    let port: Int
    let maxRequestBytes: Int
    let logger: Logger

    func run() async throws {
        let transport = HTTP2ServerTransport.Posix(
            address: .ipv4(host: host, port: port), transportSecurity: .plaintext,
            config: .defaults { $0.rpc.maxRequestPayloadSize = maxRequestBytes })
        let server = GRPCServer(transport: transport, services: [Handler(service: service)])
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask { try await server.serve() }
                if let address = try await server.listeningAddress?.ipv4 {
                    logger.info("gRPC listening on \(address.host):\(address.port)")
                }
            }
        } onGracefulShutdown: {
            server.beginGracefulShutdown()
        }
    }

    /// The generated service protocol's calls.
    struct Handler: Inference_GRPCInferenceService.SimpleServiceProtocol {
        let service: InferenceService

        func serverLive(request: Inference_ServerLiveRequest, context: ServerContext) async throws -> Inference_ServerLiveResponse {
            .with { $0.live = true }
        }

        func serverReady(request: Inference_ServerReadyRequest, context: ServerContext) async throws -> Inference_ServerReadyResponse {
            .with { $0.ready = true }
        }

        func modelReady(request: Inference_ModelReadyRequest, context: ServerContext) async throws -> Inference_ModelReadyResponse {
            _ = try rpc { () throws(ServingError) in try service.model(request.name, version: request.version) }
            return .with { $0.ready = true }
        }

        func serverMetadata(request: Inference_ServerMetadataRequest, context: ServerContext) async throws -> Inference_ServerMetadataResponse {
            .with {
                $0.name = InferenceService.serverName
                $0.version = OctetVersion.current
                $0.extensions = InferenceService.extensions
            }
        }

        func modelMetadata(request: Inference_ModelMetadataRequest, context: ServerContext) async throws -> Inference_ModelMetadataResponse {
            let model = try rpc { () throws(ServingError) in try service.model(request.name, version: request.version) }
            func tensor(_ metadata: TensorMetadata) -> Inference_ModelMetadataResponse.TensorMetadata {
                .with {
                    $0.name = metadata.name
                    $0.datatype = metadata.datatype
                    $0.shape = metadata.shape.map(Int64.init)
                }
            }
            return .with {
                $0.name = model.name
                $0.versions = [model.version]
                $0.platform = "octet_onnx"
                $0.inputs = model.inputs.map(tensor)
                $0.outputs = model.outputs.map(tensor)
            }
        }

        func modelInfer(request: Inference_ModelInferRequest, context: ServerContext) async throws -> Inference_ModelInferResponse {
            let model = try rpc { () throws(ServingError) in try service.model(request.modelName, version: request.modelVersion) }
            let decoded: InferenceRequest
            do throws(ServingError) {
                decoded = try GRPCCodec.decode(request)
            } catch {
                service.countRefusal(error, model: model.name)
                throw RPCError(error)
            }
            do throws(ServingError) {
                return GRPCCodec.encode(try await service.infer(decoded, model: model))
            } catch {
                throw RPCError(error)
            }
        }

        private func rpc<T>(_ body: () throws(ServingError) -> T) throws -> T {
            do throws(ServingError) { return try body() } catch { throw RPCError(error) }
        }
    }
}

extension RPCError {
    /// The gRPC status for a refusal: the HTTP status's gRPC counterpart.
    init(_ error: ServingError) {
        let code: RPCError.Code
        switch error.kind {
        case .invalidRequest: code = .invalidArgument
        case .notFound: code = .notFound
        case .tooLarge: code = .resourceExhausted
        case .unavailable: code = .unavailable
        case .internal: code = .internalError
        }
        self.init(code: code, message: error.message)
    }
}

/// Protobuf messages to and from the transport-neutral request and answer.
enum GRPCCodec {
    static func decode(_ message: Inference_ModelInferRequest) throws(ServingError) -> InferenceRequest {
        guard !message.inputs.isEmpty else { throw ServingError(.invalidRequest, "the request has no inputs") }
        let raw = message.rawInputContents
        guard raw.isEmpty || raw.count == message.inputs.count else {
            throw ServingError(.invalidRequest, "raw_input_contents holds \(raw.count) tensors for \(message.inputs.count) inputs")
        }
        var request = InferenceRequest(inputs: [])
        request.id = message.id.isEmpty ? nil : message.id
        for (index, tensor) in message.inputs.enumerated() {
            let what = "input '\(tensor.name)'"
            guard let datatype = WireDataType(rawValue: tensor.datatype) else {
                throw ServingError(.invalidRequest, "\(what) has unknown datatype '\(tensor.datatype)'")
            }
            let shape = try tensor.shape.map { dim throws(ServingError) in
                guard dim >= 0, dim <= Int64(Limits.maxTensorElements) else { throw ServingError(.invalidRequest, "\(what) has a negative or huge dimension \(dim)") }
                return Int(dim)
            }
            let count = try RESTCodec.elementCount(shape, what)
            let contents: TensorContents
            if !raw.isEmpty {
                guard !tensor.hasContents else { throw ServingError(.invalidRequest, "\(what) has both contents and raw_input_contents") }
                contents = try RESTCodec.binaryContents(ArraySlice(raw[index]), datatype: datatype, count: count, what)
            } else if datatype == .fp32 {
                guard tensor.contents.fp32Contents.count == count else {
                    throw ServingError(.invalidRequest, "\(what) has \(tensor.contents.fp32Contents.count) fp32_contents, but its shape \(shape) holds \(count)")
                }
                contents = .floats(tensor.contents.fp32Contents)
            } else if datatype == .bytes {
                guard tensor.contents.bytesContents.count == count else {
                    throw ServingError(.invalidRequest, "\(what) has \(tensor.contents.bytesContents.count) bytes_contents, but its shape \(shape) holds \(count)")
                }
                contents = .bytes(tensor.contents.bytesContents)
            } else {
                contents = .floats([])  // refused by the service with the model's datatypes
            }
            request.inputs.append(InferenceInput(name: tensor.name, datatype: datatype, shape: shape, contents: contents))
        }
        if !message.outputs.isEmpty {
            request.outputs = try message.outputs.map { output throws(ServingError) in
                var requested = RequestedOutput(name: output.name)
                if let parameter = output.parameters["classification"] {
                    switch parameter.parameterChoice {
                    case let .int64Param(k)?: requested.classification = Int(clamping: k)
                    case let .uint64Param(k)?: requested.classification = Int(clamping: k)
                    default: throw ServingError(.invalidRequest, "output '\(output.name)' parameter 'classification' must be an integer")
                    }
                }
                return requested
            }
        }
        return request
    }

    static func encode(_ response: InferenceResponse) -> Inference_ModelInferResponse {
        .with { message in
            message.modelName = response.modelName
            message.modelVersion = response.modelVersion
            message.id = response.id ?? ""
            for output in response.outputs {
                message.outputs.append(.with {
                    $0.name = output.name
                    $0.datatype = output.datatype.rawValue
                    $0.shape = output.shape.map(Int64.init)
                })
                var bytes: [UInt8] = []
                RESTCodec.appendBinary(output.contents, to: &bytes)
                message.rawOutputContents.append(Data(bytes))
            }
        }
    }
}
