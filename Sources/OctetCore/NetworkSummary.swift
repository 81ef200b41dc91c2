extension Network {
    /// A printable table: one line per layer with its kind, inputs → outputs and their shapes.
    public var summary: String {
        var lines = ["Network '\(name)': \(inputs.count) input(s), \(layers.count) layers, \(outputs.count) output(s)"]
        for id in inputs { lines.append("  input  \(self[id].name) \(self[id].shape) \(self[id].dataType)") }
        for (index, layer) in layers.enumerated() {
            let ins = layer.inputs.map { self[$0].name }.joined(separator: ", ")
            let outs = layer.outputs.map { "\(self[$0].name) \(self[$0].shape)" }.joined(separator: ", ")
            var line = "  [\(index)] \(layer.name): \(layer.kind.detail)"
            if let activation = layer.fusedActivation { line += " + \(activation.name)" }
            line += "  (\(ins)) -> \(outs)"
            if let precision = layer.precision { line += "  precision=\(precision)" }
            lines.append(line)
        }
        for id in outputs { lines.append("  output \(self[id].name) \(self[id].shape)") }
        return lines.joined(separator: "\n")
    }
}

extension LayerKind {
    /// Type name with the parameters that matter, e.g. `Convolution 3x3 s2 g32 32->32`.
    public var detail: String {
        switch self {
        case let .constant(w): "Constant \(w.shape)"
        case let .convolution(p):
            "Convolution \(p.kernel[0])x\(p.kernel[1]) s\(p.strides[0])x\(p.strides[1])"
                + (p.dilations != [1, 1] ? " d\(p.dilations[0])x\(p.dilations[1])" : "")
                + (p.groups != 1 ? " g\(p.groups)" : "")
                + " \(p.inputChannelsPerGroup * p.groups)->\(p.outputChannels)"
        case let .fullyConnected(p): "FullyConnected \(p.inputs)->\(p.outputs)"
        case let .pooling(p):
            p.isGlobal ? "GlobalPooling \(p.kind.rawValue)"
                : "Pooling \(p.kind.rawValue) \(p.kernel[0])x\(p.kernel[1]) s\(p.strides[0])x\(p.strides[1])"
                    + (p.ceilMode ? " ceil" : "")
        case let .activation(a): "Activation \(a.name)"
        case let .scale(p): "Scale \(p.scale.count) channels"
        case let .elementwise(op): "ElementWise \(op.rawValue)"
        case let .concatenation(axis): "Concatenation axis \(axis)"
        case let .softmax(axis, _): "Softmax axis \(axis)"
        case let .reshape(shape): "Reshape [N]+\(shape)"
        case let .transpose(perm): "Transpose \(perm)"
        case .slice: "Slice"
        case let .pad(p): "Pad \(p.mode.rawValue) \(p.padsBegin)/\(p.padsEnd)"
        case let .reduce(p): "Reduce \(p.operation.rawValue) axes \(p.axes)"
        case .matrixMultiply: "MatrixMultiply"
        case .identity: "Identity"
        case .reformat: "Reformat"
        }
    }
}
