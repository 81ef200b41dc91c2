import OctetCore
import OctetQuantization

/// Where one tensor's elements lie for the elements of an `IndexMap`'s domain: the tensor's LOGICAL linear index
/// (row-major over its full logical shape) of domain coordinates `c` is
/// `offset + (batched ? n · elementsPerSample : 0) + Σ_d c_d · multipliers[d]`, with `n` the sample and `c_d` the
/// coordinate of sample axis `d`. Transpose: a multiplier is the input's logical stride of the permuted axis; Slice:
/// `start · stride` in the offset, `step · stride` (negative steps too) as multiplier; Reshape: the output's own
/// logical strides; broadcasting: 0 on broadcast axes.
public struct TensorMap: Sendable, Equatable {
    /// The layer input read (0 for the target, the layer's output).
    public var input: Int
    public var offset: Int
    /// One per sample axis of the domain.
    public var multipliers: [Int]
    /// False for a constant: every sample reads the same elements (its batch axis, if any, has size 1).
    public var batched: Bool

    public init(input: Int = 0, offset: Int = 0, multipliers: [Int], batched: Bool = true) {
        self.input = input
        self.offset = offset
        self.multipliers = multipliers
        self.batched = batched
    }

    /// Every element of a tensor of `sampleShape` where the domain is that shape: the identity.
    public static func identity(_ sampleShape: [Int], input: Int = 0) -> TensorMap {
        TensorMap(input: input, multipliers: rowMajorStrides(sampleShape))
    }
}

/// One mechanism for data movement and broadcasting: for every element of a domain (the batch axis and
/// `domain`, a sample shape), the target element `target` names is computed from the source elements `sources`
/// name. Transpose, Slice, reordering Reshape and concatenation (one map per input, its target an offset box of
/// the output) copy their one source; broadcasting binary operations combine two. Backends resolve a map
/// against the tensors' physical layouts (`resolved`) and walk it; the map itself is layout-free, decided from
/// the plan's logical shapes.
public struct IndexMap: Sendable, Equatable {
    /// What an INT8 concatenation does to an input quantized unlike its output (`QuantizationMath.requantize`).
    public struct Requantization: Sendable, Equatable {
        public var input: TensorQuantization
        public var output: TensorQuantization
    }

    /// Per map of a `.gather` form, the requantization its copy needs: only an INT8 concatenation's inputs
    /// quantized unlike its output have one (data movement keeps its input's quantization).
    public static func requantizations(_ maps: [IndexMap], of layer: Layer, in plan: EnginePlan) -> [Requantization?] {
        maps.map { map in
            guard case .concatenation = layer.kind, layer.precision == .int8,
                  let input = plan.quantization[layer.inputs[map.sources[0].input]], let output = plan.quantization[layer.outputs[0]],
                  input != output
            else { return nil }
            return Requantization(input: input, output: output)
        }
    }

    /// The most axes (batch included) a domain or a mapped tensor may have (the CUDA kernels' fixed arrays).
    public static let maximumRank = 6

    public var domain: [Int]
    public var target: TensorMap
    public var sources: [TensorMap]

    public init(domain: [Int], target: TensorMap, sources: [TensorMap]) {
        self.domain = domain
        self.target = target
        self.sources = sources
    }

    // MARK: The maps of the layer kinds

    /// Transpose of an input of `inputSample` (sample shape) by `permutation` (over the full shape, batch first).
    public static func transpose(inputSample: [Int], permutation: [Int]) -> IndexMap {
        let full = [1] + inputSample, strides = rowMajorStrides(full)
        let output = permutation.dropFirst().map { full[$0] }
        return IndexMap(domain: output, target: .identity(output), sources: [TensorMap(multipliers: permutation.dropFirst().map { strides[$0] })])
    }

    /// A strided slice (`SliceParameters` normalized as the importer leaves them: in-range starts, any non-zero
    /// step) producing `outputSample`.
    public static func slice(inputSample: [Int], _ p: SliceParameters, outputSample: [Int]) -> IndexMap {
        let strides = rowMajorStrides([1] + inputSample)
        let axes = 1..<strides.count
        let offset = axes.reduce(0) { $0 + p.starts[$1] * strides[$1] }
        return IndexMap(domain: outputSample, target: .identity(outputSample),
                        sources: [TensorMap(offset: offset, multipliers: axes.map { p.steps[$0] * strides[$0] })])
    }

    /// A reshape to `outputSample`: element order is unchanged, so the source's logical index is the output's.
    public static func reshape(outputSample: [Int]) -> IndexMap {
        IndexMap(domain: outputSample, target: .identity(outputSample), sources: [.identity(outputSample)])
    }

