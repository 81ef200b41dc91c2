import Foundation
import Testing
import _OctetTestSupport
@testable import OctetONNX
import Octet

/// Graphs whose batch moves inward or merges with other axes, as attention exporters write them (ViT's
/// `nn.MultiheadAttention` in `[tokens, B, C]`, Swin's `[B * windows, tokens, C]`): imported onto per-sample
/// layers (`BatchPlacement`), run at batch 2 and compared with the computation written out per sample here.
/// A graph that truly mixes samples is refused naming its node.
@Suite struct BatchPlacementTests {
    private func run(_ b: ONNXModelBuilder, _ x: TensorData) throws -> TensorData {
        let network = try b.importNetwork()
        let engine = try Builder(config: BuilderConfig(), backend: CPUBackend()).build(network)
        return try #require(try engine.makeContext().execute(["input": x])[network[network.outputs[0]].name])
    }

    private func softmax(_ row: [Float]) -> [Float] {
        let top = row.max() ?? 0
        let e = row.map { Foundation.exp($0 - top) }
        let sum = e.reduce(0, +)
        return e.map { $0 / sum }
    }

    /// The batch size as a one-element shape value times `factor` (`bsz * num_heads` in the exporters).
    private func batchTimes(_ b: inout ONNXModelBuilder, _ factor: Int, _ name: String) -> String {
        b.node("Shape", ["input"], ["\(name)_shape"])
        b.node("Gather", ["\(name)_shape", b.ints("\(name)_zero", [0], shape: [])], ["\(name)_batch"], ["axis": .int(0)])
        b.node("Mul", ["\(name)_batch", b.ints("\(name)_factor", [factor], shape: [])], ["\(name)_product"])
        b.node("Unsqueeze", ["\(name)_product", b.ints("\(name)_axes", [0])], [name])
        return name
    }

    /// ViT's attention at tokens 3, width 4, 2 heads: `[B, T, C]` → `[T, B, C]` → `[T, B·H, d]` → `[B·H, T, d]`,
    /// self-attention, back to `[T·B, C]` (the batch inside the rows), Gemm, `[T, B, C]`, `[B, T, C]`.
    @Test func multiheadAttentionInTokenMajorLayout() throws {
        let (t, c, h, d) = (3, 4, 2, 2)
        var b = ONNXModelBuilder(opset: 13, shape: [nil, t, c])
        let wq = Weights.random([c, c], seed: 11), bq = Weights.random([c], seed: 12)
        let wo = Weights.random([c, c], seed: 13), bo = Weights.random([c], seed: 14)
        b.initializer("wq", [c, c], wq.values)
        b.initializer("bq", [c], bq.values)
        b.initializer("wo", [c, c], wo.values)
        b.initializer("bo", [c], bo.values)
        b.node("Transpose", ["input"], ["tokens"], ["perm": .ints([1, 0, 2])])
        b.node("MatMul", ["tokens", "wq"], ["projected"])
        b.node("Add", ["bq", "projected"], ["biased"])
        b.node("Concat", [b.ints("t", [t]), batchTimes(&b, h, "bh"), b.ints("d", [d])], ["split_shape"], ["axis": .int(0)])
        b.node("Reshape", ["biased", "split_shape"], ["split"])
        b.node("Transpose", ["split"], ["heads"], ["perm": .ints([1, 0, 2])])
        b.node("Transpose", ["heads"], ["keys"], ["perm": .ints([0, 2, 1])])
        b.node("MatMul", ["heads", "keys"], ["raw_scores"])
        // ViT's scale: Sqrt of a constant, folded at import (as a layer it would grow with the batch).
        b.node("Sqrt", [b.initializer("quarter", [], [0.25])], ["scale"])
        b.node("Mul", ["raw_scores", "scale"], ["scores"])
        b.node("Softmax", ["scores"], ["attention"], ["axis": .int(-1)])
        b.node("MatMul", ["attention", "heads"], ["mixed"])
        b.node("Transpose", ["mixed"], ["token_major"], ["perm": .ints([1, 0, 2])])
        b.node("Concat", [batchTimes(&b, t, "tb"), b.ints("c", [c])], ["rows_shape"], ["axis": .int(0)])
        b.node("Reshape", ["token_major", "rows_shape"], ["rows"])
        b.node("Gemm", ["rows", "wo", "bo"], ["out_rows"], ["transB": .int(1)])
        b.node("Reshape", ["out_rows", b.ints("tbc", [t, -1, c])], ["out_tokens"])
        b.node("Transpose", ["out_tokens"], ["y"], ["perm": .ints([1, 0, 2])])
        b.output("y")

        let batch = 2
        let x = TensorData.random([batch, t, c], seed: 10)
        let got = try run(b, x)
        var want: [Float] = []
        for n in 0..<batch {
            let sample = Array(x.values[(n * t * c)..<((n + 1) * t * c)])
            let p = (0..<(t * c)).map { i in (0..<c).reduce(bq.values[i % c]) { $0 + sample[i / c * c + $1] * wq.values[$1 * c + i % c] } }
            var heads = [Float](repeating: 0, count: t * c)  // [T, C] with head h in columns h·d..<(h+1)·d
            for head in 0..<h {
                let q = (0..<t).map { row in (0..<d).map { p[row * c + head * d + $0] } }
                for row in 0..<t {
                    let a = softmax((0..<t).map { col in (0..<d).reduce(0) { $0 + q[row][$1] * q[col][$1] } * 0.5 })
                    for k in 0..<d { heads[row * c + head * d + k] = (0..<t).reduce(0) { $0 + a[$1] * q[$1][k] } }
                }
            }
            for row in 0..<t {
                for j in 0..<c { want.append((0..<c).reduce(bo.values[j]) { $0 + heads[row * c + $1] * wo.values[j * c + $1] }) }
            }
        }
        #expect(got.shape == [batch, t, c])
        #expect(worstTolerance(got.values, want, atol: 1e-5, rtol: 1e-5).ratio <= 1)
    }

