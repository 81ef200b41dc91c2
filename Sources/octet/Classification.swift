import Foundation
import Octet

/// One ranked class of a classifier's output.
struct RankedClass: Equatable {
    var index: Int
    var probability: Float
}

enum Classification {
    /// The `k` most probable classes of one sample's output vector. `outputIsProbability` is true when the
    /// network already ends in Softmax; otherwise the values are logits and get a softmax here.
    static func topK(_ values: ArraySlice<Float>, k: Int, outputIsProbability: Bool) -> [RankedClass] {
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
    static func endsInSoftmax(_ network: Network, output: TensorID) -> Bool {
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
