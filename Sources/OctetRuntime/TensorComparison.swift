import Foundation
import OctetCore

/// Running statistics of one tensor computed two ways (INT8 against its FP32 reference), for accuracy
/// debugging: signal-to-noise ratio, largest absolute error, cosine similarity.
public struct TensorComparison: Sendable, Equatable {
    public private(set) var signal = 0.0
    public private(set) var noise = 0.0
    public private(set) var dot = 0.0
    public private(set) var candidateNorm = 0.0
    public private(set) var maxError: Float = 0

    public init() {}

    /// Adds one pair of tensors of equal size.
    public mutating func add(candidate: [Float], reference: [Float]) {
        precondition(candidate.count == reference.count)
        for (g, w) in zip(candidate, reference) {
            let e = Double(g - w)
            signal += Double(w) * Double(w)
            noise += e * e
            dot += Double(g) * Double(w)
            candidateNorm += Double(g) * Double(g)
            maxError = max(maxError, abs(g - w))
        }
    }

    /// 10 · log10(Σ reference² / Σ error²), infinite when identical.
    public var snr: Double { noise > 0 ? 10 * log10(max(signal, 1e-30) / noise) : .infinity }

    /// ‖a − b‖ / ‖b‖ (the absolute error when b is zero): how backends' float outputs are compared.
    public static func relativeL2(_ a: [Float], _ b: [Float]) -> Double {
        var error = 0.0, norm = 0.0
        for (x, y) in zip(a, b) {
            error += Double(x - y) * Double(x - y)
            norm += Double(y) * Double(y)
        }
        return norm > 0 ? (error / norm).squareRoot() : error.squareRoot()
    }

    public var cosine: Double {
        signal > 0 && candidateNorm > 0 ? dot / (signal.squareRoot() * candidateNorm.squareRoot()) : 1
    }
}