    /// NumPy broadcasting of `operands` (full shapes, right-aligned) to `output` (a full shape); an operand that
    /// is a constant is not batched. Nil where an activation's rank is not the output's (its batch axis would
    /// not be the output's) or a constant's leading axis would meet the batch axis with a size above 1.
    public static func broadcast(output: [Int], operands: [(shape: [Int], constant: Bool)]) -> IndexMap? {
        let rank = output.count
        var maps: [TensorMap] = []
        for (index, operand) in operands.enumerated() {
            let shape = operand.shape, pad = rank - shape.count
            guard pad >= 0, operand.constant || pad == 0 else { return nil }
            if pad == 0, shape.first != 1, operand.constant { return nil }
            let strides = rowMajorStrides(shape)
            let multipliers = (1..<rank).map { d -> Int in
                let axis = d - pad
                return axis >= 0 && shape[axis] > 1 ? strides[axis] : 0
            }
            maps.append(TensorMap(input: index, multipliers: multipliers, batched: !operand.constant))
        }
        let sample = Array(output.dropFirst())
        return IndexMap(domain: sample, target: .identity(sample), sources: maps)
    }

    /// Concatenation of `inputs` (full shapes; a constant is not batched and has batch axis 1) along `axis` into
    /// `output` (a full shape): per input, its own shape as the domain, written at its offset along `axis`.
    public static func concatenation(output: [Int], inputs: [(shape: [Int], constant: Bool)], axis: Int) -> [IndexMap] {
        let outputStrides = Array(rowMajorStrides(output).dropFirst())
        var start = 0
        return inputs.enumerated().map { index, input in
            let sample = Array(input.shape.dropFirst())
            defer { start += input.shape[axis] }
            return IndexMap(domain: sample, target: TensorMap(offset: start * outputStrides[axis - 1], multipliers: outputStrides),
                            sources: [TensorMap(input: index, multipliers: rowMajorStrides(sample), batched: !input.constant)])
        }
    }
}

/// An `IndexMap` against physical memory for one batch: domain axes in iteration order (the target's physical
/// order, so writes are sequential), and per tensor (the target first, then the sources) either an affine
/// physical offset `base + Σ c_d · steps[d]`, or, where the logical index does not decompose axis by axis (a
/// Reshape merging or splitting NHWC axes), the logical index `base + Σ c_d · steps[d]` to decompose over `shape`
/// and weight by `physicalStrides`. Both backends walk exactly this.
public struct ResolvedIndexMap: Sendable, Equatable {
    public struct Tensor: Sendable, Equatable {
        public var affine: Bool
        public var base: Int
        public var steps: [Int]
        /// The logical shape and the physical element stride of each logical axis (used when not affine).
        public var shape: [Int]
        public var physicalStrides: [Int]

        public init(affine: Bool, base: Int, steps: [Int], shape: [Int], physicalStrides: [Int]) {
            (self.affine, self.base, self.steps, self.shape, self.physicalStrides) = (affine, base, steps, shape, physicalStrides)
        }

        /// The physical offset of a logical linear index (the general case).
        @inline(__always)
        public func physicalOffset(logical: Int) -> Int {
            var (rest, result) = (logical, 0)
            for axis in stride(from: shape.count - 1, through: 0, by: -1) {
                result += (rest % shape[axis]) * physicalStrides[axis]
                rest /= shape[axis]
            }
            return result
        }

        /// `physicalOffset(logical:)` of `start`, `start + step`, … (`count` of them, all inside the shape) into
        /// `line`: the first index's digits over `shape` decomposed once, then `step`'s digits added with carries,
        /// the offset moved by each digit's change. A division per axis per element was most of the time of
        /// Swin's and MaxViT's Reshape gathers on the CPU; this is a few adds and compares. `digits` is the
        /// caller's scratch of `2 × shape.count` integers (called once per row: no allocation here), and the
        /// function is inlinable so the gather's loop gets it without a cross-module call.
        @inlinable
        public func physicalOffsets(from start: Int, step: Int, count: Int, into line: UnsafeMutablePointer<Int>, digits: UnsafeMutablePointer<Int>) {
            let rank = shape.count
            guard step >= 0, start >= 0, rank > 0 else {
                // A reversed walk (a Slice with a negative step): the plain decomposition.
                for k in 0..<count { line[k] = physicalOffset(logical: start + k * step) }
                return
            }
            let (shape, physicalStrides, stepDigits) = (self.shape, self.physicalStrides, digits + rank)
            var (rest, restStep, offset, highest) = (start, step, 0, rank)
            for axis in stride(from: rank - 1, through: 0, by: -1) {
                digits[axis] = rest % shape[axis]
                stepDigits[axis] = restStep % shape[axis]
                offset += digits[axis] * physicalStrides[axis]
                rest /= shape[axis]
                restStep /= shape[axis]
                if stepDigits[axis] != 0 { highest = axis }
            }
            for k in 0..<count {
                line[k] = offset
                guard k + 1 < count else { break }
                // digits += stepDigits, the last axis least significant; each sum is below 2 · shape: one carry.
                var (carry, axis) = (0, rank - 1)
                while axis >= 0, axis >= highest || carry != 0 {
                    var digit = digits[axis] + stepDigits[axis] + carry
                    carry = 0
                    if digit >= shape[axis] { digit -= shape[axis]; carry = 1 }
                    offset += (digit - digits[axis]) * physicalStrides[axis]
                    digits[axis] = digit
                    axis -= 1
                }
            }
        }
    }

