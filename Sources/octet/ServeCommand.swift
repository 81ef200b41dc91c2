import ArgumentParser
import Foundation
import Logging
import Octet
import OctetServing

/// `octet serve`: the models of a repository behind the Open Inference Protocol (KServe v2), over HTTP/REST and
/// gRPC, with Prometheus metrics; the protocol's clients (tritonclient, KServe's) call it as they call Triton.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve a model repository over the Open Inference Protocol (KServe v2): HTTP/REST, gRPC, Prometheus metrics.",
        discussion: """
            The repository holds one folder per model: DIR/<model name>/model.onnx and an optional \
            DIR/<model name>/config.json (ranges or calibration_cache, precision, recipe, labels, max_batch_size, \
            instance_count, device, dynamic_batching.max_queue_delay_microseconds, max_queue_size, \
            queue_timeout_milliseconds; README "Serving"). Every model is built before the server listens.

            Routes: GET /v2, /v2/health/live, /v2/health/ready, /v2/models/M[/versions/V][/ready]; \
            POST /v2/models/M[/versions/V]/infer with FP32 tensors in JSON or binary (Triton's binary tensor \
            data extension), BYTES image files (JPEG, PNG, PPM) preprocessed with the model's recipe, and the \
            classification extension (top-k "probability:index:label"). gRPC: inference.GRPCInferenceService. \
            Metrics: GET /metrics on --metrics-port.

            A port of 0 picks a free one; the log says which. SIGTERM or SIGINT stops accepting requests, \
            answers every accepted one, then exits 0.
            """
    )

    @Option(name: .customLong("model-repository"), help: "Folder of model folders (DIR/<model>/model.onnx [+ config.json]).")
    var modelRepository: String

    @Option(help: "Address to listen on (0.0.0.0 for every interface, as in a container).")
    var host = "127.0.0.1"

    @Option(name: .customLong("http-port"), help: "HTTP/REST port (0: a free one).")
    var httpPort = 8000

    @Option(name: .customLong("grpc-port"), help: "gRPC port (0: a free one).")
    var grpcPort = 8001

    @Option(name: .customLong("metrics-port"), help: "Prometheus metrics port (0: a free one).")
    var metricsPort = 8002

    @Option(name: .customLong("max-request-bytes"), help: "Largest request body or gRPC message accepted; larger ones get 413 (gRPC RESOURCE_EXHAUSTED).")
    var maxRequestBytes = 64 << 20

    func validate() throws {
        for (option, port) in [("--http-port", httpPort), ("--grpc-port", grpcPort), ("--metrics-port", metricsPort)] where !(0...65535).contains(port) {
            throw ValidationError("\(option) must be from 0 to 65535")
        }
        if maxRequestBytes < 1024 { throw ValidationError("--max-request-bytes must be at least 1024") }
    }

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .info
            return handler
        }
        var options = OctetServer.Options(modelRepository: modelRepository)
        options.host = host
        options.httpPort = httpPort
        options.grpcPort = grpcPort
        options.metricsPort = metricsPort
        options.maxRequestBytes = maxRequestBytes
        try await OctetServer.run(options, logger: Logger(label: "octet.serve"))
    }
}
