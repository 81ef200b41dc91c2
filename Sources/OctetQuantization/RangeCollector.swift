import OctetCore

/// Collects the largest |value| each tensor takes over a set of inputs: the "max" calibration method,
/// and the source of the per-tensor ranges TensorRT's sample expects users to bring.
public struct RangeCollector: Sendable {
    /// Largest magnitude seen per tensor name, in first-seen order.
    public private(set) var maxima: [String: Float] = [:]
    private var order: [String] = []

    public init() {}

    public mutating func observe(_ name: String, _ values: [Float]) {
        var m: Float = 0
        for v in values { m = max(m, abs(v)) }
        if let existing = maxima[name] {
            maxima[name] = max(existing, m)
        } else {
            maxima[name] = m
            order.append(name)
        }
    }

    public var ranges: DynamicRanges {
        DynamicRanges(entries: order.compactMap { name in maxima[name].map { (name, $0) } })
    }
}
