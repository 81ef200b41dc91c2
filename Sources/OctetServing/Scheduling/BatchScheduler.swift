import Dispatch
import Foundation
import Octet

/// Runs one model's requests on `instances` execution contexts, each on a thread of its own (engine execution is
/// synchronous and CPU-bound, so it stays off Swift's cooperative pool). With dynamic batching, a context that
/// becomes free takes the oldest request and waits up to `maxQueueDelay` for more, then runs as many queued
/// requests as fit `maxBatchSize` samples in one execution, whatever their own batch sizes; without it, one request
/// per execution. The queue is bounded: a request beyond `maxQueueSize` is refused at once (503), and one that
/// waited longer than `queueTimeout` is answered 503 instead of run.
///
/// Shutdown drains: `stop()` refuses new requests, the contexts finish every queued one, then their threads end.
final class BatchScheduler: @unchecked Sendable {
    struct Settings: Sendable {
        var instances: Int
        var maxBatchSize: Int
        /// nil: no dynamic batching (one request per execution).
        var maxQueueDelay: Duration?
        var maxQueueSize: Int
        var queueTimeout: Duration
    }

    /// What one request got back, with the times the metrics and the load test report.
    struct Completion: Sendable {
        var outputs: [String: TensorData]
        var queueSeconds: Double
        var computeSeconds: Double
        /// Samples of the execution the request ran in (its own and the others combined with it).
        var executionBatchSize: Int
    }

    private struct Job {
        let inputs: [String: TensorData]
        let samples: Int
        let enqueued: UInt64
        let finish: @Sendable (Result<Completion, ServingError>) -> Void
    }

    let engine: Engine
    let settings: Settings
    private let metrics: ModelMetrics?
    // Everything below is guarded by `condition`.
    private let condition = NSCondition()
    private var queue: [Job] = []
    private var queueHead = 0
    private var stopping = false
    private let running = DispatchGroup()

    init(engine: Engine, settings: Settings, metrics: ModelMetrics?) {
        self.engine = engine
        self.settings = settings
        self.metrics = metrics
    }

    /// Starts one thread per execution context.
    func start() {
        for index in 0..<settings.instances {
            let context = OwnedContext(context: engine.makeContext())
            running.enter()
            let thread = Thread { [self] in
                work(context.context)
                running.leave()
            }
            thread.name = "octet-context-\(index)"
            thread.start()
        }
    }

    /// Runs `inputs` (each `[n, ...]`, the same `n`) in some execution and returns the request's rows of every output.
    func submit(_ inputs: [String: TensorData], samples: Int) async throws(ServingError) -> Completion {
        let result: Result<Completion, ServingError> = await withCheckedContinuation { continuation in
            let job = Job(inputs: inputs, samples: samples, enqueued: DispatchTime.now().uptimeNanoseconds) {
                continuation.resume(returning: $0)
            }
            if let refusal = enqueue(job) { continuation.resume(returning: .failure(refusal)) }
        }
        return try result.get()
    }

    private func enqueue(_ job: Job) -> ServingError? {
        condition.lock()
        defer { condition.unlock() }
        if stopping { return ServingError(.unavailable, "the server is shutting down and accepts no new requests") }
        guard queue.count - queueHead < settings.maxQueueSize else {
            return ServingError(.unavailable, "the queue of model '\(engine.plan.network.name)' is full (\(settings.maxQueueSize) requests waiting); retry later")
        }
        queue.append(job)
        metrics?.queueDepth(queue.count - queueHead)
        condition.signal()
        return nil
    }

