import OctetCore

/// Removes Identity layers (ONNX Identity, inference-mode Dropout): their readers read the input instead.
/// An Identity that produces a network output stays, so the output keeps its name.
struct RemoveIdentityPass: GraphPass {
    let name = "remove-identity"

    func run(_ network: inout Network) -> [String] {
        var log: [String] = []
        var index = 0
        while index < network.layers.count {
            let layer = network.layers[index]
            guard layer.kind == .identity, let out = layer.outputs.first, !network.outputs.contains(out) else {
                index += 1
                continue
            }
            network.rewire(out, to: layer.inputs[0])
            network.layers.remove(at: index)
            log.append("removed Identity '\(layer.name)'")
        }
        return log
    }
}
