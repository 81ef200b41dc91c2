import Foundation
import OctetCore

/// How a calibrator turns the activations it has seen into a dynamic range.
public enum CalibrationMethod: Sendable, Equatable, CustomStringConvertible {
    /// R = max |x|.
    case max
    /// R = the given percentile of |x| (e.g. 99.99).
    case percentile(Double)
    /// TensorRT's EntropyCalibration2: the threshold whose 128-level quantization of the |x| histogram has
    /// the least KL divergence from the histogram clipped at that threshold.
    case entropy
    /// The threshold minimizing the mean squared error of symmetric 8-bit quantization over the histogram.
    case mse

    public var description: String {
        switch self {
        case .max: "max"
        case let .percentile(p): "percentile \(p)"
        case .entropy: "entropy"
        case .mse: "mse"
        }
    }
}

/// A histogram of |x| over `[0, width · bins.count)`, growing by doubling its range (merging bin pairs,
/// which is exact) when larger values arrive, so one pass over the data suffices.
public struct AbsoluteHistogram: Sendable, Equatable {
    public static let defaultBins = 2048
    public private(set) var counts: [Double]
    /// Width of one bin.
    public private(set) var binWidth: Float
    public private(set) var maximum: Float = 0
    public private(set) var total: Double = 0
    /// Exact zeros (the Relu spike) are counted apart: they quantize exactly, so they carry no information
    /// about where to clip, and inside bin 0 they would dominate the entropy search.
    public private(set) var zeros: Double = 0

    public init(bins: Int = AbsoluteHistogram.defaultBins) {
        counts = Array(repeating: 0, count: bins)
        binWidth = 0
    }

    public mutating func add(_ values: [Float]) {
        var m: Float = 0
        for v in values where v.isFinite { m = Swift.max(m, abs(v)) }
        guard m > 0 || binWidth == 0 else { return add(values, largest: 0) }
        add(values, largest: m)
    }

    private mutating func add(_ values: [Float], largest m: Float) {
        if binWidth == 0 {
            binWidth = m > 0 ? m / Float(counts.count) * 1.0001 : 1e-12
        }
        while m >= binWidth * Float(counts.count) { doubleRange() }
        maximum = Swift.max(maximum, m)
        let inverse = 1 / binWidth
        let last = counts.count - 1
        for v in values where v.isFinite {
            if v == 0 {
                zeros += 1
            } else {
                counts[Swift.min(last, Int(abs(v) * inverse))] += 1
            }
        }
        total += Double(values.count)
    }

    private mutating func doubleRange() {
        let half = counts.count / 2
        for i in 0..<half { counts[i] = counts[2 * i] + counts[2 * i + 1] }
        for i in half..<counts.count { counts[i] = 0 }
        binWidth *= 2
    }

    /// The range for `method`.
    public func range(_ method: CalibrationMethod) -> Float {
        // Written to range files, which refuse 0: an always-zero tensor gets the scale a 0 range would get.
        guard total > 0, maximum > 0 else { return DynamicRanges.alwaysZeroRange }
        switch method {
        case .max: return maximum
        case let .percentile(p): return Swift.min(maximum, percentile(p))
        case .entropy: return Swift.min(maximum, entropyThreshold())
        case .mse: return Swift.min(maximum, mseThreshold())
        }
    }

    /// Upper edge of the bin where the cumulative count first reaches p % of the total.
    func percentile(_ p: Double) -> Float {
        let target = total * p / 100
        var running = zeros
        for (i, c) in counts.enumerated() {
            running += c
            if running >= target { return Float(i + 1) * binWidth }
        }
        return maximum
    }

    /// TensorRT EntropyCalibration2 (after the algorithm in NVIDIA's GTC 2017 talk "8-bit Inference with
    /// TensorRT"), on the non-zero values: for each candidate i ≥ 128 bins, P = counts[0..<i] with the outliers counts[i...] added to
    /// its last bin; Q = P merged into 128 levels and spread back uniformly over each level's non-empty
    /// bins; choose the i minimizing KL(P‖Q); the threshold is the upper edge of bin i − 1.
    func entropyThreshold() -> Float {
        let levels = 128
        let used = (counts.lastIndex { $0 > 0 } ?? 0) + 1
        guard used > levels else { return Float(used) * binWidth }
        var best = (divergence: Double.infinity, bins: used)
        var stride = 1
        if used > 1024 { stride = 2 }
        for i in Swift.stride(from: levels, through: used, by: stride) {
            var p = Array(counts[0..<i])
            p[i - 1] += counts[i..<used].reduce(0, +)
            // Quantize into `levels` levels and expand back.
            var q = [Double](repeating: 0, count: i)
            for level in 0..<levels {
                let start = level * i / levels, end = (level + 1) * i / levels
                var sum = 0.0, nonEmpty = 0
                for j in start..<end where counts[j] > 0 {
                    sum += counts[j]
                    nonEmpty += 1
                }
                guard nonEmpty > 0 else { continue }
                for j in start..<end where counts[j] > 0 { q[j] = sum / Double(nonEmpty) }
            }
            let pTotal = p.reduce(0, +), qTotal = q.reduce(0, +)
            guard pTotal > 0, qTotal > 0 else { continue }
            var divergence = 0.0
            for j in 0..<i where p[j] > 0 {
                let pj = p[j] / pTotal
                let qj = Swift.max(q[j] / qTotal, 1e-12)
                divergence += pj * log(pj / qj)
            }
            if divergence < best.divergence { best = (divergence, i) }
        }
        return Float(best.bins) * binWidth
    }

    /// The threshold T minimizing Σ count · (x − Q_T(x))² with Q_T symmetric 8-bit quantization at scale
    /// T/127 (values beyond T clip to T), x the bin centres; candidates every 8 bins.
    func mseThreshold() -> Float {
        let used = (counts.lastIndex { $0 > 0 } ?? 0) + 1
        var best = (error: Double.infinity, threshold: Float(used) * binWidth)
        for i in Swift.stride(from: Swift.max(8, used / 64), through: used, by: Swift.max(1, used / 256)) {
            let t = Double(i) * Double(binWidth)
            let scale = t / 127
            var error = 0.0
            for j in 0..<used where counts[j] > 0 {
                let x = (Double(j) + 0.5) * Double(binWidth)
                let q = Swift.min((x / scale).rounded(.toNearestOrEven), 127) * scale
                error += counts[j] * (x - q) * (x - q)
            }
            if error < best.error { best = (error, Float(t)) }
        }
        return best.threshold
    }
}

/// Collects statistics of every tensor over calibration batches and produces ranges.
public struct Calibrator: Sendable {
    public private(set) var histograms: [String: AbsoluteHistogram] = [:]
    private var order: [String] = []

    public init() {}

    public mutating func observe(_ name: String, _ values: [Float]) {
        if histograms[name] == nil {
            histograms[name] = AbsoluteHistogram()
            order.append(name)
        }
        histograms[name]?.add(values)
    }

    /// Ranges for every observed tensor, in the order first seen.
    public func ranges(_ method: CalibrationMethod) -> DynamicRanges {
        DynamicRanges(entries: order.compactMap { name in histograms[name].map { (name, $0.range(method)) } })
    }
}
