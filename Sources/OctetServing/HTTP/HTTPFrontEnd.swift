import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Octet

/// The Open Inference Protocol over HTTP/REST (KServe v2 `/v2/...` routes) on Hummingbird: each handler decodes,
/// calls the ``InferenceService``, and encodes. Refusals answer the spec's status and `{"error": "..."}`.
enum HTTPFrontEnd {
    static let headerLengthField = HTTPField.Name("Inference-Header-Content-Length")!

    static func router(service: InferenceService, maxRequestBytes: Int) -> Router<BasicRequestContext> {
        let router = Router()
        router.get("v2/health/live") { _, _ in json(["live": true]) }
        router.get("v2/health/ready") { _, _ in json(["ready": true]) }
        router.get("v2") { _, _ in
            json(["name": InferenceService.serverName, "version": "\(OctetVersion.current)", "extensions": InferenceService.extensions])
        }
        for prefix in ["v2/models/:model", "v2/models/:model/versions/:version"] {
            router.get(RouterPath(prefix)) { _, context in
                try answer { () throws(ServingError) in metadata(try model(service, context)) }
            }
            router.get(RouterPath(prefix + "/ready")) { _, context in
                try answer { () throws(ServingError) in
                    _ = try model(service, context)
                    return json(["name": context.parameters.get("model") ?? "", "ready": true])
                }
            }
            router.post(RouterPath(prefix + "/infer")) { request, context in
                await infer(request, context: context, service: service, maxRequestBytes: maxRequestBytes)
            }
        }
        return router
    }

    private static func model(_ service: InferenceService, _ context: BasicRequestContext) throws(ServingError) -> ServedModel {
        try service.model(context.parameters.get("model") ?? "", version: context.parameters.get("version"))
    }

    private static func infer(_ request: Request, context: BasicRequestContext, service: InferenceService, maxRequestBytes: Int) async -> Response {
        let model: ServedModel
        do throws(ServingError) { model = try self.model(service, context) } catch { return errorResponse(error) }
        let decoded: InferenceRequest
        do throws(ServingError) {
            decoded = try await decode(request, maxRequestBytes: maxRequestBytes)
        } catch {
            service.countRefusal(error, model: model.name)
            return errorResponse(error)
        }
        do throws(ServingError) {
            let response = try await service.infer(decoded, model: model)
            let (bytes, jsonLength) = RESTCodec.encodeResponse(response)
            var headers: HTTPFields = [.contentType: jsonLength == nil ? "application/json" : "application/octet-stream"]
            if let jsonLength { headers[headerLengthField] = "\(jsonLength)" }
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        } catch {
            return errorResponse(error)
        }
    }

    /// The body, within `maxRequestBytes`, decoded as JSON or JSON + binary tensor data.
    private static func decode(_ request: Request, maxRequestBytes: Int) async throws(ServingError) -> InferenceRequest {
        var request = request
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > maxRequestBytes {
            throw ServingError(.tooLarge, "the request body of \(length) bytes exceeds the server's limit of \(maxRequestBytes) (--max-request-bytes)")
        }
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: maxRequestBytes)
        } catch {
            throw ServingError(.tooLarge, "the request body exceeds the server's limit of \(maxRequestBytes) bytes (--max-request-bytes)")
        }
        var headerLength: Int?
        if let text = request.headers[headerLengthField] {
            guard let value = Int(text) else { throw ServingError(.invalidRequest, "Inference-Header-Content-Length '\(text)' is not a number") }
            headerLength = value
        }
        return try RESTCodec.decodeRequest(Array(buffer: body), headerLength: headerLength)
    }

    static func metadata(_ model: ServedModel) -> Response {
        func tensors(_ list: [TensorMetadata]) -> [[String: Any]] {
            list.map { ["name": $0.name, "datatype": $0.datatype, "shape": $0.shape] }
        }
        return json(["name": model.name, "versions": [model.version], "platform": "octet_onnx", "inputs": tensors(model.inputs), "outputs": tensors(model.outputs)])
    }

    private static func answer(_ body: () throws(ServingError) -> Response) throws -> Response {
        do throws(ServingError) { return try body() } catch { return errorResponse(error) }
    }

    static func errorResponse(_ error: ServingError) -> Response {
        Response(
            status: HTTPResponse.Status(code: error.httpStatus), headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: RESTCodec.errorBody(error.message))))
    }

    static func json(_ object: [String: Any]) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
