/// Output shapes of each layer kind, from its input shapes. Used by importers when building the network and
/// by executors when they run at a batch size other than the nominal one.
extension LayerKind {
    /// - Throws: `OctetError.invalidNetwork` with the reason when the inputs do not fit this layer.
    public func outputShapes(inputs: [[Int]]) throws -> [[Int]] {
        func fail(_ reason: String) -> OctetError { .invalidNetwork(reason: "\(typeName): \(reason)") }
        func requireInputs(_ n: Int) throws {
            guard inputs.count == n else { throw fail("expects \(n) input(s), got \(inputs.count)") }
        }
        /// Window parameters bounded so the extent arithmetic below cannot overflow.
        func checkWindow(kernel: [Int], strides: [Int], dilations: [Int], padsBegin: [Int], padsEnd: [Int]) throws {
            let counts = [kernel, strides, dilations, padsBegin, padsEnd].map(\.count)
            guard counts.allSatisfy({ $0 == 2 }) else { throw fail("window parameters must have two values each (2-D)") }
            guard (kernel + strides + dilations).allSatisfy({ $0 >= 1 && $0 <= Limits.maxSpatialParameter }),
                  (padsBegin + padsEnd).allSatisfy({ $0 >= 0 && $0 <= Limits.maxSpatialParameter })
            else {
                throw fail("kernel \(kernel), strides \(strides), dilations \(dilations) or pads \(padsBegin + padsEnd) are outside 1…2^20 (pads 0…2^20)")
            }
        }
        switch self {
        case let .constant(weights):
            try requireInputs(0)
            return [weights.shape]

        case let .convolution(p):
            guard inputs.count == 1 || inputs.count == 2 else { throw fail("expects 1 input (and an optional residual), got \(inputs.count)") }
            let x = inputs[0]
            guard x.count == 4 else { throw fail("input must be NCHW (rank 4), got shape \(x)") }
            guard p.weights.shape.count == 4, p.groups >= 1, p.groups <= Limits.maxSpatialParameter else {
                throw fail("weights \(p.weights.shape) with \(p.groups) groups are not a 2-D convolution")
            }
            try checkWindow(kernel: p.kernel, strides: p.strides, dilations: p.dilations, padsBegin: p.padsBegin, padsEnd: p.padsEnd)
            guard x[1] == p.inputChannelsPerGroup * p.groups else {
                throw fail("input has \(x[1]) channels, the kernel expects \(p.inputChannelsPerGroup * p.groups)")
            }
            guard p.outputChannels % p.groups == 0 else {
                throw fail("\(p.outputChannels) output channels do not divide into \(p.groups) groups")
            }
            var out = [x[0], p.outputChannels]
            for axis in 0..<2 {
                let extent = x[2 + axis] + p.padsBegin[axis] + p.padsEnd[axis]
                let window = (p.kernel[axis] - 1) * p.dilations[axis] + 1
                guard extent >= window else { throw fail("kernel window \(window) exceeds padded input \(extent)") }
                out.append((extent - window) / p.strides[axis] + 1)
            }
            if inputs.count == 2, inputs[1] != out { throw fail("residual shape \(inputs[1]) differs from the output \(out)") }
            return [out]

        case let .fullyConnected(p):
            try requireInputs(1)
            guard let k = inputs[0].last, k == p.inputs, inputs[0].count >= 2 else {
                throw fail("input \(inputs[0]) does not end in \(p.inputs) features")
            }
            return [Array(inputs[0].dropLast()) + [p.outputs]]

        case let .pooling(p):
            try requireInputs(1)
            let x = inputs[0]
            guard x.count == 4 else { throw fail("input must be NCHW (rank 4), got shape \(x)") }
            if p.isGlobal { return [[x[0], x[1], 1, 1]] }
            try checkWindow(kernel: p.kernel, strides: p.strides, dilations: p.dilations, padsBegin: p.padsBegin, padsEnd: p.padsEnd)
            var out = [x[0], x[1]]
            for axis in 0..<2 {
                let extent = x[2 + axis] + p.padsBegin[axis] + p.padsEnd[axis]
                let window = (p.kernel[axis] - 1) * p.dilations[axis] + 1
                guard extent >= window else { throw fail("pooling window \(window) exceeds padded input \(extent)") }
                let span = extent - window
                var size = (p.ceilMode ? (span + p.strides[axis] - 1) : span) / p.strides[axis] + 1
                // With ceil_mode, the last window must start inside the input or its left padding.
                if p.ceilMode, (size - 1) * p.strides[axis] >= x[2 + axis] + p.padsBegin[axis] { size -= 1 }
                out.append(size)
            }
            return [out]

        case .activation, .scale, .identity, .reformat:
            try requireInputs(1)
            if case let .scale(p) = self, inputs[0].count < 2 || inputs[0][1] != p.scale.count {
                throw fail("input \(inputs[0]) does not have \(p.scale.count) channels on axis 1")
            }
            return [inputs[0]]

        case .elementwise:
            try requireInputs(2)
            return [try broadcastShapes(inputs[0], inputs[1])]

        case let .concatenation(axis):
            guard let first = inputs.first else { throw fail("needs at least one input") }
            guard axis > 0, axis < first.count else { throw fail("axis \(axis) is out of range for rank \(first.count)") }
            // A constant input (batch 1, not batched) is repeated along the batch axis of the others.
            var out = first
            out[0] = inputs.map { $0.first ?? 1 }.max() ?? 1
            out[axis] = 0
            for shape in inputs {
                guard shape.count == first.count, shape[0] == out[0] || shape[0] == 1,
                      zip(shape, first).enumerated().allSatisfy({ $0.offset == 0 || $0.offset == axis || $0.element.0 == $0.element.1 })
                else { throw fail("input shapes \(inputs) differ outside axis \(axis)") }
                out[axis] += shape[axis]
            }
            return [out]

        case let .softmax(axis, _):
            try requireInputs(1)
            guard axis > 0, axis < inputs[0].count else { throw fail("axis \(axis) is out of range for \(inputs[0])") }
            return [inputs[0]]

        case let .reshape(sampleShape):
            try requireInputs(1)
            let x = inputs[0]
            guard let batch = x.first else { throw fail("input has rank 0") }
            let have = x.dropFirst().reduce(1, *)
            guard sampleShape.allSatisfy({ $0 >= 0 }), Limits.product(sampleShape) == have else {
                throw fail("cannot reshape \(x) into [N] + \(sampleShape)")
            }
            return [[batch] + sampleShape]

        case let .transpose(perm):
            try requireInputs(1)
            guard perm.count == inputs[0].count, perm.first == 0, Set(perm) == Set(0..<perm.count) else {
                throw fail("permutation \(perm) does not fit shape \(inputs[0]) with the batch axis first")
            }
            return [perm.map { inputs[0][$0] }]

        case let .slice(p):
            try requireInputs(1)
            let x = inputs[0]
            guard p.starts.count == x.count, p.ends.count == x.count, p.steps.count == x.count else {
                throw fail("slice parameters do not match rank \(x.count)")
            }
            var out = x
            for axis in 1..<x.count {
                guard p.steps[axis] > 0, p.starts[axis] >= 0, p.ends[axis] <= x[axis] else {
                    throw fail("slice on axis \(axis) is out of range for \(x)")
                }
                out[axis] = stridedCount(from: p.starts[axis], to: p.ends[axis], step: p.steps[axis])
            }
            return [out]

        case let .pad(p):
            try requireInputs(1)
            guard let out = paddedShape(inputs[0], p) else {
                throw fail("pads \(p.padsBegin + p.padsEnd) (\(p.mode.rawValue)) do not fit \(inputs[0]): one begin and end per axis, none on the batch axis, not negative, below the axis size for reflect")
            }
            return [out]

        case let .reduce(p):
            try requireInputs(1)
            var out = inputs[0]
            guard !p.axes.isEmpty, p.axes.allSatisfy({ $0 > 0 && $0 < out.count }), Set(p.axes).count == p.axes.count else {
                throw fail("axes \(p.axes) must be distinct non-batch axes of \(inputs[0])")
            }
            for axis in p.axes { out[axis] = 1 }
            return [out]

        case .matrixMultiply:
            try requireInputs(2)
            let (a, b) = (inputs[0], inputs[1])
            guard a.count >= 2, b.count >= 2, a[a.count - 1] == b[b.count - 2] else {
                throw fail("\(a) and \(b) are not matrices with a common inner size")
            }
            let batch = try broadcastShapes(Array(a.dropLast(2)), Array(b.dropLast(2)))
            return [batch + [a[a.count - 2], b[b.count - 1]]]
        }
    }
}

