import Foundation
import OctetCore
import OctetRuntime

/// The tactic (tile shape) each layer of a CUDA program runs at each batch size, shared by the program's execution
/// contexts: filled when a batch size is first run (by timing, or from the timing cache), or read from an engine
/// file, after which that batch size is never timed again.
public final class CUDATacticTable: @unchecked Sendable {
    private var table: [Int: [String?]]
    private let lock = NSLock()

    init(_ table: [Int: [String?]] = [:]) { self.table = table }

    func chosen(batch: Int) -> [String?]? {
        lock.lock()
        defer { lock.unlock() }
        return table[batch]
    }

    func record(batch: Int, _ tactics: [String?]) {
        lock.lock()
        defer { lock.unlock() }
        table[batch] = tactics
    }

    /// Batch sizes with chosen tactics, ascending.
    var batches: [Int: [String?]] {
        lock.lock()
        defer { lock.unlock() }
        return table
    }
}

/// TensorRT's timing cache (`trtexec --timingCacheFile`): tactic timings keyed by the layer's signature (kernel,
/// shapes, types, convolution geometry, batch) and the device (name and compute capability), kept in a file that later
/// builds read, so a layer timed once is not timed again on that kind of GPU. Timings of another device are kept
/// but never used. The file is written with the engine file's writer and checksum (docs/engine-format.md).
public final class CUDATimingCache: @unchecked Sendable {
    static let magic = Array("OCTETTCH".utf8)
    static let formatVersion: UInt32 = 1
    /// key → tactic → milliseconds.
    private var entries: [String: [String: Double]] = [:]
    private let lock = NSLock()
    /// Lookups answered from the cache and timings added, for the build log.
    public private(set) var hits = 0, misses = 0

    public init() {}

    /// Reads the cache at `path`; a missing file is an empty cache (the first build creates it).
    /// - Throws: `OctetError` naming the file when it exists but is not a timing cache, or is damaged.
    public convenience init(path: String) throws {
        self.init()
        guard FileManager.default.fileExists(atPath: path) else { return }
        let bytes = [UInt8](try FileReading.contents(of: path, what: "an Octet timing cache"))
        guard bytes.count >= 16, bytes[0..<8].elementsEqual(Self.magic) else {
            throw OctetError.malformedFile(path: path, reason: "is not an Octet timing cache (it does not start with OCTETTCH)")
        }
        let crc = bytes.withUnsafeBytes { CRC32.checksum(UnsafeRawBufferPointer(rebasing: $0[0..<(bytes.count - 4)])) }
        var trailer = BinaryReader(bytes, path: path, offset: bytes.count - 4)
        guard try trailer.u32("the checksum") == crc else {
            throw OctetError.malformedFile(path: path, reason: "checksum mismatch: the timing cache is damaged; delete it and build again")
        }
        var r = BinaryReader(bytes, path: path, offset: 8, end: bytes.count - 4)
        let version = try r.u32("the format version")
        guard version == Self.formatVersion else {
            throw OctetError.malformedFile(path: path, reason: "is a timing cache of format version \(version); this octet reads version \(Self.formatVersion)")
        }
        let count = try r.count("timing cache entries", elementSize: 16, limit: 1 << 24)
        for _ in 0..<count {
            let key = try r.string("a timing cache key")
            let tactics = try r.count("tactics", elementSize: 16, limit: 1 << 16)
            var timings: [String: Double] = [:]
            for _ in 0..<tactics { timings[try r.string("a tactic")] = try r.f64("a timing") }
            entries[key] = timings
        }
        try r.expectEnd("the timing cache")
    }

    /// Milliseconds of every tactic of `tactics` under `key`, or nil when any was never timed.
    func timings(_ key: String, tactics: [String]) -> [Double]? {
        lock.lock()
        defer { lock.unlock() }
        guard let known = entries[key], case let found = tactics.compactMap({ known[$0] }), found.count == tactics.count else {
            misses += 1
            return nil
        }
        hits += 1
        return found
    }

