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