    /// Refuses new requests; the contexts run every queued one, then end. Returns once they have.
    func stop() async {
        beginStopping()
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            running.notify(queue: .global()) { continuation.resume() }
        }
    }

    private func beginStopping() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
    }

    private var queuedSamples: Int { queue[queueHead...].reduce(0) { $0 + $1.samples } }

    /// Requests accepted and not yet taken by a context (tests wait on it rather than on the clock).
    var waitingRequests: Int {
        condition.lock()
        defer { condition.unlock() }
        return queue.count - queueHead
    }

    /// One execution context's loop: take a batch of requests, run it, answer each.
    private func work(_ context: ExecutionContext) {
        while let batch = nextBatch() {
            run(batch, on: context)
        }
    }

    /// The next requests to run together, or nil when stopping with nothing left.
    private func nextBatch() -> [Job]? {
        condition.lock()
        defer { condition.unlock() }
        while queueHead == queue.count {
            if stopping { return nil }
            condition.wait()
        }
        if let delay = settings.maxQueueDelay, !stopping {
            let deadline = queue[queueHead].enqueued + UInt64(delay.components.seconds) * 1_000_000_000 + UInt64(delay.components.attoseconds / 1_000_000_000)
            while queuedSamples < settings.maxBatchSize, !stopping {
                let now = DispatchTime.now().uptimeNanoseconds
                guard now < deadline else { break }
                _ = condition.wait(until: Date(timeIntervalSinceNow: Double(deadline - now) / 1e9))
                if queueHead == queue.count { break }  // another context took them
            }
            if queueHead == queue.count { return [] }
        }
        var batch = [queue[queueHead]]
        queueHead += 1
        var samples = batch[0].samples
        if settings.maxQueueDelay != nil {
            while queueHead < queue.count, samples + queue[queueHead].samples <= settings.maxBatchSize {
                samples += queue[queueHead].samples
                batch.append(queue[queueHead])
                queueHead += 1
            }
        }
        if queueHead > 1024, queueHead * 2 > queue.count {  // keep the array from growing without bound
            queue.removeFirst(queueHead)
            queueHead = 0
        }
        metrics?.queueDepth(queue.count - queueHead)
        return batch
    }

    private func run(_ jobs: [Job], on context: ExecutionContext) {
        guard !jobs.isEmpty else { return }
        let start = DispatchTime.now().uptimeNanoseconds
        let timeout = UInt64(settings.queueTimeout.components.seconds) * 1_000_000_000 + UInt64(settings.queueTimeout.components.attoseconds / 1_000_000_000)
        var live: [Job] = []
        for job in jobs {
            if start - job.enqueued > timeout {
                job.finish(.failure(ServingError(.unavailable, "the request waited more than \(settings.queueTimeout) in the queue of model '\(engine.plan.network.name)'; the server is overloaded")))
            } else {
                live.append(job)
            }
        }
        guard !live.isEmpty else { return }
        let total = live.reduce(0) { $0 + $1.samples }
        var combined: [String: TensorData] = [:]
        for name in live[0].inputs.keys {
            combined[name] = live.count == 1 ? live[0].inputs[name] : TensorData.batch(live.compactMap { $0.inputs[name] })
        }
        let outputs: [String: TensorData]
        do {
            outputs = try context.execute(combined)
        } catch {
            for job in live { job.finish(.failure(ServingError(.internal, "the engine failed: \(error)"))) }
            return
        }
        let end = DispatchTime.now().uptimeNanoseconds
        let compute = Double(end - start) / 1e9
        metrics?.execution(samples: total, computeSeconds: compute)
        if let (name, output) = outputs.first(where: { $0.value.shape.first != total }) {
            for job in live { job.finish(.failure(ServingError(.internal, "output '\(name)' has shape \(output.shape), not \(total) rows for the batch"))) }
            return
        }
        var row = 0
        for job in live {
            var mine: [String: TensorData] = [:]
            for (name, output) in outputs {
                let per = output.count / max(total, 1)
                mine[name] = TensorData(shape: [job.samples] + output.shape.dropFirst(), values: Array(output.values[row * per..<(row + job.samples) * per]))
            }
            row += job.samples
            let waited = Double(start - job.enqueued) / 1e9
            metrics?.queued(seconds: waited)
            job.finish(.success(Completion(outputs: mine, queueSeconds: waited, computeSeconds: compute, executionBatchSize: total)))
        }
    }
}

/// An execution context handed to the one thread that uses it from then on (contexts are not thread-safe, so
/// not `Sendable`; the hand-over is the only crossing).
private struct OwnedContext: @unchecked Sendable {
    let context: ExecutionContext
}
