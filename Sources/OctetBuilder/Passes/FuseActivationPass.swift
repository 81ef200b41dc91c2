import OctetCore

/// Fuses a Relu or Clip into the convolution, fully connected or elementwise layer that feeds it: the
/// activation becomes output bounds in the producer's epilogue.
struct FuseActivationPass: GraphPass {
    let name = "fuse-activation"

    func run(_ network: inout Network) -> [String] {
        rewriteUntilStable(&network) { network, producers, consumers in
            for (index, layer) in network.layers.enumerated() {
                guard case let .activation(activation) = layer.kind, activation.isClamp,
                      let producerIndex = producers[layer.inputs[0]],
                      network.isPrivate(layer.inputs[0], consumers: consumers)
                else { continue }
                let producer = network.layers[producerIndex]
                guard producer.fusedActivation == nil, Self.canAbsorb(producer.kind) else { continue }
                network.layers[producerIndex].fusedActivation = activation
                network.absorb(index, into: producerIndex)
                return "fused \(activation.name) '\(layer.name)' into \(producer.kind.typeName) '\(producer.name)'"
            }
            return nil
        }
    }

    static func canAbsorb(_ kind: LayerKind) -> Bool {
        switch kind {
        case .convolution, .fullyConnected: true
        case let .elementwise(operation): operation == .add
        case .constant, .pooling, .activation, .scale, .concatenation, .softmax, .reshape, .transpose, .slice, .pad, .reduce, .matrixMultiply,
             .identity, .reformat:
            false
        }
    }
}
