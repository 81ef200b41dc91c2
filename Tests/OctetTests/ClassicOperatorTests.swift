import Foundation
import Testing
import _OctetTestSupport
@testable import OctetONNX
import Octet

/// The ops of classic zoo models (LRN, PRelu, Pad, Dropout with its mask) and the opsets before 7 and after 21,
/// each against its ONNX definition written out in the test.
@Suite struct ClassicOperatorTests {
    private func engine(_ b: ONNXModelBuilder) throws -> (Network, Engine) {
        let network = try b.importNetwork()
        return (network, try Builder(config: BuilderConfig(), backend: CPUBackend()).build(network))
    }

    private func run(_ engine: Engine, _ input: TensorData) throws -> TensorData {
        try #require(try engine.makeContext().execute(["input": input])[engine.plan.network[engine.plan.network.outputs[0]].name])
    }

    private func importError(_ b: ONNXModelBuilder) -> String? {
        do { _ = try b.importNetwork() } catch { return "\(error)" }
        return nil
    }

    @Test func dropoutMaskMayBeNamedButNotRead() throws {
        var b = ONNXModelBuilder(opset: 9, shape: [nil, 4])
        b.node("Dropout", ["input"], ["y", "mask"], name: "drop", ["ratio": .float(0.5)])
        b.output("y")
        let (_, unused) = try engine(b)
        #expect(try run(unused, TensorData(shape: [1, 4], values: [1, -2, 3, 4])).values == [1, -2, 3, 4])

        var reads = b
        reads.node("Cast", ["mask"], ["z"], name: "use_mask", ["to": .int(1)])
        reads.output("z")
        let text = try #require(importError(reads))
        #expect(text.contains("use_mask") && text.contains("mask output of Dropout node 'drop'"), "\(text)")

        var output = b
        output.output("mask")
        #expect(importError(output)?.contains("mask output") == true)

        var training = ONNXModelBuilder(opset: 6, shape: [nil, 4])
        training.node("Dropout", ["input"], ["y"], name: "old_drop")
        training.output("y")
        #expect(importError(training)?.contains("is_test=0") == true)
    }

    /// LRN with an odd and an even window, against `x / (bias + alpha/size · Σ x²)^beta` over the ONNX window.
    @Test(arguments: [3, 4])
    func lrnMatchesTheONNXFormula(size: Int) throws {
        let (n, c, h, w) = (2, 7, 3, 2)
        let (alpha, beta, bias): (Float, Float, Float) = (0.3, 0.6, 1.5)
        var b = ONNXModelBuilder(shape: [nil, c, h, w])
        b.node("LRN", ["input"], ["y"], ["size": .int(size), "alpha": .float(alpha), "beta": .float(beta), "bias": .float(bias)])
        b.output("y")
        let (_, lrn) = try engine(b)
        #expect(lrn.plan.report.hostLayers.isEmpty, "\(lrn.plan.report.text)")
        let x = TensorData.random([n, c, h, w], seed: 5)
        let got = try run(lrn, x)
        var want = [Float](repeating: 0, count: x.count)
        for i in 0..<x.count {
            let channel = (i / (h * w)) % c
            var sum: Float = 0
            for k in max(0, channel - (size - 1) / 2)...min(c - 1, channel + size / 2) {
                let v = x.values[i + (k - channel) * h * w]
                sum += v * v
            }
            want[i] = x.values[i] / powf(bias + alpha / Float(size) * sum, beta)
        }
        #expect(worstTolerance(got.values, want, atol: 1e-6, rtol: 1e-5).ratio <= 1)
    }

    /// PRelu: a per-channel slope is a Scale, a one-element slope is LeakyRelu, any other broadcast slope an
    /// elementwise product through an index map: all native.
    @Test func preluSlopesOfEveryShape() throws {
        let x = TensorData.random([2, 3, 2, 5], seed: 8)
        for slopeShape in [[3, 1, 1], [1], [5], [3, 2, 5]] {
            var b = ONNXModelBuilder(opset: 16, shape: [nil, 3, 2, 5])
            let slope = Weights.random(slopeShape, seed: 3)
            b.initializer("slope", slopeShape, slope.values)
            b.node("PRelu", ["input", "slope"], ["y"])
            b.output("y")
            let (_, prelu) = try engine(b)
            #expect(prelu.plan.report.hostLayers.isEmpty, "\(slopeShape): \(prelu.plan.report.text)")
            let got = try run(prelu, x)
            let (_, ia, ib) = try broadcastIndex(x.shape, slopeShape)
            let want = ia.indices.map { i in x.values[ia[i]] < 0 ? x.values[ia[i]] * slope.values[ib[i]] : x.values[ia[i]] }
            #expect(got.values == want, "\(slopeShape)")
        }
    }

    /// NumPy broadcasting written out: for each element of the broadcast shape, the element of each operand.
    private func broadcastIndex(_ a: [Int], _ b: [Int]) throws -> ([Int], [Int], [Int]) {
        let shape = try broadcastShapes(a, b)
        let pb = Array(repeating: 1, count: shape.count - b.count) + b
        var ia: [Int] = [], ib: [Int] = []
        let count = shape.reduce(1, *)
        for index in 0..<count {
            var rest = index, offsetB = 0, strideB = 1
            for axis in (0..<shape.count).reversed() {
                let coordinate = rest % shape[axis]
                rest /= shape[axis]
                if pb[axis] != 1 { offsetB += coordinate * strideB }
                strideB *= pb[axis]
            }
            ia.append(index)
            ib.append(offsetB)
        }
        return (shape, ia, ib)
    }

