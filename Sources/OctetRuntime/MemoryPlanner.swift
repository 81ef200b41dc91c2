import OctetCore

/// Assigns byte offsets in one arena to buffers with known lifetimes, so tensors that are never alive at
/// the same time share memory. Greedy best fit over buffers sorted by size (large first), the usual
/// approach of inference runtimes.
public enum MemoryPlanner {
    public struct Request: Sendable {
        public var size: Int
        /// First and last step (inclusive) at which the buffer is alive.
        public var firstUse: Int
        public var lastUse: Int

        public init(size: Int, firstUse: Int, lastUse: Int) {
            self.size = size
            self.firstUse = firstUse
            self.lastUse = lastUse
        }
    }

    /// - Returns: an offset per request (aligned to `alignment`) and the arena size.
    public static func plan(_ requests: [Request], alignment: Int = 64) -> (offsets: [Int], arenaSize: Int) {
        func align(_ v: Int) -> Int { (v + alignment - 1) / alignment * alignment }
        let order = requests.indices.sorted { requests[$0].size > requests[$1].size || (requests[$0].size == requests[$1].size && $0 < $1) }
        var offsets = [Int](repeating: 0, count: requests.count)
        var placed: [(offset: Int, end: Int, first: Int, last: Int)] = []
        var arena = 0
        for index in order {
            let r = requests[index]
            let size = align(max(r.size, 1))
            // Intervals in the arena already taken by buffers alive at the same time.
            let busy = placed.filter { $0.first <= r.lastUse && r.firstUse <= $0.last }.sorted { $0.offset < $1.offset }
            var candidate = 0
            var best: (offset: Int, gap: Int)?
            for interval in busy {
                let gap = interval.offset - candidate
                if gap >= size, gap < (best?.gap ?? Int.max) { best = (candidate, gap) }
                candidate = max(candidate, interval.end)
            }
            let offset = best?.offset ?? candidate
            offsets[index] = offset
            placed.append((offset, offset + size, r.firstUse, r.lastUse))
            arena = max(arena, offset + size)
        }
        return (offsets, arena)
    }
}

/// Every tensor a plan's execution touches, with its physical layout and the layers that use it: what a
/// backend's memory plan needs. Shared by the CPU and CUDA backends, which lay tensors out the same way.
public struct TensorPlacement: Sendable {
    public struct Entry: Sendable {
        public var layout: TensorLayout
        /// First and last layer index that use it (-1: network input; layer count: network output).
        public var firstUse: Int
        public var lastUse: Int
        /// The batch of a constant (constants do not scale with the batch); nil for activations.
        public var fixedBatch: Int?

        public func bytes(batch: Int) -> Int { layout.bytesPerSample * (fixedBatch ?? batch) }
    }

    public let entries: [TensorID: Entry]
    /// Tensor names, for errors.
    private let names: [TensorID: String]

    public init(plan: EnginePlan) {
        let network = plan.network
        var entries: [TensorID: Entry] = [:]
        func register(_ id: TensorID, at index: Int, constant: Bool) {
            let shape = network[id].shape
            let layout = TensorLayout(sampleShape: Array(shape.dropFirst()), dataType: network[id].dataType, quantization: plan.quantization[id])
            entries[id] = Entry(layout: layout, firstUse: index, lastUse: index, fixedBatch: constant ? (shape.first ?? 1) : nil)
        }
        for id in network.inputs { register(id, at: -1, constant: false) }
        for (index, layer) in network.layers.enumerated() {
            // A reformat of a constant (quantized by the build, dequantized for a float reader) is not batched either.
            let isConstant = if case .constant = layer.kind { true } else { layer.kind == .reformat && entries[layer.inputs[0]]?.fixedBatch != nil }
            for id in layer.inputs { entries[id]?.lastUse = index }
            for id in layer.outputs { register(id, at: index, constant: isConstant) }
        }
        for id in network.outputs { entries[id]?.lastUse = network.layers.count }
        self.entries = entries
        self.names = Dictionary(uniqueKeysWithValues: entries.keys.map { ($0, network[$0].name) })
    }

    public subscript(id: TensorID) -> Entry? { entries[id] }

    /// Byte offsets of every tensor in one arena for `batch`, tensors whose lifetimes do not overlap sharing
    /// memory, and the arena's size. Offsets are multiples of `alignment`.
    /// - Throws: `OctetError.invalidInput` when a tensor at this batch would exceed `Limits.maxTensorElements`
    ///   or the arena `Limits.maxArenaBytes`, before anything is allocated.
    public func arena(batch: Int, alignment: Int = 64) throws -> (offsets: [TensorID: Int], size: Int) {
        guard batch >= 1 else { throw OctetError.invalidInput(reason: "batch \(batch) must be at least 1") }
        let ids = entries.keys.sorted()
        var requests: [MemoryPlanner.Request] = []
        for id in ids {
            guard let e = entries[id] else { continue }
            let (elements, overflow) = e.layout.elementsPerSample.multipliedReportingOverflow(by: e.fixedBatch ?? batch)
            guard !overflow, elements <= Limits.maxTensorElements else {
                throw OctetError.invalidInput(
                    reason: "batch \(batch) is too large: tensor '\(names[id] ?? "\(id)")' would hold more than 2^31 elements, Octet's limit for one tensor; split the batch")
            }
            requests.append(MemoryPlanner.Request(size: e.bytes(batch: batch), firstUse: e.firstUse, lastUse: e.lastUse))
        }
        let (planned, size) = MemoryPlanner.plan(requests, alignment: alignment)
        guard size <= Limits.maxArenaBytes else {
            throw OctetError.invalidInput(
                reason: "batch \(batch) is too large: its activations need \(size >> 20) MiB, above Octet's limit of \(Limits.maxArenaBytes >> 30) GiB for one execution context; split the batch")
        }
        return (Dictionary(uniqueKeysWithValues: zip(ids, planned)), size)
    }
}
