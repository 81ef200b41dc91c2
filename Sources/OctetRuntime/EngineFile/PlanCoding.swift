import OctetCore
import OctetQuantization

// The EnginePlan in an engine file (docs/engine-format.md, "plan"). Every enum is written as a fixed code chosen
// here, one exhaustive switch per type, so a new case is a compile error in this file until it has its code;
// decoding refuses codes it does not know. Nothing here depends on a backend.

extension BinaryWriter {
    mutating func dataType(_ type: DataType) {
        switch type {
        case .float32: u8(1)
        case .float16: u8(2)
        case .int8: u8(3)
        case .uint8: u8(4)
        case .int32: u8(5)
        case .int64: u8(6)
        case .bool: u8(7)
        }
    }

    mutating func optionalDataType(_ type: DataType?) {
        if let type { dataType(type) } else { u8(0) }
    }

    /// Shape, then 0 and the values, or 1 where they are left out (the backend state holds what they gave);
    /// before format 3, shape and values.
    mutating func weights(_ w: Weights) {
        ints(w.shape)
        if planFormat < 3 {
            floats(w.values)
        } else if w.isLeftOut {
            u8(1)
        } else {
            u8(0)
            floats(w.values)
        }
    }

    mutating func optionalWeights(_ w: Weights?) {
        bool(w != nil)
        if let w { weights(w) }
    }

    mutating func activation(_ a: Activation?) {
        switch a {
        case nil: u8(0)
        case .relu?: u8(1)
        case let .clip(lo, hi)?: u8(2); f32(lo); f32(hi)
        case .sigmoid?: u8(3)
        case .tanh?: u8(4)
        case let .leakyRelu(alpha)?: u8(5); f32(alpha)
        case let .hardSigmoid(alpha, beta)?: u8(6); f32(alpha); f32(beta)
        case .hardSwish?: u8(7)
        case .erf?: u8(8)
        case let .gelu(tanhApproximation)?: u8(9); bool(tanhApproximation)
        case .sqrt?: u8(10)
        case .exp?: u8(11)
        }
    }

    mutating func quantization(_ q: TensorQuantization) {
        dataType(q.dataType)
        f32(q.scale)
        i32(q.zeroPoint)
    }

    /// The one place a `LayerKind` becomes bytes: a code, then its parameters. A new case needs its arm here and
    /// in `BinaryReader.layerKind()`.
    mutating func layerKind(_ kind: LayerKind) {
        switch kind {
        case let .constant(w):
            u8(0); weights(w)
        case let .convolution(p):
            u8(1); weights(p.weights); optionalWeights(p.bias)
            ints(p.strides); ints(p.dilations); ints(p.padsBegin); ints(p.padsEnd); i64(p.groups)
        case let .fullyConnected(p):
            u8(2); weights(p.weights); optionalWeights(p.bias)
        case let .pooling(p):
            u8(3)
            switch p.kind {
            case .max: u8(0)
            case .average: u8(1)
            }
            bool(p.isGlobal); ints(p.kernel); ints(p.strides); ints(p.dilations); ints(p.padsBegin); ints(p.padsEnd)
            bool(p.ceilMode); bool(p.countIncludePad)
        case let .activation(a):
            u8(4); activation(a)
        case let .scale(p):
            u8(5); floats(p.scale); floats(p.shift)
        case let .elementwise(op):
            u8(6); i32(op.code)
        case let .concatenation(axis):
            u8(7); i64(axis)
        case let .softmax(axis, coerced2D):
            u8(8); i64(axis); bool(coerced2D)
        case let .reshape(sampleShape):
            u8(9); ints(sampleShape)
        case let .transpose(permutation):
            u8(10); ints(permutation)
        case let .slice(p):
            u8(11); ints(p.starts); ints(p.ends); ints(p.steps)
        case .identity:
            u8(12)
        case .reformat:
            u8(13)
        case let .pad(p):
            u8(14)
            switch p.mode {
            case .constant: u8(0)
            case .reflect: u8(1)
            case .edge: u8(2)
            }
            ints(p.padsBegin); ints(p.padsEnd); f32(p.value)
        case let .reduce(p):
            u8(15)
            switch p.operation {
            case .mean: u8(0)
            case .sum: u8(1)
            case .max: u8(2)
            case .min: u8(3)
            }
            ints(p.axes)
        case .matrixMultiply:
            u8(16)
        }
    }

