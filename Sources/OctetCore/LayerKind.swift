/// The primitive layers Octet's backends implement. Importers lower every ONNX op onto these; composite ops
/// (Gemm, Flatten, Sum, BatchNormalization, Split, …) become one or more of them.
///
/// Convention: axis 0 of every activation tensor is the batch axis. Layers operate on each sample alone and
/// never move data across samples, so one network runs at any batch size. Shapes stored in the network use
/// the nominal batch the model was imported with (1 for a symbolic batch).
public enum LayerKind: Sendable, Equatable {
    /// A constant tensor (not batched). Broadcast against activations by elementwise layers.
    case constant(Weights)
    /// 2-D convolution over NCHW input, with optional bias. With a second input (a residual of the output's
    /// shape), computes `conv(x) + residual`: the builder fuses a following Add this way.
    case convolution(ConvolutionParameters)
    /// `y = x · Wᵀ + b` over the last axis: input `[..., K]`, weights `[N, K]`, output `[..., N]`.
    case fullyConnected(FullyConnectedParameters)
    /// Max or average pooling over NCHW input, or global pooling to 1×1.
    case pooling(PoolingParameters)
    /// A pointwise activation function.
    case activation(Activation)
    /// Per-channel affine `y = x · scale[c] + shift[c]` along axis 1 (BatchNormalization in inference form).
    case scale(ScaleParameters)
    /// A binary elementwise operation with NumPy broadcasting within each sample.
    case elementwise(ElementwiseOperation)
    /// Concatenation of all inputs along `axis` (never the batch axis).
    case concatenation(axis: Int)
    /// Softmax. With `coerced2D` (ONNX opset < 13) it normalizes over all axes from `axis` on; otherwise over `axis`.
    case softmax(axis: Int, coerced2D: Bool)
    /// Reinterpret each sample with a new shape (element order unchanged): Reshape, Flatten, Squeeze, Unsqueeze.
    case reshape(sampleShape: [Int])
    /// Permute axes; `permutation[0]` is always 0 (the batch axis stays first).
    case transpose(permutation: [Int])
    /// Strided slice of each sample; arrays are indexed by axis of the full shape (axis 0 untouched).
    case slice(SliceParameters)
    /// Pads each sample (constant, reflect or edge); arrays are indexed by axis of the full shape (axis 0 unpadded).
    case pad(PadParameters)
    /// A reduction over non-batch axes, which stay as size 1 (ReduceMean, ReduceSum, ReduceMax, ReduceMin).
    case reduce(ReduceParameters)
    /// `A · B` over the last two axes, broadcasting the axes before them (NumPy `matmul`): MatMul between two
    /// activations (attention), or of an activation and a constant of rank above 2.
    case matrixMultiply
    /// Copies its input: Identity, Dropout in inference. The builder removes these.
    case identity
    /// Converts its input to the storage type of its output tensor (quantize, dequantize, requantize).
    /// Only the builder inserts these, where neighbouring layers disagree on a tensor's type.
    case reformat

    /// Short name used in summaries and reports.
    public var typeName: String {
        switch self {
        case .constant: "Constant"
        case .convolution: "Convolution"
        case .fullyConnected: "FullyConnected"
        case let .pooling(p): p.isGlobal ? "GlobalPooling" : "Pooling"
        case .activation: "Activation"
        case .scale: "Scale"
        case .elementwise: "ElementWise"
        case .concatenation: "Concatenation"
        case .softmax: "Softmax"
        case .reshape: "Reshape"
        case .transpose: "Transpose"
        case .slice: "Slice"
        case .pad: "Pad"
        case .reduce: "Reduce"
        case .matrixMultiply: "MatrixMultiply"
        case .identity: "Identity"
        case .reformat: "Reformat"
        }
    }

    /// True for layers that only move or reinterpret elements: they compute nothing, so a quantized input
    /// passes through with its scale.
    public var isDataMovement: Bool {
        switch self {
        case .reshape, .transpose, .slice, .identity: true
        // Pad writes values of its own (the constant) that the input's quantization need not hold: not data movement.
        case .constant, .convolution, .fullyConnected, .pooling, .activation, .scale, .elementwise, .concatenation, .softmax, .pad,
             .reduce, .matrixMultiply, .reformat: false
        }
    }
}

public struct ConvolutionParameters: Sendable, Equatable {
    /// Kernel `[outputChannels, inputChannels / groups, kernelHeight, kernelWidth]`.
    public var weights: Weights
    /// One value per output channel, or nil.
    public var bias: Weights?
    public var strides: [Int]
    public var dilations: [Int]
    /// Padding before the first row and column: `[top, left]`.
    public var padsBegin: [Int]
    /// Padding after the last row and column: `[bottom, right]`.
    public var padsEnd: [Int]
    public var groups: Int

