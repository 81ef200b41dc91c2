import OctetCore

/// Folds the Add of a constant vector along the last axis into the fully connected layer that feeds it:
/// `b' = b + c`. Exporters write a Linear layer over a rank-3/4 tensor as MatMul then Add (transformer MLPs and
/// projections); as one layer, the bias is added in the GEMM's epilogue, and in INT8 the sum is rounded once.
struct FoldBiasAddPass: GraphPass {
    let name = "fold-bias-add"

    func run(_ network: inout Network) -> [String] {
        rewriteUntilStable(&network) { network, producers, consumers in
            for (index, add) in network.layers.enumerated() {
                guard let (fcIndex, constantIndex, side) = network.biasAddOperands(of: add, producers: producers),
                      case var .fullyConnected(p) = network.layers[fcIndex].kind,
                      case let .constant(c) = network.layers[constantIndex].kind,
                      network.layers[fcIndex].fusedActivation == nil,
                      network.isPrivate(add.inputs[side], consumers: consumers),
                      network[add.outputs[0]].shape == network[add.inputs[side]].shape
                else { continue }
                let bias = p.bias?.values ?? Array(repeating: 0, count: p.outputs)
                p.bias = Weights(shape: [p.outputs], values: zip(bias, c.values).map { $0 + $1 })
                let fc = network.layers[fcIndex].name
                network.layers[fcIndex].kind = .fullyConnected(p)
                network.layers[fcIndex].fusedActivation = add.fusedActivation
                network.absorb(index, into: fcIndex)
                return "folded the bias Add '\(add.name)' into FullyConnected '\(fc)'"
            }
            return nil
        }
    }
}
