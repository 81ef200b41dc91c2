import OctetCore

/// Fuses an Add of two same-shaped tensors into the convolution producing one of them: the convolution takes
/// the other as a residual input and computes `act(conv(x) + residual)` (ResNet and MobileNetV2 blocks).
/// The fused layer takes the Add's place in the order, where both operands exist.
struct FuseResidualAddPass: GraphPass {
    let name = "fuse-residual-add"

    func run(_ network: inout Network) -> [String] {
        rewriteUntilStable(&network) { network, producers, consumers in
            for (addIndex, add) in network.layers.enumerated() {
                guard add.kind == .elementwise(.add), add.inputs.count == 2,
                      network[add.inputs[0]].shape == network[add.inputs[1]].shape
                else { continue }
                // The later-produced convolution operand is the one to fuse.
                let candidates = (0..<2).compactMap { side -> (side: Int, conv: Int)? in
                    guard let p = producers[add.inputs[side]], case .convolution = network.layers[p].kind,
                          network.layers[p].inputs.count == 1, network.layers[p].fusedActivation == nil,
                          network.isPrivate(add.inputs[side], consumers: consumers)
                    else { return nil }
                    return (side, p)
                }
                guard let chosen = candidates.max(by: { $0.conv < $1.conv }) else { continue }
                var conv = network.layers[chosen.conv]
                conv.inputs.append(add.inputs[1 - chosen.side])
                conv.fusedActivation = add.fusedActivation
                conv.outputs = add.outputs
                conv.origin += add.origin
                conv.precision = conv.precision ?? add.precision
                network.layers[addIndex] = conv
                network.layers.remove(at: chosen.conv)
                return "fused Add '\(add.name)' into Conv '\(conv.name)' as a residual"
            }
            return nil
        }
    }
}