    mutating func network(_ network: Network) {
        string(network.name)
        count(network.tensors.count)
        for tensor in network.tensors {
            string(tensor.name)
            ints(tensor.shape)
            dataType(tensor.dataType)
            if let q = tensor.explicitQuantization {
                u8(2); dataType(q.dataType); f32(q.scale); i32(q.zeroPoint)
            } else if let range = tensor.dynamicRange {
                u8(1); f32(range)
            } else {
                u8(0)
            }
        }
        ints(network.inputs.map(\.index))
        ints(network.outputs.map(\.index))
        count(network.layers.count)
        for layer in network.layers {
            string(layer.name)
            layerKind(layer.kind)
            ints(layer.inputs.map(\.index))
            ints(layer.outputs.map(\.index))
            optionalDataType(layer.precision)
            for index in layer.outputs.indices { optionalDataType(layer.outputType(index)) }
            strings(layer.origin)
            activation(layer.fusedActivation)
        }
    }

    mutating func report(_ report: BuildReport) {
        strings(report.builderOptions)
        count(report.layers.count)
        for entry in report.layers {
            string(entry.name); string(entry.kind); strings(entry.origin); dataType(entry.precision)
            strings(entry.inputTypes); strings(entry.outputTypes); string(entry.kernel)
            bool(entry.reason != nil); if let reason = entry.reason { string(reason) }
            bool(entry.hostReason != nil); if let reason = entry.hostReason { string(reason) }
        }
        strings(report.passLog)
        strings(report.missingRanges)
        strings(report.warnings)
    }

    /// The plan: network, quantization table (by tensor index), build report.
    public mutating func plan(_ plan: EnginePlan) {
        network(plan.network)
        let quantized = plan.quantization.sorted { $0.key < $1.key }
        count(quantized.count)
        for (id, q) in quantized {
            i64(id.index)
            quantization(q)
        }
        report(plan.report)
    }
}

extension BinaryReader {
    mutating func dataType(_ what: String = "a data type") throws -> DataType {
        guard let type = try optionalDataType(what) else { throw malformed("\(what) is missing (code 0)") }
        return type
    }

    mutating func optionalDataType(_ what: String = "a data type") throws -> DataType? {
        switch try u8(what) {
        case 0: return nil
        case 1: return .float32
        case 2: return .float16
        case 3: return .int8
        case 4: return .uint8
        case 5: return .int32
        case 6: return .int64
        case 7: return .bool
        case let code: throw malformed("\(what) has the unknown code \(code)")
        }
    }

    mutating func shape(_ what: String) throws -> [Int] {
        let shape = try ints("the shape of \(what)", limit: 16)
        do {
            try Limits.checkShape(shape, of: what, allowZero: true)
        } catch let error as OctetError {
            throw malformed("\(error)")
        }
        return shape
    }

    /// Weights as `BinaryWriter.weights` wrote them in format `version` (before 3: always with their values).
    mutating func weights(_ what: String, version: UInt32) throws -> Weights {
        let shape = try shape(what)
        if version >= 3 {
            switch try u8("whether the values of \(what) are present") {
            case 0: break
            case 1: return .leftOut(shape: shape)
            case let code: throw malformed("\(what) has the unknown storage code \(code)")
            }
        }
        let values = try floats(what)
        guard values.count == shape.reduce(1, *) else {
            throw malformed("\(what) has shape \(shape) but \(values.count) values")
        }
        return Weights(shape: shape, values: values)
    }

    mutating func optionalWeights(_ what: String, version: UInt32) throws -> Weights? {
        try bool("whether \(what) exists") ? try weights(what, version: version) : nil
    }

    mutating func finite(_ what: String) throws -> Float {
        let value = try f32(what)
        guard value.isFinite else { throw malformed("\(what) is \(value), not a finite number") }
        return value
    }

    mutating func activation(_ what: String = "an activation") throws -> Activation? {
        switch try u8(what) {
        case 0: return nil
        case 1: return .relu
        case 2: return .clip(min: try f32(what), max: try f32(what))
        case 3: return .sigmoid
        case 4: return .tanh
        case 5: return .leakyRelu(alpha: try f32(what))
        case 6: return .hardSigmoid(alpha: try f32(what), beta: try f32(what))
        case 7: return .hardSwish
        case 8: return .erf
        case 9: return .gelu(tanhApproximation: try bool(what))
        case 10: return .sqrt
        case 11: return .exp
        case let code: throw malformed("\(what) has the unknown code \(code)")
        }
    }

    mutating func quantization(_ what: String) throws -> TensorQuantization {
        let type = try dataType(what)
        let scale = try finite("the scale of \(what)")
        let zeroPoint = try i32("the zero point of \(what)")
        guard type.isQuantized, scale > 0,
              type == .int8 ? (-128...127).contains(zeroPoint) : (0...255).contains(zeroPoint)
        else { throw malformed("\(what) is \(type) with scale \(scale) and zero point \(zeroPoint), not a valid quantization") }
        return TensorQuantization(dataType: type, scale: scale, zeroPoint: zeroPoint)
    }