    /// The three modes on a row `[1, 2, 3]` padded by two on each side, in each opset's form.
    @Test func padModesInEveryOpsetForm() throws {
        let row = TensorData(shape: [1, 1, 3], values: [1, 2, 3])
        let expected: [String: [Float]] = [
            "constant": [9, 9, 1, 2, 3, 9, 9], "reflect": [3, 2, 1, 2, 3, 2, 1], "edge": [1, 1, 1, 2, 3, 3, 3],
        ]
        for (mode, want) in expected {
            for opset in [1, 2, 11, 18] {
                var b = ONNXModelBuilder(opset: opset, shape: [nil, 1, 3])
                var attributes: [String: ONNXModelBuilder.Attribute] = ["mode": .string(mode)]
                var inputs = ["input"]
                switch opset {
                case 1: attributes["paddings"] = .ints([0, 0, 2, 0, 0, 2]); attributes["value"] = .float(9)
                case 2: attributes["pads"] = .ints([0, 0, 2, 0, 0, 2]); attributes["value"] = .float(9)
                case 11: inputs += [b.ints("pads", [0, 0, 2, 0, 0, 2]), b.initializer("value", [], [9])]
                default: inputs += [b.ints("pads", [2, 2]), b.initializer("value", [], [9]), b.ints("axes", [-1])]
                }
                b.node("Pad", inputs, ["y"], attributes)
                b.output("y")
                let (_, pad) = try engine(b)
                #expect(try run(pad, row).values == want, "\(mode), opset \(opset)")
            }
        }
    }

    @Test func padRefusesWhatItCannotDo() throws {
        func error(_ pads: [Int], mode: String = "constant", shape: [Int?] = [nil, 1, 3]) -> String? {
            var b = ONNXModelBuilder(opset: 13, shape: shape)
            let padsName = b.ints("pads", pads)
            b.node("Pad", ["input", padsName], ["y"], name: "my_pad", ["mode": .string(mode)])
            b.output("y")
            return importError(b)
        }
        #expect(error([0, 0, -1, 0, 0, 0])?.contains("negative pads") == true)
        #expect(error([1, 0, 0, 0, 0, 0])?.contains("batch axis") == true)
        #expect(error([0, 0, 1, 0, 0, 1], mode: "wrap")?.contains("mode 'wrap'") == true)
        #expect(error([0, 0, 3, 0, 0, 0], mode: "reflect")?.contains("my_pad") == true)
        #expect(error([0, 0, 1])?.contains("do not give a begin and an end") == true)
    }

    /// Opsets 1–6: legacy broadcasting, `is_test`, Reshape's `shape` attribute, Concat's default axis, Cast's type
    /// names; and the newest opset the onnx package writes.
    @Test func legacyOpsetSemantics() throws {
        var b = ONNXModelBuilder(opset: 6, shape: [nil, 2, 1, 3])
        b.initializer("channel", [2], [10, 20])
        b.node("Add", ["input", "channel"], ["a"], ["broadcast": .int(1), "axis": .int(1)])
        for (name, value) in [("s", Float(2)), ("bb", 1), ("m", 0), ("v", 1)] { b.initializer(name, [2], [value, value]) }
        b.node("BatchNormalization", ["a", "s", "bb", "m", "v"], ["bn"], ["is_test": .int(1), "epsilon": .float(0), "consumed_inputs": .ints([0, 0, 0, 1, 1])])
        b.node("Dropout", ["bn"], ["y"], ["is_test": .int(1)])
        b.output("y")
        let (_, legacy) = try engine(b)
        let x = TensorData(shape: [1, 2, 1, 3], values: [1, 2, 3, 4, 5, 6])
        #expect(try run(legacy, x).values == [23, 25, 27, 49, 51, 53])  // 2 · (x + channel) + 1

        var older = ONNXModelBuilder(opset: 3, shape: [nil, 2, 3])
        older.node("Concat", ["input", "input"], ["c"])
        older.node("Reshape", ["c"], ["r"], ["shape": .ints([0, 12])])
        older.node("Cast", ["r"], ["y"], ["to": .string("FLOAT")])
        older.output("y")
        let (network, oldest) = try engine(older)
        #expect(network[network.outputs[0]].shape == [1, 12])
        let rows: [Float] = [1, 2, 3, 4, 5, 6]
        #expect(try run(oldest, TensorData(shape: [1, 2, 3], values: rows)).values == rows + rows)

        var unequal = ONNXModelBuilder(opset: 5, shape: [nil, 2])
        unequal.initializer("one", [1], [1])
        unequal.node("Mul", ["input", "one"], ["y"], name: "no_broadcast")
        unequal.output("y")
        #expect(importError(unequal)?.contains("without broadcast=1") == true)

        var newest = ONNXModelBuilder(opset: 28, shape: [nil, 2])
        newest.node("Relu", ["input"], ["y"])
        newest.output("y")
        #expect(importError(newest) == nil)
    }

    /// A float ConstantOfShape may exceed the 2^26 elements of folded shape values (placeholder weights).
    @Test func largeFloatConstantOfShapeImports() throws {
        var b = ONNXModelBuilder(opset: 9, shape: [nil, 2])
        b.ints("shape", [8193, 8193])
        b.node("ConstantOfShape", ["shape"], ["big"])
        b.node("Relu", ["input"], ["y"])
        b.output("y")
        #expect(importError(b) == nil)
    }
}
