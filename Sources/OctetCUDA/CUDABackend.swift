import Foundation
import OctetCore
import OctetQuantization
import OctetReference
import OctetRuntime

/// The CUDA backend: the same plan, tensor layouts (NHWC for rank-4 activations) and integer arithmetic as the
/// CPU backend, in device memory. INT8 convolutions and fully connected layers are implicit GEMMs on tensor cores;
/// every other common layer has a kernel; layer kinds without one run through the reference implementation on
/// the host, and the build report names them (`host_reference_*`).
///
/// Execution: one stream per execution context, device buffers planned per batch size like the CPU's arena,
/// pinned host staging for inputs and outputs, and a CUDA graph captured per context and batch size, so a small
/// batch costs one graph launch rather than one launch per layer.
public struct CUDABackend: Backend {
    public let name = "cuda"
    let library: CUDAKernelLibrary
    let convolutions: ConvolutionPath
    /// Tactic timings from earlier builds (`--timing-cache`), consulted and extended when tactics are timed.
    let timingCache: CUDATimingCache?

    /// How INT8 convolutions use the GPU's integer units.
    public enum ConvolutionPath: Sendable, Equatable {
        /// Tensor cores (`mma.sync`) on sm_80 and newer, `dp4a` before.
        case automatic
        /// `dp4a` everywhere: the path of sm_61–sm_75 GPUs, selectable on newer ones so it can be checked there.
        case dp4a
        /// Tensor cores with one tile shape (`128x128x64_w64x32_s3`, ...) wherever it applies instead of the
        /// fastest, so the self-test can check every tile.
        case tile(String)
    }

    /// Opens the first CUDA device and its kernel library (compiled with NVRTC, or read from the kernel cache).
    public init(convolutions: ConvolutionPath = .automatic, timingCache: CUDATimingCache? = nil) throws {
        library = try CUDAKernelLibrary.shared()
        self.convolutions = convolutions
        self.timingCache = timingCache
    }

    /// Whether a CUDA device can be used here; `reason` says why not.
    public static func availability() -> (available: Bool, reason: String?) {
        do {
            _ = try CUDAKernelLibrary.shared()
            return (true, nil)
        } catch {
            return (false, "\(error)")
        }
    }

    public var deviceDescription: String { "\(library.device) (kernels \(library.origin))" }

    public func support(for layer: Layer, in plan: EnginePlan) -> LayerSupport { Self.support(for: layer, in: plan) }

    /// FP16 runs on tensor cores (`mma.sync` m16n8k16, sm_80 and newer), for the layers `float16Refusal(for:)` accepts.
    public func float16Refusal(for layer: Layer, in network: Network) -> String? {
        guard library.hasTensorCoreKernels else {
            return "\(library.device.name) (\(library.device.architecture)) has no FP16 tensor-core kernels in Octet (compute capability 8.0 or newer)"
        }
        return Self.float16Refusal(for: layer)
    }

    public func compile(_ plan: EnginePlan, options: ExecutionOptions) throws -> any CompiledProgram {
        try CUDAProgram(
            plan: plan, library: library, convolutions: library.hasTensorCoreKernels ? convolutions : .dp4a,
            tactics: CUDATacticTable(), timingCache: timingCache)
    }
}

/// A plan compiled for CUDA: one `CUDALayer` per plan layer (weights already on the device), tensor placement.
final class CUDAProgram: CompiledProgram, @unchecked Sendable {
    let plan: EnginePlan
    let library: CUDAKernelLibrary
    let layers: [any CUDALayer]
    let tensors: TensorPlacement
    let convolutions: CUDABackend.ConvolutionPath
    /// The tactic each layer runs at each batch size: timed at the first run of a batch size, or loaded from an
    /// engine file (then nothing is timed).
    let tactics: CUDATacticTable
    let timingCache: CUDATimingCache?
    /// Every layer's constant arrays, as computed (a build) or loaded (an engine file), for saving.
    let constants: CUDAConstantStore<DeviceArray>
    /// Where a load's time went (`CUDAEngineLoader`); empty for a build.
    var loadPhases: [(phase: String, milliseconds: Double)] = []
    /// Where a build's CUDA time went: the library's start-up, then the constants computed and uploaded; empty
    /// for a load.
    let buildPhases: [(phase: String, milliseconds: Double)]