    func record(_ key: String, tactics: [String], milliseconds: [Double]) {
        lock.lock()
        defer { lock.unlock() }
        for (tactic, ms) in zip(tactics, milliseconds) { entries[key, default: [:]][tactic] = ms }
    }

    public var count: Int {
        lock.lock()
        defer { lock.unlock() }
        return entries.count
    }

    /// Writes the cache to `path` (keys sorted, so equal caches are equal files).
    public func write(to path: String) throws {
        var w = BinaryWriter()
        lock.lock()
        for byte in Self.magic { w.u8(byte) }
        w.u32(Self.formatVersion)
        w.count(entries.count)
        for key in entries.keys.sorted() {
            w.string(key)
            let timings = entries[key] ?? [:]
            w.count(timings.count)
            for tactic in timings.keys.sorted() {
                w.string(tactic)
                w.f64(timings[tactic] ?? 0)
            }
        }
        lock.unlock()
        var bytes = w.bytes
        withUnsafeBytes(of: CRC32.checksum(bytes).littleEndian) { bytes.append(contentsOf: $0) }
        do {
            try Data(bytes).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw OctetError.io(path: path, reason: "cannot write the timing cache: \(FileReading.reason(error, path: path))")
        }
    }
}

extension CUDAProgram {
    /// What a tactic's speed depends on: the device, the layer's kernel, its tensors' shapes and types, its
    /// convolution geometry and fused activation, and the batch size. Equal keys time equally.
    func timingKey(layer index: Int, batch: Int) -> String {
        let layer = plan.network.layers[index]
        let device = library.device
        var parts = [device.name, device.architecture, layers[index].kernelName, "batch=\(batch)"]
        parts += layer.inputs.map { "in=\(plan.network[$0].shape)\(plan.network[$0].dataType)" }
        parts += layer.outputs.map { "out=\(plan.network[$0].shape)\(plan.network[$0].dataType)" }
        if case let .convolution(p) = layer.kind {
            parts.append("w=\(p.weights.shape) s=\(p.strides) d=\(p.dilations) p=\(p.padsBegin)\(p.padsEnd) g=\(p.groups)")
        }
        if case let .fullyConnected(p) = layer.kind { parts.append("w=\(p.weights.shape)") }
        parts.append("act=\(layer.fusedActivation?.name ?? "none")")
        return parts.joined(separator: " ")
    }
}

extension CUDAProgram: SerializableProgram {
    var target: String { "\(library.device.architecture) \(library.device.name)" }

    /// The layers that run natively and whose constants the store recorded (convolutions and fully connected
    /// layers: packed weights, bias, multipliers, tap table; constants: their bytes): a load uploads those as they
    /// are and never reads the plan's weights. Layers on the host reference implementation keep theirs.
    var layersWithSelfContainedState: Set<Int> {
        constants.layersWithConstants.subtracting(layers.indices.filter { layers[$0] is HostReferenceLayer })
    }

    /// The CUDA state: architecture, device name, the convolution path, the cubin, per timed batch size the
    /// tactic of every layer (empty string: the layer has no choice), then every layer's kernel and constants as
    /// uploaded (read back from the device), so a load uploads them without computing anything.
    func serializeState(into writer: inout BinaryWriter) throws {
        writer.string(library.device.architecture)
        writer.string(library.device.name)
        switch convolutions {
        case .automatic: writer.u8(0); writer.string("")
        case .dp4a: writer.u8(1); writer.string("")
        case let .tile(name): writer.u8(2); writer.string(name)
        }
        writer.blob(library.cubin)
        let table = tactics.batches
        writer.count(table.count)
        for batch in table.keys.sorted() {
            writer.i64(batch)
            writer.strings((table[batch] ?? []).map { $0 ?? "" })
        }
        try library.driver.activate(library.device)
        try constants.write(into: &writer) { try $0.download() }
    }
}

