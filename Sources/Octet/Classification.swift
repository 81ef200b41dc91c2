import Foundation

/// One ranked class of a classifier's output.
public struct RankedClass: Equatable, Sendable {
    public var index: Int
    public var probability: Float

    public init(index: Int, probability: Float) {
        self.index = index
        self.probability = probability
    }
}

/// How a classifier's output becomes ranked classes: shared by `octet run` and `octet serve`, so a served
/// classification answer equals the command line's on the same input.
public enum Classification {
    /// The `k` most probable classes of one sample's output vector. `outputIsProbability` is true when the
    /// network already ends in Softmax; otherwise the values are logits and get a softmax here.
    public static func topK(_ values: ArraySlice<Float>, k: Int, outputIsProbability: Bool) -> [RankedClass] {
        let scores = Array(values)
        let probabilities: [Float]
        if outputIsProbability {
            probabilities = scores
        } else {
            let largest = scores.max() ?? 0
            let exps = scores.map { expf($0 - largest) }
            let sum = exps.reduce(0, +)
            probabilities = exps.map { $0 / sum }
        }
        // Stable: equal scores keep index order, so ties rank deterministically.
        let order = scores.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
        return order.prefix(k).map { RankedClass(index: $0, probability: probabilities[$0]) }
    }

    /// Whether the tensor is produced by a Softmax layer (so its values are already probabilities).
    public static func endsInSoftmax(_ network: Network, output: TensorID) -> Bool {
        var current = output
        let producers = network.producers()
        while let index = producers[current] {
            switch network.layers[index].kind {
            case .softmax: return true
            case .reshape, .identity: current = network.layers[index].inputs[0]
            default: return false
            }
        }
        return false
    }
}

/// The classifier output of one engine execution, split into samples and ranked.
public struct ClassifierOutput: Sendable {
    /// Ranked classes of each sample, best first.
    public var top: [[RankedClass]]

    /// Ranks every sample of `output` (`[N, classes]` or `[N, classes, 1, 1]`); `probabilities` when the network
    /// ends in Softmax, else the values are logits.
    public init(_ output: TensorData, k: Int = 5, probabilities: Bool) {
        let samples = max(output.shape.first ?? 1, 1)
        let perSample = output.count / samples
        top = (0..<samples).map { sample in
            Classification.topK(output.values[sample * perSample..<(sample + 1) * perSample], k: k, outputIsProbability: probabilities)
        }
    }

    public static func classes(of output: TensorData) -> Int { output.count / max(output.shape.first ?? 1, 1) }
}

/// Class labels, one per line, line number − 1 = class index (the sample's reference_labels.txt).
public struct Labels: Sendable {
    public var names: [String]

    public init(path: String) throws {
        let text = try FileReading.text(of: path, what: "a reference labels file")
        names = text.split(separator: "\n", omittingEmptySubsequences: false).map {
            $0.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        while names.last?.isEmpty == true { names.removeLast() }
    }

    public subscript(index: Int) -> String { index < names.count ? names[index] : "class \(index)" }

    /// The labels for an output of `classes` values. A file of another length would name every class wrongly
    /// (a 1001-class model with background shifts all names by one): an error for a file the user named, a
    /// warning (and no labels) for the sample's default file found in a data directory.
    public static func forOutput(path: String, classes: Int, output: String, explicitlyGiven: Bool, warn: (String) -> Void) throws -> Labels? {
        let labels = try Labels(path: path)
        guard labels.names.count != classes else { return labels }
        let problem = "has \(labels.names.count) labels but the model's output '\(output)' has \(classes) classes; the file needs one line per class"
        if explicitlyGiven { throw OctetError.malformedFile(path: path, reason: problem) }
        warn("\(path) \(problem); printing class indexes instead")
        return nil
    }
}
