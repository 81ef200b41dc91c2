import Foundation
import Testing
import _OctetTestSupport
import Octet

/// 8-bit pixel input (`ExecutionContext.execute(pixels:)`, `bench --input-format uint8`): the floats it gives
/// are the preprocessing recipe's, bit for bit, on every backend, so an INT8 engine fed pixels computes the same
/// integers as one fed the recipe's float tensor.
@Suite struct PixelInputTests {
    let root = TestPaths.packageRoot()

    /// Pixels in NHWC order become the NCHW tensor with each channel's formula.
    @Test func floatTensorMovesChannelsAndNormalizes() throws {
        let pixels = try PixelBatch(
            shape: [2, 1, 2, 3], pixels: [0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255],
            normalization: .offsetScale(offset: [1, 2, 3], scale: [0.5, 0.25, 2]))
        let x = pixels.floatTensor()
        #expect(x.shape == [2, 3, 1, 2])
        // Image 0, channel 0: pixels 0 and 3; channel 2: 2 and 5. Image 1, channel 1: 251 and 254.
        let channel0: [Float] = [-0.5, 1], channel2: [Float] = [-2, 4], image1Channel1: [Float] = [62.25, 63]
        #expect(Array(x.values[0..<2]) == channel0)
        #expect(Array(x.values[4..<6]) == channel2)
        #expect(Array(x.values[8..<10]) == image1Channel1)
        let meanStd = try PixelBatch(shape: [1, 1, 1, 1], pixels: [200], normalization: .meanStd(mean: [0.5], std: [0.25]))
        let scaled: Float = 200 / 255
        let want: Float = (scaled - 0.5) / 0.25
        #expect(meanStd.floatTensor().values == [want])
    }

    @Test func malformedPixelBatchesAreRefused() throws {
        let n = ChannelNormalization.meanStd(mean: [0, 0, 0], std: [1, 1, 1])
        #expect(throws: OctetError.self) { try PixelBatch(shape: [1, 2, 2], pixels: [0, 0, 0, 0], normalization: n) }
        #expect(throws: OctetError.self) { try PixelBatch(shape: [1, 2, 2, 3], pixels: [0], normalization: n) }
        #expect(throws: OctetError.self) { try PixelBatch(shape: [1, 0, 2, 3], pixels: [], normalization: n) }
        #expect(throws: OctetError.self) { try PixelBatch(shape: [1, 1, 1, 4], pixels: [0, 0, 0, 0], normalization: n) }
    }

    /// The recipes whose geometry keeps whole pixel values hand over bytes whose tensor is the recipe's own,
    /// with either kind of normalization; a stretching recipe refuses, since its floats are not bytes.
    @Test func recipePixelsGiveTheRecipesTensor() throws {
        let source = try ImagePreprocessingTests.source
        var recipe = PreprocessingRecipe.named(.torchvision, height: 20, width: 20)
        recipe.geometry = .resizeThenCenterCrop(shorterSide: 40)
        for normalization in [recipe.normalization, .formula(.sample)] {
            recipe.normalization = normalization
            let pixels = try recipe.pixelBatch([source, source], paths: ["a", "b"])
            #expect(pixels.shape == [2, 20, 20, 3])
            let one = try recipe.inputTensor(source, path: "a")
            #expect(pixels.floatTensor() == TensorData(shape: [2, 3, 20, 20], values: one.values + one.values))
        }
        let stretch = PreprocessingRecipe.named(.sample, height: 20, width: 20)
        #expect { try stretch.pixelBatch([source], paths: ["small.png"]) } throws: { error in
            "\(error)".contains("small.png") && "\(error)".contains("fractional")
        }
    }

    /// The demo model in INT8, fed pixels and fed the recipe's floats: the same outputs, on the CPU and, where a
    /// GPU is present, on CUDA (whose kernel normalizes on the device).
    @Test func enginesGiveTheSameOutputsForPixelsAndFloats() throws {
        var (network, _) = try ONNXImporter.importModel(path: root.appendingPathComponent("data/int8_api/efficientnet_lite0.onnx").path)
        _ = network.apply(try DynamicRanges.readRangeFile(path: root.appendingPathComponent("data/int8_api/efficientnet_lite0_per_tensor_dynamic_range.txt").path))
        let input = network[network.inputs[0]]
        let (h, w) = (input.shape[2], input.shape[3])
        var generator = SeededGenerator(seed: 7)
        let bytes = (0..<(2 * h * w * 3)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        let pixels = try PixelBatch(shape: [2, h, w, 3], pixels: bytes, normalization: PreprocessingRecipe.PixelNormalization.formula(.sample).channelNormalization)
        var backends: [any Backend] = [CPUBackend()]
        if CUDATests.cudaMissing == nil { backends.append(try CUDABackend()) }
        for backend in backends {
            let context = try Builder(config: BuilderConfig(int8: true), backend: backend).build(network).makeContext()
            let fromFloats = try context.execute([input.name: pixels.floatTensor()])
            #expect(try context.execute(pixels: pixels) == fromFloats, "\(backend.name)")
            let wrongSize = try PixelBatch(shape: [1, h + 1, w, 3], pixels: [UInt8](repeating: 0, count: (h + 1) * w * 3), normalization: pixels.normalization)
            #expect(throws: OctetError.self) { try context.execute(pixels: wrongSize) }
        }
    }

    /// `bench --input-format uint8 --streams 2` runs two contexts at once and says so in its JSON.
    @Test func benchRunsPixelInputOnSeveralStreams() throws {
        let model = root.appendingPathComponent("data/int8_api/efficientnet_lite0.onnx").path
        let bench = try OctetBinary.run(["bench", "--model", model, "--input-format", "uint8", "--streams", "2", "--json", "--iterations", "2", "--warmup", "1", "--batch", "1,2"])
        #expect(bench.status == 0, "\(bench.stderr)")
        let lines = bench.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(lines.count == 2)
        #expect(lines.allSatisfy { $0["input_format"] as? String == "uint8" && $0["streams"] as? Int == 2 && ($0["throughput_ips"] as? Double ?? 0) > 0 })
        let refused = try OctetBinary.run(["bench", "--model", model, "--streams", "0"])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("--streams"))
    }
}