    var kernelNames: [String] { layers.map(\.kernelName) }

    /// `constants`: the engine file's (a load), or nil to compute every constant from the plan (a build).
    init(
        plan: EnginePlan, library: CUDAKernelLibrary, convolutions: CUDABackend.ConvolutionPath, tactics: CUDATacticTable,
        timingCache: CUDATimingCache?, constants saved: CUDAConstantStore<DeviceArray>? = nil
    ) throws {
        self.plan = plan
        self.library = library
        self.convolutions = convolutions
        self.tactics = tactics
        self.timingCache = timingCache
        try library.driver.activate(library.device)
        let tensors = TensorPlacement(plan: plan)
        let driver = library.driver
        let constants = saved ?? CUDAConstantStore { try DeviceArray(bytes: $0, driver: driver) }
        let factory = CUDALayerFactory(plan: plan, library: library, tensors: tensors, convolutions: convolutions, constants: constants)
        let start = DispatchTime.now().uptimeNanoseconds
        self.layers = try plan.network.layers.map { layer in
            try constants.begin(layer: layer.name)
            let made = try factory.makeLayer(layer)
            try constants.end(kernelName: made.kernelName)
            return made
        }
        self.tensors = tensors
        self.constants = constants
        let made = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
        buildPhases = saved != nil ? [] : library.startupPhases + [
            (String(format: "layers with their constants computed and uploaded (%.1f MB, %d computed)", Double(constants.uploadedBytes) / 1e6, constants.computed), made),
        ]
    }

    func makeState() -> any ProgramState { CUDAState(program: self) }
}

/// A tensor in device memory during one execution.
struct DeviceTensor {
    var address: UInt64
    var layout: TensorLayout
    var batch: Int

    var count: Int { layout.elementsPerSample * batch }
    var bytes: Int { layout.bytesPerSample * batch }
    /// Pixels (N·H·W) of an NHWC tensor, rows of its last axis of any other (`TensorLayout`'s pixel view).
    var pixels: Int { batch * layout.height * layout.width }
    var isSigned: Int32 { layout.dataType == .int8 ? 1 : 0 }
}

/// What one execution does, recorded once per batch size: kernel launches and copies on the context's stream,
/// and host steps (layers run by the reference implementation), which need the stream synchronized.
enum CUDAStep {
    /// `overlapsPrevious`: a programmatic dependent launch (`CUDADriver.launch`).
    case launch(CUDADriver.Kernel, grid: (UInt32, UInt32, UInt32), block: (UInt32, UInt32, UInt32), sharedBytes: Int, KernelArguments, overlapsPrevious: Bool)
    case copy(destination: UInt64, source: UInt64, bytes: Int)
    case host((CUDADriver.Stream) throws -> Void)
}

/// Collects the steps of one layer.
struct CUDAEncoder {
    let library: CUDAKernelLibrary
    /// Device scratch memory shared by all layers (rearranged stem inputs), `workspaceBytes` large.
    let workspace: UInt64
    /// Zeroed int32 accumulators shared by all layers (split-K sums); each layer leaves them zeroed.
    let accumulators: UInt64
    /// Which of the layer's `tactics` to encode.
    var tactic = 0
    var steps: [CUDAStep] = []

    /// `overlapsPrevious` asks for a programmatic dependent launch where the device has it: the kernel must wait
    /// (`griddepcontrol.wait`) before it touches what earlier kernels write or read.
    mutating func launch(
        _ name: String, grid: (UInt32, UInt32, UInt32), block: (UInt32, UInt32, UInt32), sharedBytes: Int = 0, _ arguments: KernelArguments,
        overlapsPrevious: Bool = false
    ) throws {
        let kernel = try library.kernel(name, dynamicSharedMemory: sharedBytes)
        let overlaps = overlapsPrevious && library.driver.supportsOverlappedLaunch(library.device)
        steps.append(.launch(kernel, grid: grid, block: block, sharedBytes: sharedBytes, arguments, overlapsPrevious: overlaps))
    }

