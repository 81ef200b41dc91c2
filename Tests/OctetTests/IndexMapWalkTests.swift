// ResolvedIndexMap.Tensor.physicalOffsets (the CPU's Reshape gathers walk logical indices by digit carries)
// against its plain twin physicalOffset(logical:), on random shapes, strides, starts and steps.
import OctetRuntime
import Testing

@Suite struct IndexMapWalkTests {
    @Test("physicalOffsets equals physicalOffset at every index, any shape and step")
    func walkEqualsDecomposition() {
        var rng = SystemRandomNumberGenerator()
        var checked = 0
        for trial in 0..<400 {
            let rank = 1 + trial % 6
            let shape = (0..<rank).map { _ in Int.random(in: 1...7, using: &rng) }
            let total = shape.reduce(1, *)
            // Physical strides of some permutation of the axes (NHWC-like), plus an offset-free padding factor.
            let physical = (0..<rank).map { _ in Int.random(in: 1...50, using: &rng) }
            let tensor = ResolvedIndexMap.Tensor(affine: false, base: 0, steps: [], shape: shape, physicalStrides: physical)
            let step = [1, 2, 3, shape.last ?? 1, total / max(shape.first ?? 1, 1), Int.random(in: 1...max(total, 1), using: &rng), -1][trial % 7]
            let start = step >= 0 ? Int.random(in: 0..<total, using: &rng) : total - 1
            let count = step > 0 ? (total - 1 - start) / step + 1 : step == 0 ? 3 : start + 1
            var line = [Int](repeating: -1, count: count)
            var digits = [Int](repeating: 0, count: 2 * rank)
            line.withUnsafeMutableBufferPointer { l in
                digits.withUnsafeMutableBufferPointer { tensor.physicalOffsets(from: start, step: step, count: count, into: l.baseAddress!, digits: $0.baseAddress!) }
            }
            let expected = (0..<count).map { tensor.physicalOffset(logical: start + $0 * step) }
            #expect(line == expected, "shape \(shape) strides \(physical) start \(start) step \(step)")
            checked += count
        }
        #expect(checked > 1000)
    }
}
