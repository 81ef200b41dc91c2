import Foundation
import Testing
import _OctetTestSupport
import Octet

/// The real pretrained models in ../shared/data give the expected top-1 of images/expected.tsv for every
/// photo, with the TensorRT sample's preprocessing (x · 2/255 − 1).
@Suite(.enabled(if: TestPaths.hasSharedData, Comment(rawValue: TestPaths.sharedDataMissing)))
struct RealModelTests {
    static let models: [(file: String, column: String, crop: String)] = [
        ("efficientnet_lite0.onnx", "effl0", "224"),
        ("mobilenet_v2_1.0_224.onnx", "mnv2", "224"),
        ("mobilenet_v1_0.25_128.onnx", "mnv1", "128"),
    ]

    @Test(arguments: models.indices)
    func fp32Top1MatchesExpected(_ index: Int) throws {
        let (file, column, crop) = Self.models[index]
        let expected = try ExpectedClassification.load()
        #expect(expected.count == 29)
        let (network, _) = try ONNXImporter.importModel(path: TestPaths.sharedData.appendingPathComponent("models/\(file)").path)
        let shape = network[network.inputs[0]].shape
        let images = try expected.map { row in
            try PPM.read(path: TestPaths.sharedData.appendingPathComponent("images/\(crop)/\(row.file)").path)
                .inputTensor(height: shape[2], width: shape[3])
        }
        // All photos in one batch: the network runs at any batch size.
        let outputs = try ReferenceExecutor(network: network).run([network[network.inputs[0]].name: .batch(images)])
        let logits = try #require(outputs["logits"])
        #expect(logits.shape == [29, 1000])
        for (sample, row) in expected.enumerated() {
            let scores = logits.sample(sample).values
            let top1 = scores.indices.max { scores[$0] < scores[$1] }
            #expect(top1 == row.top1(column), "\(file) on \(row.file)")
        }
    }
}