    /// One thread per element of a flat range of `count`, 256 per block.
    mutating func launch(_ name: String, elements count: Int, _ arguments: KernelArguments) throws {
        guard count > 0 else { return }
        try launch(name, grid: (UInt32((count + 255) / 256), 1, 1), block: (256, 1, 1), arguments)
    }

    mutating func launch(_ name: String, elements count: Int, _ arguments: [any BitwiseCopyable]) throws {
        try launch(name, elements: count, KernelArguments(arguments))
    }

    mutating func copy(to destination: DeviceTensor, from source: DeviceTensor) {
        steps.append(.copy(destination: destination.address, source: source.address, bytes: min(destination.bytes, source.bytes)))
    }
}

/// The buffers, stream, staging memory and captured graph of one execution context.
final class CUDAState: ProgramState {
    let program: CUDAProgram
    private var driver: CUDADriver { program.library.driver }
    private var stream: CUDADriver.Stream?
    private var prepared: Prepared?
    private var profile: [Double]?
    private var computeEvents: (start: CUDADriver.Event, end: CUDADriver.Event)?
    /// 8-bit pixel input (`execute(pixels:)`): pinned host bytes the caller's pixels are copied into, so the upload
    /// is one DMA transfer, and their device copy. Grown to the largest batch seen.
    private var pixelStaging: (host: UnsafeMutableRawPointer, device: CUDADriver.Buffer)?
    private(set) var lastComputeMilliseconds: Double?
    var layerTactics: [String?]? { prepared?.layerTactics }

    /// Everything that depends on the batch size.
    private struct Prepared {
        var batch: Int
        var arena: CUDADriver.Buffer
        var workspace: CUDADriver.Buffer
        var accumulators: CUDADriver.Buffer
        var offsets: [TensorID: Int]
        /// Rank-4 float network inputs arrive in logical NCHW order here, and a kernel (`inputSteps`) lays them out
        /// NHWC; 8-bit pixel input skips both and is normalized straight into the NHWC tensor.
        var inputStaging: [TensorID: CUDADriver.Buffer]
        /// Pinned host memory the outputs are copied into.
        var outputStaging: UnsafeMutableRawPointer
        var outputOffsets: [TensorID: Int]
        var inputSteps: [CUDAStep]
        var layerSteps: [[CUDAStep]]
        /// The tactic each layer runs at this batch size (nil: the layer has no choice).
        var layerTactics: [String?]
        var graph: CUDADriver.GraphExec?
    }

    init(program: CUDAProgram) { self.program = program }

    deinit {
        release()
        if let stream { driver.destroy(stream) }
        if let pixelStaging {
            driver.freePinned(pixelStaging.host)
            driver.release(pixelStaging.device)
        }
        if let computeEvents {
            driver.destroy(computeEvents.start)
            driver.destroy(computeEvents.end)
        }
    }

    func enableProfiling() { profile = Array(repeating: 0, count: program.layers.count) }
    var layerMilliseconds: [Double]? { profile }

    private func release() {
        guard let prepared else { return }
        if let graph = prepared.graph { driver.destroy(graph) }
        driver.release(prepared.arena)
        driver.release(prepared.workspace)
        driver.release(prepared.accumulators)
        prepared.inputStaging.values.forEach(driver.release)
        driver.freePinned(prepared.outputStaging)
        self.prepared = nil
    }

    private func device(_ id: TensorID, _ p: Prepared) -> DeviceTensor {
        guard let offset = p.offsets[id], let entry = program.tensors[id] else {
            preconditionFailure("tensor \(id) has no place in the memory plan")
        }
        return DeviceTensor(address: p.arena.address + UInt64(offset), layout: entry.layout, batch: entry.fixedBatch ?? p.batch)
    }

