import OctetCore

/// Reads a fully connected layer over the last axis of a rank-4 tensor (ConvNeXt's and Swin's MLPs over
/// `[N, H, W, C]`) through a Reshape to rank 3 and back. Backends store rank-4 tensors as NHWC of their logical
/// axes, where the last axis is not contiguous, and any other rank row-major, where a fully connected layer is one
/// GEMM over the rows of its last axis (`LayerForm.fullyConnected`); the Reshapes are index-map data movement.
///
/// A lowering, not a fusion: it runs once after the fusions (so the layer keeps its fused activation), with or
/// without `noFusion`. The new tensors take the ranges of the tensors they reshape.
struct FlattenFullyConnectedPass: GraphPass {
    let name = "flatten-fully-connected"

    func run(_ network: inout Network) -> [String] {
        var log: [String] = []
        var index = 0
        while index < network.layers.count {
            let layer = network.layers[index]
            guard case .fullyConnected = layer.kind, network[layer.inputs[0]].shape.count == 4 else {
                index += 1
                continue
            }
            let input = network[layer.inputs[0]], output = network[layer.outputs[0]]
            let rows = [input.shape[1] * input.shape[2], input.shape[3]]
            // The rows hold the same values as the tensors they reshape, so they take their ranges: the INT8 layer
            // reads and writes them quantized as the model's own tensors would be, also where the Reshape runs on
            // floats (a LayerNorm's output) and a reformat quantizes its rows.
            func reshaped(_ tensor: Tensor, named name: String, shape: [Int]) -> Tensor {
                var copy = Tensor(name: name, shape: shape, dataType: tensor.dataType)
                copy.takeRange(of: tensor)
                return copy
            }
            let rowsIn = reshaped(input, named: "\(layer.name)/input_rows", shape: [input.shape[0]] + rows)
            let rowsOut = reshaped(output, named: "\(layer.name)/output_rows", shape: [output.shape[0], rows[0], output.shape[3]])
            let rowsInID = network.addTensor(rowsIn), rowsOutID = network.addTensor(rowsOut)
            let flatten = Layer(name: "\(layer.name)/flatten", kind: .reshape(sampleShape: rows), inputs: [layer.inputs[0]],
                                outputs: [rowsInID], origin: layer.origin)
            let unflatten = Layer(name: "\(layer.name)/unflatten", kind: .reshape(sampleShape: Array(output.shape.dropFirst())),
                                  inputs: [rowsOutID], outputs: layer.outputs, origin: layer.origin)
            network.layers[index].inputs[0] = rowsInID
            network.layers[index].outputs = [rowsOutID]
            network.layers.insert(unflatten, at: index + 1)
            network.layers.insert(flatten, at: index)
            log.append("read \(layer.kind.typeName) '\(layer.name)' over \(input.shape) as rows \([input.shape[0]] + rows)")
            index += 3
        }
        return log
    }
}
