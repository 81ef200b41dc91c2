import OctetCore

/// Removes layers whose outputs nothing reads and that produce no network output (constants left behind
/// by folding, unused branches).
struct RemoveDeadLayersPass: GraphPass {
    let name = "remove-dead-layers"

    func run(_ network: inout Network) -> [String] {
        var log: [String] = []
        var changed = true
        while changed {
            changed = false
            let consumers = network.consumers()
            if let index = network.layers.lastIndex(where: { layer in
                layer.outputs.allSatisfy { consumers[$0] == nil && !network.outputs.contains($0) }
            }) {
                log.append("removed unused \(network.layers[index].kind.typeName) '\(network.layers[index].name)'")
                network.layers.remove(at: index)
                changed = true
            }
        }
        return log
    }
}