    private func stagedOutput(_ id: TensorID, _ p: Prepared) -> HostTensor {
        let entry = program.tensors[id]!
        return HostTensor(base: p.outputStaging + p.outputOffsets[id]!, layout: entry.layout, batch: entry.fixedBatch ?? p.batch)
    }

    private func prepare(batch: Int, stream: CUDADriver.Stream) throws -> Prepared {
        if let prepared, prepared.batch == batch { return prepared }
        release()
        let network = program.plan.network
        let (offsets, size) = try program.tensors.arena(batch: batch, alignment: 256)
        // The kernels index elements with 32-bit integers.
        if let (id, entry) = program.tensors.entries.first(where: { $0.value.layout.elementsPerSample * ($0.value.fixedBatch ?? batch) >= Int(Int32.max) }) {
            throw OctetError.invalidInput(reason: "batch \(batch) is too large for the CUDA backend: tensor '\(network[id].name)' would hold \(entry.layout.elementsPerSample * batch) elements (the limit is 2^31); split the batch")
        }
        let arena = try driver.allocate(bytes: max(size, 256))
        var workspaceBytes = 256, accumulatorBytes = 256
        for (layer, compiled) in zip(network.layers, program.layers) {
            let inputs = layer.inputs.map { program.tensors[$0]!.layout }
            workspaceBytes = max(workspaceBytes, compiled.workspaceBytes(batch: batch, inputs: inputs))
            accumulatorBytes = max(accumulatorBytes, compiled.accumulatorBytes(batch: batch))
        }
        let workspace = try driver.allocate(bytes: workspaceBytes)
        let accumulators = try driver.allocate(bytes: accumulatorBytes)
        try driver.zero(accumulators)
        var outputOffsets: [TensorID: Int] = [:]
        var outputBytes = 0
        for id in network.outputs where outputOffsets[id] == nil {
            outputOffsets[id] = outputBytes
            outputBytes += (program.tensors[id]!.bytes(batch: batch) + 255) / 256 * 256
        }
        var p = Prepared(
            batch: batch, arena: arena, workspace: workspace, accumulators: accumulators, offsets: offsets, inputStaging: [:],
            outputStaging: try driver.allocatePinned(bytes: outputBytes), outputOffsets: outputOffsets, inputSteps: [], layerSteps: [], layerTactics: [], graph: nil)
        var encoder = CUDAEncoder(library: program.library, workspace: workspace.address, accumulators: accumulators.address)
        for id in network.inputs {
            let tensor = device(id, p)
            guard tensor.layout.isNHWC else { continue }
            let staging = try driver.allocate(bytes: tensor.bytes)
            p.inputStaging[id] = staging
            let pixels = tensor.layout.height * tensor.layout.width
            try encoder.launch("octet_nchw_to_nhwc_f32", elements: tensor.count, [
                Int64(tensor.count), Int32(tensor.layout.channels), Int32(pixels), staging.address, tensor.address,
            ])
        }
        p.inputSteps = encoder.steps
        func encode(_ index: Int, tactic: Int) throws -> [CUDAStep] {
            let layer = network.layers[index]
            var encoder = CUDAEncoder(library: program.library, workspace: workspace.address, accumulators: accumulators.address)
            encoder.tactic = tactic
            try program.layers[index].encode(inputs: layer.inputs.map { device($0, p) }, outputs: layer.outputs.map { device($0, p) }, into: &encoder)
            return encoder.steps
        }
        let tactics = program.layers.map { $0.tactics(batch: batch) }
        p.layerSteps = try tactics.indices.map { try encode($0, tactic: 0) }
        p.layerTactics = tactics.map(\.first)
        if let chosen = program.tactics.chosen(batch: batch) {
            // Chosen before (an engine file, or another context of this engine): nothing is timed.
            guard chosen.count == tactics.count else {
                throw OctetError.invalidNetwork(reason: "the saved tactics name \(chosen.count) layers, the engine has \(tactics.count)")
            }
            for index in tactics.indices where tactics[index].count > 1 {
                guard let name = chosen[index], let tactic = tactics[index].firstIndex(of: name) else {
                    throw OctetError.invalidNetwork(
                        reason: "layer '\(network.layers[index].name)' was saved with tactic \(chosen[index] ?? "none"), which this octet does not offer at batch \(batch) (\(tactics[index].joined(separator: ", ")))")
                }
                p.layerSteps[index] = try encode(index, tactic: tactic)
                p.layerTactics[index] = name
            }
        } else if ProcessInfo.processInfo.environment["OCTET_CUDA_TUNING"] != "0", tactics.contains(where: { $0.count > 1 }) {
            // One run of the whole network first, so the timings below start from a GPU at full clock.
            try issue(p.inputSteps + p.layerSteps.joined(), stream: stream)
            for index in tactics.indices where tactics[index].count > 1 {
                let key = program.timingKey(layer: index, batch: batch)
                let milliseconds = try program.timingCache?.timings(key, tactics: tactics[index])
                    ?? fastest(of: tactics[index].count, { try encode(index, tactic: $0) }, stream: stream)
                program.timingCache?.record(key, tactics: tactics[index], milliseconds: milliseconds)
                let chosen = milliseconds.indices.min { milliseconds[$0] < milliseconds[$1] } ?? 0
                p.layerSteps[index] = try encode(index, tactic: chosen)
                p.layerTactics[index] = tactics[index][chosen]
            }
            program.tactics.record(batch: batch, p.layerTactics)
        } else {
            program.tactics.record(batch: batch, p.layerTactics)
        }
        let hostSteps = p.layerSteps.joined().contains { if case .host = $0 { true } else { false } }
        if !hostSteps {
            // The layers' kernels only: the input copies and conversions (float NCHW or 8-bit pixels) and the
            // output copies stay outside, so one graph serves both input forms.
            p.graph = try driver.capture(stream) {
                for steps in p.layerSteps { try issue(steps, stream: stream) }
            }
        }
        prepared = p
        return p
    }

