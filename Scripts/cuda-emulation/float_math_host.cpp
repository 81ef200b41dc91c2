// Prints what common.cuh's octet_exp, octet_pow and activate's sigmoid give on the host for a fixed set of inputs, one
// line each: "exp X Y", "sigmoid X Y", "pow X E Y" with the floats' bit patterns in hex. FloatMathTests compares every
// line with Sources/OctetCore/FloatMath.swift bit for bit, so the two copies cannot drift apart unnoticed.
#include <stdio.h>
#include <stdint.h>

static unsigned bits(float f) { return (unsigned)__float_as_int(f); }

int main() {
    // Every 65536th bit pattern (each exponent, both signs, infinities and NaNs), then a dense sweep of exp's domain.
    for (uint64_t b = 0; b < 0x100000000ull; b += 0x10000ull) {
        const float x = __int_as_float((int)(uint32_t)b);
        printf("exp %08x %08x\n", bits(x), bits(octet_exp(x)));
        printf("sigmoid %08x %08x\n", bits(x), bits(activate(x, 3, 0.0f, 0.0f)));
    }
    for (int i = 0; i <= 40000; i++) {
        const float x = -105.0f + 194.0f * (float)i / 40000.0f;
        printf("exp %08x %08x\n", bits(x), bits(octet_exp(x)));
    }
    const float exponents[] = {2.0f, 1.0f, 0.5f, 3.0f, -1.0f, 0.0f};
    const float bases[] = {-3.5f, -0.0f, 0.0f, 1e-20f, 0.3f, 7.0f, 1e20f, __int_as_float(0x7f800000), __int_as_float((int)0xff800000u)};
    for (float e : exponents)
        for (float x : bases) printf("pow %08x %08x %08x\n", bits(x), bits(e), bits(octet_pow(x, e)));
    return 0;
}
