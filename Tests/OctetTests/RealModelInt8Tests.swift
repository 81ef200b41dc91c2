import Foundation
import Testing
import _OctetTestSupport
import Octet

/// INT8 on the real models with ranges taken as the maximum |activation| the FP32 reference sees over the
/// 29 photos (x · 2/255 − 1): top-1 agreement with FP32, and the CPU engine's integer tensors equal to the
/// fake-quant reference's.
@Suite(.enabled(if: TestPaths.hasSharedData, Comment(rawValue: TestPaths.sharedDataMissing)), .serialized)
struct RealModelInt8Tests {
    struct Calibrated {
        var network: Network
        var photos: TensorData
        var fp32Top1: [Int]
    }

    static func calibrate(_ file: String) throws -> Calibrated {
        let (network, _) = try ONNXImporter.importModel(path: TestPaths.sharedData.appendingPathComponent("models/\(file)").path)
        let rows = try ExpectedClassification.load()
        let photos = TensorData.batch(try rows.map {
            try PPM.read(path: TestPaths.sharedData.appendingPathComponent("images/224/\($0.file)").path).inputTensor(height: 224, width: 224)
        })
        let (ranges, outputs) = try ReferenceExecutor(network: network).calibrate(["input": photos])
        var configured = network
        configured.apply(ranges)
        return Calibrated(network: configured, photos: photos, fp32Top1: try top1(#require(outputs["logits"])))
    }

    static func top1(_ logits: TensorData) -> [Int] {
        (0..<logits.shape[0]).map { s in
            let v = logits.sample(s).values
            return v.indices.max { v[$0] < v[$1] } ?? -1
        }
    }

    /// (model, minimum agreement by default, minimum with --trt-compatible-ranges): issue #3's bounds.
    static let models: [(String, Int, Int)] = [("efficientnet_lite0.onnx", 27, 25), ("mobilenet_v2_1.0_224.onnx", 27, 25)]

    @Test(arguments: models.indices)
    func int8Top1AgreesWithFP32(_ index: Int) throws {
        let (file, defaultBound, trtBound) = Self.models[index]
        let calibrated = try Self.calibrate(file)
        for (trtCompatible, bound) in [(false, defaultBound), (true, trtBound)] {
            var config = BuilderConfig(int8: true)
            config.trtCompatibleRanges = trtCompatible
            let engine = try Builder(config: config, backend: CPUBackend()).build(calibrated.network)
            #expect(engine.plan.report.layers.filter { $0.kind.hasPrefix("Convolution") }.allSatisfy { $0.precision == .int8 })
            let logits = try #require(try engine.makeContext().execute(["input": calibrated.photos])["logits"])
            let agree = zip(Self.top1(logits), calibrated.fp32Top1).filter { $0 == $1 }.count
            print("\(file) INT8 (\(trtCompatible ? "TensorRT ranges" : "unsigned non-negative")): top-1 agrees with FP32 on \(agree)/29")
            #expect(agree >= bound, "\(file), trtCompatibleRanges \(trtCompatible): \(agree)/29 < \(bound)")

            // Exactness on two photos (the reference is slow): every integer tensor identical.
            let two = TensorData(shape: [2] + calibrated.photos.shape.dropFirst(), values: Array(calibrated.photos.values.prefix(2 * 3 * 224 * 224)))
            try Int8EngineTests.expectIdenticalTensors(calibrated.network, two, trtCompatible: trtCompatible)
        }
    }
}