    public init(
        weights: Weights, bias: Weights?, strides: [Int] = [1, 1], dilations: [Int] = [1, 1],
        padsBegin: [Int] = [0, 0], padsEnd: [Int] = [0, 0], groups: Int = 1
    ) {
        self.weights = weights
        self.bias = bias
        self.strides = strides
        self.dilations = dilations
        self.padsBegin = padsBegin
        self.padsEnd = padsEnd
        self.groups = groups
    }

    public var outputChannels: Int { weights.shape[0] }
    public var inputChannelsPerGroup: Int { weights.shape[1] }
    public var kernel: [Int] { [weights.shape[2], weights.shape[3]] }
    /// One filter per channel (groups = input channels = output channels).
    public var isDepthwise: Bool { groups == outputChannels && inputChannelsPerGroup == 1 }
}

public struct FullyConnectedParameters: Sendable, Equatable {
    /// `[outputs, inputs]`.
    public var weights: Weights
    public var bias: Weights?

    public init(weights: Weights, bias: Weights?) {
        self.weights = weights
        self.bias = bias
    }

    public var outputs: Int { weights.shape[0] }
    public var inputs: Int { weights.shape[1] }
}

public enum PoolingKind: String, Sendable, Equatable { case max, average }

public struct PoolingParameters: Sendable, Equatable {
    public var kind: PoolingKind
    /// True for GlobalAveragePool / GlobalMaxPool: the window is the whole spatial extent.
    public var isGlobal: Bool
    public var kernel: [Int]
    public var strides: [Int]
    public var dilations: [Int]
    public var padsBegin: [Int]
    public var padsEnd: [Int]
    /// Output size rounds up instead of down (a window may start in the padding-free tail).
    public var ceilMode: Bool
    /// Average pooling divides by the whole window including padding, instead of by the valid elements.
    public var countIncludePad: Bool

    public init(
        kind: PoolingKind, isGlobal: Bool = false, kernel: [Int] = [1, 1], strides: [Int] = [1, 1],
        dilations: [Int] = [1, 1], padsBegin: [Int] = [0, 0], padsEnd: [Int] = [0, 0], ceilMode: Bool = false,
        countIncludePad: Bool = false
    ) {
        self.kind = kind
        self.isGlobal = isGlobal
        self.kernel = kernel
        self.strides = strides
        self.dilations = dilations
        self.padsBegin = padsBegin
        self.padsEnd = padsEnd
        self.ceilMode = ceilMode
        self.countIncludePad = countIncludePad
    }

    public static func global(_ kind: PoolingKind) -> PoolingParameters {
        PoolingParameters(kind: kind, isGlobal: true)
    }
}

/// Pointwise activation functions, with ONNX's definitions.
public enum Activation: Sendable, Equatable {
    case relu
    /// `min(max(x, min), max)`; ReLU6 is `clip(0, 6)`.
    case clip(min: Float, max: Float)
    case sigmoid
    case tanh
    case leakyRelu(alpha: Float)
    /// `max(0, min(1, alpha · x + beta))`.
    case hardSigmoid(alpha: Float, beta: Float)
    /// `x · max(0, min(1, x / 6 + 1/2))`.
    case hardSwish
    /// The error function (ONNX Erf; exporters write GELU as `x · (1 + erf(x / √2)) / 2` with it).
    case erf
    /// GELU, `x · (1 + erf(x / √2)) / 2`, or with `tanhApproximation` `x · (1 + tanh(√(2/π) · (x + 0.044715 x³))) / 2`.
    case gelu(tanhApproximation: Bool)
    /// `√x` (NaN below 0).
    case sqrt
    /// `eˣ`.
    case exp

    /// True for Relu and Clip: piecewise-linear clamps a producing layer can apply as output bounds.
    public var isClamp: Bool {
        switch self {
        case .relu, .clip: true
        case .sigmoid, .tanh, .leakyRelu, .hardSigmoid, .hardSwish, .erf, .gelu, .sqrt, .exp: false
        }
    }

    /// True when every output is ≥ 0 whatever the input: such tensors can be stored as unsigned 8-bit.
    public var isNonNegative: Bool {
        switch self {
        case .relu, .sigmoid, .hardSigmoid, .sqrt, .exp: true
        case let .clip(min, _): min >= 0
        case .tanh, .leakyRelu, .hardSwish, .erf, .gelu: false
        }
    }

