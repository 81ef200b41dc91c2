// Pad and Reduce of float tensors of any rank up to OCTET_SHAPE_MAX_RANK (batch axis included) in their physical
// layouts (row-major, or NHWC for rank 4: TensorLayout.broadcastStrides), one thread per output element, walking
// logical coordinates (last axis fastest) over element strides. Their twins are the CPU's FloatPadLayer and
// FloatReduceLayer and ReferenceKernels.pad / .reduce: Pad copies values; Reduce accumulates each output's inputs in
// logical order (__fadd_rn), max/min as Swift's max/min (NaN-free inputs: the same value), mean divides once
// (__fdiv_rn), so the floats are the CPU's bit for bit.
#define OCTET_SHAPE_MAX_RANK 8

// Pad mode codes shared with PadKernel: 0 constant, 1 reflect (-1 reads 1), 2 edge.
struct PadGeometry {
    int rank;
    int inSizes[OCTET_SHAPE_MAX_RANK];
    int inStrides[OCTET_SHAPE_MAX_RANK];
    int outSizes[OCTET_SHAPE_MAX_RANK];
    int outStrides[OCTET_SHAPE_MAX_RANK];
    int begin[OCTET_SHAPE_MAX_RANK];            // elements added before each axis
    int mode;
    float value;                                // the border value in constant mode
};

extern "C" __global__ void octet_pad_f32(long long count, PadGeometry g, const float* __restrict__ x, float* __restrict__ y)
{
    OCTET_ELEMENT_INDEX(count);
    int rest = i;
    long long source = 0, target = 0;
    bool border = false;
    for (int axis = g.rank - 1; axis >= 0; --axis) {
        const int c = rest % g.outSizes[axis];
        rest /= g.outSizes[axis];
        target += (long long)c * g.outStrides[axis];
        const int dim = g.inSizes[axis];
        int s = c - g.begin[axis];
        if (s < 0 || s >= dim) {
            if (g.mode == 0) border = true;
            else if (g.mode == 1) s = s < 0 ? -s : 2 * (dim - 1) - s;
            else s = s < 0 ? 0 : dim - 1;
        }
        source += (long long)s * g.inStrides[axis];
    }
    y[target] = border ? g.value : x[source];
}

// Reduce operation codes shared with ReduceKernel: 0 mean, 1 sum, 2 max, 3 min.
struct ReduceGeometry {
    int rank;
    int outSizes[OCTET_SHAPE_MAX_RANK];
    int outStrides[OCTET_SHAPE_MAX_RANK];
    int inStrides[OCTET_SHAPE_MAX_RANK];        // the input's strides of every axis (its sizes are the output's, but reduced)
    int reducedAxes;                            // how many axes are reduced
    int reducedSizes[OCTET_SHAPE_MAX_RANK];     // their input sizes and strides, in axis order
    int reducedStrides[OCTET_SHAPE_MAX_RANK];
    int reducedCount;                           // the product of reducedSizes
    int operation;
};

extern "C" __global__ void octet_reduce_f32(long long count, ReduceGeometry g, const float* __restrict__ x, float* __restrict__ y)
{
    OCTET_ELEMENT_INDEX(count);
    int rest = i;
    long long base = 0, target = 0;
    for (int axis = g.rank - 1; axis >= 0; --axis) {
        const int c = rest % g.outSizes[axis];
        rest /= g.outSizes[axis];
        target += (long long)c * g.outStrides[axis];
        base += (long long)c * g.inStrides[axis];
    }
    float acc = g.operation == 2 ? -OCTET_INFINITY : g.operation == 3 ? OCTET_INFINITY : 0.0f;
    for (int r = 0; r < g.reducedCount; ++r) {
        int left = r;
        long long offset = 0;
        for (int axis = g.reducedAxes - 1; axis >= 0; --axis) {
            offset += (long long)(left % g.reducedSizes[axis]) * g.reducedStrides[axis];
            left /= g.reducedSizes[axis];
        }
        const float v = x[base + offset];
        if (g.operation == 2) acc = v >= acc ? v : acc;        // Swift max(acc, v)
        else if (g.operation == 3) acc = v < acc ? v : acc;    // Swift min(acc, v)
        else acc = __fadd_rn(acc, v);
    }
    y[target] = g.operation == 0 ? __fdiv_rn(acc, __int2float_rn(g.reducedCount)) : acc;
}
