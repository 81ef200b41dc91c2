// Elementwise layers over NHWC (or row-major) data, one thread per output element.

// Operation codes (ElementwiseOperation.code): 0 add, 1 sub, 2 mul, 3 div, 4 max, 5 min, 6 pow. An unknown code gives
// NaN, never another operation; a test checks that every Swift code has its case here.
__device__ __forceinline__ float binary(float x, float y, int op) {
    switch (op) {
    case 0: return x + y;
    case 1: return x - y;
    case 2: return x * y;
    case 3: return x / y;
    case 4: return fmaxf(x, y);
    case 5: return fminf(x, y);
    case 6: return octet_pow(x, y);
    default: return __int_as_float(0x7fc00000);
    }
}

// OctetQuantization's INT8 add / sub / mul on two stored values x, z (as floats), before rounding:
//   add: y = a*ma + b*mb, sub: y = a*ma - b*mb, mul: y = (a*b)*mm. False for a code without INT8 arithmetic
//   (QuantizedBinaryArithmetic never passes one): the caller writes nothing.
__device__ __forceinline__ bool quantized_binary(float x, float z, int op, float ma, float mb, float mm, float* r) {
    switch (op) {
    case 0: *r = __fadd_rn(__fmul_rn(x, ma), __fmul_rn(z, mb)); return true;
    case 1: *r = __fsub_rn(__fmul_rn(x, ma), __fmul_rn(z, mb)); return true;
    case 2: *r = __fmul_rn(__fmul_rn(x, z), mm); return true;
    default: return false;
    }
}

// INT8 add / sub / mul of two same-shape tensors: q = round-half-even(min(max(y, lo), hi)).
extern "C" __global__ void octet_binary_q(
    long long count, const unsigned char* __restrict__ a, int aSigned, const unsigned char* __restrict__ b, int bSigned,
    int op, float ma, float mb, float mm, float lo, float hi, unsigned char* __restrict__ y)
{
    OCTET_ELEMENT_INDEX(count);
    const float x = __int2float_rn(byte_value(a, i, aSigned)), z = __int2float_rn(byte_value(b, i, bSigned));
    float r;
    if (quantized_binary(x, z, op, ma, mb, mm, &r)) y[i] = saturate_round(r, lo, hi);
}

extern "C" __global__ void octet_binary_f32(
    long long count, const float* __restrict__ a, const float* __restrict__ b, int op, int activation, float p0, float p1,
    float* __restrict__ y)
{
    OCTET_ELEMENT_INDEX(count);
    y[i] = activate(binary(a[i], b[i], op), activation, p0, p1);
}

// x op s (or s op x when scalarFirst) with a one-element constant s: `x + 1e-5`, `x ^ 2`, `1 / x`.
extern "C" __global__ void octet_binary_scalar_f32(
    long long count, const float* __restrict__ x, float s, int scalarFirst, int op, int activation, float p0, float p1,
    float* __restrict__ y)
{
    OCTET_ELEMENT_INDEX(count);
    const float v = x[i];
    y[i] = activate(scalarFirst ? binary(s, v, op) : binary(v, s, op), activation, p0, p1);
}

// x [N][pixels][C] op v [N][C] (or v op x when vectorFirst): squeeze-and-excitation gates.
extern "C" __global__ void octet_channel_broadcast_f32(
    long long count, int pixels, int C, const float* __restrict__ x, const float* __restrict__ v, int vectorFirst,
    int op, int activation, float p0, float p1, float* __restrict__ y)
{
    OCTET_ELEMENT_INDEX(count);
    const int c = (int)(i % C);
    const int n = i / (pixels * C);
    const float s = v[n * C + c];
    y[i] = activate(vectorFirst ? binary(s, x[i], op) : binary(x[i], s, op), activation, p0, p1);
}

extern "C" __global__ void octet_activation_f32(
    long long count, const float* __restrict__ x, int activation, float p0, float p1, float* __restrict__ y)
{
    OCTET_ELEMENT_INDEX(count);
    y[i] = activate(x[i], activation, p0, p1);
}

// Per-channel affine y = x * scale[c] + shift[c] over channels-last data.
extern "C" __global__ void octet_scale_f32(
    long long count, int C, const float* __restrict__ x, const float* __restrict__ scale, const float* __restrict__ shift,
    float* __restrict__ y)
{
    OCTET_ELEMENT_INDEX(count);
    const int c = (int)(i % C);
    y[i] = __fadd_rn(__fmul_rn(x[i], scale[c]), shift[c]);
}

// One input of a channel concatenation: input [pixels][Cin] into output [pixels][Cout] at channel `offset`.
// INT8: requantized to the output (an exact copy when multiplier is 1); float: copied.
extern "C" __global__ void octet_concat_channels_q(
    long long pixels, int Cin, int Cout, int offset, const unsigned char* __restrict__ x, int inputSigned, float multiplier,
    float lo, float hi, unsigned char* __restrict__ y)
{
    OCTET_ELEMENT_INDEX(pixels * Cin);
    const int pixel = i / Cin;
    const int c = (int)(i % Cin);
    const float v = fminf(fmaxf(__fmul_rn(__int2float_rn(byte_value(x, i, inputSigned)), multiplier), lo), hi);
    y[pixel * Cout + offset + c] = (unsigned char)__float2int_rn(v);
}

extern "C" __global__ void octet_concat_channels_f32(
    long long pixels, int Cin, int Cout, int offset, const float* __restrict__ x, float* __restrict__ y)
{
    OCTET_ELEMENT_INDEX(pixels * Cin);
    y[(i / Cin) * Cout + offset + (int)(i % Cin)] = x[i];
}

// Softmax over the last axis of a [rows][columns] float tensor, one warp per row, the floats of FloatMath.softmax bit
// for bit: the lanes compute the exponentials of 32 columns at a time, and the warp adds them in column order, one
// shuffle each (a tree of partial sums would be faster and round differently from the host's sum in order).
extern "C" __global__ void octet_softmax_rows_f32(int rows, int columns, const float* __restrict__ x, float* __restrict__ y)
{
    const int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (row >= rows) return;
    const float* in = x + (long long)row * columns;
    float* out = y + (long long)row * columns;
    float largest = -OCTET_INFINITY;
    for (int i = lane; i < columns; i += 32) largest = fmaxf(largest, in[i]);
    for (int s = 16; s > 0; s /= 2) largest = fmaxf(largest, __shfl_xor_sync(0xffffffffu, largest, s));
    float sum = 0.0f;
    for (int first = 0; first < columns; first += 32) {
        const int i = first + lane, count = min(32, columns - first);
        const float e = i < columns ? octet_exp(__fsub_rn(in[i], largest)) : 0.0f;
        if (i < columns) out[i] = e;
        for (int l = 0; l < count; ++l) sum = __fadd_rn(sum, __shfl_sync(0xffffffffu, e, l));
    }
    for (int i = lane; i < columns; i += 32) out[i] = __fdiv_rn(out[i], sum);
}