    /// Swin's window attention on a 4×4 map of 2 channels, 2×2 windows: `[B, 4, 4, C]` → `[B·4, 4, C]`, qkv
    /// gathered from `[3, B·4, 4, 2]`, queries normalized (ReduceL2, Clip, Expand, Div: Swin V2), a mask added
    /// in `[B, windows, 4, 4]`, and the windows put back.
    @Test func windowAttentionWithTheBatchMergedIntoWindows() throws {
        var b = ONNXModelBuilder(opset: 13, shape: [nil, 4, 4, 2])
        let w = Weights.random([2, 6], seed: 21), mask = Weights.random([4, 4, 4], seed: 22)
        b.initializer("w", [2, 6], w.values)
        b.initializer("mask", [4, 4, 4], mask.values)
        b.node("Reshape", ["input", b.ints("grid_shape", [-1, 2, 2, 2, 2, 2])], ["grid"])
        b.node("Transpose", ["grid"], ["gathered"], ["perm": .ints([0, 1, 3, 2, 4, 5])])
        b.node("Reshape", ["gathered", b.ints("windows_shape", [-1, 4, 2])], ["windows"])
        b.node("MatMul", ["windows", "w"], ["qkv"])
        b.node("Reshape", ["qkv", b.ints("qkv_shape", [0, 4, 3, 2])], ["qkv_split"])
        b.node("Transpose", ["qkv_split"], ["qkv_first"], ["perm": .ints([2, 0, 1, 3])])
        for (index, name) in ["q", "k", "v"].enumerated() {
            b.node("Gather", ["qkv_first", b.ints("index_\(name)", [index], shape: [])], [name], ["axis": .int(0)])
        }
        b.node("ReduceL2", ["q"], ["q_norm"], ["axes": .ints([-1]), "keepdims": .int(1)])
        b.node("Clip", ["q_norm", b.initializer("epsilon", [], [1e-12])], ["q_clipped"])
        b.node("Shape", ["q"], ["q_shape"])
        b.node("Expand", ["q_clipped", "q_shape"], ["q_expanded"])
        b.node("Div", ["q", "q_expanded"], ["q_unit"])
        b.node("Transpose", ["k"], ["k_t"], ["perm": .ints([0, 2, 1])])
        b.node("MatMul", ["q_unit", "k_t"], ["scores"])
        // `attn.view(B, windows, …)`: the batch recovered as windows' size / 4.
        b.node("Shape", ["windows"], ["windows_dims"])
        b.node("Gather", ["windows_dims", b.ints("zero", [0], shape: [])], ["merged"], ["axis": .int(0)])
        b.node("Div", ["merged", b.ints("four", [4], shape: [])], ["batch"])
        b.node("Unsqueeze", ["batch", b.ints("axis0", [0])], ["batch1"])
        b.node("Concat", ["batch1", b.ints("rest", [4, 4, 4])], ["per_sample_shape"], ["axis": .int(0)])
        b.node("Reshape", ["scores", "per_sample_shape"], ["per_sample"])
        b.node("Add", ["per_sample", "mask"], ["masked"])
        b.node("Reshape", ["masked", b.ints("merged_shape", [-1, 4, 4])], ["masked_windows"])
        b.node("Softmax", ["masked_windows"], ["attention"], ["axis": .int(-1)])
        b.node("MatMul", ["attention", "v"], ["mixed"])
        b.node("Concat", ["batch1", b.ints("grid_rest", [2, 2, 2, 2, 2])], ["back_shape"], ["axis": .int(0)])
        b.node("Reshape", ["mixed", "back_shape"], ["back"])
        b.node("Transpose", ["back"], ["ungathered"], ["perm": .ints([0, 1, 3, 2, 4, 5])])
        b.node("Reshape", ["ungathered", b.ints("image", [-1, 4, 4, 2])], ["y"])
        b.output("y")

        let batch = 2
        let x = TensorData.random([batch, 4, 4, 2], seed: 20)
        let got = try run(b, x)
        var want = [Float](repeating: 0, count: batch * 32)
        for n in 0..<batch {
            for window in 0..<4 {
                // Token i·2 + j of window (wh, ww) is pixel (wh·2 + i, ww·2 + j).
                let pixels = (0..<4).map { token in ((window / 2) * 2 + token / 2) * 4 + (window % 2) * 2 + token % 2 }
                let qkv = pixels.map { pixel in
                    (0..<6).map { o in (0..<2).reduce(Float(0)) { $0 + x.values[n * 32 + pixel * 2 + $1] * w.values[$1 * 6 + o] } }
                }
                for a in 0..<4 {
                    let norm = max((qkv[a][0] * qkv[a][0] + qkv[a][1] * qkv[a][1]).squareRoot(), 1e-12)
                    let scores = (0..<4).map { key in
                        (0..<2).reduce(Float(0)) { $0 + qkv[a][$1] / norm * qkv[key][2 + $1] } + mask.values[(window * 4 + a) * 4 + key]
                    }
                    let attention = softmax(scores)
                    for k in 0..<2 { want[n * 32 + pixels[a] * 2 + k] = (0..<4).reduce(0) { $0 + attention[$1] * qkv[$1][4 + k] } }
                }
            }
        }
        #expect(got.shape == [batch, 4, 4, 2])
        #expect(worstTolerance(got.values, want, atol: 1e-5, rtol: 1e-5).ratio <= 1)
    }