    /// The inverse of `BinaryWriter.layerKind`, for a file of format `version`.
    mutating func layerKind(_ what: String, version: UInt32) throws -> LayerKind {
        switch try u8("the kind of \(what)") {
        case 0:
            let value = try weights("the value of \(what)", version: version)
            // The layers that read a one-element constant take its value into their form: it is never left out.
            guard !(value.isLeftOut && value.count <= 1) else { throw malformed("\(what) is a one-element constant without its value") }
            return .constant(value)
        case 1:
            let weights = try weights("the weights of \(what)", version: version)
            let bias = try optionalWeights("the bias of \(what)", version: version)
            return .convolution(ConvolutionParameters(
                weights: weights, bias: bias, strides: try ints(what, limit: 4), dilations: try ints(what, limit: 4),
                padsBegin: try ints(what, limit: 4), padsEnd: try ints(what, limit: 4), groups: try i64(what)))
        case 2:
            return .fullyConnected(FullyConnectedParameters(
                weights: try weights("the weights of \(what)", version: version), bias: try optionalWeights("the bias of \(what)", version: version)))
        case 3:
            let kind: PoolingKind
            switch try u8("the pooling kind of \(what)") {
            case 0: kind = .max
            case 1: kind = .average
            case let code: throw malformed("the pooling kind of \(what) has the unknown code \(code)")
            }
            return .pooling(PoolingParameters(
                kind: kind, isGlobal: try bool(what), kernel: try ints(what, limit: 4), strides: try ints(what, limit: 4),
                dilations: try ints(what, limit: 4), padsBegin: try ints(what, limit: 4), padsEnd: try ints(what, limit: 4),
                ceilMode: try bool(what), countIncludePad: try bool(what)))
        case 4:
            guard let a = try activation("the activation of \(what)") else { throw malformed("\(what) is an activation layer without an activation") }
            return .activation(a)
        case 5:
            let scale = try floats("the scales of \(what)"), shift = try floats("the shifts of \(what)")
            guard scale.count == shift.count else { throw malformed("\(what) has \(scale.count) scales and \(shift.count) shifts") }
            return .scale(ScaleParameters(scale: scale, shift: shift))
        case 6:
            let code = try i32("the operation of \(what)")
            guard let op = ElementwiseOperation.allCases.first(where: { $0.code == code }) else {
                throw malformed("\(what) has the unknown elementwise operation \(code)")
            }
            return .elementwise(op)
        case 7:
            return .concatenation(axis: try i64(what))
        case 8:
            return .softmax(axis: try i64(what), coerced2D: try bool(what))
        case 9:
            return .reshape(sampleShape: try ints(what, limit: 16))
        case 10:
            return .transpose(permutation: try ints(what, limit: 16))
        case 11:
            return .slice(SliceParameters(starts: try ints(what, limit: 16), ends: try ints(what, limit: 16), steps: try ints(what, limit: 16)))
        case 12:
            return .identity
        case 13:
            return .reformat
        case 14:
            let mode: PadMode
            switch try u8("the pad mode of \(what)") {
            case 0: mode = .constant
            case 1: mode = .reflect
            case 2: mode = .edge
            case let code: throw malformed("the pad mode of \(what) has the unknown code \(code)")
            }
            return .pad(PadParameters(mode: mode, padsBegin: try ints(what, limit: 16), padsEnd: try ints(what, limit: 16), value: try f32(what)))
        case 15:
            let operation: ReduceOperation
            switch try u8("the reduction of \(what)") {
            case 0: operation = .mean
            case 1: operation = .sum
            case 2: operation = .max
            case 3: operation = .min
            case let code: throw malformed("the reduction of \(what) has the unknown code \(code)")
            }
            return .reduce(ReduceParameters(operation: operation, axes: try ints(what, limit: 16)))
        case 16:
            return .matrixMultiply
        case let code:
            throw malformed("\(what) has the unknown layer kind \(code) (written by a newer octet?)")
        }
    }

    mutating func tensorIDs(_ what: String, count tensors: Int) throws -> [TensorID] {
        try ints(what, limit: 1 << 16).map { index in
            guard (0..<tensors).contains(index) else { throw malformed("\(what) names tensor \(index) of \(tensors)") }
            return TensorID(index)
        }
    }

