import OctetCore
import OctetQuantization

/// Runs a `Network` in FP32 with the plain reference kernels, one layer after another in network order.
///
/// It is the oracle for every backend, and the source of activation statistics for calibration: pass an
/// `observe` closure to see every tensor as it is produced.
///
/// ```swift
/// let executor = ReferenceExecutor(network: network)
/// let outputs = try executor.run(["input": image])
/// ```
public struct ReferenceExecutor: Sendable {
    public let network: Network

    public init(network: Network) { self.network = network }

    /// Runs the network.
    /// - Parameters:
    ///   - inputs: one tensor per network input, by name; axis 0 is the batch and may be any size.
    ///   - observe: called with each tensor (network inputs first) as soon as it is computed.
    /// - Returns: the network outputs, by name.
    public func run(
        _ inputs: [String: TensorData], observe: ((TensorID, TensorData) -> Void)? = nil
    ) throws -> [String: TensorData] {
        var values: [TensorID: TensorData] = [:]
        var remainingUses = lastUses()
        for id in network.inputs {
            let tensor = network[id]
            guard let data = inputs[tensor.name] else {
                throw OctetError.invalidInput(reason: "no data for network input '\(tensor.name)'")
            }
            guard data.shape.count == tensor.shape.count, Array(data.shape.dropFirst()) == Array(tensor.shape.dropFirst())
            else {
                throw OctetError.invalidInput(
                    reason: "input '\(tensor.name)' has shape \(data.shape), the network expects [N, \(tensor.shape.dropFirst().map(String.init).joined(separator: ", "))]")
            }
            values[id] = data
            observe?(id, data)
        }
        for layer in network.layers {
            if layer.kind.hasLeftOutWeights { throw OctetError.weightsLeftOut(layer: layer.name) }
            let args = try layer.inputs.map { id in
                guard let value = values[id] else {
                    throw OctetError.invalidNetwork(reason: "layer '\(layer.name)' reads '\(network[id].name)' before it is computed")
                }
                return value
            }
            var results = try Self.evaluate(layer.kind, args)
            if let activation = layer.fusedActivation {
                results = results.map { ReferenceKernels.activation($0, activation) }
            }
            for (id, data) in zip(layer.outputs, results) {
                values[id] = data
                observe?(id, data)
            }
            // Free what no later layer needs, so whole-model runs stay small.
            for id in layer.inputs {
                remainingUses[id, default: 0] -= 1
                if remainingUses[id] == 0, !network.outputs.contains(id) { values[id] = nil }
            }
        }
        var outputs: [String: TensorData] = [:]
        for id in network.outputs { outputs[network[id].name] = values[id] }
        return outputs
    }

    private func lastUses() -> [TensorID: Int] {
        var uses: [TensorID: Int] = [:]
        for layer in network.layers { for id in layer.inputs { uses[id, default: 0] += 1 } }
        return uses
    }

    /// Evaluates one layer on its input values.
    public static func evaluate(_ kind: LayerKind, _ args: [TensorData]) throws -> [TensorData] {
        switch kind {
        case let .constant(w): return [TensorData(shape: w.shape, values: w.values)]
        case let .convolution(p):
            let y = try ReferenceKernels.convolution(args[0], p)
            return [args.count == 2 ? try ReferenceKernels.elementwise(y, args[1], .add) : y]
        case let .fullyConnected(p): return [ReferenceKernels.fullyConnected(args[0], p)]
        case let .pooling(p): return [try ReferenceKernels.pooling(args[0], p)]
        case let .activation(a): return [ReferenceKernels.activation(args[0], a)]
        case let .scale(p): return [ReferenceKernels.scale(args[0], p)]
        case let .elementwise(op): return [try ReferenceKernels.elementwise(args[0], args[1], op)]
        case let .concatenation(axis): return [ReferenceKernels.concatenation(args, axis: axis)]
        case let .softmax(axis, coerced): return [ReferenceKernels.softmax(args[0], axis: axis, coerced2D: coerced)]
        case let .reshape(sampleShape):
            return [TensorData(shape: [args[0].shape[0]] + sampleShape, values: args[0].values)]
        case let .transpose(perm): return [ReferenceKernels.transpose(args[0], permutation: perm)]
        case let .slice(p): return [try ReferenceKernels.slice(args[0], p)]
        case let .pad(p): return [try ReferenceKernels.pad(args[0], p)]
        case let .reduce(p): return [try ReferenceKernels.reduce(args[0], p)]
        case .matrixMultiply: return [try ReferenceKernels.matrixMultiply(args[0], args[1])]
        case .identity, .reformat: return [args[0]]
        }
    }
}

extension ReferenceExecutor {
    /// Calibration on the reference, as `octet calibrate` does on an FP32 engine: every tensor's range over
    /// `inputs` by `method`, keyed by the network's tensor names, and the outputs of that run.
    public func calibrate(_ inputs: [String: TensorData], method: CalibrationMethod = .max) throws
        -> (ranges: DynamicRanges, outputs: [String: TensorData])
    {
        var calibrator = Calibrator()
        let outputs = try run(inputs) { id, data in calibrator.observe(network[id].name, data.values) }
        return (calibrator.ranges(method), outputs)
    }
}