    /// Reading `[T, B, C]` as `[B, T, C]` interleaves samples; a softmax along the batch axis mixes them: both are
    /// refused, naming the node.
    @Test func graphsThatMixSamplesAreRefused() throws {
        var reinterpret = ONNXModelBuilder(opset: 13, shape: [nil, 3, 4])
        reinterpret.node("Transpose", ["input"], ["tokens"], ["perm": .ints([1, 0, 2])])
        reinterpret.node("Concat", [batchTimes(&reinterpret, 1, "b"), reinterpret.ints("tc", [3, 4])], ["shape"], ["axis": .int(0)])
        reinterpret.node("Reshape", ["tokens", "shape"], ["y"], name: "mix")
        reinterpret.output("y")
        #expect { try reinterpret.importNetwork() } throws: { "\($0)".contains("mix") && "\($0)".contains("across the batch axis") }

        var across = ONNXModelBuilder(opset: 13, shape: [nil, 3, 4])
        across.node("Transpose", ["input"], ["tokens"], ["perm": .ints([1, 0, 2])])
        across.node("Softmax", ["tokens"], ["y"], name: "over_batch", ["axis": .int(1)])
        across.output("y")
        #expect { try across.importNetwork() } throws: { "\($0)".contains("over_batch") && "\($0)".contains("mix samples") }

        var output = ONNXModelBuilder(opset: 13, shape: [nil, 3, 4])
        output.node("Transpose", ["input"], ["y"], ["perm": .ints([1, 0, 2])])
        output.output("y")
        #expect { try output.importNetwork() } throws: { "\($0)".contains("'y'") && "\($0)".contains("axis 1") }
    }