    /// Domain sizes in iteration order (batch first).
    public var sizes: [Int]
    /// The target, then the sources in the map's order.
    public var tensors: [Tensor]
    /// For each iteration axis, the domain axis it is (0 the batch).
    public var order: [Int]

    public var count: Int { sizes.reduce(1, *) }
}

extension IndexMap {
    /// The map against the target's and the sources' layouts (`tensors[i]` is the layout and batch — a
    /// constant's fixed batch — of map tensor `i`: the target, then the sources) at `batch`.
    public func resolved(batch: Int, tensors: [(layout: TensorLayout, batch: Int)]) -> ResolvedIndexMap {
        let fullDomain = [batch] + domain
        let maps = [target] + sources
        var resolved = zip(maps, tensors).map { map, tensor in Self.resolve(map, domain: fullDomain, layout: tensor.layout, batch: tensor.batch) }
        // Iterate the target's physical order: the batch, size-1 axes (they add nothing), then axes by decreasing
        // target step, so the innermost axis is the longest run of sequential writes.
        func key(_ axis: Int) -> Int { fullDomain[axis] == 1 ? Int.max : abs(resolved[0].steps[axis]) }
        let order = [0] + (1..<fullDomain.count).sorted { a, b in key(a) != key(b) ? key(a) > key(b) : a < b }
        for index in resolved.indices { resolved[index].steps = order.map { resolved[index].steps[$0] } }
        return ResolvedIndexMap(sizes: order.map { fullDomain[$0] }, tensors: resolved, order: order)
    }

    private static func resolve(_ map: TensorMap, domain: [Int], layout: TensorLayout, batch: Int) -> ResolvedIndexMap.Tensor {
        let shape = layout.logicalShape(batch: batch)
        let logicalStrides = rowMajorStrides(shape)
        let physical = layout.physicalStrides(batch: batch)
        let multipliers = [map.batched ? layout.elementsPerSample : 0] + map.multipliers
        let general = ResolvedIndexMap.Tensor(affine: false, base: map.offset, steps: multipliers, shape: shape, physicalStrides: physical)

        // Affine when each stepping domain axis moves along one logical axis of its own without leaving it.
        var start = Array(repeating: 0, count: shape.count), rest = map.offset
        for axis in stride(from: shape.count - 1, through: 0, by: -1) {
            start[axis] = rest % max(shape[axis], 1)
            rest /= max(shape[axis], 1)
        }
        guard rest == 0 else { return general }
        var used = Set<Int>(), steps = Array(repeating: 0, count: domain.count)
        for (d, m) in multipliers.enumerated() where m != 0 && domain[d] > 1 {
            guard let axis = (0..<shape.count).reversed().first(where: { a in
                shape[a] > 1 && m % logicalStrides[a] == 0 && abs(m / logicalStrides[a]) < shape[a]
            }), !used.contains(axis) else { return general }
            let k = m / logicalStrides[axis], last = start[axis] + k * (domain[d] - 1)
            guard last >= 0, last < shape[axis] else { return general }
            used.insert(axis)
            steps[d] = k * physical[axis]
        }
        let base = zip(start, physical).reduce(0) { $0 + $1.0 * $1.1 }
        return ResolvedIndexMap.Tensor(affine: true, base: base, steps: steps, shape: shape, physicalStrides: physical)
    }
}

/// Softmax of a float tensor along one axis (or, for ONNX opsets before 13, over every axis from `axis` on when
/// they are contiguous in memory) in its physical layout: rows indexed by the other axes, each `length`
/// elements `stride` apart. `ReferenceKernels.softmax`'s outer × axis × inner over logical coordinates.
public struct SoftmaxGeometry: Sendable, Equatable {
    /// Sizes and physical strides of the axes that index rows.
    public var rowSizes: [Int]
    public var rowStrides: [Int]
    public var length: Int
    public var stride: Int

    public var rows: Int { rowSizes.reduce(1, *) }

    /// Nil when a coerced (pre-13) softmax spans several axes that are not contiguous (NHWC).
    public init?(layout: TensorLayout, batch: Int, axis: Int, coerced2D: Bool) {
        let shape = layout.logicalShape(batch: batch), physical = layout.physicalStrides(batch: batch)
        if coerced2D, axis < shape.count - 1 {
            guard !layout.isNHWC else { return nil }
            (rowSizes, rowStrides) = (Array(shape[..<axis]), Array(physical[..<axis]))
            (length, stride) = (shape[axis...].reduce(1, *), 1)
        } else {
            let rows = (0..<shape.count).filter { $0 != axis }
            (rowSizes, rowStrides) = (rows.map { shape[$0] }, rows.map { physical[$0] })
            (length, stride) = (shape[axis], physical[axis])
        }
    }

    /// The physical offset of row `row` (rows in logical order).
    @inline(__always)
    public func rowOffset(_ row: Int) -> Int {
        var (rest, result) = (row, 0)
        for axis in Swift.stride(from: rowSizes.count - 1, through: 0, by: -1) {
            result += (rest % rowSizes[axis]) * rowStrides[axis]
            rest /= rowSizes[axis]
        }
        return result
    }
}