/// Loads CUDA engine files on the first CUDA device: its kernels from the file's cubin (no NVRTC compilation),
/// its tactics from the file (no timing), every layer's constants (packed weights, biases, multipliers, tables)
/// from the file, uploaded as they are (no quantization, no packing), after checking that the device has the
/// architecture they were built for.
public struct CUDAEngineLoader: EngineLoadingBackend {
    public let name = "cuda"
    /// Format 1 saved no constants (a load prepared them on the host); those files are refused with a sentence.
    public let oldestStateVersion: UInt32 = 2
    let driver: CUDADriver
    let device: CUDADriver.Device

    /// Opens the CUDA driver and the first device, without compiling anything.
    public init() throws {
        driver = try CUDADriver()
        guard let first = try driver.devices().first else {
            throw OctetError.unavailable(reason: "CUDA is installed but the driver reports no device")
        }
        device = first
        // The device's primary context, created now: a loader opened on another thread while the engine file is read
        // (`Engine.open(engineFile:)`) has then paid all of the driver's start-up.
        try driver.activate(first)
    }

    public func support(for layer: Layer, in plan: EnginePlan) -> LayerSupport { CUDABackend.support(for: layer, in: plan) }

    public func compile(_ plan: EnginePlan, options: ExecutionOptions) throws -> any CompiledProgram {
        try CUDABackend().compile(plan, options: options)
    }

    public func load(_ plan: EnginePlan, state: inout BinaryReader, options: ExecutionOptions) throws -> any CompiledProgram {
        let architecture = try state.string("the GPU architecture")
        let deviceName = try state.string("the GPU name")
        guard architecture == device.architecture else {
            throw OctetError.malformedFile(
                path: state.path,
                reason: "was built for compute capability \(architecture) (\(deviceName)), and this GPU is \(device.name), \(device.architecture); build the engine on this kind of GPU")
        }
        let convolutions: CUDABackend.ConvolutionPath
        let path = try state.u8("the convolution path"), tile = try state.string("the convolution tile")
        switch path {
        case 0: convolutions = .automatic
        case 1: convolutions = .dp4a
        case 2: convolutions = .tile(tile)
        case let code: throw state.malformed("the convolution path has the unknown code \(code)")
        }
        let cubin = try state.blob("the kernel binary")
        let batches = try state.count("timed batch sizes", elementSize: 16, limit: 1 << 16)
        var table: [Int: [String?]] = [:]
        for _ in 0..<batches {
            let batch = try state.i64("a batch size")
            table[batch] = try state.strings("the tactics at batch \(batch)").map { $0.isEmpty ? nil : $0 }
        }
        let start = DispatchTime.now().uptimeNanoseconds
        func milliseconds(since t: UInt64) -> Double { Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6 }
        let (library, shared) = try CUDAKernelLibrary.loading(deviceOrdinal: Int(device.ordinal), cubin: cubin)
        let moduleLoaded = DispatchTime.now().uptimeNanoseconds
        let driver = library.driver
        let constants = try CUDAConstantStore(loading: state, layerCount: plan.network.layers.count) { try DeviceArray(bytes: $0, driver: driver) }
        let program = try CUDAProgram(
            plan: plan, library: library, convolutions: convolutions, tactics: CUDATacticTable(table), timingCache: nil, constants: constants)
        if let rest = constants.reader { state = rest }
        // The library's own phases (driver, context, module), or one phase where an earlier load made the library.
        let startup = shared
            ? [("context and kernel module shared with an engine loaded before", Double(moduleLoaded - start) / 1e6)] : library.startupPhases
        program.loadPhases = startup + [
            (String(format: "layers with their constants uploaded (%.1f MB, %d computed)", Double(constants.uploadedBytes) / 1e6, constants.computed),
             milliseconds(since: moduleLoaded)),
        ]
        return program
    }
}
