import OctetCore

/// A device that runs engine plans. The builder asks `support` for every planned layer (the build report names
/// the layers that run on the host and why; `obey` refuses them), and `compile` turns a plan into something
/// executable, choosing kernels from the same answer (`LayerForm`).
public protocol Backend: Sendable {
    /// Short name for reports (`cpu`, `cuda`, `reference`).
    var name: String { get }
    /// How this backend runs a planned layer: a native kernel, the host reference implementation, or not at all.
    func support(for layer: Layer, in plan: EnginePlan) -> LayerSupport
    /// Why this backend cannot compute `layer` with FP16 operands (FP32 accumulation, FP32 tensors in memory), or
    /// nil when it can. Precision assignment asks it for every float layer FP16 is permitted for (TensorRT's kFP16:
    /// a permission, not an order) and keeps the answer for the build report.
    func float16Refusal(for layer: Layer, in network: Network) -> String?
    /// Prepares the plan for execution (weight packing, kernel choice).
    func compile(_ plan: EnginePlan, options: ExecutionOptions) throws -> any CompiledProgram
}

public struct ExecutionOptions: Sendable, Equatable {
    /// Worker threads for one execution (the machine's core count by default).
    public var threads: Int

    public init(threads: Int? = nil) {
        self.threads = max(1, threads ?? ProcessInfoCores.active)
    }
}

/// A compiled plan: immutable, shared by every execution context.
public protocol CompiledProgram: Sendable {
    /// The kernel the backend chose for each layer of the plan, in plan order (for the build report).
    var kernelNames: [String] { get }
    /// Per-context state (activation buffers) for running this program on one thread at a time.
    func makeState() -> any ProgramState
}

/// The mutable buffers of one execution context.
public protocol ProgramState: AnyObject {
    /// Runs the program. `inputs` are network inputs by name, batch on axis 0. `observe`, when given, sees
    /// every tensor in logical order (used by tests and accuracy tools; slow).
    func execute(_ inputs: [String: TensorData], observe: ((TensorID, TensorValue) -> Void)?) throws -> [String: TensorData]
    /// Runs the program on 8-bit pixels for its one input `inputName` (shape already checked). Backends without a
    /// device-side conversion take the default: `pixels.floatTensor()` on the host.
    func execute(pixels: PixelBatch, inputName: String) throws -> [String: TensorData]
    /// Starts accumulating the time spent in each layer (backends that cannot, ignore it).
    func enableProfiling()
    /// Milliseconds per plan layer accumulated since profiling was enabled, or nil.
    var layerMilliseconds: [Double]? { get }
    /// Accelerators: milliseconds the device spent computing the last execution, without the transfers of
    /// inputs and outputs (TensorRT's "GPU compute time"); nil where there is no such split.
    var lastComputeMilliseconds: Double? { get }
    /// Per plan layer, the variant the backend chose at run time for the last batch size (a GPU's tile shape,
    /// found by timing the candidates), or nil where it chose none; nil for backends that choose at build time.
    var layerTactics: [String?]? { get }
}

extension Backend {
    /// Backends without FP16 kernels (the CPU's) keep every float layer in FP32, saying so.
    public func float16Refusal(for layer: Layer, in network: Network) -> String? { "the \(name) backend has no FP16 kernels" }
}

extension ProgramState {
    public func execute(pixels: PixelBatch, inputName: String) throws -> [String: TensorData] {
        try execute([inputName: pixels.floatTensor()], observe: nil)
    }
    public func enableProfiling() {}
    public var layerMilliseconds: [Double]? { nil }
    public var lastComputeMilliseconds: Double? { nil }
    public var layerTactics: [String?]? { nil }
}

/// Number of active processors, without importing Foundation into every caller.
public enum ProcessInfoCores {
    public static var active: Int { sysconfCores() }
}
