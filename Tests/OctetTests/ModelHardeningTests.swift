import Foundation
import Testing
import _OctetTestSupport
@testable import OctetONNX
import Octet

/// Malformed or hostile model files end in one sentence naming the file and the tensor or node, never in a
/// trap, an allocator abort or a read outside the model's directory (issue 13; limits in docs/RELIABILITY.md).
@Suite struct ModelHardeningTests {
    private func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("octet-hardening-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Imports `builder`'s model from a file and returns the error's text (nil when it imported).
    private func importError(_ builder: ONNXModelBuilder) throws -> String? {
        let path = try builder.write()
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            _ = try ONNXImporter.importModel(path: path)
            return nil
        } catch {
            let text = "\(error)"
            #expect(text.hasPrefix(path), "names the file: \(text)")
            #expect(!text.contains("\n"), "one line: \(text)")
            return text
        }
    }

    /// Runs `octet run` on the model and checks the promise: exit status 1 (not a signal) and one sentence
    /// on standard error naming the file and containing `fragment`.
    private func expectCLIRefuses(_ builder: ONNXModelBuilder, _ fragment: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = try builder.write(to: directory.appendingPathComponent("model.onnx").path)
        let input = directory.appendingPathComponent("in.npy").path
        try NumPyFile.write(.random([1, 3, 8, 8], seed: 1), to: input)
        let result = try OctetBinary.run(["run", "--precision", "fp32", "--model", path, "--load-inputs", input], in: directory)
        #expect(result.status == 1, "exit status \(result.status), stderr: \(result.stderr)", sourceLocation: sourceLocation)
        #expect(result.stderr.split(separator: "\n").count == 1, "stderr: \(result.stderr)", sourceLocation: sourceLocation)
        #expect(result.stderr.contains(path) && result.stderr.contains(fragment), "stderr: \(result.stderr)", sourceLocation: sourceLocation)
    }

    private func relu(shape: [Int?]) -> ONNXModelBuilder {
        var b = ONNXModelBuilder(shape: shape)
        b.node("Relu", ["input"], ["y"], name: "relu")
        b.output("y")
        return b
    }

    // MARK: Shapes and sizes

    /// A zero-sized input dimension used to kill the process; now it is refused naming the input and axis.
    @Test(arguments: [[1, 0, 8, 8], [0, 3, 8, 8], [1, 3, -2, 8]])
    func zeroOrNegativeInputDimensionIsRefused(_ shape: [Int]) throws {
        let text = try #require(try importError(relu(shape: shape)))
        #expect(text.contains("input 'input'") && text.contains("dimension \(shape.first { $0 <= 0 } ?? 0)"), "\(text)")
    }

    @Test func zeroInputDimensionThroughTheBinary() throws {
        try expectCLIRefuses(relu(shape: [1, 3, 0, 8]), "input 'input' has dimension 0 on axis 2")
    }

    /// 2^40 elements used to abort in the allocator; the limit is 2^31 elements a tensor.
    @Test func absurdInputDimensionIsRefused() throws {
        let text = try #require(try importError(relu(shape: [1, 1 << 40, 1, 1])))
        #expect(text.contains("input 'input'") && text.contains("2^31"), "\(text)")
        try expectCLIRefuses(relu(shape: [1, 3, 1 << 20, 1 << 20]), "more than 2^31 elements")
        // A product that overflows 64 bits is refused the same way, without a trap.
        let overflow = try #require(try importError(relu(shape: [1, 1 << 32, 1 << 32, 1 << 32])))
        #expect(overflow.contains("2^31"), "\(overflow)")
    }

    @Test func initializerShorterThanItsDimsIsRefused() throws {
        var b = ONNXModelBuilder(shape: [nil, 4])
        var t = Onnx_TensorProto()
        t.name = "w"
        t.dims = [4, 1000]
        t.dataType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        t.rawData = Data(count: 16)
        b.model.graph.initializer.append(t)
        b.node("MatMul", ["input", "w"], ["y"])
        b.output("y")
        let text = try #require(try importError(b))
        #expect(text.contains("tensor 'w'") && text.contains("16 bytes") && text.contains("16000"), "\(text)")

        // Dims whose product overflows, or a zero hiding huge other dims, are refused before any arithmetic on them.
        t.dims = [0, 1 << 62, 1 << 62]
        t.rawData = Data()
        b.model.graph.initializer = [t]
        let hidden = try #require(try importError(b))
        #expect(hidden.contains("tensor 'w'") && hidden.contains("2^31"), "\(hidden)")
    }

