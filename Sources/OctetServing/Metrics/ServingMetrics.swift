import Foundation
import Prometheus

/// The server's Prometheus metrics (`GET /metrics` on the metrics port), per model: requests that succeeded and
/// failed (by HTTP status), samples inferred, engine executions, queue depth, and histograms of request latency,
/// queue time, compute time and execution batch size. Names follow Triton's `nv_inference_*` where one exists.
final class ServingMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()

    func model(_ name: String) -> ModelMetrics { ModelMetrics(registry: registry, model: name) }

    /// The text exposition format.
    func exposition() -> [UInt8] { registry.emitToBuffer() }
}

/// One model's collectors.
final class ModelMetrics: Sendable {
    private let registry: PrometheusCollectorRegistry
    private let model: String
    private let successes: Counter
    private let inferences: Counter
    private let executions: Counter
    private let depth: Gauge
    private let latency: DurationHistogram
    private let queueTime: DurationHistogram
    private let computeTime: DurationHistogram
    private let batchSizes: ValueHistogram

    /// Seconds from 100 µs to 10 s, for request, queue and compute times.
    static let timeBuckets: [Duration] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
        .map { Duration.nanoseconds(Int64($0 * 1e9)) }

    init(registry: PrometheusCollectorRegistry, model: String) {
        self.registry = registry
        self.model = model
        let labels = [("model", model)]
        func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
            MetricNameDescriptor(namespace: "octet", metricName: metric, unitName: unit, helpText: help)
        }
        successes = registry.makeCounter(descriptor: name("inference_request_success", "total", "Inference requests answered"), labels: labels)
        inferences = registry.makeCounter(descriptor: name("inference", "samples_total", "Samples inferred (a request of batch n counts n)"), labels: labels)
        executions = registry.makeCounter(descriptor: name("inference_exec", "total", "Engine executions (one per dynamic batch)"), labels: labels)
        depth = registry.makeGauge(descriptor: name("queue", "requests", "Requests waiting for an execution context"), labels: labels)
        latency = registry.makeDurationHistogram(descriptor: name("request_duration", "seconds", "Request latency: decoding, queue, compute, encoding"), labels: labels, buckets: Self.timeBuckets)
        queueTime = registry.makeDurationHistogram(descriptor: name("queue_duration", "seconds", "Time a request waited for an execution context"), labels: labels, buckets: Self.timeBuckets)
        computeTime = registry.makeDurationHistogram(descriptor: name("compute_duration", "seconds", "Engine execution time of each batch"), labels: labels, buckets: Self.timeBuckets)
        batchSizes = registry.makeValueHistogram(descriptor: name("batch", "size", "Samples per engine execution"), labels: labels, buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256])
    }

    func succeeded(seconds: Double) {
        successes.increment()
        latency.record(.nanoseconds(Int64(seconds * 1e9)))
    }

    /// A refused or failed request, counted by its HTTP status (400, 404, 413, 500, 503).
    func failed(status: Int) {
        registry.makeCounter(
            descriptor: MetricNameDescriptor(namespace: "octet", metricName: "inference_request_failure", unitName: "total", helpText: "Inference requests refused or failed, by HTTP status"),
            labels: [("model", model), ("status", "\(status)")]
        ).increment()
    }

    func queueDepth(_ requests: Int) { depth.set(Double(requests)) }

    func queued(seconds: Double) { queueTime.record(.nanoseconds(Int64(seconds * 1e9))) }

    func execution(samples: Int, computeSeconds: Double) {
        executions.increment()
        inferences.increment(by: Int64(samples))
        batchSizes.record(Double(samples))
        computeTime.record(.nanoseconds(Int64(computeSeconds * 1e9)))
    }
}