    /// The network, checked as the builder left it: ids in range, layers in topological order, and every layer's
    /// output shapes those its kind infers from its inputs (so kernels can trust them).
    mutating func network(version: UInt32) throws -> Network {
        let name = try string("the network name")
        // Element sizes are the smallest encodings (a tensor: empty name and shape, 18 bytes; a layer: 35), so the
        // count check never refuses a valid file.
        let tensorCount = try count("tensors", elementSize: 18, limit: 1 << 24)
        var tensors: [Tensor] = []
        tensors.reserveCapacity(tensorCount)
        for index in 0..<tensorCount {
            let tensorName = try string("the name of tensor \(index)")
            var tensor = Tensor(name: tensorName, shape: try shape("tensor '\(tensorName)'"), dataType: try dataType("the type of tensor '\(tensorName)'"))
            switch try u8("the quantization of tensor '\(tensorName)'") {
            case 0: break
            case 1:
                let range = try finite("the dynamic range of tensor '\(tensorName)'")
                guard range >= 0 else { throw malformed("tensor '\(tensorName)' has the negative range \(range)") }
                tensor.setDynamicRange(min: -range, max: range)
            case 2:
                let q = try quantization("the explicit quantization of tensor '\(tensorName)'")
                tensor.setExplicitQuantization(ExplicitQuantization(dataType: q.dataType, scale: q.scale, zeroPoint: q.zeroPoint))
            case let code:
                throw malformed("tensor '\(tensorName)' has the unknown quantization code \(code)")
            }
            tensors.append(tensor)
        }
        let inputs = try tensorIDs("the network inputs", count: tensorCount)
        let outputs = try tensorIDs("the network outputs", count: tensorCount)
        let layerCount = try count("layers", elementSize: 35, limit: 1 << 20)
        var layers: [Layer] = []
        layers.reserveCapacity(layerCount)
        for index in 0..<layerCount {
            let layerName = try string("the name of layer \(index)")
            let what = "layer '\(layerName)'"
            let kind = try layerKind(what, version: version)
            var layer = Layer(
                name: layerName, kind: kind, inputs: try tensorIDs("the inputs of \(what)", count: tensorCount),
                outputs: try tensorIDs("the outputs of \(what)", count: tensorCount))
            layer.precision = try optionalDataType("the precision of \(what)")
            for output in layer.outputs.indices {
                if let type = try optionalDataType("an output type of \(what)") { layer.setOutputType(output, type) }
            }
            layer.origin = try strings("the origin of \(what)")
            layer.fusedActivation = try activation("the fused activation of \(what)")
            let inferred: [[Int]]
            do {
                inferred = try kind.outputShapes(inputs: layer.inputs.map { tensors[$0.index].shape })
            } catch {
                throw malformed("\(what) does not fit its inputs: \(error)")
            }
            guard inferred == layer.outputs.map({ tensors[$0.index].shape }) else {
                throw malformed("\(what) has output shapes \(layer.outputs.map { tensors[$0.index].shape }), its kind gives \(inferred)")
            }
            layers.append(layer)
        }
        do {
            return try Network(name: name, tensors: tensors, layers: layers, inputs: inputs, outputs: outputs)
        } catch {
            throw malformed("the network is inconsistent: \(error)")
        }
    }

    mutating func report() throws -> BuildReport {
        var report = BuildReport()
        report.builderOptions = try strings("the builder options")
        let count = try count("report entries", elementSize: 40, limit: 1 << 20)
        for _ in 0..<count {
            let name = try string("a report entry")
            var entry = BuildReport.LayerEntry(
                name: name, kind: try string("a report entry"), origin: try strings("a report entry"),
                precision: try dataType("a report entry"), inputTypes: try strings("a report entry"),
                outputTypes: try strings("a report entry"), kernel: try string("a report entry"), reason: nil)
            entry.reason = try bool("a report entry") ? try string("a report entry") : nil
            entry.hostReason = try bool("a report entry") ? try string("a report entry") : nil
            report.layers.append(entry)
        }
        report.passLog = try strings("the pass log")
        report.missingRanges = try strings("the missing ranges")
        report.warnings = try strings("the warnings")
        return report
    }

    /// The inverse of `BinaryWriter.plan` for a file of format `version`, checked: quantizations name existing
    /// tensors of a quantized type, and the report has one entry per layer.
    public mutating func plan(version: UInt32) throws -> EnginePlan {
        let network = try network(version: version)
        let count = try count("quantized tensors", elementSize: 17, limit: network.tensors.count)
        var table: [TensorID: TensorQuantization] = [:]
        for _ in 0..<count {
            let index = try i64("a quantized tensor")
            guard network.tensors.indices.contains(index) else { throw malformed("the quantization table names tensor \(index) of \(network.tensors.count)") }
            let q = try quantization("the quantization of tensor '\(network.tensors[index].name)'")
            guard network.tensors[index].dataType == q.dataType else {
                throw malformed("tensor '\(network.tensors[index].name)' is stored as \(network.tensors[index].dataType) but quantized as \(q.dataType)")
            }
            table[TensorID(index)] = q
        }
        for (index, tensor) in network.tensors.enumerated() where tensor.dataType.isQuantized && table[TensorID(index)] == nil {
            throw malformed("tensor '\(tensor.name)' is \(tensor.dataType) without a quantization")
        }
        let report = try report()
        guard report.layers.count == network.layers.count else {
            throw malformed("the build report has \(report.layers.count) entries for \(network.layers.count) layers")
        }
        return EnginePlan(network: network, quantization: table, report: report)
    }
}