    /// Swin's constant subgraphs fold at import: Range, index grids by broadcasting integer Add, a reversing Slice
    /// (step −1), ScatterND, Transpose of a constant, and V2's position-bias MLP (MatMul, Relu, Sigmoid on
    /// constants); the result is one constant added to the input.
    @Test func constantSubgraphsFold() throws {
        var b = ONNXModelBuilder(opset: 13, shape: [nil, 3, 3])
        let table = Weights.random([3, 2], seed: 41), w = Weights.random([2, 3], seed: 42)
        b.initializer("table", [3, 2], table.values)
        b.initializer("w", [2, 3], w.values)
        b.node("Range", [b.ints("start", [0], shape: []), b.ints("limit", [3], shape: []), b.ints("delta", [1], shape: [])], ["r"])
        b.node("Reshape", ["r", b.ints("column", [3, 1])], ["r_column"])
        b.node("Add", ["r_column", "r"], ["grid"])
        b.node("Cast", ["grid"], ["grid_float"], ["to": .int(1)])
        b.node("Slice", ["r", b.ints("s", [-1]), b.ints("e", [Int.min + 1]), b.ints("a", [0]), b.ints("st", [-1])], ["reversed"])
        b.node("ConstantOfShape", [b.ints("three", [3])], ["zeros"])
        b.node("ScatterND", ["zeros", b.ints("where", [0, 2], shape: [2, 1]), b.initializer("updates", [2], [5, 7])], ["scattered"])
        b.node("MatMul", ["table", "w"], ["hidden"])
        b.node("Relu", ["hidden"], ["relu"])
        b.node("Sigmoid", ["relu"], ["bias"])
        b.node("Transpose", ["bias"], ["bias_t"], ["perm": .ints([1, 0])])
        b.node("Gather", ["bias_t", "reversed"], ["picked"], ["axis": .int(0)])
        b.node("Add", ["input", "picked"], ["y1"])
        b.node("Add", ["y1", "grid_float"], ["y2"])
        b.node("Add", ["y2", "scattered"], ["y"])
        b.output("y")
        let network = try b.importNetwork()
        #expect(network.layers.filter { if case .elementwise = $0.kind { true } else { false } }.count == 3)
        let x = TensorData.random([2, 3, 3], seed: 40)
        let got = try run(b, x)
        func sigmoidOfRelu(_ i: Int, _ j: Int) -> Float {
            let h = max((0..<2).reduce(Float(0)) { $0 + table.values[i * 2 + $1] * w.values[$1 * 3 + j] }, 0)
            return 1 / (1 + Foundation.exp(-h))
        }
        let scattered: [Float] = [5, 0, 7]
        var want: [Float] = []
        for n in 0..<2 {
            for i in 0..<3 {
                for j in 0..<3 { want.append(x.values[(n * 3 + i) * 3 + j] + sigmoidOfRelu(j, 2 - i) + Float(i + j) + scattered[j]) }
            }
        }
        #expect(worstTolerance(got.values, want, atol: 1e-6, rtol: 1e-6).ratio <= 1)
    }
}
