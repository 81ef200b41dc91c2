import OctetCore

/// Removes a Reshape and its inverse around an activation: `Reshape(a → b) → act → Reshape(b → a)` becomes `act`
/// on the first Reshape's input. Element-wise activations do not care about the shape, so the pair only moved
/// data twice. `FlattenFullyConnectedPass` leaves such pairs between two fully connected layers over a rank-4
/// tensor (ConvNeXt's and Swin's MLP: rows → [N, H, W, C] → GELU → rows). A fusion: skipped with `noFusion`, so
/// calibration still sees the activation's own output.
struct CancelReshapePairsPass: GraphPass {
    let name = "cancel-reshape-pairs"

    func run(_ network: inout Network) -> [String] {
        rewriteUntilStable(&network) { network, producers, consumers in
            for (index, back) in network.layers.enumerated() {
                guard case .reshape = back.kind, let activationIndex = producers[back.inputs[0]],
                      case .activation = network.layers[activationIndex].kind,
                      network.layers[activationIndex].inputs.count == 1,
                      network.isPrivate(back.inputs[0], consumers: consumers),
                      let forthIndex = producers[network.layers[activationIndex].inputs[0]],
                      case .reshape = network.layers[forthIndex].kind,
                      network.isPrivate(network.layers[activationIndex].inputs[0], consumers: consumers),
                      network[network.layers[forthIndex].inputs[0]].shape == network[back.outputs[0]].shape
                else { continue }
                let line = "removed the Reshapes '\(network.layers[forthIndex].name)' and '\(back.name)' around '\(network.layers[activationIndex].name)'"
                network.layers[activationIndex].inputs = network.layers[forthIndex].inputs
                network.layers[activationIndex].outputs = back.outputs
                network.layers.remove(at: index)
                network.layers.remove(at: forthIndex)
                return line
            }
            return nil
        }
    }
}
