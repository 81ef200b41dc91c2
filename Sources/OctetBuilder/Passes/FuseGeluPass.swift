import OctetCore

/// Fuses GELU as exporters decompose it, `(x · (1 + erf(x / √2))) · 0.5` (five layers: Div or Mul by a constant,
/// Erf, Add 1, Mul by x, Mul 0.5), into one Gelu activation: one pass over the tensor instead of five, and in INT8
/// one lookup table from x's codes to the result's instead of four rounded intermediates.
struct FuseGeluPass: GraphPass {
    let name = "fuse-gelu"

    func run(_ network: inout Network) -> [String] {
        rewriteUntilStable(&network) { network, producers, consumers in
            /// The value of a one-element constant operand.
            func scalar(_ id: TensorID) -> Float? {
                guard let p = producers[id], case let .constant(w) = network.layers[p].kind, w.count == 1 else { return nil }
                return w.values[0]
            }
            func near(_ value: Float?, _ expected: Float) -> Bool { value.map { abs($0 - expected) <= 1e-6 * abs(expected) } ?? false }
            /// The one layer reading `id` if it is `kind` with no fused activation, and the operand beside `id`.
            func soleConsumer(of id: TensorID, _ kind: LayerKind) -> (index: Int, other: TensorID?)? {
                guard network.isPrivate(id, consumers: consumers), let index = consumers[id]?.first,
                      network.layers[index].kind == kind, network.layers[index].fusedActivation == nil
                else { return nil }
                let inputs = network.layers[index].inputs
                return (index, inputs.count == 2 ? (inputs[0] == id ? inputs[1] : inputs[0]) : nil)
            }
            for (first, layer) in network.layers.enumerated() {
                guard layer.inputs.count == 2, layer.fusedActivation == nil,
                      layer.kind == .elementwise(.div) && near(scalar(layer.inputs[1]), Float(2).squareRoot())
                        || layer.kind == .elementwise(.mul) && near(scalar(layer.inputs[1]), Float(0.5).squareRoot())
                else { continue }
                let x = layer.inputs[0]
                guard let erf = soleConsumer(of: layer.outputs[0], .activation(.erf)),
                      let plusOne = soleConsumer(of: network.layers[erf.index].outputs[0], .elementwise(.add)),
                      let other = plusOne.other, near(scalar(other), 1),
                      let timesX = soleConsumer(of: network.layers[plusOne.index].outputs[0], .elementwise(.mul)), timesX.other == x,
                      let half = soleConsumer(of: network.layers[timesX.index].outputs[0], .elementwise(.mul)),
                      let halfOperand = half.other, near(scalar(halfOperand), 0.5)
                else { continue }
                let parts = [first, erf.index, plusOne.index, timesX.index]
                var gelu = network.layers[half.index]
                gelu.kind = .activation(.gelu(tanhApproximation: false))
                gelu.inputs = [x]
                gelu.origin = parts.flatMap { network.layers[$0].origin } + gelu.origin
                network.layers[half.index] = gelu
                for index in parts.sorted(by: >) { network.layers.remove(at: index) }
                return "fused GELU from '\(layer.name)' to '\(gelu.name)' into one Gelu activation"
            }
            return nil
        }
    }
}