    /// Times each of a layer's tactics on the arena as it is (only the time matters: the results are the same
    /// and later layers overwrite them) and returns their milliseconds per run. Each runs often enough to take about
    /// a millisecond, so short kernels are not judged by one launch, in two interleaved rounds whose better time
    /// counts, so a momentary disturbance does not decide.
    private func fastest(of count: Int, _ encode: (Int) throws -> [CUDAStep], stream: CUDADriver.Stream) throws -> [Double] {
        let (start, end) = (try driver.makeEvent(), try driver.makeEvent())
        defer {
            driver.destroy(start)
            driver.destroy(end)
        }
        func time(_ steps: [CUDAStep], runs: Int) throws -> Double {
            try driver.record(start, stream: stream)
            for _ in 0..<runs { try issue(steps, stream: stream) }
            try driver.record(end, stream: stream)
            try driver.synchronize(stream)
            return Double(try driver.elapsed(from: start, to: end)) / Double(runs)
        }
        let steps = try (0..<count).map(encode)
        let runs = try steps.map { max(3, min(50, Int(1 / max(try time($0, runs: 1), 1e-3)))) }
        var best = [Double](repeating: .infinity, count: count)
        for _ in 0..<2 {
            for tactic in 0..<count { best[tactic] = min(best[tactic], try time(steps[tactic], runs: runs[tactic])) }
        }
        return best
    }

    private func issue(_ steps: [CUDAStep], stream: CUDADriver.Stream) throws {
        for step in steps {
            switch step {
            case let .launch(kernel, grid, block, shared, arguments, overlapsPrevious):
                try driver.launch(kernel, grid: grid, block: block, sharedBytes: shared, arguments: arguments, stream: stream, overlapsPrevious: overlapsPrevious)
            case let .copy(destination, source, bytes):
                try driver.copyOnDevice(destination, from: source, bytes: bytes, stream: stream)
            case let .host(body):
                try body(stream)
            }
        }
    }

