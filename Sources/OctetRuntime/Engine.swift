import Foundation
import OctetCore

/// An immutable, built engine: a plan compiled for one backend. Create one `ExecutionContext` per thread.
///
/// ```swift
/// let engine = try Builder(config: config, backend: CPUBackend()).build(network)
/// let context = engine.makeContext()
/// let outputs = try context.execute(["input": image])
/// ```
public final class Engine: Sendable {
    public let plan: EnginePlan
    public let program: any CompiledProgram
    public let backendName: String

    public init(plan: EnginePlan, program: any CompiledProgram, backendName: String) {
        self.plan = plan
        self.program = program
        self.backendName = backendName
    }

    public func makeContext() -> ExecutionContext { ExecutionContext(engine: self) }

    public var inputNames: [String] { plan.network.inputs.map { plan.network[$0].name } }

    /// Checks that this engine can run `batch` samples at once (every tensor within `Limits`), so a caller can
    /// refuse a batch before allocating its inputs.
    /// - Throws: `OctetError.invalidInput` naming the tensor or the arena size that is too large.
    public func checkBatch(_ batch: Int) throws {
        _ = try TensorPlacement(plan: plan).arena(batch: batch)
    }
    public var outputNames: [String] { plan.network.outputs.map { plan.network[$0].name } }
}

/// Per-thread execution state (activation buffers) for one engine. Not thread-safe: use one per thread;
/// several contexts on one engine run concurrently.
public final class ExecutionContext {
    public let engine: Engine
    private let state: any ProgramState

    init(engine: Engine) {
        self.engine = engine
        self.state = engine.program.makeState()
    }

    /// Runs the engine on a batch. Inputs are float32, NCHW, any batch size on axis 0.
    public func execute(_ inputs: [String: TensorData]) throws -> [String: TensorData] {
        try state.execute(inputs, observe: nil)
    }

    /// Runs the engine on 8-bit images: the network's one input is `pixels.tensorShape` (`[N, C, H, W]`), and the
    /// normalization of `pixels` gives its float values, exactly as `pixels.floatTensor()` would. A GPU backend
    /// uploads the bytes (a quarter of the float input) and normalizes on the device; others convert on the host.
    public func execute(pixels: PixelBatch) throws -> [String: TensorData] {
        let network = engine.plan.network
        guard network.inputs.count == 1 else {
            throw OctetError.invalidInput(reason: "8-bit pixel input needs a network with one input; this one has \(network.inputs.count)")
        }
        let input = network[network.inputs[0]]
        guard input.shape.count == 4, Array(input.shape.dropFirst()) == Array(pixels.tensorShape.dropFirst()) else {
            throw OctetError.invalidInput(reason: "pixels of shape \(pixels.shape) (NHWC) do not fit input '\(input.name)' of shape \(input.shape) (NCHW)")
        }
        return try state.execute(pixels: pixels, inputName: input.name)
    }

    /// Starts accumulating per-layer time (see `layerMilliseconds`).
    public func enableProfiling() { state.enableProfiling() }

    /// Milliseconds spent in each plan layer since `enableProfiling`, when the backend measures them.
    public var layerMilliseconds: [Double]? { state.layerMilliseconds }

    /// On an accelerator, the device time of the last execution without input and output transfers.
    public var lastComputeMilliseconds: Double? { state.lastComputeMilliseconds }

    /// Per plan layer, the variant chosen at run time for the last batch size, where the backend chooses so.
    public var layerTactics: [String?]? { state.layerTactics }

    /// Runs the engine and reports every tensor it computes (in logical NCHW order), for accuracy tools.
    public func execute(_ inputs: [String: TensorData], observe: (TensorID, TensorValue) -> Void) throws -> [String: TensorData] {
        try withoutActuallyEscaping(observe) { try state.execute(inputs, observe: $0) }
    }
}

func sysconfCores() -> Int {
    Foundation.ProcessInfo.processInfo.activeProcessorCount
}
