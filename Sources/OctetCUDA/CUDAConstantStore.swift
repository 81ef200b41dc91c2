import OctetCore
import OctetRuntime

/// Where the constants of CUDA layers come from — packed weights, biases, multipliers, tap tables, lookup tables,
/// constant tensors and the flags derived from them: computed from the plan and uploaded (a build), or read,
/// already prepared, from an engine file and uploaded as they are (a load, which computes nothing).
///
/// Every layer constructor asks for its constants through one store, in a fixed order, so what a build records is
/// exactly what a load replays; a layer never knows which of the two happens. `Stored` is what an upload makes
/// (`DeviceArray` on a GPU; plain bytes in the tests, which run without one). The CUDA twin of the CPU's
/// `WeightPacker` (docs/engine-format.md, "CUDA state").
///
/// ```swift
/// try store.begin(layer: layer.name)
/// let weights = try store.array("the packed weights", count: n) { pack(q.parameters.weights) }  // not called when loading
/// try store.end(kernelName: kernel.kernelName)
/// ```
final class CUDAConstantStore<Stored> {
    /// One constant as the engine file keeps it.
    enum Record {
        /// An uploaded array (its bytes are read back to save it).
        case array(Stored)
        /// A value derived from the weights that a layer keeps on the host (a flag).
        case value([UInt8])
    }

    /// One layer's constants, in the order its constructor asked for them, and the kernel it became.
    struct LayerRecords {
        var kernel: String
        var records: [Record]
    }

    private let upload: (UnsafeRawBufferPointer) throws -> Stored
    /// The engine file's CUDA state positioned at the next record (loading); nil when computing.
    private(set) var reader: BinaryReader?
    /// Every layer so far, for saving (both modes: a loaded engine saves what it loaded).
    private(set) var layers: [LayerRecords] = []
    private var current: LayerRecords?
    private var layerName = ""
    /// Loading: the kernel the file names for the current layer, and how many of its records are left.
    private var savedKernel: String?
    private var savedLeft = 0
    /// Constants computed from the plan; a load computes none (`octet selftest --device cuda` checks it).
    private(set) var computed = 0
    /// Bytes handed to `upload`.
    private(set) var uploadedBytes = 0

    /// A store that computes every constant from the plan (a build).
    init(computingWith upload: @escaping (UnsafeRawBufferPointer) throws -> Stored) {
        self.upload = upload
    }

    /// A store that replays the constants of an engine file: `reader` at the layer count of the CUDA state,
    /// which must be `layerCount` (the plan's).
    init(loading reader: BinaryReader, layerCount: Int, upload: @escaping (UnsafeRawBufferPointer) throws -> Stored) throws {
        var reader = reader
        let count = try reader.count("layers with constants", elementSize: 16, limit: 1 << 20)
        guard count == layerCount else { throw reader.malformed("the CUDA state holds the constants of \(count) layers, the plan has \(layerCount)") }
        self.reader = reader
        self.upload = upload
    }

    var isLoading: Bool { reader != nil }

    /// The layers (in the order they were begun) for which at least one constant was recorded.
    var layersWithConstants: Set<Int> { Set(layers.indices.filter { !layers[$0].records.isEmpty }) }

    /// Starts the constants of the layer named `name` (loading: reads its kernel name and record count).
    func begin(layer name: String) throws {
        layerName = name
        current = LayerRecords(kernel: "", records: [])
        guard var reader else { return }
        savedKernel = try reader.string("the kernel of layer '\(name)'")
        savedLeft = try reader.count("constants of layer '\(name)'", elementSize: 8, limit: 1 << 16)
        self.reader = reader
    }

    /// An array of `count` elements of `T`, uploaded: `compute()` when building; when loading, the file's next
    /// record, which must have exactly `count · stride(T)` bytes (so no kernel reads past what it was given).
    func array<T: BitwiseCopyable>(_ what: String, count: Int, of _: T.Type = T.self, _ compute: () throws -> [T]) throws -> Stored {
        let bytes = count * MemoryLayout<T>.stride
        let stored: Stored
        if reader != nil {
            stored = try nextSaved(what, bytes: bytes) { try upload($0) }
        } else {
            let values = try compute()
            guard values.count == count else {
                throw OctetError.invalidNetwork(reason: "layer '\(layerName)': \(what) have \(values.count) elements, the kernel expects \(count)")
            }
            computed += 1
            stored = try values.withUnsafeBytes { try upload($0) }
        }
        uploadedBytes += bytes
        current?.records.append(.array(stored))
        return stored
    }

    /// A flag derived from the weights (whether sums stay small enough for a faster conversion, ...): computed
    /// when building, one byte (0 or 1) of the file when loading.
    func flag(_ what: String, _ compute: () throws -> Bool) throws -> Bool {
        let value: Bool
        if reader != nil {
            value = try nextSaved(what, bytes: 1) { bytes in
                guard bytes[0] <= 1 else { throw OctetError.malformedFile(path: reader?.path ?? "", reason: "\(what) of layer '\(layerName)' is \(bytes[0]), neither 0 nor 1") }
                return bytes[0] == 1
            }
        } else {
            value = try compute()
            computed += 1
        }
        current?.records.append(.value([value ? 1 : 0]))
        return value
    }

    /// Ends the current layer, which became `kernelName`. Loading: the layer must have used every record the file
    /// holds for it and be the kernel it was saved as, else the file and this octet disagree about the layer.
    func end(kernelName: String) throws {
        guard var layer = current else { return }
        layer.kernel = kernelName
        layers.append(layer)
        current = nil
        guard let reader, let savedKernel else { return }
        guard savedLeft == 0 else {
            throw reader.malformed("the engine file holds \(savedLeft) constant(s) more than layer '\(layerName)' uses")
        }
        guard savedKernel == kernelName else {
            throw OctetError.malformedFile(
                path: reader.path, reason: "layer '\(layerName)' was saved with kernel \(savedKernel), and this octet makes \(kernelName) of it; rebuild the engine")
        }
    }

    /// The next saved record of the current layer, `bytes` long, handed to `body` without a copy.
    private func nextSaved<R>(_ what: String, bytes: Int, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        guard var reader else { preconditionFailure("nextSaved while computing") }
        guard savedLeft > 0 else {
            throw reader.malformed("layer '\(layerName)' needs more constants than the engine file holds (\(what))")
        }
        let name = "\(what) of layer '\(layerName)'", layer = reader
        let result = try reader.blob(name) { buffer in
            guard buffer.count == bytes else { throw layer.malformed("\(name) have \(buffer.count) bytes, the kernel needs \(bytes)") }
            return try body(buffer)
        }
        savedLeft -= 1
        self.reader = reader
        return result
    }

    /// Writes every layer's kernel and records (docs/engine-format.md): `bytes` reads an uploaded array back.
    func write(into writer: inout BinaryWriter, bytes: (Stored) throws -> [UInt8]) throws {
        writer.count(layers.count)
        for layer in layers {
            writer.string(layer.kernel)
            writer.count(layer.records.count)
            for record in layer.records {
                switch record {
                case let .array(stored): writer.blob(try bytes(stored))
                case let .value(value): writer.blob(value)
                }
            }
        }
    }
}
