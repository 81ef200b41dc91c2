import COctetCPUKernels
import OctetCore
import OctetQuantization
import OctetRuntime

/// An engine file's CPU section while a program is made from it.
final class SavedCPUState {
    var reader: BinaryReader
    init(_ reader: BinaryReader) { self.reader = reader }
}

/// Where a CPU layer's packed weights come from: packed now from the plan's weights (a build), or copied, already
/// packed, from an engine file (a load, which must not pack). Layers ask for each packed buffer in a fixed order;
/// the program keeps what was produced so it can save it.
final class WeightPacker {
    private let saved: SavedCPUState?
    /// The kernel the file says the layer was compiled to, and how many of its buffers are left (loading).
    private let savedKernel: String?
    private var savedLeft: Int
    private let layerName: String
    private(set) var produced: [PackedBytes] = []

    /// Packs from the plan's weights.
    init(layerName: String) {
        self.saved = nil
        self.savedKernel = nil
        self.savedLeft = 0
        self.layerName = layerName
    }

    /// Reads the layer's kernel name and buffer count from `saved`, then hands out its buffers.
    init(loading saved: SavedCPUState, layerName: String) throws {
        self.saved = saved
        self.savedKernel = try saved.reader.string("the kernel of layer '\(layerName)'")
        self.savedLeft = try saved.reader.count("packed weight buffers of layer '\(layerName)'", elementSize: 8, limit: 1 << 16)
        self.layerName = layerName
    }

    /// A 64-byte aligned buffer of `count` bytes holding packed weights: `fill` writes them when building; when
    /// loading, they are the next buffer of the file, which must have exactly `count` bytes.
    func pack(count: Int, _ fill: (UnsafeMutableRawPointer) -> Void) throws -> PackedBytes {
        let bytes = PackedBytes(count: count)
        if let saved {
            guard savedLeft > 0 else {
                throw saved.reader.malformed("layer '\(layerName)' needs more packed weight buffers than the engine file holds")
            }
            let what = "the packed weights of layer '\(layerName)'"
            let reader = saved.reader
            try saved.reader.blob(what) { buffer in
                guard buffer.count == count else {
                    // Also what an engine from an octet that packed this layer differently looks like (the
                    // AVX-512 depthwise layout changed after version 3 files were first written).
                    throw reader.malformed(
                        "\(what) have \(buffer.count) bytes, the layer needs \(count): the file is damaged or was built by an octet that packs this layer differently; rebuild the engine")
                }
                if count > 0 { bytes.pointer.copyMemory(from: buffer.baseAddress!, byteCount: count) }
            }
            savedLeft -= 1
        } else {
            fill(bytes.pointer)
        }
        produced.append(bytes)
        return bytes
    }

    /// When loading, checks that the layer used every saved buffer and became the kernel it was saved as: otherwise
    /// the file and this octet disagree about the layer.
    func finish(kernelName: String) throws {
        guard let saved, let savedKernel else { return }
        guard savedLeft == 0 else {
            throw saved.reader.malformed("the engine file holds \(savedLeft) packed weight buffer(s) more than layer '\(layerName)' uses")
        }
        guard savedKernel == kernelName else {
            throw OctetError.malformedFile(
                path: saved.reader.path, reason: "layer '\(layerName)' was saved with kernel \(savedKernel), and this octet makes \(kernelName) of it; rebuild the engine")
        }
    }
}

extension CPUProgram: SerializableProgram {
    /// The instruction set whose kernels the program was compiled for (its kernel names say it too).
    var target: String { isa }

    /// The layers with packed weight buffers (convolutions and fully connected layers on their native kernels):
    /// the buffers hold the packed weights, bias and multipliers, and a load makes the layer from them alone.
    /// Constants are not among them: the CPU keeps a constant's value in the plan and packs nothing.
    var layersWithSelfContainedState: Set<Int> { Set(packedWeights.indices.filter { !packedWeights[$0].isEmpty }) }

    /// The CPU's state: the instruction set, then per layer its kernel name and its packed weight buffers.
    func serializeState(into writer: inout BinaryWriter) throws {
        writer.string(isa)
        writer.count(layers.count)
        for (layer, buffers) in zip(layers, packedWeights) {
            writer.string(layer.kernelName)
            writer.count(buffers.count)
            for buffer in buffers { writer.blob(UnsafeRawBufferPointer(start: buffer.pointer, count: buffer.count)) }
        }
    }
}

extension CPUBackend: EngineLoadingBackend {
    /// Makes the program from the saved packed weights, after checking that this process runs the kernels of the
    /// instruction set they were packed for.
    public func load(_ plan: EnginePlan, state: inout BinaryReader, options: ExecutionOptions) throws -> any CompiledProgram {
        let packedFor = try state.string("the instruction set")
        let current = Self.isa
        if packedFor != current {
            let known = (0..<OCTET_ISA_COUNT).first { String(cString: octet_cpu_isa_name($0)) == packedFor }
            let reason: String
            switch known {
            case nil:
                reason = "was packed for the instruction set '\(packedFor)', which this octet does not know"
            case let isa? where octet_cpu_isa_supported(isa) == 0:
                reason = "was packed for \(packedFor), which this CPU lacks (its kernels here are \(current)); build the engine on this machine"
            default:
                reason = "was packed for \(packedFor), but this process runs the \(current) kernels (OCTET_FORCE_ISA or OCTET_FORCE_GENERIC); run with OCTET_FORCE_ISA=\(packedFor) or rebuild the engine"
            }
            throw OctetError.malformedFile(path: state.path, reason: reason)
        }
        let saved = SavedCPUState(state)
        let program = try CPUProgram(plan: plan, threads: options.threads, saved: saved)
        state = saved.reader
        return program
    }
}
