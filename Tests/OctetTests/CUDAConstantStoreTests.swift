import Foundation
import Testing
import _OctetTestSupport
@testable import OctetCUDA
import Octet
import OctetCore

/// The constant records of CUDA engine files (issue #17: a load uploads what the build prepared and computes
/// nothing), through `BinaryWriter` / `BinaryReader` with plain byte arrays in place of device arrays, so it runs
/// without a GPU. The GPU half (the same records from real layers, loaded engine = built engine) is in
/// `octet selftest --device cuda` and `EngineFileTests.cudaEngineRoundTrip`.
@Suite struct CUDAConstantStoreTests {
    /// What layers ask for, in order: an `array` of some element type and count, or a `flag`.
    enum Request {
        case int8(count: Int), int32(count: Int), float(count: Int), flag
    }

    /// Three layers as the layer constructors would ask: a GEMM (weights, bias, multipliers, taps, flag), a layer
    /// without constants, a table and a flag; awkward counts, one empty array.
    static let layers: [(name: String, kernel: String, requests: [Request])] = [
        ("conv", "conv_igemm_v16_u8__mma_m16n8k32", [.int8(count: 7 * 128), .int32(count: 7), .float(count: 7), .int32(count: 64), .flag]),
        ("reshape", "copy__cuda", []),
        ("table", "lookup_table_q__cuda", [.int8(count: 256), .float(count: 0), .flag]),
    ]

    /// Runs the requests of `layers` through `store`: `values` gives what a build computes (seeded), and the returned
    /// arrays and flags are what the layers got.
    static func replay(_ store: CUDAConstantStore<[UInt8]>, computing: Bool) throws -> [[UInt8]] {
        var generator = SeededGenerator(seed: 17)
        var got: [[UInt8]] = []
        func compute<T>(_ make: () -> [T]) -> [T] {
            if !computing { Issue.record("a load computed a constant") }
            return make()
        }
        for layer in layers {
            try store.begin(layer: layer.name)
            for request in layer.requests {
                // The values are drawn whether or not they are computed, so both runs see the same sequence.
                switch request {
                case let .int8(count):
                    let values = (0..<count).map { _ in Int8.random(in: -127...127, using: &generator) }
                    got.append(try store.array("weights", count: count) { compute { values } })
                case let .int32(count):
                    let values = (0..<count).map { _ in Int32.random(in: -100_000...100_000, using: &generator) }
                    got.append(try store.array("bias", count: count) { compute { values } })
                case let .float(count):
                    let values = (0..<count).map { _ in Float.random(in: -1...1, using: &generator) }
                    got.append(try store.array("multipliers", count: count) { compute { values } })
                case .flag:
                    let value = Bool.random(using: &generator)
                    got.append([try store.flag("a flag") { computing ? value : !value } ? 1 : 0])
                }
            }
            try store.end(kernelName: layer.kernel)
        }
        return got
    }

    /// The CUDA state's constant section of a build of `layers`.
    static func savedBytes() throws -> (bytes: [UInt8], built: [[UInt8]]) {
        let store = CUDAConstantStore<[UInt8]> { Array($0) }
        let built = try replay(store, computing: true)
        #expect(store.computed == 8 && !store.isLoading)
        var writer = BinaryWriter()
        try store.write(into: &writer) { $0 }
        return (writer.bytes, built)
    }

    @Test func aLoadReplaysTheBuildsBytesAndComputesNothing() throws {
        let (bytes, built) = try Self.savedBytes()
        let store = try CUDAConstantStore<[UInt8]>(loading: BinaryReader(bytes, path: "r.engine"), layerCount: 3) { Array($0) }
        let loaded = try Self.replay(store, computing: false)
        #expect(loaded == built)
        #expect(store.computed == 0)
        let expectedBytes: Int = 7 * 128 + 4 * 7 + 4 * 7 + 4 * 64 + 256
        #expect(store.uploadedBytes == expectedBytes)
        #expect(store.reader?.isAtEnd == true)
        // A loaded store saves what it loaded: a loaded engine saved again is the same file.
        var again = BinaryWriter()
        try store.write(into: &again) { $0 }
        #expect(again.bytes == bytes)
    }

    /// The layers whose constants the store recorded, which the CUDA program reports as holding their weights (so
    /// the engine file leaves those weights out): the GEMM and the table, not the layer without constants; the same
    /// whether the constants were computed or loaded, so a loaded engine saved again leaves out the same weights.
    @Test func theLayersWithRecordedConstantsAreTheOnesWhoseWeightsTheFileLeavesOut() throws {
        let computing = CUDAConstantStore<[UInt8]> { Array($0) }
        _ = try Self.replay(computing, computing: true)
        #expect(computing.layersWithConstants == [0, 2])
        var writer = BinaryWriter()
        try computing.write(into: &writer) { $0 }
        let loading = try CUDAConstantStore<[UInt8]>(loading: BinaryReader(writer.bytes, path: "r.engine"), layerCount: 3) { Array($0) }
        _ = try Self.replay(loading, computing: false)
        #expect(loading.layersWithConstants == [0, 2])
        // What a plan of such layers keeps: the convolution's weights and bias go, a one-element constant stays.
        let conv = LayerKind.convolution(ConvolutionParameters(
            weights: Weights(shape: [7, 1, 1, 1], values: Array(repeating: 0.5, count: 7)), bias: Weights(shape: [7], values: Array(repeating: 1, count: 7))))
        guard case let .convolution(p) = conv.leavingOutWeights() else { Issue.record("the kind changed"); return }
        #expect(p.weights.isLeftOut && p.bias?.isLeftOut == true && p.weights.shape == [7, 1, 1, 1] && p.weights.count == 7)
        #expect(conv.leavingOutWeights().hasLeftOutWeights && !conv.hasLeftOutWeights)
        #expect(LayerKind.constant(Weights(scalar: 2)).leavingOutWeights() == .constant(Weights(scalar: 2)))
        #expect(LayerKind.constant(Weights(shape: [2], values: [1, 2])).leavingOutWeights() == .constant(.leftOut(shape: [2])))
    }

