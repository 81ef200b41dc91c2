import OctetCore

/// The builder's flags, after TensorRT's `BuilderFlag`s.
public struct BuilderConfig: Sendable, Equatable {
    /// Allow INT8 kernels (layers with dynamic ranges on their tensors run in INT8).
    public var int8 = false
    /// Allow FP16 (TensorRT's kFP16: a permission). Float layers the backend can compute with FP16 operands on
    /// tensor cores run so, with FP32 accumulation and FP32 tensors in memory; the rest stay FP32, each with its
    /// reason in the build report, and a build where no layer could use FP16 warns.
    public var fp16 = false
    /// A layer whose precision was set but cannot be honoured is a build error.
    public var obeyPrecisionConstraints = false
    /// A layer whose precision was set but cannot be honoured is a warning.
    public var preferPrecisionConstraints = false
    /// TensorRT's strict types: treated as `obeyPrecisionConstraints`.
    public var strictTypes = false
    /// Skip the fusion passes (BatchNorm folding, activation and residual fusion).
    public var noFusion = false
    /// Keep every activation signed with scale R/127, exactly as TensorRT does, instead of storing
    /// provably non-negative tensors as uint8 with scale R/255.
    public var trtCompatibleRanges = false
    /// The network came with its quantization (QuantizeLinear/DequantizeLinear): honour it as TensorRT does,
    /// including on the network outputs — an output that carries a range is quantized, then dequantized.
    public var explicitQuantization = false

    public init(int8: Bool = false, fp16: Bool = false) {
        self.int8 = int8
        self.fp16 = fp16
    }

    /// `best` (INT8 and FP16 permitted, trtexec's --best), `int8`, `fp16` or `fp32`.
    public var precisionName: String { int8 && fp16 ? "best" : int8 ? "int8" : fp16 ? "fp16" : "fp32" }

    /// Every setting as `name=value`, for the build report and engine files.
    public var summary: [String] {
        ["precision=\(precisionName)", "int8=\(int8)", "fp16=\(fp16)", "obeyPrecisionConstraints=\(obeyPrecisionConstraints)",
         "preferPrecisionConstraints=\(preferPrecisionConstraints)", "strictTypes=\(strictTypes)", "noFusion=\(noFusion)",
         "trtCompatibleRanges=\(trtCompatibleRanges)", "explicitQuantization=\(explicitQuantization)"]
    }

    var obey: Bool { obeyPrecisionConstraints || strictTypes }
}