    public var name: String {
        switch self {
        case .relu: "Relu"
        case let .clip(lo, hi): "Clip(\(lo), \(hi))"
        case .sigmoid: "Sigmoid"
        case .tanh: "Tanh"
        case let .leakyRelu(alpha): "LeakyRelu(\(alpha))"
        case let .hardSigmoid(alpha, beta): "HardSigmoid(\(alpha), \(beta))"
        case .hardSwish: "HardSwish"
        case .erf: "Erf"
        case let .gelu(tanhApproximation): tanhApproximation ? "Gelu(tanh)" : "Gelu"
        case .sqrt: "Sqrt"
        case .exp: "Exp"
        }
    }
}

public struct ScaleParameters: Sendable, Equatable {
    public var scale: [Float]
    public var shift: [Float]

    public init(scale: [Float], shift: [Float]) {
        precondition(scale.count == shift.count)
        self.scale = scale
        self.shift = shift
    }
}


public struct SliceParameters: Sendable, Equatable {
    /// Per axis of the full shape (entry 0, the batch axis, is always the whole axis).
    public var starts: [Int]
    public var ends: [Int]
    public var steps: [Int]

    public init(starts: [Int], ends: [Int], steps: [Int]) {
        self.starts = starts
        self.ends = ends
        self.steps = steps
    }
}

/// ONNX Pad's modes: what the new border holds.
public enum PadMode: String, Sendable, Equatable {
    /// A constant value.
    case constant
    /// The input mirrored about its first and last element (which are not repeated).
    case reflect
    /// The input's first and last element repeated.
    case edge
}

public struct PadParameters: Sendable, Equatable {
    public var mode: PadMode
    /// Elements added before and after each axis of the full shape (entry 0, the batch axis, is always 0).
    public var padsBegin: [Int]
    public var padsEnd: [Int]
    /// The border value in `constant` mode.
    public var value: Float

    public init(mode: PadMode, padsBegin: [Int], padsEnd: [Int], value: Float = 0) {
        self.mode = mode
        self.padsBegin = padsBegin
        self.padsEnd = padsEnd
        self.value = value
    }
}

/// What a `reduce` layer computes over its axes.
public enum ReduceOperation: String, Sendable, Equatable {
    case mean, sum, max, min
}

public struct ReduceParameters: Sendable, Equatable {
    public var operation: ReduceOperation
    /// The reduced axes of the full shape, ascending, never 0 (the batch axis).
    public var axes: [Int]

    public init(operation: ReduceOperation, axes: [Int]) {
        self.operation = operation
        self.axes = axes
    }
}

// MARK: Weights left out of engine files

extension LayerKind {
    /// Whether an engine file left this layer's float weights out (`Weights.isLeftOut`): the backend state it was
    /// loaded with holds what the layer derived from them, and nothing may read their values.
    public var hasLeftOutWeights: Bool {
        switch self {
        case let .constant(w): w.isLeftOut
        case let .convolution(p): p.weights.isLeftOut || (p.bias?.isLeftOut ?? false)
        case let .fullyConnected(p): p.weights.isLeftOut || (p.bias?.isLeftOut ?? false)
        case .pooling, .activation, .scale, .elementwise, .concatenation, .softmax, .reshape, .transpose, .slice, .pad, .reduce,
             .matrixMultiply, .identity, .reformat: false
        }
    }

    /// The kind with the float weights an engine file may leave out: convolution and fully connected weights and
    /// bias, and constants of more than one element. A one-element constant stays, because the layers that read it
    /// take its value into their form (`EnginePlan.scalarOperand`); every other kind has no weights.
    public func leavingOutWeights() -> LayerKind {
        func out(_ w: Weights) -> Weights { .leftOut(shape: w.shape) }
        switch self {
        case let .constant(w) where w.count > 1: return .constant(out(w))
        case var .convolution(p):
            p.weights = out(p.weights)
            p.bias = p.bias.map(out)
            return .convolution(p)
        case var .fullyConnected(p):
            p.weights = out(p.weights)
            p.bias = p.bias.map(out)
            return .fullyConnected(p)
        case .constant, .pooling, .activation, .scale, .elementwise, .concatenation, .softmax, .reshape, .transpose, .slice, .pad,
             .reduce, .matrixMultiply, .identity, .reformat:
            return self
        }
    }
}

extension OctetError {
    /// The refusal of code that needs a layer's float weights where an engine file left them out.
    public static func weightsLeftOut(layer name: String) -> OctetError {
        .unavailable(reason: "the float weights of layer '\(name)' were left out of the engine file (the backend's saved state holds what they gave), so only that backend can run the layer; build the engine from the ONNX model to run it elsewhere")
    }
}
