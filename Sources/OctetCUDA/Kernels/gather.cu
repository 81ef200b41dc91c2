// Index-map layers (OctetRuntime's IndexMap, resolved by ResolvedIndexMap on the host): data movement (Transpose,
// Slice, reordering Reshape, concatenation along any axis), broadcasting binary operations and softmax along any
// axis, one thread per domain element (per row for softmax). The thread's index decomposes over the domain sizes
// in iteration order (the target's physical order, so writes are sequential); each tensor's physical offset is
// `base + sum c_d * steps[d]` where its map is affine, else that logical index decomposed over the tensor's logical
// shape and weighted by its physical strides. Twins: the CPU's GatherLayer, BroadcastBinaryLayer and
// StridedSoftmaxLayer, which walk the same resolved maps.
#define OCTET_INDEXMAP_MAX_RANK 6

// One tensor of a resolved map (ResolvedIndexMap.Tensor), field by field.
struct IndexMapTensor {
    int affine;
    int base;
    int steps[OCTET_INDEXMAP_MAX_RANK];          // per domain axis, in iteration order
    int rank;                                    // the tensor's logical rank (for the general case)
    int shape[OCTET_INDEXMAP_MAX_RANK];
    int physical[OCTET_INDEXMAP_MAX_RANK];       // the element stride of each logical axis
};

// The domain and up to three tensors: the target, then one or two sources.
struct IndexMapGeometry {
    int rank;
    int sizes[OCTET_INDEXMAP_MAX_RANK];
    IndexMapTensor tensors[3];
};

// The coordinates of domain element i (last axis fastest).
__device__ __forceinline__ void indexmap_coordinates(const IndexMapGeometry& g, int i, int* c) {
    for (int axis = g.rank - 1; axis >= 0; --axis) {
        c[axis] = i % g.sizes[axis];
        i /= g.sizes[axis];
    }
}

__device__ __forceinline__ int indexmap_offset(const IndexMapTensor& t, const int* c, int rank) {
    int index = t.base;
    for (int axis = 0; axis < rank; ++axis) index += c[axis] * t.steps[axis];
    if (t.affine) return index;
    int offset = 0;
    for (int axis = t.rank - 1; axis >= 0; --axis) {
        offset += (index % t.shape[axis]) * t.physical[axis];
        index /= t.shape[axis];
    }
    return offset;
}

// Data movement of 1-byte elements (int8, uint8) and 4-byte ones (float).
extern "C" __global__ void octet_gather_b8(long long count, IndexMapGeometry g, const unsigned char* __restrict__ x, unsigned char* __restrict__ y)
{
    OCTET_ELEMENT_INDEX(count);
    int c[OCTET_INDEXMAP_MAX_RANK];
    indexmap_coordinates(g, i, c);
    y[indexmap_offset(g.tensors[0], c, g.rank)] = x[indexmap_offset(g.tensors[1], c, g.rank)];
}

extern "C" __global__ void octet_gather_b32(long long count, IndexMapGeometry g, const float* __restrict__ x, float* __restrict__ y)
{
    OCTET_ELEMENT_INDEX(count);
    int c[OCTET_INDEXMAP_MAX_RANK];
    indexmap_coordinates(g, i, c);
    y[indexmap_offset(g.tensors[0], c, g.rank)] = x[indexmap_offset(g.tensors[1], c, g.rank)];
}

// An INT8 concatenation's input quantized unlike its output: octet_concat_channels_q's requantization.
extern "C" __global__ void octet_gather_requantize_q(
    long long count, IndexMapGeometry g, const unsigned char* __restrict__ x, int inputSigned, float multiplier, float lo, float hi,
    unsigned char* __restrict__ y)
{
    OCTET_ELEMENT_INDEX(count);
    int c[OCTET_INDEXMAP_MAX_RANK];
    indexmap_coordinates(g, i, c);
    const float v = __fmul_rn(__int2float_rn(byte_value(x, indexmap_offset(g.tensors[1], c, g.rank), inputSigned)), multiplier);
    y[indexmap_offset(g.tensors[0], c, g.rank)] = saturate_round(v, lo, hi);
}

// Float a op b with broadcasting, then the fused activation (eltwise.cu's `binary` and common.cuh's `activate`).
extern "C" __global__ void octet_broadcast_f32(
    long long count, IndexMapGeometry g, const float* __restrict__ a, const float* __restrict__ b, int op, int activation, float p0,
    float p1, float* __restrict__ y)
{
    OCTET_ELEMENT_INDEX(count);
    int c[OCTET_INDEXMAP_MAX_RANK];
    indexmap_coordinates(g, i, c);
    const float r = binary(a[indexmap_offset(g.tensors[1], c, g.rank)], b[indexmap_offset(g.tensors[2], c, g.rank)], op);
    y[indexmap_offset(g.tensors[0], c, g.rank)] = activate(r, activation, p0, p1);
}

// INT8 add / sub / mul with broadcasting: octet_binary_q's arithmetic (QuantizedBinaryArithmetic) on mapped operands.
extern "C" __global__ void octet_broadcast_q(
    long long count, IndexMapGeometry g, const unsigned char* __restrict__ a, int aSigned, const unsigned char* __restrict__ b,
    int bSigned, int op, float ma, float mb, float mm, float lo, float hi, unsigned char* __restrict__ y)
{
    OCTET_ELEMENT_INDEX(count);
    int c[OCTET_INDEXMAP_MAX_RANK];
    indexmap_coordinates(g, i, c);
    const float x = __int2float_rn(byte_value(a, indexmap_offset(g.tensors[1], c, g.rank), aSigned));
    const float z = __int2float_rn(byte_value(b, indexmap_offset(g.tensors[2], c, g.rank), bSigned));
    float r;
    if (quantized_binary(x, z, op, ma, mb, mm, &r)) y[indexmap_offset(g.tensors[0], c, g.rank)] = saturate_round(r, lo, hi);
}

// Softmax rows of OctetRuntime's SoftmaxGeometry, field by field: the axes that index rows, and the softmax axis.
struct SoftmaxStridedGeometry {
    int rank;                                   // of the row axes
    int rowSizes[OCTET_INDEXMAP_MAX_RANK];
    int rowStrides[OCTET_INDEXMAP_MAX_RANK];
    int length;
    int stride;
};

// One thread per row, max-subtracted, sums in axis order: FloatMath.softmax bit for bit.
extern "C" __global__ void octet_softmax_strided_f32(long long rows, SoftmaxStridedGeometry g, const float* __restrict__ x, float* __restrict__ y)
{
    OCTET_ELEMENT_INDEX(rows);
    int rest = i, base = 0;
    for (int axis = g.rank - 1; axis >= 0; --axis) {
        base += (rest % g.rowSizes[axis]) * g.rowStrides[axis];
        rest /= g.rowSizes[axis];
    }
    float largest = -OCTET_INFINITY;
    for (int k = 0; k < g.length; ++k) largest = fmaxf(largest, x[base + k * g.stride]);
    float sum = 0.0f;
    for (int k = 0; k < g.length; ++k) {
        const float e = octet_exp(__fsub_rn(x[base + k * g.stride], largest));
        y[base + k * g.stride] = e;
        sum = __fadd_rn(sum, e);
    }
    for (int k = 0; k < g.length; ++k) y[base + k * g.stride] = __fdiv_rn(y[base + k * g.stride], sum);
}
