import Foundation
import Hummingbird
import Logging
import Octet
import ServiceLifecycle

/// `octet serve`: a model repository served over the Open Inference Protocol (HTTP/REST and gRPC) with
/// Prometheus metrics, as one `ServiceGroup`. SIGTERM or SIGINT shuts it down gracefully, front ends first: they
/// stop accepting and finish every request already accepted (which still run on the schedulers), then the
/// schedulers drain their queues and stop.
public enum OctetServer {
    public struct Options: Sendable {
        public var modelRepository: String
        public var host = "127.0.0.1"
        /// 0 picks a free port (the log line `HTTP listening on HOST:PORT` tells which).
        public var httpPort = 8000
        public var grpcPort = 8001
        public var metricsPort = 8002
        /// Largest request body (HTTP) or message (gRPC) accepted; larger ones get 413 / RESOURCE_EXHAUSTED.
        public var maxRequestBytes = 64 << 20

        public init(modelRepository: String) { self.modelRepository = modelRepository }
    }

    /// Loads every model, then serves until SIGTERM/SIGINT and a graceful shutdown.
    /// - Throws: `OctetError` naming the repository file that cannot be served, or a port that cannot be bound.
    public static func run(_ options: Options, logger: Logger) async throws {
        let metrics = ServingMetrics()
        let models = try ModelRepository.load(options.modelRepository, metrics: metrics, logger: logger)
        let service = InferenceService(models: models, metrics: metrics)
        let schedulers = SchedulerService(schedulers: models.values.map(\.scheduler))

        let http = Application(
            router: HTTPFrontEnd.router(service: service, maxRequestBytes: options.maxRequestBytes),
            configuration: .init(address: .hostname(options.host, port: options.httpPort), serverName: "octet"),
            onServerRunning: { channel in logger.info("HTTP listening on \(options.host):\(channel.localAddress?.port ?? -1)") },
            logger: logger)
        let metricsRouter = Router()
        metricsRouter.get("metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(bytes: metrics.exposition())))
        }
        let metricsServer = Application(
            router: metricsRouter,
            configuration: .init(address: .hostname(options.host, port: options.metricsPort), serverName: "octet"),
            onServerRunning: { channel in logger.info("metrics listening on \(options.host):\(channel.localAddress?.port ?? -1)") },
            logger: logger)
        let grpc = GRPCFrontEnd(service: service, host: options.host, port: options.grpcPort, maxRequestBytes: options.maxRequestBytes, logger: logger)

        // Shutdown runs in reverse order: front ends first, the schedulers they feed last.
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: schedulers), .init(service: metricsServer), .init(service: grpc), .init(service: http)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await group.run()
        logger.info("shut down: every accepted request was answered")
    }
}

/// The models' schedulers as one service: running from start-up, drained when the group shuts down.
struct SchedulerService: Service {
    let schedulers: [BatchScheduler]

    func run() async throws {
        for scheduler in schedulers { scheduler.start() }
        try? await gracefulShutdown()
        for scheduler in schedulers { await scheduler.stop() }
    }
}
