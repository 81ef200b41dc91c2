/// Sizes Octet refuses before allocating anything, so a malformed or hostile model ends in one sentence
/// instead of a trap on overflow or an abort in the allocator. docs/RELIABILITY.md lists them.
public enum Limits {
    /// Elements in one tensor (any batch): 2^31, the bound the CUDA kernels' 32-bit indices already impose.
    public static let maxTensorElements = 1 << 31
    /// Bytes of one execution context's activation arena (all live activations of one batch): 64 GiB.
    public static let maxArenaBytes = 1 << 36
    /// Kernel size, stride, dilation, padding and group count of a convolution or pooling window: 2^20,
    /// far above any real model, and low enough that output-size arithmetic cannot overflow.
    public static let maxSpatialParameter = 1 << 20
    /// Elements of one value computed while importing (ConstantOfShape, folded Gather and Concat): 2^26.
    public static let maxFoldedElements = 1 << 26
    /// Float elements all ConstantOfShape nodes of one model may fill: 2^31 (8 GiB), so any legal tensor fits
    /// (VGG's placeholder 4096×25088 weights) while a small model still cannot make the importer fill without end.
    public static let maxFilledElements = 1 << 31

    /// Elements of `shape` when every dimension is positive and the product is at most `maxTensorElements`;
    /// nil otherwise (never traps on overflow).
    public static func elementCount(_ shape: [Int]) -> Int? {
        var count = 1
        for dim in shape {
            guard dim > 0 else { return nil }
            let (product, overflow) = count.multipliedReportingOverflow(by: dim)
            guard !overflow, product <= maxTensorElements else { return nil }
            count = product
        }
        return count
    }

    /// Checks a tensor shape before anything is allocated for it.
    /// - Parameters:
    ///   - what: the tensor as the error should name it ("input 'x'", "tensor 'y'").
    ///   - allowZero: constants may be empty (an empty `axes` vector); activations may not.
    /// - Returns: the element count.
    /// - Throws: `OctetError.invalidNetwork` naming `what` and the offending dimension or size.
    @discardableResult
    public static func checkShape(_ shape: [Int], of what: String, allowZero: Bool = false) throws -> Int {
        var count = 1
        for (axis, dim) in shape.enumerated() {
            guard dim > 0 || (allowZero && dim == 0) else {
                throw OctetError.invalidNetwork(reason: "\(what) has dimension \(dim) on axis \(axis) of shape \(shape); dimensions must be positive")
            }
            let (product, overflow) = count.multipliedReportingOverflow(by: dim)
            guard !overflow, product <= maxTensorElements else {
                throw OctetError.invalidNetwork(reason: "\(what) with shape \(shape) has more than 2^31 elements, Octet's limit for one tensor")
            }
            count = product
        }
        return count
    }

    /// Product of `values` (shape arithmetic on model-supplied numbers), or nil on overflow.
    public static func product<C: Collection<Int>>(_ values: C) -> Int? {
        var result = 1
        for v in values {
            let (p, overflow) = result.multipliedReportingOverflow(by: v)
            if overflow { return nil }
            result = p
        }
        return result
    }
}