    /// The stream, compute-time events and batch-size state of one execution.
    private func begin(batch: Int) throws -> (Prepared, CUDADriver.Stream, (start: CUDADriver.Event, end: CUDADriver.Event)) {
        try driver.activate(program.library.device)
        let stream = try self.stream ?? driver.makeStream()
        self.stream = stream
        let events = try computeEvents ?? (driver.makeEvent(), driver.makeEvent())
        computeEvents = events
        return (try prepare(batch: batch, stream: stream), stream, events)
    }

    func execute(_ inputs: [String: TensorData], observe: ((TensorID, TensorValue) -> Void)?) throws -> [String: TensorData] {
        let network = program.plan.network
        guard let firstInput = network.inputs.first, let first = inputs[network[firstInput].name] else {
            throw OctetError.invalidInput(reason: "no data for network input '\(network.inputs.first.map { network[$0].name } ?? "?")'")
        }
        let batch = first.shape.first ?? 1
        let (p, stream, events) = try begin(batch: batch)
        for id in network.inputs {
            guard let data = inputs[network[id].name] else {
                throw OctetError.invalidInput(reason: "no data for network input '\(network[id].name)'")
            }
            guard data.shape == [batch] + Array(network[id].shape.dropFirst()) else {
                throw OctetError.invalidInput(reason: "input '\(network[id].name)' has shape \(data.shape), the network expects [\(batch), \(network[id].shape.dropFirst().map(String.init).joined(separator: ", "))]")
            }
            // Straight from the caller's array (logical order); NHWC inputs are transposed on the device.
            let destination = p.inputStaging[id]?.address ?? device(id, p).address
            try data.values.withUnsafeBytes { try driver.copyToDevice(destination, from: $0.baseAddress!, bytes: $0.count, stream: stream) }
            observe?(id, .float(data))
        }
        try driver.record(events.start, stream: stream)
        try issue(p.inputSteps, stream: stream)
        return try run(p, stream: stream, events: events, observe: observe)
    }