    @Test func reshapeToAZeroDimensionNamesTheNode() throws {
        var b = ONNXModelBuilder(shape: [nil, 4])
        b.ints("target", [1, 0, 4])
        b.node("Reshape", ["input", "target"], ["y"], name: "to_empty", ["allowzero": .int(1)])
        b.output("y")
        let text = try #require(try importError(b))
        #expect(text.contains("to_empty"), "\(text)")
    }

    @Test func reshapeToAnOverflowingShapeIsRefused() throws {
        var b = ONNXModelBuilder(shape: [nil, 4])
        b.ints("target", [1, 1 << 40, 1 << 40, -1])
        b.node("Reshape", ["input", "target"], ["y"], name: "huge")
        b.output("y")
        let text = try #require(try importError(b))
        #expect(text.contains("huge") && text.contains("cannot reshape"), "\(text)")
    }

    @Test func constantOfShapeBeyondTheTensorLimitIsRefused() throws {
        for shape in [[1 << 20, 1 << 20], [1 << 62, 1 << 62, 4]] {
            var b = ONNXModelBuilder(shape: [nil, 4])
            b.ints("shape", shape)
            b.node("ConstantOfShape", ["shape"], ["c"], name: "fill")
            b.node("Add", ["input", "c"], ["y"])
            b.output("y")
            let text = try #require(try importError(b))
            #expect(text.contains("fill") && text.contains("2^31"), "\(text)")
        }
    }

    /// Window parameters and integer shape arithmetic taken from the model must not overflow.
    @Test func absurdAttributesAndIntegerOverflowAreRefused() throws {
        var conv = ONNXModelBuilder(shape: [nil, 1, 4, 4])
        conv.initializer("w", [1, 1, 1, 1], [1])
        conv.node("Conv", ["input", "w"], ["y"], name: "conv", ["pads": .ints([Int.max / 2, 0, Int.max / 2, 0])])
        conv.output("y")
        #expect(try #require(try importError(conv)).contains("conv"))

        var groups = ONNXModelBuilder(shape: [nil, 1, 4, 4])
        groups.initializer("w", [1, 1, 1, 1], [1])
        groups.node("Conv", ["input", "w"], ["y"], name: "grouped", ["group": .int(1 << 62)])
        groups.output("y")
        #expect(try #require(try importError(groups)).contains("group"))

        var arithmetic = ONNXModelBuilder(shape: [nil, 4])
        arithmetic.ints("big", [Int.max])
        arithmetic.ints("two", [2])
        arithmetic.node("Mul", ["big", "two"], ["product"], name: "overflowing_mul")
        arithmetic.node("Reshape", ["input", "product"], ["y"])
        arithmetic.output("y")
        #expect(try #require(try importError(arithmetic)).contains("overflows"))

        // Integer Pow: a huge exponent of 1 folds at once (it used to loop 2^63 times), 3^100 overflows.
        var power = ONNXModelBuilder(shape: [nil, 4])
        power.ints("ones", [1, 1]); power.ints("huge", [Int.max]); power.ints("shape", [1, 4])
        power.node("Pow", ["ones", "huge"], ["unit"])
        power.node("Mul", ["unit", "shape"], ["target"])
        power.node("Reshape", ["input", "target"], ["y"])
        power.output("y")
        #expect(try importError(power) == nil)
        var overflowingPower = ONNXModelBuilder(shape: [nil, 4])
        overflowingPower.ints("three", [3]); overflowingPower.ints("hundred", [100])
        overflowingPower.node("Pow", ["three", "hundred"], ["p"], name: "overflowing_pow")
        overflowingPower.node("Reshape", ["input", "p"], ["y"])
        overflowingPower.output("y")
        #expect(try #require(try importError(overflowingPower)).contains("overflows"))

        var split = ONNXModelBuilder(opset: 18, shape: [nil, 4])
        split.node("Split", ["input"], ["a", "b"], name: "split", ["axis": .int(1), "num_outputs": .int(0)])
        split.output("a")
        #expect(try #require(try importError(split)).contains("num_outputs"))

        var slice = ONNXModelBuilder(shape: [nil, 4])
        slice.ints("data", [1, 2, 3, 4])
        slice.ints("starts", [0]); slice.ints("ends", [4]); slice.ints("axes", [0]); slice.ints("steps", [Int.max])
        slice.node("Slice", ["data", "starts", "ends", "axes", "steps"], ["first"])
        slice.node("Reshape", ["input", "first"], ["y"], name: "reshape_by_slice")
        slice.output("y")
        // One element (1) survives the huge step; reshaping [1, 4] into [1] is then the node's error.
        #expect(try #require(try importError(slice)).contains("reshape_by_slice"))

        var scalars = ONNXModelBuilder(shape: [nil, 4])
        scalars.ints("s", [1], shape: [])
        scalars.node("Concat", ["s", "s"], ["c"], name: "scalar_concat", ["axis": .int(0)])
        scalars.node("Reshape", ["input", "c"], ["y"])
        scalars.output("y")
        #expect(try #require(try importError(scalars)).contains("scalar_concat"))

        var noOutput = ONNXModelBuilder(shape: [nil, 4])
        noOutput.node("Sum", ["input", "input"], [], name: "silent_sum")
        noOutput.node("Relu", ["input"], ["y"])
        noOutput.output("y")
        #expect(try #require(try importError(noOutput)).contains("silent_sum"))
    }

