import OctetCore

extension ConformanceSuite {
    /// Every layer form × arithmetic, at awkward sizes: 1, odd, and around the kernels' tiles (16 output
    /// channels on the CPU, 64 on the GPU; 4-channel groups of the INT8 dot products), batches 1 to 3.
    /// Adding a layer form or an op means adding its cases here; every backend then runs them.
    public static let cases: [ConformanceCase] = {
        var cases: [ConformanceCase] = []
        var seed: UInt64 = 1000
        func add(_ name: String, batch: Int = 2, large: Bool = false, arithmetics: [ConformanceCase.Arithmetic] = ConformanceCase.Arithmetic.allCases,
                 _ build: @escaping @Sendable (inout NetworkMaker) throws -> Void) {
            for arithmetic in arithmetics {
                seed += 1
                cases.append(ConformanceCase(name: name, arithmetic: arithmetic, seed: seed, batch: batch, isLarge: large, build: build))
            }
        }
        let relu = Activation.relu, relu6 = Activation.clip(min: 0, max: 6)

        // Convolutions as GEMMs: kernel sizes, strides, dilation, groups, asymmetric padding, channel counts around
        // the tiles, a fused activation, a fused residual, float output (a network output).
        for (c, oc, size, k, stride) in [(3, 16, 9, 3, 2), (1, 1, 1, 1, 1), (5, 17, 7, 1, 1), (16, 15, 11, 3, 1), (7, 33, 6, 5, 2), (3, 8, 13, 7, 2), (17, 65, 5, 3, 1)] {
            add("convolution \(k)x\(k) s\(stride) \(c)->\(oc) \(size)x\(size)") { m in
                let x = m.input(channels: c, height: size, width: size)
                let y = try m.conv(x, "conv", out: oc, kernel: k, stride: stride, fused: relu)
                m.output(try m.conv(y, "head", out: 4, kernel: 1))
            }
        }
        add("convolution dilated 3x3 d2, asymmetric pads") { m in
            let x = m.input(channels: 6, height: 10, width: 9)
            let y = try m.conv(x, "dilated", out: 12, kernel: 3, dilation: 2, pads: (1, 3), fused: relu6)
            m.output(try m.conv(y, "head", out: 4, kernel: 1))
        }
        add("convolution grouped (2 groups) 3x3") { m in
            let x = m.input(channels: 8, height: 7, width: 7)
            let y = try m.conv(x, "grouped", out: 10, kernel: 3, groups: 2, fused: relu)
            m.output(try m.conv(y, "head", out: 4, kernel: 1))
        }
        add("convolution with fused residual add and relu", batch: 3) { m in
            let x = m.input(channels: 12, height: 6, width: 5)
            let side = try m.conv(x, "side", out: 17, kernel: 1)
            let y = try m.conv(x, "conv", out: 17, kernel: 3, residual: side, fused: relu)
            m.output(try m.conv(y, "head", out: 4, kernel: 1))
        }
        add("convolution with a fused residual writing the float network output", batch: 2) { m in
            let x = m.input(channels: 12, height: 6, width: 5)
            let side = try m.conv(x, "side", out: 17, kernel: 1)
            m.output(try m.conv(x, "conv", out: 17, kernel: 3, residual: side, fused: relu))
        }
        add("convolution writing the float network output") { m in
            let x = m.input(channels: 9, height: 5, width: 5)
            let y = try m.conv(x, "stem", out: 16, kernel: 3, fused: relu)
            m.output(try m.conv(y, "out", out: 33, kernel: 3, stride: 2))
        }

        // Depthwise convolutions.
        for (c, size, k, stride) in [(1, 5, 3, 1), (8, 9, 3, 2), (17, 7, 5, 1), (33, 6, 3, 1)] {
            add("depthwise \(k)x\(k) s\(stride) \(c) channels \(size)x\(size)") { m in
                let x = m.input(channels: c, height: size, width: size)
                let y = try m.conv(x, "pw", out: c, kernel: 1, fused: relu6)
                let d = try m.conv(y, "dw", out: c, kernel: k, stride: stride, groups: c, fused: relu6)
                m.output(try m.conv(d, "head", out: 4, kernel: 1))
            }
        }

        // Fully connected over a flattened pooled tensor, and softmax rows after it.
        for (c, outputs) in [(1, 1), (17, 10), (64, 33)] {
            add("global average pooling, flatten, fully connected \(c)->\(outputs), softmax") { m in
                let x = m.input(channels: c, height: 3, width: 4)
                let y = try m.conv(x, "conv", out: c, kernel: 1, fused: relu)
                let g = try m.layer("gap", .pooling(.global(.average)), [y])
                let f = try m.layer("flatten", .reshape(sampleShape: [c]), [g])
                let fc = try m.fullyConnected(f, "fc", outputs: outputs)
                m.output(try m.layer("softmax", .softmax(axis: 1, coerced2D: false), [fc]))
            }
        }
        add("fully connected on a rank-2 input, fused relu, then another") { m in
            let x = m.input(features: 19)
            let h = try m.fullyConnected(x, "fc1", outputs: 17, fused: relu)
            m.output(try m.fullyConnected(h, "fc2", outputs: 5))
        }

        // Pooling.
        let poolings: [(String, PoolingParameters)] = [
            ("max 3x3 s2 pad 1", PoolingParameters(kind: .max, kernel: [3, 3], strides: [2, 2], padsBegin: [1, 1], padsEnd: [1, 1])),
            ("max 2x2 s2 ceil", PoolingParameters(kind: .max, kernel: [2, 2], strides: [2, 2], ceilMode: true)),
            ("average 3x3 s1 pad 1 excluding pad", PoolingParameters(kind: .average, kernel: [3, 3], strides: [1, 1], padsBegin: [1, 1], padsEnd: [1, 1])),
            ("average 2x2 s1 pad end, including pad", PoolingParameters(kind: .average, kernel: [2, 2], strides: [1, 1], padsEnd: [1, 1], countIncludePad: true)),
            ("global max", .global(.max)),
            ("global average", .global(.average)),
        ]
        for (label, pooling) in poolings {
            add("pooling \(label)") { m in
                let x = m.input(channels: 5, height: 7, width: 6)
                let y = try m.conv(x, "conv", out: 17, kernel: 3)
                let p = try m.layer("pool", .pooling(pooling), [y])
                m.output(try m.conv(p, "head", out: 4, kernel: 1))
            }
        }

        // Activations: lookup tables in INT8, element by element in FP32.
        // Sqrt on [0.5, 2], where it is defined; the others on signed inputs.
        let activations: [Activation] = [
            .relu, .clip(min: -1, max: 2), .sigmoid, .tanh, .leakyRelu(alpha: 0.1), .hardSigmoid(alpha: 0.2, beta: 0.5), .hardSwish,
            .erf, .gelu(tanhApproximation: false), .gelu(tanhApproximation: true), .sqrt, .exp,
        ]
        for activation in activations {
            add("activation \(activation.name)") { m in
                let x = m.input(channels: 3, height: 5, width: 7)
                let y = try m.conv(x, "conv", out: 9, kernel: 3, fused: activation == .sqrt ? .clip(min: 0.5, max: 2) : nil)
                let a = try m.layer("act", .activation(activation), [y])
                m.output(try m.conv(a, "head", out: 4, kernel: 1))
            }
        }

        // Elementwise: same shape (with a fused relu on add), and the squeeze-and-excitation channel broadcast.
        // Every operation on operands in [0.5, 2], where each is defined; total ones on signed operands too.
        for operation in ElementwiseOperation.allCases {
            for signed in operation.isTotal ? [false, true] : [false] {
                add("elementwise \(operation.rawValue), same shape, \(signed ? "signed" : "positive") operands", batch: 3) { m in
                    let x = m.input(channels: 4, height: 5, width: 3)
                    let domain: Activation? = signed ? nil : .clip(min: 0.5, max: 2)
                    let a = try m.conv(x, "a", out: 6, kernel: 3, fused: domain)
                    let b = try m.conv(x, "b", out: 6, kernel: 1, fused: domain)
                    let y = try m.layer("op", .elementwise(operation), [a, b], fused: operation == .add ? .relu : nil)
                    m.output(try m.conv(y, "head", out: 4, kernel: 1))
                }
            }
        }
        // Every operation with a one-element constant (`x + 1e-5`, `x ^ 2`, `1 / x`), on either side.
        for operation in ElementwiseOperation.allCases {
            for scalarFirst in [false, true] {
                add("elementwise \(operation.rawValue) with a scalar constant \(scalarFirst ? "first" : "second")") { m in
                    let x = m.input(channels: 3, height: 4, width: 5)
                    let a = try m.conv(x, "a", out: 5, kernel: 3, fused: .clip(min: 0.5, max: 2))
                    let c = try m.layer("c", .constant(Weights(shape: [1], values: [1.75])), [])
                    let y = try m.layer("op", .elementwise(operation), scalarFirst ? [c, a] : [a, c])
                    m.output(try m.conv(y, "head", out: 4, kernel: 1))
                }
            }
        }
        add("elementwise mul, channel vector broadcast (squeeze-and-excitation)") { m in
            let x = m.input(channels: 5, height: 6, width: 6)
            let y = try m.conv(x, "conv", out: 12, kernel: 3, fused: relu)
            let g = try m.layer("gap", .pooling(.global(.average)), [y])
            let s = try m.layer("gate", .activation(.sigmoid), [try m.conv(g, "squeeze", out: 12, kernel: 1)])
            let scaled = try m.layer("excite", .elementwise(.mul), [y, s])
            m.output(try m.conv(scaled, "head", out: 4, kernel: 1))
        }

        // Concatenation along channels of differently ranged inputs, two and three of them.
        for parts in [2, 3] {
            add("concatenation of \(parts) along channels") { m in
                let x = m.input(channels: 3, height: 5, width: 5)
                var inputs: [TensorID] = []
                for index in 0..<parts { inputs.append(try m.conv(x, "part\(index)", out: 5 + 4 * index, kernel: 3, fused: index == 0 ? relu : nil)) }
                let c = try m.layer("concat", .concatenation(axis: 1), inputs)
                m.output(try m.conv(c, "head", out: 4, kernel: 1))
            }
        }

        // Per-channel affine (a BatchNormalization the builder cannot fold: after an add), FP32 in every mode.
        add("scale after an add") { m in
            let x = m.input(channels: 3, height: 4, width: 4)
            let a = try m.conv(x, "a", out: 6, kernel: 3)
            let b = try m.conv(x, "b", out: 6, kernel: 1)
            let s = try m.layer("sum", .elementwise(.add), [a, b])
            let scale = ScaleParameters(scale: m.weights([6]).values, shift: m.weights([6]).values)
            let y = try m.layer("scale", .scale(scale), [s])
            m.output(try m.conv(y, "head", out: 4, kernel: 1))
        }

        // Data movement: reshapes that are views, transpose and slice (index maps, `LayerForm.gather`).
        add("reshape, transpose and slice") { m in
            let x = m.input(channels: 4, height: 3, width: 5)
            let y = try m.conv(x, "conv", out: 6, kernel: 1)
            let t = try m.layer("transpose", .transpose(permutation: [0, 2, 3, 1]), [y])
            let s = try m.layer("slice", .slice(SliceParameters(starts: [0, 0, 1, 0], ends: [1, 3, 5, 6], steps: [1, 1, 2, 1])), [t])
            let r = try m.layer("flatten", .reshape(sampleShape: [3 * 2 * 6]), [s])
            m.output(try m.fullyConnected(r, "fc", outputs: 7))
        }
        // Index maps at every rank: NHWC to NHWC transposes, rank-6 window partitions (Swin), reshapes that merge
        // and split NHWC axes, strided slices, rank 3 and 5.
        add("index maps: window partition at rank 6, NHWC transposes", batch: 3) { m in
            let x = m.input(channels: 3, height: 4, width: 6)
            let y = try m.conv(x, "conv", out: 5, kernel: 1)
            let nhwc = try m.layer("to_nhwc", .transpose(permutation: [0, 2, 3, 1]), [y])                  // [N, 4, 6, 5]
            let windows = try m.layer("split", .reshape(sampleShape: [2, 2, 3, 2, 5]), [nhwc])             // rank 6
            let partition = try m.layer("partition", .transpose(permutation: [0, 1, 3, 2, 4, 5]), [windows]) // [N, 2, 3, 2, 2, 5]
            let back = try m.layer("merge", .reshape(sampleShape: [6, 4, 5]), [partition])                 // rank 4, NHWC
            let nchw = try m.layer("to_nchw", .transpose(permutation: [0, 3, 2, 1]), [back])                // [N, 5, 4, 6]
            m.output(try m.conv(nchw, "head", out: 4, kernel: 3))
        }
        add("index maps: slices with steps at rank 3 and 5") { m in
            let x = m.input(channels: 5, height: 3, width: 4)
            let y = try m.conv(x, "conv", out: 5, kernel: 1)
            let rows = try m.layer("rows", .reshape(sampleShape: [5, 12]), [y])
            let tokens = try m.layer("tokens", .transpose(permutation: [0, 2, 1]), [rows])                   // [N, 12, 5]
            let strided = try m.layer("strided", .slice(SliceParameters(starts: [0, 1, 1], ends: [1, 12, 5], steps: [1, 3, 2])), [tokens]) // [N, 4, 2]
            let five = try m.layer("rank5", .reshape(sampleShape: [2, 1, 2, 2]), [strided])
            let turned = try m.layer("turn", .transpose(permutation: [0, 4, 2, 3, 1]), [five])              // [N, 2, 1, 2, 2]
            let image = try m.layer("image", .reshape(sampleShape: [2, 2, 2]), [turned])                    // NHWC
            m.output(try m.conv(image, "head", out: 3, kernel: 1))
        }
        // Above the index maps' rank the host reference runs the layer (and reports it).
        add("host reference: a transpose above rank 6") { m in
            let x = m.input(channels: 4, height: 2, width: 3)
            let seven = try m.layer("rank7", .reshape(sampleShape: [2, 2, 1, 2, 1, 3]), [try m.conv(x, "conv", out: 4, kernel: 1)])
            let turned = try m.layer("turn", .transpose(permutation: [0, 2, 1, 6, 4, 5, 3]), [seven])
            m.output(try m.fullyConnected(try m.layer("flat", .reshape(sampleShape: [24]), [turned]), "fc", outputs: 3))
        }
        // Concatenation along other axes than channels, a constant (a class token) among the inputs.
        add("concatenation along rows of NHWC and along tokens with a class token", batch: 3) { m in
            let x = m.input(channels: 4, height: 3, width: 5)
            let top = try m.conv(x, "top", out: 6, kernel: 1, fused: relu)
            let bottom = try m.conv(x, "bottom", out: 6, kernel: 3)
            let tall = try m.layer("tall", .concatenation(axis: 2), [top, bottom])                         // [N, 6, 6, 5]
            let tokens = try m.layer("tokens", .transpose(permutation: [0, 2, 1]), [try m.layer("rows", .reshape(sampleShape: [6, 30]), [tall])])
            let tokenValue = m.weights([1, 1, 6])
            let token = try m.layer("class_token", .constant(tokenValue), [])
            let all = try m.layer("with_class", .concatenation(axis: 1), [token, tokens])                  // [N, 31, 6]
            m.output(try m.fullyConnected(try m.layer("flat", .reshape(sampleShape: [31 * 6]), [all]), "fc", outputs: 5))
        }
        // Broadcasting on every axis, batch included, constant operands first and second (LayerNorm's decomposed
        // Sub/Div over NHWC, a bias over tokens), INT8 where the operation has INT8 arithmetic.
        for operation in [ElementwiseOperation.add, .sub, .mul] {
            add("elementwise \(operation.rawValue) broadcasting on every axis, constants first and second", batch: 2) { m in
                let x = m.input(channels: 4, height: 3, width: 5)
                let y = try m.conv(x, "conv", out: 4, kernel: 1)
                let mean = try m.layer("mean", .reduce(ReduceParameters(operation: .mean, axes: [1])), [y])     // [N, 1, 3, 5]
                let centered = try m.layer("centered", .elementwise(operation), [y, mean])
                let rowGate = try m.layer("row_gate", .reduce(ReduceParameters(operation: .max, axes: [1, 3])), [y]) // [N, 1, 3, 1]
                let gated = try m.layer("gated", .elementwise(operation), [rowGate, centered])
                let (channelValues, columnValues, biasValues) = (m.weights([4, 1, 1], scale: 1), m.weights([1, 1, 1, 5], scale: 1), m.weights([15], scale: 1))
                let perChannel = try m.layer("per_channel", .constant(channelValues), [])
                let shifted = try m.layer("shifted", .elementwise(operation), [perChannel, gated])
                let perColumn = try m.layer("per_column", .constant(columnValues), [])
                let scaled = try m.layer("scaled", .elementwise(operation), [shifted, perColumn])
                let firstChannel = try m.layer("first_channel", .slice(SliceParameters(starts: [0, 0, 0, 0], ends: [1, 1, 3, 5], steps: [1, 1, 1, 1])), [scaled])
                let tokens = try m.layer("tokens", .reshape(sampleShape: [4, 15]), [scaled])
                let bias = try m.layer("bias", .constant(biasValues), [])
                let biased = try m.layer("biased", .elementwise(operation), [tokens, bias])
                let firstRows = try m.layer("first_channel_rows", .reshape(sampleShape: [1, 15]), [firstChannel])
                let mixed = try m.layer("mixed", .elementwise(.add), [biased, firstRows])
                m.output(try m.fullyConnected(try m.layer("flat", .reshape(sampleShape: [60]), [mixed]), "fc", outputs: 3))
            }
        }
        // Div as LayerNorm's decomposition writes it, by positive divisors only (random ones near 0 overflow).
        add("elementwise div broadcasting, constants first and second") { m in
            let x = m.input(channels: 4, height: 3, width: 5)
            let y = try m.conv(x, "conv", out: 4, kernel: 1)
            let centered = try m.layer("centered", .elementwise(.sub), [y, try m.layer("mean", .reduce(ReduceParameters(operation: .mean, axes: [1])), [y])])
            let spread = try m.layer("spread", .activation(.sigmoid), [try m.layer("row_max", .reduce(ReduceParameters(operation: .max, axes: [1, 3])), [y])])
            let normalized = try m.layer("normalized", .elementwise(.div), [centered, spread])             // [N, 4, 3, 5] / [N, 1, 3, 1]
            let (channelValues, columnValues) = (m.weights([4, 1, 1], scale: 0.25), m.weights([1, 1, 1, 5], scale: 0.25))
            let perChannel = try m.layer("per_channel", .constant(Weights(shape: [4, 1, 1], values: channelValues.values.map { $0 + 1 })), [])
            let perColumn = try m.layer("per_column", .constant(Weights(shape: [1, 1, 1, 5], values: columnValues.values.map { $0 + 1 })), [])
            let scaled = try m.layer("scaled", .elementwise(.div), [normalized, perChannel])
            let inverse = try m.layer("inverse", .elementwise(.div), [perColumn, spread])                 // [1, 1, 1, 5] / [N, 1, 3, 1]
            let sum = try m.layer("sum", .elementwise(.add), [scaled, inverse])
            m.output(try m.fullyConnected(try m.layer("flat", .reshape(sampleShape: [60]), [sum]), "fc", outputs: 3))
        }
        // F.normalize as exporters write it, x / clamp_min(‖x‖, ε) with ReduceL2 as √Σx², over pixels that padding
        // made zero (Swin V2's padded window tokens): 0 / ε is 0. The divisor chain stays FP32
        // (`PrecisionAssignment.divisorChains`); quantized, ε would round to 0 and 0 / 0 give NaN, whose INT8 value no
        // two kernels agree on.
        add("normalize by a clamped L2 norm, with zero pixels") { m in
            let x = m.input(channels: 5, height: 4, width: 3)
            let y = try m.layer("pad", .pad(PadParameters(mode: .constant, padsBegin: [0, 0, 1, 0], padsEnd: [0, 0, 0, 2])), [try m.conv(x, "conv", out: 6, kernel: 1)])
            let squares = try m.layer("squares", .elementwise(.mul), [y, y])
            let norm = try m.layer("norm", .activation(.sqrt), [try m.layer("sum", .reduce(ReduceParameters(operation: .sum, axes: [1])), [squares])])
            let clamped = try m.layer("clamp_min", .activation(.clip(min: 1e-12, max: .infinity)), [norm])
            let normalized = try m.layer("normalized", .elementwise(.div), [y, clamped])  // [N, 6, 5, 5] / [N, 1, 5, 5]
            m.output(try m.conv(normalized, "head", out: 4, kernel: 1))
        }
        // Softmax along every axis of NHWC and row-major tensors (attention scores over the last axis).
        add("softmax along channels, rows and the last axis, rank 3 and 4") { m in
            let x = m.input(channels: 5, height: 3, width: 4)
            let y = try m.conv(x, "conv", out: 5, kernel: 1)
            let channels = try m.layer("softmax_channels", .softmax(axis: 1, coerced2D: false), [y])
            let rows = try m.layer("softmax_rows", .softmax(axis: 2, coerced2D: false), [channels])
            let scores = try m.layer("scores", .reshape(sampleShape: [5, 12]), [rows])
            let last = try m.layer("softmax_last", .softmax(axis: 2, coerced2D: false), [scores])
            let coerced = try m.layer("softmax_coerced", .softmax(axis: 1, coerced2D: true), [last])
            m.output(try m.fullyConnected(try m.layer("flat", .reshape(sampleShape: [60]), [coerced]), "fc", outputs: 3))
        }

        // Pad in each mode, reductions over inner axes, and MatMul between activations (attention-shaped, with a
        // broadcast leading axis), in NHWC (rank 4) and row-major (rank 3) layouts: FP32 Pad and Reduce in every mode,
        // MatMul INT8 in the INT8 modes.
        for mode in [PadMode.constant, .reflect, .edge] {
            add("pad \(mode.rawValue) asymmetric") { m in
                let x = m.input(channels: 3, height: 5, width: 4)
                let y = try m.conv(x, "conv", out: 6, kernel: 1)
                let p = try m.layer("pad", .pad(PadParameters(mode: mode, padsBegin: [0, 1, 2, 0], padsEnd: [0, 0, 1, 3], value: 0.5)), [y])
                m.output(try m.conv(p, "head", out: 4, kernel: 3))
            }
            add("pad \(mode.rawValue) of a rank-3 tensor") { m in
                let x = m.input(channels: 3, height: 5, width: 4)
                let rows = try m.layer("rows", .reshape(sampleShape: [6, 20]), [try m.conv(x, "conv", out: 6, kernel: 1)])
                let p = try m.layer("pad", .pad(PadParameters(mode: mode, padsBegin: [0, 2, 1], padsEnd: [0, 1, 3], value: -0.25)), [rows])
                m.output(try m.fullyConnected(try m.layer("flat", .reshape(sampleShape: [9 * 24]), [p]), "fc", outputs: 5))
            }
        }
        for operation in [ReduceOperation.mean, .sum, .max, .min] {
            add("reduce \(operation.rawValue) over axes 2 and 3, then axis 1") { m in
                let x = m.input(channels: 5, height: 3, width: 7)
                let y = try m.conv(x, "conv", out: 7, kernel: 3)
                let r = try m.layer("reduce", .reduce(ReduceParameters(operation: operation, axes: [3])), [y])
                let flat = try m.layer("flatten", .reshape(sampleShape: [7, 3]), [r])
                let inner = try m.layer("reduce_rows", .reduce(ReduceParameters(operation: operation, axes: [1])), [flat])
                m.output(try m.fullyConnected(try m.layer("rows", .reshape(sampleShape: [3]), [inner]), "fc", outputs: 5))
            }
            add("reduce \(operation.rawValue) over channels and rows of NHWC") { m in
                let x = m.input(channels: 5, height: 3, width: 7)
                let r = try m.layer("reduce", .reduce(ReduceParameters(operation: operation, axes: [1, 2])), [try m.conv(x, "conv", out: 9, kernel: 1)])
                m.output(try m.fullyConnected(try m.layer("flat", .reshape(sampleShape: [7]), [r]), "fc", outputs: 3))
            }
        }
        add("matrix multiply of two activations, broadcast over heads") { m in
            let x = m.input(channels: 6, height: 5, width: 3)
            let q = try m.conv(x, "q", out: 6, kernel: 1)
            let k = try m.conv(x, "k", out: 6, kernel: 3)
            let queries = try m.layer("queries", .reshape(sampleShape: [2, 3, 15]), [q])
            let keys = try m.layer("keys", .transpose(permutation: [0, 2, 1]), [try m.layer("keys_rows", .reshape(sampleShape: [6, 15]), [k])])
            let keysOneHead = try m.layer("keys_one_head", .slice(SliceParameters(starts: [0, 0, 0], ends: [1, 15, 3], steps: [1, 1, 1])), [keys])
            let scores = try m.layer("scores", .matrixMultiply, [queries, try m.layer("keys_broadcast", .reshape(sampleShape: [1, 15, 3]), [keysOneHead])])
            m.output(try m.fullyConnected(try m.layer("flat", .reshape(sampleShape: [18]), [scores]), "fc", outputs: 4))
        }
        // Awkward sizes: k = 33, n = 17 with an NHWC (rank-4) output and a broadcast head axis; n = 1 row-major.
        add("matrix multiply, awkward sizes, NHWC output") { m in
            let x = m.input(channels: 4, height: 3, width: 11)
            let a = try m.layer("a", .reshape(sampleShape: [2, 3, 33]), [try m.conv(x, "q", out: 6, kernel: 1)])
            let keys = try m.layer("keys", .reshape(sampleShape: [17, 33]), [try m.conv(x, "k", out: 17, kernel: 1)])
            let b = try m.layer("b", .reshape(sampleShape: [1, 33, 17]), [try m.layer("keys_t", .transpose(permutation: [0, 2, 1]), [keys])])
            let y = try m.layer("scores", .matrixMultiply, [a, b])
            m.output(try m.fullyConnected(try m.layer("flat", .reshape(sampleShape: [2 * 3 * 17]), [y]), "fc", outputs: 4))
        }
        add("matrix multiply by a column, row-major") { m in
            let x = m.input(channels: 4, height: 3, width: 11)
            let a = try m.layer("a", .reshape(sampleShape: [6, 33]), [try m.conv(x, "q", out: 6, kernel: 1)])
            let b = try m.layer("b", .reshape(sampleShape: [33, 1]), [try m.conv(x, "k", out: 1, kernel: 1)])
            let y = try m.layer("product", .matrixMultiply, [a, b])
            m.output(try m.fullyConnected(try m.layer("flat", .reshape(sampleShape: [6]), [y]), "fc", outputs: 3))
        }

        // Fully connected over the last axis of a rank-4 tensor (ConvNeXt's and Swin's [N, H, W, C] MLPs, read as rows
        // through Reshapes) and of a rank-3 one (ViT's tokens), fused activation, awkward sizes. The first reads a
        // float tensor (a Softmax's, as the MLPs read LayerNorm's), quantized after its Reshape.
        add("fully connected over rank-4 and rank-3 tensors") { m in
            let x = m.input(channels: 6, height: 5, width: 3)
            let y = try m.layer("softmax", .softmax(axis: 3, coerced2D: false), [try m.conv(x, "conv", out: 6, kernel: 1)])
            let hidden = try m.fullyConnected(y, "fc_channels_last", outputs: 17, fused: relu)
            // An MLP: the Reshapes between the two layers cancel around the GELU (`CancelReshapePairsPass`).
            let gelu = try m.layer("gelu", .activation(.gelu(tanhApproximation: false)), [hidden])
            let projected = try m.fullyConnected(gelu, "fc_channels_last_2", outputs: 17)
            let tokens = try m.layer("tokens", .reshape(sampleShape: [30, 17]), [projected])
            let t = try m.fullyConnected(tokens, "fc_tokens", outputs: 5)
            // MatMul then Add of a bias vector, as exporters write a Linear layer over tokens: folded into the layer.
            let bias = m.weights([5], scale: 0.3)
            let biased = try m.layer("bias_add", .elementwise(.add), [t, try m.layer("bias", .constant(bias), [])])
            m.output(try m.fullyConnected(try m.layer("flat", .reshape(sampleShape: [150]), [biased]), "fc", outputs: 4))
        }

        // GELU as exporters write it, (x · (1 + erf(x / √2))) · 0.5 in five layers: fused into one Gelu activation
        // (`FuseGeluPass`; a lookup table in INT8).
        add("GELU as exporters decompose it") { m in
            let x = m.input(channels: 5, height: 4, width: 3)
            let y = try m.conv(x, "conv", out: 7, kernel: 1)
            let scaled = try m.layer("div", .elementwise(.div), [y, try m.layer("sqrt2", .constant(Weights(shape: [1], values: [1.4142135])), [])])
            let erf = try m.layer("erf", .activation(.erf), [scaled])
            let plusOne = try m.layer("plus_one", .elementwise(.add), [erf, try m.layer("one", .constant(Weights(shape: [1], values: [1])), [])])
            let timesX = try m.layer("times_x", .elementwise(.mul), [y, plusOne])
            let gelu = try m.layer("half", .elementwise(.mul), [timesX, try m.layer("one_half", .constant(Weights(shape: [1], values: [0.5])), [])])
            m.output(try m.conv(gelu, "head", out: 4, kernel: 1))
        }

        // 1x1 convolutions over 8 to 128 channels (the GPU's conv_pointwise.cu: K of one to four 32-byte steps, some
        // bytes of the last step beyond K, 16 to 128 output channels, a fused residual of either signedness), 3 x 13 x
        // 11 pixels (not a multiple of the kernel's 16 or 32 rows).
        add("pointwise convolutions over few channels", batch: 3) { m in
            let x = m.input(channels: 24, height: 13, width: 11)
            let expand = try m.conv(x, "expand", out: 96, kernel: 1, fused: relu6)
            let project = try m.conv(expand, "project", out: 16, kernel: 1)
            let wide = try m.conv(project, "wide", out: 64, kernel: 1, fused: relu)
            let side = try m.conv(x, "side", out: 32, kernel: 1, fused: relu)
            let joined = try m.conv(wide, "joined", out: 32, kernel: 1, residual: side, fused: relu)
            let narrow = try m.conv(joined, "narrow", out: 48, kernel: 1, fused: relu6)
            let deep = try m.conv(narrow, "deep", out: 128, kernel: 1, fused: relu)
            let back = try m.conv(deep, "back", out: 48, kernel: 1, residual: narrow, fused: relu)
            let odd = try m.conv(back, "odd", out: 80, kernel: 1, fused: relu6)
            let shrink = try m.conv(odd, "shrink", out: 16, kernel: 1)
            m.output(try m.conv(shrink, "head", out: 4, kernel: 3))
        }

        // The GPU's large tiles: 200 channels (partial tiles), a residual add staged in shared memory, float output.
        add("large convolutions (GPU tiles)", batch: 4, large: true, arithmetics: [.int8, .int8TensorRT]) { m in
            let x = m.input(channels: 32, height: 66, width: 66)
            let wide = try m.conv(x, "wide", out: 200, kernel: 3, fused: relu)
            let side = try m.conv(x, "side", out: 48, kernel: 1)
            let narrow = try m.conv(wide, "narrow", out: 48, kernel: 1, residual: side, fused: relu)
            m.output(try m.conv(narrow, "head", out: 64, kernel: 1))
        }
        // The sixteen-channel epilogue with a residual from shared memory and float output.
        add("large convolution with a fused residual writing float", batch: 2, large: true, arithmetics: [.int8, .int8TensorRT]) { m in
            let x = m.input(channels: 32, height: 34, width: 34)
            let side = try m.conv(x, "side", out: 48, kernel: 1)
            m.output(try m.conv(x, "wide", out: 48, kernel: 3, residual: side))
        }
        // A stem over 3 channels, strided (folded space-to-depth on the GPU) and not, a split-K convolution.
        add("stems over 3 channels and a split-K convolution", batch: 3, large: true) { m in
            let x = m.input(channels: 3, height: 37, width: 37)
            let stem = try m.conv(x, "stem", out: 24, kernel: 3, stride: 2)
            let fine = try m.conv(x, "stem_fine", out: 24, kernel: 3)
            let pooled = try m.layer("fine_pool", .pooling(PoolingParameters(kind: .max, kernel: [3, 3], strides: [2, 2], padsBegin: [1, 1], padsEnd: [1, 1])), [fine])
            let sum = try m.layer("sum", .elementwise(.add), [stem, pooled], fused: relu)
            let deep = try m.conv(sum, "deep", out: 136, kernel: 3, stride: 2, fused: relu)
            m.output(try m.conv(deep, "head", out: 10, kernel: 1))
        }
        return cases
    }()
}