    /// 8-bit NHWC pixels: one pinned upload of the bytes, then `octet_pixels_to_f32` normalizes them into the
    /// network's NHWC float input with the host's arithmetic (the same floats as `pixels.floatTensor()`). Inputs
    /// the kernel does not cover (more than four channels) are converted on the host instead.
    func execute(pixels: PixelBatch, inputName: String) throws -> [String: TensorData] {
        let network = program.plan.network
        let id = network.inputs[0]
        guard let layout = program.tensors[id]?.layout, layout.isNHWC, layout.dataType == .float32, pixels.shape[3] <= 4 else {
            return try execute([inputName: pixels.floatTensor()], observe: nil)
        }
        let (p, stream, events) = try begin(batch: pixels.batch)
        let staging = try pixelStaging(bytes: pixels.pixels.count)
        pixels.pixels.withUnsafeBytes { staging.host.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        try driver.copyToDevice(staging.device.address, from: staging.host, bytes: pixels.pixels.count, stream: stream)
        try driver.record(events.start, stream: stream)
        var encoder = CUDAEncoder(library: program.library, workspace: p.workspace.address, accumulators: p.accumulators.address)
        try encoder.launch("octet_pixels_to_f32", elements: pixels.pixels.count, [Int64(pixels.pixels.count), Int32(pixels.shape[3]), staging.device.address]
            + pixels.normalization.kernelArguments + [device(id, p).address])
        try issue(encoder.steps, stream: stream)
        return try run(p, stream: stream, events: events, observe: nil)
    }

    /// Pinned host and device buffers of at least `bytes` for 8-bit pixel input.
    private func pixelStaging(bytes: Int) throws -> (host: UnsafeMutableRawPointer, device: CUDADriver.Buffer) {
        if let pixelStaging, pixelStaging.device.bytes >= bytes { return pixelStaging }
        if let old = pixelStaging {
            driver.freePinned(old.host)
            driver.release(old.device)
            pixelStaging = nil
        }
        let host = try driver.allocatePinned(bytes: bytes)
        do {
            pixelStaging = (host, try driver.allocate(bytes: bytes))
        } catch {
            driver.freePinned(host)
            throw error
        }
        return pixelStaging!
    }

    /// The layers (the captured graph, or step by step when profiling or observing), then the outputs back into
    /// pinned staging; the network input is already in place on the device.
    private func run(
        _ p: Prepared, stream: CUDADriver.Stream, events: (start: CUDADriver.Event, end: CUDADriver.Event), observe: ((TensorID, TensorValue) -> Void)?
    ) throws -> [String: TensorData] {
        let network = program.plan.network
        if let graph = p.graph, observe == nil, profile == nil {
            try driver.launch(graph, stream: stream)
        } else {
            for (index, (layer, steps)) in zip(network.layers, p.layerSteps).enumerated() {
                let start = profile == nil ? nil : try driver.makeEvent(), end = profile == nil ? nil : try driver.makeEvent()
                if let start { try driver.record(start, stream: stream) }
                try issue(steps, stream: stream)
                if let start, let end {
                    try driver.record(end, stream: stream)
                    profile?[index] += Double(try driver.elapsed(from: start, to: end))
                    driver.destroy(start)
                    driver.destroy(end)
                }
                if let observe {
                    for id in layer.outputs { observe(id, try CUDAHostTransfer.download(device(id, p), driver: driver, stream: stream)) }
                }
            }
        }
        try driver.record(events.end, stream: stream)
        for id in network.outputs {
            let host = stagedOutput(id, p)
            try driver.copyToHost(host.base, from: device(id, p).address, bytes: host.bytes, stream: stream)
        }
        try driver.synchronize(stream)
        lastComputeMilliseconds = Double(try driver.elapsed(from: events.start, to: events.end))
        var result: [String: TensorData] = [:]
        for id in network.outputs { result[network[id].name] = stagedOutput(id, p).logicalValue().dequantized }
        return result
    }
}

extension ChannelNormalization {
    /// `octet_pixels_to_f32`'s mode (0: mean and std, 1: offset and scale) and its two parameters for each of
    /// four channels (unused channels padded with 1).
    var kernelArguments: [any BitwiseCopyable] {
        let (mode, a, b): (Int32, [Float], [Float]) = switch self {
        case let .meanStd(mean, std): (0, mean, std)
        case let .offsetScale(offset, scale): (1, offset, scale)
        }
        let padding = [Float](repeating: 1, count: max(0, 4 - a.count))
        return [mode] + (a + padding + b + padding).map { $0 as any BitwiseCopyable }
    }
}

/// Moving a device tensor to and from logical host values (the host fallback and accuracy tools).
enum CUDAHostTransfer {
    static func download(_ tensor: DeviceTensor, driver: CUDADriver, stream: CUDADriver.Stream) throws -> TensorValue {
        let host = UnsafeMutableRawPointer.allocate(byteCount: max(tensor.bytes, 1), alignment: 64)
        defer { host.deallocate() }
        try driver.copyToHost(host, from: tensor.address, bytes: tensor.bytes, stream: stream)
        try driver.synchronize(stream)
        return HostTensor(base: host, layout: tensor.layout, batch: tensor.batch).logicalValue()
    }

    static func upload(_ value: TensorValue, to tensor: DeviceTensor, driver: CUDADriver, stream: CUDADriver.Stream) throws {
        let host = UnsafeMutableRawPointer.allocate(byteCount: max(tensor.bytes, 1), alignment: 64)
        defer { host.deallocate() }
        HostTensor(base: host, layout: tensor.layout, batch: tensor.batch).store(value)
        try driver.copyToDevice(tensor.address, from: host, bytes: tensor.bytes, stream: stream)
        try driver.synchronize(stream)
    }
}