    /// The batch given at run time is checked against the limits before the arena is allocated.
    @Test func batchTooLargeIsRefusedBeforeAllocation() throws {
        var b = ONNXModelBuilder(shape: [nil, 3, 64, 64])
        b.node("Relu", ["input"], ["y"])
        b.output("y")
        let network = try b.importNetwork()
        let engine = try Builder(config: BuilderConfig(), backend: CPUBackend()).build(network)
        try engine.checkBatch(8)
        #expect { try engine.checkBatch(1 << 20) } throws: { "\($0)".contains("2^31") && "\($0)".contains("'input'") }
        #expect { try engine.checkBatch(Int.max / 2) } throws: { "\($0)".contains("batch") }
        #expect { try engine.checkBatch(0) } throws: { "\($0)".contains("at least 1") }
    }

    /// `octet run --batch N` copies the image N times: N is checked against the network before the copies exist.
    @Test func hugeBatchOnTheCommandLineIsRefused() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var b = ONNXModelBuilder(shape: [nil, 3, 64, 64])
        b.node("Relu", ["input"], ["y"])
        b.output("y")
        let model = try b.write(to: directory.appendingPathComponent("model.onnx").path)
        let image = directory.appendingPathComponent("image.ppm").path
        try PPM.encode(RGBImage(width: 8, height: 8, pixels: Array(repeating: 100, count: 8 * 8 * 3))).write(to: URL(fileURLWithPath: image))
        let network = try b.importNetwork()
        try network.checkBatch(4)
        #expect { try network.checkBatch(1 << 30) } throws: { "\($0)".contains("tensor 'input'") }
        let result = try OctetBinary.run(["run", "--model", model, "--image", image, "--batch", "1000000000"], in: directory)
        #expect(result.status == 1, "stderr: \(result.stderr)")
        #expect(result.stderr == "Error: Invalid input: batch 1000000000 is too large: tensor 'input' would hold more than 2^31 elements, Octet's limit for one tensor; split the batch.\n")
    }

    /// Nine tensors of almost 2^31 float32 elements alive at once: each is within the tensor limit, the
    /// arena (72 GiB) is not.
    @Test func arenaAboveItsLimitIsRefused() throws {
        var b = ONNXModelBuilder(shape: [nil, 3, 64, 64])
        let branches = (1...8).map { "r\($0)" }
        for name in branches { b.node("Relu", ["input"], [name], name: name) }
        b.node("Sum", branches, ["y"])
        b.output("y")
        let engine = try Builder(config: BuilderConfig(), backend: CPUBackend()).build(try b.importNetwork())
        let batch = Limits.maxTensorElements / (3 * 64 * 64)
        #expect { try engine.checkBatch(batch) } throws: { "\($0)".contains("GiB for one execution context") }
        try engine.checkBatch(batch / 16)
    }

    // MARK: External data


    /// ONNX Runtime refuses external data outside the model's directory; so does Octet, whichever way the
    /// path leaves it (`..`, an absolute path, a symbolic link).
    @Test func externalDataOutsideTheModelDirectoryIsRefused() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let modelDirectory = root.appendingPathComponent("model")
        try FileManager.default.createDirectory(at: modelDirectory, withIntermediateDirectories: true)
        let secret = root.appendingPathComponent("secret.bin")
        try Data(count: 24).write(to: secret)
        try FileManager.default.createSymbolicLink(
            atPath: modelDirectory.appendingPathComponent("link.bin").path, withDestinationPath: secret.path)
        try FileManager.default.createSymbolicLink(
            atPath: modelDirectory.appendingPathComponent("up").path, withDestinationPath: root.path)

        for location in ["../secret.bin", secret.path, "link.bin", "up/secret.bin", "./../model/../secret.bin"] {
            let path = try ONNXModelBuilder.externalMatMul(location: location).write(to: modelDirectory.appendingPathComponent("model.onnx").path)
            #expect { try ONNXImporter.importModel(path: path) } throws: { error in
                let text = "\(error)"
                return text.hasPrefix(path) && text.contains("tensor 'w'") && (text.contains("outside the model's directory") || text.contains("absolute path"))
            }
        }
        // A file inside the directory reached through `..` that comes back in is fine.
        try Data(count: 24).write(to: modelDirectory.appendingPathComponent("inside.bin"))
        let path = try ONNXModelBuilder.externalMatMul(location: "../model/inside.bin").write(to: modelDirectory.appendingPathComponent("model.onnx").path)
        #expect(try ONNXImporter.importModel(path: path).network.layers.count == 1)
    }

    @Test func externalDataBeyondTheFileEndIsRefused() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try Data(count: 24).write(to: directory.appendingPathComponent("weights.bin"))
        let cases: [(Int?, Int?, String)] = [
            (100, 24, "beyond the end"), (8, 24, "beyond the end"), (0, 1 << 40, "beyond the end"),
            (4, nil, "20 bytes"), (0, 12, "12 bytes"),
        ]
        for (offset, length, fragment) in cases {
            let path = try ONNXModelBuilder.externalMatMul(location: "weights.bin", offset: offset, length: length)
                .write(to: directory.appendingPathComponent("model.onnx").path)
            #expect { try ONNXImporter.importModel(path: path) } throws: { error in
                "\(error)".contains(fragment) && "\(error)".contains("'w'") && !"\(error)".contains("\n")
            }
        }
        var negative = ONNXModelBuilder.externalMatMul(location: "weights.bin")
        negative.model.graph.initializer[0].externalData.append({
            var e = Onnx_StringStringEntryProto(); e.key = "offset"; e.value = "-8"; return e
        }())
        let path = try negative.write(to: directory.appendingPathComponent("model.onnx").path)
        #expect { try ONNXImporter.importModel(path: path) } throws: { "\($0)".contains("offset '-8'") }
    }

    /// A model imported from memory has no directory: external data is refused unless one is given.
    @Test func importFromMemory() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try Data(count: 24).write(to: directory.appendingPathComponent("weights.bin"))
        let data = try ONNXModelBuilder.externalMatMul(location: "weights.bin").data()
        #expect { try ONNXImporter.importModel(data: data, name: "upload.onnx") } throws: { error in
            "\(error)".hasPrefix("upload.onnx: ") && "\(error)".contains("from memory")
        }
        let (network, info) = try ONNXImporter.importModel(data: data, name: "upload.onnx", externalDataDirectory: directory.path)
        #expect(network.layers.count == 1 && info.path == "upload.onnx")
    }

    // MARK: Graph structure

    @Test func twoProducersOfOneTensorAreNamed() throws {
        var b = ONNXModelBuilder(shape: [nil, 4])
        b.node("Relu", ["input"], ["t"], name: "first")
        b.node("Sigmoid", ["input"], ["t"], name: "second")
        b.output("t")
        let text = try #require(try importError(b))
        #expect(text.contains("tensor 't'") && text.contains("node 'first'") && text.contains("node 'second'"), "\(text)")

        var shadowInput = ONNXModelBuilder(shape: [nil, 4])
        shadowInput.node("Relu", ["input"], ["input"], name: "overwrites_input")
        shadowInput.output("input")
        let input = try #require(try importError(shadowInput))
        #expect(input.contains("graph input 'input'") && input.contains("overwrites_input"), "\(input)")

        var shadowInitializer = ONNXModelBuilder(shape: [nil, 2])
        shadowInitializer.initializer("w", [2, 2], [1, 0, 0, 1])
        shadowInitializer.node("Relu", ["input"], ["w"], name: "overwrites_weights")
        shadowInitializer.node("MatMul", ["input", "w"], ["y"])
        shadowInitializer.output("y")
        let initializer = try #require(try importError(shadowInitializer))
        #expect(initializer.contains("initializer 'w'") && initializer.contains("overwrites_weights"), "\(initializer)")

        try expectCLIRefuses(b, "tensor 't' is produced by both")
    }

    @Test func aCycleNamesANodeOnIt() throws {
        var b = ONNXModelBuilder(shape: [nil, 4])
        b.node("Relu", ["input"], ["a"], name: "entry")
        b.node("Add", ["a", "c"], ["b"], name: "loop_add")
        b.node("Relu", ["b"], ["c"], name: "loop_relu")
        b.output("c")
        let text = try #require(try importError(b))
        #expect(text.contains("cycle") && text.contains("loop_add") && text.contains("loop_relu") && !text.contains("'entry'"), "\(text)")
        try expectCLIRefuses(b, "cycle")

        var selfLoop = ONNXModelBuilder(shape: [nil, 4])
        selfLoop.node("Add", ["input", "x"], ["x"], name: "self_loop")
        selfLoop.output("x")
        #expect(try #require(try importError(selfLoop)).contains("cycle through node 'self_loop'"))
    }

    @Test func unsortedAndDanglingInputsAreNamed() throws {
        var b = ONNXModelBuilder(shape: [nil, 4])
        b.node("Relu", ["a"], ["y"], name: "reads_early")
        b.node("Sigmoid", ["input"], ["a"], name: "produces_late")
        b.output("y")
        let text = try #require(try importError(b))
        #expect(text.contains("reads_early") && text.contains("'a'") && text.contains("produces_late") && text.contains("topological"), "\(text)")

        var dangling = ONNXModelBuilder(shape: [nil, 4])
        dangling.node("Relu", ["nowhere"], ["y"], name: "reads_nothing")
        dangling.output("y")
        let missing = try #require(try importError(dangling))
        #expect(missing.contains("reads_nothing") && missing.contains("'nowhere'"), "\(missing)")
    }

    // MARK: Files

    @Test func readErrorsAreOneSentence() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(throws: OctetError.io(path: directory.path, reason: "is a directory, not an ONNX model file")) {
            try ONNXImporter.importModel(path: directory.path)
        }
        let missing = directory.appendingPathComponent("missing.onnx").path
        #expect(throws: OctetError.io(path: missing, reason: "cannot read an ONNX model file: no such file")) {
            try ONNXImporter.importModel(path: missing)
        }
        let result = try OctetBinary.run(["run", "--model", directory.path])
        #expect(result.status == 1)
        #expect(result.stderr == "Error: \(directory.path): is a directory, not an ONNX model file.\n")
        #expect(!result.stderr.contains("NSCocoaErrorDomain"))
        #expect(throws: OctetError.io(path: directory.path, reason: "is a directory, not a PPM image file")) {
            try PPM.read(path: directory.path)
        }
        #expect(throws: OctetError.io(path: directory.path, reason: "is a directory, not an image file")) {
            try ImageFile.read(path: directory.path)
        }
        #expect(throws: OctetError.io(path: directory.path, reason: "is a directory, not a NumPy .npy file")) {
            try NumPyFile.read(path: directory.path)
        }
    }
}
