import OctetCore

/// Folds a per-channel Scale (an imported BatchNormalization) into the convolution that feeds it:
/// `w'[o] = w[o] · scale[o]`, `b'[o] = b[o] · scale[o] + shift[o]`.
struct FoldBatchNormPass: GraphPass {
    let name = "fold-batchnorm"

    func run(_ network: inout Network) -> [String] {
        rewriteUntilStable(&network) { network, producers, consumers in
            for (index, layer) in network.layers.enumerated() {
                guard case let .scale(s) = layer.kind, let convIndex = producers[layer.inputs[0]] else { continue }
                let conv = network.layers[convIndex]
                guard case var .convolution(p) = conv.kind, conv.inputs.count == 1, conv.fusedActivation == nil,
                      network.isPrivate(layer.inputs[0], consumers: consumers), s.scale.count == p.outputChannels
                else { continue }
                let per = p.weights.count / p.outputChannels
                for o in 0..<p.outputChannels {
                    for i in 0..<per { p.weights.values[o * per + i] *= s.scale[o] }
                }
                let bias = p.bias?.values ?? Array(repeating: 0, count: p.outputChannels)
                p.bias = Weights(shape: [p.outputChannels], values: (0..<p.outputChannels).map { bias[$0] * s.scale[$0] + s.shift[$0] })
                network.layers[convIndex].kind = .convolution(p)
                network.absorb(index, into: convIndex)
                return "folded BatchNorm '\(layer.name)' into Conv '\(conv.name)'"
            }
            return nil
        }
    }
}