/// Checks pads against an input shape and returns the padded shape (reflect needs pads below the axis size).
private func paddedShape(_ x: [Int], _ p: PadParameters) -> [Int]? {
    guard p.padsBegin.count == x.count, p.padsEnd.count == x.count, x.count >= 1,
          p.padsBegin[0] == 0, p.padsEnd[0] == 0 else { return nil }
    var out = x
    for axis in 1..<x.count {
        let (b, e) = (p.padsBegin[axis], p.padsEnd[axis])
        guard b >= 0, e >= 0, b <= Limits.maxTensorElements, e <= Limits.maxTensorElements else { return nil }
        if p.mode == .reflect, b > 0 || e > 0, b >= x[axis] || e >= x[axis] { return nil }
        out[axis] = x[axis] + b + e
    }
    return out
}

/// Elements `start, start + step, …` below `end` (0 when `end <= start`), without overflow for any step.
public func stridedCount(from start: Int, to end: Int, step: Int) -> Int {
    guard end > start, step > 0 else { return 0 }
    return (end - start - 1) / step + 1
}

/// NumPy broadcasting of two shapes (aligned at the right).
public func broadcastShapes(_ a: [Int], _ b: [Int]) throws -> [Int] {
    let rank = max(a.count, b.count)
    let pa = Array(repeating: 1, count: rank - a.count) + a
    let pb = Array(repeating: 1, count: rank - b.count) + b
    return try zip(pa, pb).map { x, y in
        if x == y || y == 1 { return x }
        if x == 1 { return y }
        throw OctetError.invalidNetwork(reason: "shapes \(a) and \(b) cannot be broadcast together")
    }
}
