import OctetCore

/// Fuses a Relu or Clip into the convolution, fully connected or elementwise layer that feeds it: the
/// activation becomes output bounds in the producer's epilogue.
struct FuseActivationPass: GraphPass {
    let name = "fuse-activation"

    func run(_ network: inout Network) -> [String] {
        var log: [String] = []
        var changed = true
        while changed {
            changed = false
            let producers = network.producers(), consumers = network.consumers()
            for (index, layer) in network.layers.enumerated() {
                guard case let .activation(activation) = layer.kind, Self.isClamp(activation),
                      let producerIndex = producers[layer.inputs[0]],
                      network.isPrivate(layer.inputs[0], consumers: consumers)
                else { continue }
                let producer = network.layers[producerIndex]
                guard producer.fusedActivation == nil, Self.canAbsorb(producer.kind) else { continue }
                network.layers[producerIndex].fusedActivation = activation
                network.layers[producerIndex].outputs = layer.outputs
                network.layers[producerIndex].origin += layer.origin
                network.layers[producerIndex].precision = producer.precision ?? layer.precision
                network.layers.remove(at: index)
                log.append("fused \(activation.name) '\(layer.name)' into \(producer.kind.typeName) '\(producer.name)'")
                changed = true
                break
            }
        }
        return log
    }

    static func isClamp(_ a: Activation) -> Bool {
        switch a {
        case .relu, .clip: true
        default: false
        }
    }

    static func canAbsorb(_ kind: LayerKind) -> Bool {
        switch kind {
        case .convolution, .fullyConnected, .elementwise(.add): true
        default: false
        }
    }
}
