import Foundation
import Testing
import _OctetTestSupport
import Octet
import OctetConformance

/// Engine files (issue #17): build → save → load → run gives the same integer tensors and outputs as the engine
/// that was built; damaged files (truncated, a flipped bit, a newer version, another instruction set, not an engine)
/// give one sentence naming the file and exit status 1, never a crash.
@Suite struct EngineFileTests {
    static let demo = TestPaths.packageRoot().appendingPathComponent("data/int8_api")
    static var demoModel: String { demo.appendingPathComponent("efficientnet_lite0.onnx").path }
    static var demoRanges: String { demo.appendingPathComponent("efficientnet_lite0_per_tensor_dynamic_range.txt").path }

    static func temporaryDirectory() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("octet-engine-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    /// Runs `built` and the engine loaded from its bytes on `input`, and expects every tensor equal: integer tensors
    /// element for element, float tensors bit for bit (the same kernels on the same data).
    static func expectLoadedEqualsBuilt(_ built: Engine, _ input: TensorData, _ what: String) throws {
        let bytes = try built.serialize()
        #expect(try built.serialize() == bytes, "\(what): serializing twice gives the same bytes")
        let loaded = try Engine(try EngineFile.decode(bytes, path: "\(what).engine"), backend: CPUBackend(), options: ExecutionOptions(threads: 2))
        #expect(loaded.plan.network == Self.asSaved(built).network, "\(what): network (the packed layers' weights left out)")
        #expect(try loaded.serialize() == bytes, "\(what): saved again byte-identical")
        #expect(loaded.plan.quantization == built.plan.quantization, "\(what): quantization table")
        #expect(loaded.plan.report == built.plan.report, "\(what): build report")
        #expect(loaded.program.kernelNames == built.program.kernelNames, "\(what): kernels")
        let inputs = [built.plan.network[built.plan.network.inputs[0]].name: input]
        var expected: [TensorID: TensorValue] = [:]
        let builtOutputs = try built.makeContext().execute(inputs) { id, value in expected[id] = value }
        var compared = 0
        let loadedOutputs = try loaded.makeContext().execute(inputs) { id, value in
            #expect(value == expected[id], "\(what): tensor '\(built.plan.network[id].name)' differs after loading")
            compared += 1
        }
        #expect(compared == expected.count && compared > 0)
        #expect(loadedOutputs == builtOutputs, "\(what): outputs")
        print("\(what): \(bytes.count) bytes, \(compared) tensors identical after loading")
    }

    /// The plan of `built` as its engine file keeps it: the weights of the layers its backend state holds left out.
    static func asSaved(_ built: Engine) -> EnginePlan {
        built.plan.leavingOutWeights(ofLayers: (built.program as? any SerializableProgram)?.layersWithSelfContainedState ?? [])
    }

    /// Bytes of float weights (convolution and fully connected weights and bias, constants) in `plan`.
    static func floatWeightBytes(_ plan: EnginePlan) -> Int {
        plan.network.layers.reduce(0) { sum, layer in
            switch layer.kind {
            case let .convolution(p): sum + 4 * (p.weights.count + (p.bias?.count ?? 0))
            case let .fullyConnected(p): sum + 4 * (p.weights.count + (p.bias?.count ?? 0))
            case let .constant(w): sum + 4 * w.count
            default: sum
            }
        }
    }

    /// Format 3: a CPU engine file leaves out the float weights of every layer with packed buffers (they hold the
    /// packed weights, bias and multipliers), so the file is smaller than those weights alone; the loaded plan's
    /// weights say `isLeftOut`, and whatever would need them refuses in one sentence instead of reading them.
    @Test func cpuEngineFileLeavesOutThePackedWeights() throws {
        var (network, _) = try ONNXImporter.importModel(path: Self.demoModel)
        network.apply(try DynamicRanges.readRangeFile(path: Self.demoRanges))
        let built = try Builder(config: BuilderConfig(int8: true), backend: CPUBackend(), options: ExecutionOptions(threads: 2)).build(network)
        let bytes = try built.serialize()
        let weightBytes = Self.floatWeightBytes(built.plan)
        #expect(bytes.count < weightBytes, "the file (\(bytes.count) bytes) is smaller than the float weights (\(weightBytes) bytes)")
        let file = try EngineFile.decode(bytes, path: "demo.engine")
        #expect(file.version == 3)
        let held = (built.program as? any SerializableProgram)?.layersWithSelfContainedState ?? []
        let convolutions = built.plan.network.layers.indices.filter {
            switch built.plan.network.layers[$0].kind {
            case .convolution, .fullyConnected: true
            default: false
            }
        }
        #expect(held == Set(convolutions), "every convolution and fully connected layer of the demo is packed")
        #expect(Set(file.plan.layersWithLeftOutWeights) == held)
        #expect(!file.plan.hasAllWeights && built.plan.hasAllWeights)
        let loaded = try Engine(file, backend: CPUBackend(), options: ExecutionOptions(threads: 2))
        #expect(try loaded.serialize() == bytes, "saved again byte-identical")
        #expect(Self.floatWeightBytes(loaded.plan) == Self.floatWeightBytes(built.plan), "shapes kept")

        // The reference executors read weights: they refuse the loaded plan by the first layer without them.
        let first = loaded.plan.network.layers[file.plan.layersWithLeftOutWeights[0]].name
        let inputs = [network[network.inputs[0]].name: TensorData.random([1, 3, 224, 224], seed: 9)]
        #expect(throws: OctetError.weightsLeftOut(layer: first)) { try QuantizedReferenceExecutor(plan: loaded.plan).run(inputs) }
        #expect(throws: OctetError.weightsLeftOut(layer: first)) { try ReferenceExecutor(network: loaded.plan.network).run(inputs) }
        #expect(!"\(OctetError.weightsLeftOut(layer: first))".contains("\n"))
        // The loaded engine itself runs on its packed buffers alone.
        #expect(try loaded.makeContext().execute(inputs) == built.makeContext().execute(inputs))
    }

    /// Format 2 (every weight in the plan) still reads, and its engine runs as the built one.
    @Test func formatVersion2StillReads() throws {
        var (network, _) = try ONNXImporter.importModel(path: Self.demoModel)
        network.apply(try DynamicRanges.readRangeFile(path: Self.demoRanges))
        let built = try Builder(config: BuilderConfig(int8: true), backend: CPUBackend(), options: ExecutionOptions(threads: 2)).build(network)
        guard let program = built.program as? any SerializableProgram else { Issue.record("the CPU program cannot be saved"); return }
        let old = try EngineFile.encode(plan: built.plan, program: program, backendName: "cpu", version: 2)
        let file = try EngineFile.decode(old, path: "v2.engine")
        #expect(file.version == 2 && file.plan.hasAllWeights && file.plan.network == built.plan.network)
        let loaded = try Engine(file, backend: CPUBackend(), options: ExecutionOptions(threads: 2))
        let inputs = [network[network.inputs[0]].name: TensorData.random([1, 3, 224, 224], seed: 4)]
        #expect(try loaded.makeContext().execute(inputs) == built.makeContext().execute(inputs))
        #expect(try loaded.serialize() == built.serialize(), "saved again in format 3, as the built engine")
        #expect(old.count > (try built.serialize()).count + Self.floatWeightBytes(built.plan) / 2)
    }

    /// A file that leaves out weights the backend's state does not hold (a constant, which the CPU keeps in the plan:
    /// what a damaged or hand-made file could say) is refused naming the file and the layer, at load, never read.
    @Test func leftOutWeightsTheStateDoesNotHoldAreRefused() throws {
        var network = Network(name: "constant-add")
        let x = network.addInput(name: "x", shape: [1, 4, 3, 3])
        let y = try network.addLayer(name: "conv", kind: .convolution(ConvolutionParameters(
            weights: Weights(shape: [4, 4, 1, 1], values: (0..<16).map { Float($0) / 16 }), bias: nil)), inputs: [x], outputNames: ["y"])[0]
        let c = try network.addLayer(name: "shift", kind: .constant(Weights(shape: [1, 4, 1, 1], values: [1, -2, 3, -4])), inputs: [], outputNames: ["c"])[0]
        let z = try network.addLayer(name: "add", kind: .elementwise(.add), inputs: [y, c], outputNames: ["z"])[0]
        network.markOutput(z)
        let built = try Builder(config: BuilderConfig(), backend: CPUBackend(), options: ExecutionOptions(threads: 2)).build(network)
        guard let program = built.program as? any SerializableProgram else { Issue.record("the CPU program cannot be saved"); return }
        let everything = built.plan.leavingOutWeights(ofLayers: Set(built.plan.network.layers.indices))
        let unheld = everything.layersWithLeftOutWeights.filter { !program.layersWithSelfContainedState.contains($0) }
        #expect(unheld.map { everything.network.layers[$0].name } == ["shift"])
        let file = try EngineFile.decode(try EngineFile.encode(plan: everything, program: program, backendName: "cpu", version: 3), path: "stripped.engine")
        #expect(throws: OctetError.malformedFile(
            path: "stripped.engine", reason: "leaves out the float weights of layer 'shift', and the cpu state does not hold what they give; rebuild the engine")) {
            try Engine(file, backend: CPUBackend())
        }
        // The constant's value is what a CPU load needs of it: `constantValue` refuses, it never reads zeros.
        let shift = everything.network.layers[unheld[0]]
        #expect(throws: OctetError.weightsLeftOut(layer: "shift")) { try everything.constantValue(shift) }
        // Format 2 cannot hold left-out weights.
        #expect(throws: OctetError.self) { try EngineFile.encode(plan: everything, program: program, backendName: "cpu", version: 2) }
    }

    @Test func demoModelRoundTrip() throws {
        var (network, _) = try ONNXImporter.importModel(path: Self.demoModel)
        network.apply(try DynamicRanges.readRangeFile(path: Self.demoRanges))
        let input = TensorData.random([2, 3, 224, 224], seed: 17)
        for (int8, trt) in [(true, false), (true, true), (false, false)] {
            var config = BuilderConfig(int8: int8)
            config.trtCompatibleRanges = trt
            let built = try Builder(config: config, backend: CPUBackend(), options: ExecutionOptions(threads: 2)).build(network)
            try Self.expectLoadedEqualsBuilt(built, input, "efficientnet_lite0 int8=\(int8) trt=\(trt)")
        }
    }

    /// `Engine(contentsOf:)` through `Engine.open(engineFile:)`: the backend opens on another thread while the file is
    /// checked, and the loaded engine gives the built one's outputs; a file whose header names a backend this octet
    /// lacks, and a damaged file whose header names a sound one, are each refused in one sentence naming the file.
    @Test func openingOverlapsTheBackendWithTheFileChecks() throws {
        var (network, _) = try ONNXImporter.importModel(path: Self.demoModel)
        network.apply(try DynamicRanges.readRangeFile(path: Self.demoRanges))
        let built = try Builder(config: BuilderConfig(int8: true), backend: CPUBackend(), options: ExecutionOptions(threads: 2)).build(network)
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("demo.engine").path
        _ = try built.write(to: path)

        let opened = try Engine.open(engineFile: path)
        #expect(opened.phases.map(\.phase).last == "cpu backend opened beside the file's read and checks, waited for")
        #expect(opened.phases.count == opened.file.phases.count + 1)
        let loaded = try Engine(contentsOf: path, options: ExecutionOptions(threads: 2))
        let inputs = [network[network.inputs[0]].name: TensorData.random([1, 3, 224, 224], seed: 5)]
        #expect(try loaded.makeContext().execute(inputs) == built.makeContext().execute(inputs))

        let program = try #require(built.program as? any SerializableProgram)
        let elsewhere = directory.appendingPathComponent("tpu.engine").path
        try Data(try EngineFile.encode(plan: Self.asSaved(built), program: program, backendName: "tpu")).write(to: URL(fileURLWithPath: elsewhere))
        #expect {
            _ = try Engine(contentsOf: elsewhere)
        } throws: { "\($0)".contains(elsewhere) && "\($0)".contains("for the backend 'tpu', which this octet does not have") }
        // The caller's check of the decoded file (the device asked for) comes before the backend's own error.
        #expect(throws: OctetError.invalidInput(reason: "not for this device")) {
            _ = try Engine.open(engineFile: elsewhere) { _ in throw OctetError.invalidInput(reason: "not for this device") }
        }

        var damaged = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        damaged[damaged.count / 2] ^= 0x10
        let damagedPath = directory.appendingPathComponent("damaged.engine").path
        try Data(damaged).write(to: URL(fileURLWithPath: damagedPath))
        #expect {
            _ = try Engine.open(engineFile: damagedPath)
        } throws: { "\($0)".contains(damagedPath) && "\($0)".contains("checksum mismatch") }
    }

    /// Every conformance case (every layer kind, fused activation and INT8 arithmetic the suite builds) survives the
    /// file: the loaded engine gives the built one's tensors. This is what a new `LayerKind` case is checked by.
    @Test func everyConformanceCaseRoundTrips() throws {
        var checked = 0
        for testCase in ConformanceSuite.cases where !testCase.isLarge {
            let (network, input) = try testCase.network()
            let built = try Builder(config: ConformanceSuite.config(testCase.arithmetic), backend: CPUBackend(), options: ExecutionOptions(threads: 2)).build(network)
            let loaded = try Engine(try EngineFile.decode(try built.serialize(), path: "\(testCase.name).engine"), backend: CPUBackend(), options: ExecutionOptions(threads: 2))
            #expect(loaded.plan.network == Self.asSaved(built).network, "\(testCase)")
            let inputs = [network[network.inputs[0]].name: input]
            #expect(try loaded.makeContext().execute(inputs) == built.makeContext().execute(inputs), "\(testCase)")
            checked += 1
        }
        #expect(checked > 200)
    }

    /// The real models of ../shared/data, INT8 with ranges observed by the FP32 CPU engine on two inputs.
    @Test(.enabled(if: TestPaths.hasSharedData, Comment(rawValue: TestPaths.sharedDataMissing)),
          arguments: ["efficientnet_lite0.onnx", "mobilenet_v2_1.0_224.onnx", "mobilenet_v1_0.25_128.onnx"])
    func realModelRoundTrip(_ file: String) throws {
        var (network, _) = try ONNXImporter.importModel(path: TestPaths.sharedData.appendingPathComponent("models/\(file)").path)
        let input = network[network.inputs[0]]
        let batch = TensorData.random([2] + input.shape.dropFirst(), seed: 5)
        let fp32 = try Builder(config: BuilderConfig(), backend: CPUBackend(), options: ExecutionOptions(threads: 2)).build(network)
        var calibrator = Calibrator()
        _ = try fp32.makeContext().execute([input.name: batch]) { id, value in
            calibrator.observe(fp32.plan.network[id].name, value.dequantized.values)
        }
        network.apply(calibrator.ranges(.max))
        let int8 = try Builder(config: BuilderConfig(int8: true), backend: CPUBackend(), options: ExecutionOptions(threads: 2)).build(network)
        #expect(int8.plan.report.int8LayerCount > 0)
        try Self.expectLoadedEqualsBuilt(int8, batch, file)
    }

    /// On a GPU: a CUDA engine whose tactics were timed at batch 2, saved and loaded, runs the same tactics (none is
    /// timed again) and gives the same outputs. Skips without CUDA.
    @Test(.enabled(if: CUDATests.cudaMissing == nil, Comment(rawValue: "CUDA tests skipped: \(CUDATests.cudaMissing ?? "")")))
    func cudaEngineRoundTrip() throws {
        var (network, _) = try ONNXImporter.importModel(path: Self.demoModel)
        network.apply(try DynamicRanges.readRangeFile(path: Self.demoRanges))
        let built = try Builder(config: BuilderConfig(int8: true), backend: try CUDABackend()).build(network)
        let input = [network[network.inputs[0]].name: TensorData.random([2, 3, 224, 224], seed: 3)]
        let context = built.makeContext()
        let expected = try context.execute(input)
        let file = try EngineFile.decode(try built.serialize(), path: "cuda.engine")
        let loaded = try Engine(file, backend: try CUDAEngineLoader())
        let loadedContext = loaded.makeContext()
        #expect(try loadedContext.execute(input) == expected)
        #expect(loadedContext.layerTactics == context.layerTactics)
    }

    @Test func crc32IsTheIEEEChecksum() {
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
        #expect(CRC32.checksum([]) == 0)
        // Slicing by eight and the byte loop agree at every length around the 8-byte step.
        let bytes = (0..<37).map { UInt8(truncatingIfNeeded: $0 &* 73 &+ 11) }
        for n in 0...bytes.count {
            var crc: UInt32 = 0xFFFF_FFFF
            for byte in bytes.prefix(n) {
                crc ^= UInt32(byte)
                for _ in 0..<8 { crc = crc & 1 != 0 ? 0xEDB8_8320 ^ (crc >> 1) : crc >> 1 }
            }
            #expect(CRC32.checksum(Array(bytes.prefix(n))) == ~crc, "length \(n)")
        }
    }

    /// Rewrites the checksum so that damage reaches the decoder instead of stopping at the checksum.
    static func withChecksum(_ bytes: [UInt8]) -> [UInt8] {
        var fixed = Array(bytes.dropLast(4))
        withUnsafeBytes(of: CRC32.checksum(fixed).littleEndian) { fixed.append(contentsOf: $0) }
        return fixed
    }

    /// Decoding and loading damaged engines of a small model: every truncation (checksum and length repaired, so
    /// the sections themselves end early) and 400 seeded mutations either load or throw an `OctetError`.
    @Test func damagedEnginesThrowAndNeverCrash() throws {
        let fixture = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/caffe2_style_resnet.onnx").path
        var (network, _) = try ONNXImporter.importModel(path: fixture)
        for id in network.tensors.indices.map(TensorID.init) { network[id].setDynamicRange(min: -4, max: 4) }
        let built = try Builder(config: BuilderConfig(int8: true), backend: CPUBackend()).build(network)
        let bytes = try built.serialize()
        func attempt(_ candidate: [UInt8]) {
            do {
                _ = try Engine(try EngineFile.decode(candidate, path: "damaged.engine"), backend: CPUBackend())
            } catch let error as OctetError {
                #expect(!"\(error)".contains("\n"))
                #expect("\(error)".hasPrefix("damaged.engine"), "\(error)")
            } catch {
                Issue.record("not an OctetError: \(error)")
            }
        }
        var thrown = 0
        for cut in stride(from: 0, to: bytes.count - 4, by: max(1, bytes.count / 600)) {
            var truncated = Array(bytes.prefix(cut)) + [0, 0, 0, 0]
            if truncated.count >= 20 {
                withUnsafeBytes(of: UInt64(truncated.count - 24).littleEndian) { for (i, b) in $0.enumerated() { truncated[12 + i] = b } }
            }
            truncated = Self.withChecksum(truncated)
            #expect(throws: OctetError.self) { try EngineFile.decode(truncated, path: "damaged.engine") }
            attempt(truncated)
            thrown += 1
        }
        var generator = SeededGenerator(seed: 2026)
        for _ in 0..<400 {
            var mutated = bytes
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                let index = Int.random(in: 20..<(bytes.count - 4), using: &generator)
                mutated[index] = UInt8.random(in: 0...255, using: &generator)
            }
            attempt(Self.withChecksum(mutated))
        }
        #expect(thrown > 100)
    }

    // MARK: The command line

    static func expectOneSentenceFailure(_ result: CommandResult, naming file: String, saying words: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(result.status == 1, "exit status \(result.status); stderr: \(result.stderr)", sourceLocation: sourceLocation)
        #expect(result.stderr.split(separator: "\n").count == 1, "stderr: \(result.stderr)", sourceLocation: sourceLocation)
        #expect(result.stderr.contains(file) && result.stderr.contains(words), "stderr: \(result.stderr)", sourceLocation: sourceLocation)
        #expect(!result.stdout.contains("&&&& PASSED"), sourceLocation: sourceLocation)
    }

    @Test func buildSaveLoadRunThroughTheBinary() throws {
        let directory = try Self.temporaryDirectory()
        let engine = directory.appendingPathComponent("demo.engine").path
        let built = try OctetBinary.run(["build", "--model", Self.demoModel, "--ranges", Self.demoRanges, "--saveEngine=\(engine)"])
        #expect(built.status == 0, "\(built.stderr)")
        #expect(built.stdout.contains("Saved the engine to \(engine)"))
        let image = Self.demo.appendingPathComponent("coffee.ppm").path
        let fresh = directory.appendingPathComponent("fresh.npy").path, loaded = directory.appendingPathComponent("loaded.npy").path
        let a = try OctetBinary.run(["run", "--model", Self.demoModel, "--ranges", Self.demoRanges, "--image", image, "--save-outputs", fresh])
        let b = try OctetBinary.run(["run", "--loadEngine=\(engine)", "--image", image, "--save-outputs", loaded])
        #expect(a.status == 0 && b.status == 0, "\(a.stderr) \(b.stderr)")
        #expect(b.stdout.contains("Loaded the CPU engine \(engine)"))
        #expect(b.stdout.contains("[I] Octet result (INT8, CPU): Detected:"))
        #expect(try NumPyFile.read(path: fresh) == NumPyFile.read(path: loaded), "logits of the loaded engine equal the fresh engine's")
        let top = { (r: CommandResult) in r.stdout.split(separator: "\n").filter { $0.contains("] [") || $0.contains("(class ") } }
        #expect(top(a) == top(b))

        let inspect = try OctetBinary.run(["inspect", "--load-engine", engine])
        #expect(inspect.status == 0 && inspect.stdout.contains("precision=int8") && inspect.stdout.contains("in INT8"))
        let bench = try OctetBinary.run(["bench", "--load-engine", engine, "--iterations", "1", "--warmup", "0"])
        #expect(bench.status == 0, "\(bench.stderr)")
        let eval = try OctetBinary.run(["compare", "--load-engine", engine, "--model", Self.demoModel, "--images", Self.demo.path, "--no-tensors"])
        #expect(eval.status == 0, "\(eval.stderr)")

        // Options that shape a build conflict with a loaded engine.
        let conflict = try OctetBinary.run(["run", "--load-engine", engine, "--ranges", Self.demoRanges, "--image", image])
        #expect(conflict.status == 1 && conflict.stderr.contains("--ranges") && conflict.stderr.contains("--load-engine"))
        // An engine built from another model is refused where a command also imports --model.
        let fixture = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/caffe2_style_resnet.onnx").path
        let other = try OctetBinary.run(["compare", "--load-engine", engine, "--model", fixture, "--images", Self.demo.path])
        Self.expectOneSentenceFailure(other, naming: engine, saying: "another model")

        // Refusals, one sentence each.
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: engine)))
        func write(_ name: String, _ content: [UInt8]) throws -> String {
            let path = directory.appendingPathComponent(name).path
            try Data(content).write(to: URL(fileURLWithPath: path))
            return path
        }
        for cut in [0, 5, 23, 4096, bytes.count / 2, bytes.count - 1] {
            let path = try write("truncated-\(cut).engine", Array(bytes.prefix(cut)))
            let result = try OctetBinary.run(["run", "--load-engine", path, "--image", image])
            Self.expectOneSentenceFailure(result, naming: path, saying: cut < 8 ? "not an Octet engine file" : "truncated")
            #expect(result.stdout.contains("&&&& FAILED"))
        }
        var flipped = bytes
        flipped[bytes.count / 3] ^= 0x04
        Self.expectOneSentenceFailure(
            try OctetBinary.run(["inspect", "--load-engine", try write("flipped.engine", flipped)]), naming: "flipped.engine", saying: "checksum mismatch")
        var newer = bytes
        newer[8] = UInt8(EngineFile.formatVersion + 1)
        Self.expectOneSentenceFailure(
            try OctetBinary.run(["inspect", "--load-engine", try write("newer.engine", Self.withChecksum(newer))]), naming: "newer.engine",
            saying: "format version \(EngineFile.formatVersion + 1), newer")
        Self.expectOneSentenceFailure(
            try OctetBinary.run(["inspect", "--load-engine", Self.demoModel]), naming: Self.demoModel, saying: "not an Octet engine file")
        // Packed for this CPU's instruction set, loaded by a process forced onto the scalar kernels.
        if CPUBackend.isa != "scalar" {
            let result = try OctetBinary.run(["bench", "--load-engine", engine, "--iterations", "1"], environment: ["OCTET_FORCE_ISA": "scalar"])
            Self.expectOneSentenceFailure(result, naming: engine, saying: "was packed for \(CPUBackend.isa)")
        }
        try? FileManager.default.removeItem(at: directory)
    }
}
