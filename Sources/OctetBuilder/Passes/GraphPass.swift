import OctetCore

/// A graph rewrite. Each pass is one file, returns a line per change for the build report, and is run in
/// a loop with the others until nothing changes.
protocol GraphPass {
    var name: String { get }
    /// Applies the pass once over the whole network. - Returns: one line per change made.
    func run(_ network: inout Network) -> [String]
}

extension GraphPass {
    /// Runs `rewriteOnce` (which makes at most one change, with fresh producer and consumer maps, and
    /// returns its log line) until it finds nothing more to change.
    func rewriteUntilStable(
        _ network: inout Network, _ rewriteOnce: (inout Network, [TensorID: Int], [TensorID: [Int]]) -> String?
    ) -> [String] {
        var log: [String] = []
        while let line = rewriteOnce(&network, network.producers(), network.consumers()) { log.append(line) }
        return log
    }
}

extension Network {
    /// True when `id` is read by exactly one layer and is not a network output: it can disappear into a fusion.
    func isPrivate(_ id: TensorID, consumers: [TensorID: [Int]]) -> Bool {
        (consumers[id]?.count ?? 0) == 1 && !outputs.contains(id)
    }

    /// Fuses layer `consumer` into layer `producer`: the producer takes over the consumer's outputs, its
    /// ONNX origin and (when it has none) its precision request, and the consumer is removed.
    mutating func absorb(_ consumer: Int, into producer: Int) {
        let absorbed = layers[consumer]
        layers[producer].outputs = absorbed.outputs
        layers[producer].origin += absorbed.origin
        layers[producer].precision = layers[producer].precision ?? absorbed.precision
        layers.remove(at: consumer)
    }

    /// Replaces every read of `old` by `new`.
    mutating func rewire(_ old: TensorID, to new: TensorID) {
        for index in layers.indices {
            layers[index].inputs = layers[index].inputs.map { $0 == old ? new : $0 }
        }
    }
}
