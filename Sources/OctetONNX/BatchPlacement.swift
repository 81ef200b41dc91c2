import OctetCore

/// Where the batch sits in an ONNX value whose batch is not simply its axis 0.
///
/// Octet's tensors keep the batch as axis 0 and layers never mix samples. Attention exporters move the batch
/// inward (ViT's `nn.MultiheadAttention` works on `[tokens, B, C]` and `[tokens * B, C]`) or merge it with
/// other axes (Swin's windows `[B * windows, tokens, C]`, heads `[B * heads, tokens, d]`). Such a value is
/// still each sample's data laid out per sample, as long as the batch is one contiguous factor of one ONNX
/// axis: ONNX axis `axis` has size `outer · B · inner`, and in row-major order every element splits into
/// (elements before the batch factor, batch index, elements after). Moving the batch index to the front is
/// a per-sample permutation, so the network tensor is `[B] + shape[..<axis] + [outer, inner] + shape[axis+1...]`
/// (factors of 1 left out) and ONNX ops on the other axes become per-sample layers on it.
///
/// The usual placement (`leading`: axis 0, no other factor) gives the network tensor the ONNX shape itself.
struct BatchPlacement: Equatable, Sendable {
    /// The ONNX axis holding the batch.
    var axis: Int
    /// The factor of that axis outside the batch (the batch is the inner part of `outer · B`).
    var outer: Int
    /// The factor of that axis inside the batch.
    var inner: Int

    static let leading = BatchPlacement(axis: 0, outer: 1, inner: 1)

    var isLeading: Bool { self == .leading }

    /// Network axes (of the full shape, batch at 0) standing for the factors `outer` and `inner`.
    private var factorAxes: Int { (outer > 1 ? 1 : 0) + (inner > 1 ? 1 : 0) }

    /// The network tensor's per-sample shape for an ONNX value of shape `onnx` (nominal batch 1).
    func sampleShape(_ onnx: [Int]) -> [Int] {
        Array(onnx[..<axis]) + (outer > 1 ? [outer] : []) + (inner > 1 ? [inner] : []) + Array(onnx[(axis + 1)...])
    }

    /// The ONNX shape of a network tensor with this placement (its axis 0 the batch).
    func onnxShape(_ network: [Int]) -> [Int] {
        let sample = Array(network.dropFirst())
        return Array(sample[..<axis]) + [outer * (network.first ?? 1) * inner] + Array(sample[(axis + factorAxes)...])
    }

    /// The network axis (full shape) for ONNX axis `onnxAxis`; nil for the batch axis, which no layer may touch.
    func networkAxis(_ onnxAxis: Int) -> Int? {
        if onnxAxis < axis { return onnxAxis + 1 }
        if onnxAxis == axis { return nil }
        return onnxAxis + factorAxes
    }

    /// The network axes (full shape) an ONNX axis occupies: one, or for the batch axis its outer and inner factors.
    func networkAxes(_ onnxAxis: Int) -> [Int] {
        if let single = networkAxis(onnxAxis) { return [single] }
        return Array((axis + 1)..<(axis + 1 + factorAxes))
    }

    /// The placement after a reshape of `from` (this placement) into `to` whose axis `batchAxis` holds the
    /// batch (of nominal size `batch`); nil when the batch would not be one factor of that axis (the reshape
    /// would mix samples).
    func reshaped(from: [Int], to: [Int], batchAxis: Int, batch: Int) -> BatchPlacement? {
        guard batchAxis >= 0, batchAxis < to.count else { return nil }
        let before = from[..<axis].reduce(1, *) * outer, after = inner * from[(axis + 1)...].reduce(1, *)
        let prefix = to[..<batchAxis].reduce(1, *), suffix = to[(batchAxis + 1)...].reduce(1, *)
        guard prefix > 0, suffix > 0, before % prefix == 0, after % suffix == 0 else { return nil }
        let placement = BatchPlacement(axis: batchAxis, outer: before / prefix, inner: after / suffix)
        return placement.outer * batch * placement.inner == to[batchAxis] ? placement : nil
    }

    /// A constant's shape, aligned to an operand of rank `rank` with this placement, as it broadcasts against
    /// the network tensor; nil when the constant varies along the batch axis or has a higher rank.
    func constantShape(_ shape: [Int], rank: Int) -> [Int]? {
        guard shape.count <= rank else { return nil }
        if shape.count < rank - axis { return shape }  // it does not reach the batch axis
        let aligned = Array(repeating: 1, count: rank - shape.count) + shape
        guard aligned[axis] == 1 else { return nil }
        return Array(aligned[..<axis]) + Array(repeating: 1, count: factorAxes) + Array(aligned[(axis + 1)...])
    }

    /// How the placement reads in an error message.
    var description: String {
        let factors = [outer > 1 ? "\(outer) ·" : nil, "batch", inner > 1 ? "· \(inner)" : nil].compactMap { $0 }
        return "the batch sits on axis \(axis) (\(factors.joined(separator: " ")))"
    }
}

/// An ONNX activation whose batch is not its leading axis: its ONNX shape (nominal batch 1) and placement.
/// The network tensor has `placement.sampleShape(shape)` per sample.
struct PlacedShape: Equatable, Sendable {
    var shape: [Int]
    var placement: BatchPlacement
}

extension ImportContext {
    /// The ONNX shape and batch placement of the value named `name`.
    func placed(_ name: String, _ value: ImportedValue) -> PlacedShape {
        placements[name] ?? PlacedShape(shape: shape(value), placement: .leading)
    }

    /// Records where an output's batch sits; a leading placement needs no record.
    mutating func place(_ name: String, _ placed: PlacedShape) {
        if placed.placement.isLeading { placements[name] = nil } else { placements[name] = placed }
    }

    /// `x` reshaped (per sample) to `sampleShape` when its shape differs: data stays where it is.
    mutating func conform(_ x: TensorID, to sampleShape: [Int], _ node: Onnx_NodeProto, _ suffix: String) throws -> TensorID {
        if Array(network[x].shape.dropFirst()) == sampleShape { return x }
        return try addInternalLayer(node, suffix, .reshape(sampleShape: sampleShape), inputs: [x])
    }
}