    /// Each disagreement between the file and the layers is one sentence naming the file, never a crash.
    @Test func aFileThatDisagreesWithTheLayersIsRefused() throws {
        let (bytes, _) = try Self.savedBytes()
        func refusal(_ bytes: [UInt8], layerCount: Int = 3, _ body: (CUDAConstantStore<[UInt8]>) throws -> Void) -> String? {
            do {
                let store = try CUDAConstantStore<[UInt8]>(loading: BinaryReader(bytes, path: "bad.engine"), layerCount: layerCount) { Array($0) }
                try body(store)
                return nil
            } catch let error as OctetError {
                let text = "\(error)"
                #expect(text.hasPrefix("bad.engine") && !text.contains("\n"), "\(text)")
                return text
            } catch {
                Issue.record("not an OctetError: \(error)")
                return nil
            }
        }
        #expect(refusal(bytes, layerCount: 4) { _ in }?.contains("constants of 3 layers, the plan has 4") == true)
        // The first layer asks for a weight array of another size.
        #expect(refusal(bytes) { store in
            try store.begin(layer: "conv")
            _ = try store.array("the packed weights", count: 7 * 64, of: Int8.self) { [] }
        }?.contains("have 896 bytes, the kernel needs 448") == true)
        // A layer that leaves records unused, or asks for more than there are.
        #expect(refusal(bytes) { store in
            try store.begin(layer: "conv")
            try store.end(kernelName: "conv_igemm_v16_u8__mma_m16n8k32")
        }?.contains("5 constant(s) more than layer 'conv' uses") == true)
        #expect(refusal(bytes) { store in
            try store.begin(layer: "conv")
            _ = try Self.replayLayer(0, store)
            try store.begin(layer: "reshape")
            _ = try store.flag("a flag") { true }
        }?.contains("needs more constants than the engine file holds") == true)
        // Another kernel than the file names.
        #expect(refusal(bytes) { store in
            try store.begin(layer: "conv")
            _ = try Self.replayLayer(0, store)
            try store.end(kernelName: "conv_u8__dp4a")
        }?.contains("was saved with kernel conv_igemm_v16_u8__mma_m16n8k32, and this octet makes conv_u8__dp4a") == true)
        // Every truncation of the section.
        for cut in 0..<bytes.count {
            let truncated = Array(bytes.prefix(cut))
            #expect(refusal(truncated) { store in _ = try Self.replay(store, computing: false) } != nil, "cut at \(cut)")
        }
    }

    /// The first layer's five requests with the saved sizes (the values come from the file).
    static func replayLayer(_ index: Int, _ store: CUDAConstantStore<[UInt8]>) throws -> [[UInt8]] {
        [
            try store.array("weights", count: 7 * 128, of: Int8.self) { [] },
            try store.array("bias", count: 7, of: Int32.self) { [] },
            try store.array("multipliers", count: 7, of: Float.self) { [] },
            try store.array("taps", count: 64, of: Int32.self) { [] },
            [try store.flag("a flag") { false } ? 1 : 0],
        ]
    }

    /// A backend whose state this file's format version is too old for is refused by name, before its state is read.
    @Test func anOlderFormatThanTheBackendReadsIsRefused() throws {
        struct StricterCPU: EngineLoadingBackend {
            let name = "cpu"
            let oldestStateVersion: UInt32 = EngineFile.formatVersion + 1
            func support(for layer: Layer, in plan: EnginePlan) -> LayerSupport { CPUBackend().support(for: layer, in: plan) }
            func compile(_ plan: EnginePlan, options: ExecutionOptions) throws -> any CompiledProgram { try CPUBackend().compile(plan, options: options) }
            func load(_ plan: EnginePlan, state: inout BinaryReader, options: ExecutionOptions) throws -> any CompiledProgram {
                try CPUBackend().load(plan, state: &state, options: options)
            }
        }
        var (network, _) = try ONNXImporter.importModel(path: EngineFileTests.demoModel)
        network.apply(try DynamicRanges.readRangeFile(path: EngineFileTests.demoRanges))
        let built = try Builder(config: BuilderConfig(int8: true), backend: CPUBackend(), options: ExecutionOptions(threads: 2)).build(network)
        let file = try EngineFile.decode(try built.serialize(), path: "old.engine")
        #expect(file.version == EngineFile.formatVersion)
        #expect(throws: OctetError.self) { try Engine(file, backend: StricterCPU()) }
        do {
            _ = try Engine(file, backend: StricterCPU())
        } catch {
            #expect("\(error)".hasPrefix("old.engine") && "\(error)".contains("rebuild the engine"), "\(error)")
        }
        #expect(try Engine(file, backend: CPUBackend()).program.kernelNames == built.program.kernelNames)
    }
}
