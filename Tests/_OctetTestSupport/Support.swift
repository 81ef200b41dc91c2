import Foundation
import Octet

/// A small deterministic generator (SplitMix64) so tests draw the same "random" tensors everywhere.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension TensorData {
    /// Uniform values in `range`, from a seeded generator.
    public static func random(_ shape: [Int], in range: ClosedRange<Float> = -1...1, seed: UInt64) -> TensorData {
        var generator = SeededGenerator(seed: seed)
        return TensorData(shape: shape, values: (0..<shape.reduce(1, *)).map { _ in Float.random(in: range, using: &generator) })
    }
}

extension Weights {
    public static func random(_ shape: [Int], in range: ClosedRange<Float> = -1...1, seed: UInt64) -> Weights {
        let data = TensorData.random(shape, in: range, seed: seed)
        return Weights(shape: data.shape, values: data.values)
    }
}

/// ‖a − b‖ / ‖b‖.
public func relativeL2(_ a: [Float], _ b: [Float]) -> Double {
    precondition(a.count == b.count)
    var difference = 0.0, reference = 0.0
    for (x, y) in zip(a, b) {
        difference += Double(x - y) * Double(x - y)
        reference += Double(y) * Double(y)
    }
    return (difference / max(reference, 1e-30)).squareRoot()
}

/// Largest |a − b| / (atol + rtol·|b|); ≤ 1 means every element is within tolerance.
public func worstTolerance(_ a: [Float], _ b: [Float], atol: Float, rtol: Float) -> (ratio: Float, index: Int) {
    var worst: (Float, Int) = (0, -1)
    for (index, (x, y)) in zip(a, b).enumerated() {
        let ratio = abs(x - y) / (atol + rtol * abs(y))
        if !(ratio <= worst.0) { worst = (ratio.isNaN ? .infinity : ratio, index) }
    }
    return worst
}

/// Paths to the repository and to `../shared/data`, which holds real models and photos. Tests that need
/// the shared data skip with a message when it is absent (a fresh clone without ../shared).
public enum TestPaths {
    public static func packageRoot(file: String = #filePath) -> URL {
        var url = URL(fileURLWithPath: file)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
        }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    }

    public static var sharedData: URL { packageRoot().deletingLastPathComponent().appendingPathComponent("shared/data") }

    public static var hasSharedData: Bool {
        FileManager.default.fileExists(atPath: sharedData.appendingPathComponent("models/efficientnet_lite0.onnx").path)
    }

    public static let sharedDataMissing = "../shared/data is absent: real-model tests are skipped"
}

/// One row of ../shared/data/images/expected.tsv.
public struct ExpectedClassification: Sendable {
    public var file: String
    public var columns: [String: String]

    public func top1(_ model: String) -> Int? { columns["\(model)_top1_idx"].flatMap { Int($0) } }

    public static func load() throws -> [ExpectedClassification] {
        let text = try String(contentsOf: TestPaths.sharedData.appendingPathComponent("images/expected.tsv"), encoding: .utf8)
        let lines = text.split(separator: "\n").map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
        guard let header = lines.first else { return [] }
        return lines.dropFirst().map { row in
            ExpectedClassification(file: row[0], columns: Dictionary(uniqueKeysWithValues: zip(header, row)))
        }
    }
}
