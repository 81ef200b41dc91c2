/*
 * Run-time ISA selection, once: CPUID for what the CPU implements, XGETBV for what the OS saves on a
 * context switch (using zmm registers when the OS does not save them corrupts state, so both are required).
 *
 *   AVX2:        CPUID.1:ECX.{FMA[12], OSXSAVE[27], AVX[28]}, CPUID.(7,0):EBX.AVX2[5], XCR0 & 0x06 == 0x06
 *                (SSE and AVX state).
 *   AVX512VNNI:  AVX2 above, plus CPUID.(7,0):EBX.{AVX512F[16], AVX512BW[30], AVX512VL[31]},
 *                CPUID.(7,0):ECX.AVX512_VNNI[11], XCR0 & 0xE6 == 0xE6 (SSE, AVX, opmask, ZMM_Hi256, Hi16_ZMM).
 *
 * OCTET_FORCE_GENERIC=1 in the environment makes octet_cpu_isa() (and so the dispatching entry points)
 * scalar; octet_cpu_hardware_isa() still reports the hardware.
 */
#include <stdatomic.h>

#include "octet_internal.h"

#if defined(__x86_64__)
#include <cpuid.h>

static uint64_t read_xcr0(void) {
    uint32_t eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((uint64_t)edx << 32) | eax;
}

static int32_t detect_isa(void) {
    unsigned eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return OCTET_ISA_SCALAR;
    const int fma = (ecx >> 12) & 1, osxsave = (ecx >> 27) & 1, avx = (ecx >> 28) & 1;
    if (!(fma && osxsave && avx)) return OCTET_ISA_SCALAR;
    const uint64_t xcr0 = read_xcr0();
    if ((xcr0 & 0x06) != 0x06) return OCTET_ISA_SCALAR;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return OCTET_ISA_SCALAR;
    if (!((ebx >> 5) & 1)) return OCTET_ISA_SCALAR;
    const int avx512f = (ebx >> 16) & 1, avx512bw = (ebx >> 30) & 1, avx512vl = (ebx >> 31) & 1;
    const int vnni = (ecx >> 11) & 1;
    if (avx512f && avx512bw && avx512vl && vnni && (xcr0 & 0xE6) == 0xE6) return OCTET_ISA_AVX512VNNI;
    return OCTET_ISA_AVX2;
}
#else
static int32_t detect_isa(void) { return OCTET_ISA_SCALAR; }
#endif

/* -1 = not yet detected. Detection is idempotent, so a race only repeats it. */
static _Atomic int32_t hardware_isa = -1;
static _Atomic int32_t selected_isa = -1;

int32_t octet_cpu_hardware_isa(void) {
    int32_t isa = atomic_load_explicit(&hardware_isa, memory_order_relaxed);
    if (isa < 0) {
        isa = detect_isa();
        atomic_store_explicit(&hardware_isa, isa, memory_order_relaxed);
    }
    return isa;
}

int32_t octet_cpu_isa(void) {
    int32_t isa = atomic_load_explicit(&selected_isa, memory_order_relaxed);
    if (isa < 0) {
        const char* force = getenv("OCTET_FORCE_GENERIC");
        isa = force != NULL && strcmp(force, "1") == 0 ? OCTET_ISA_SCALAR : octet_cpu_hardware_isa();
        atomic_store_explicit(&selected_isa, isa, memory_order_relaxed);
    }
    return isa;
}

const char* octet_cpu_isa_name(int32_t isa) {
    switch (isa) {
    case OCTET_ISA_SCALAR: return "scalar";
    case OCTET_ISA_AVX2: return "avx2";
    case OCTET_ISA_AVX512VNNI: return "avx512vnni";
    default: return "unknown";
    }
}

void octet_qgemm(size_t M, size_t N, size_t K, const uint8_t* A, size_t a_stride, const void* packed_B, void* C,
                 size_t c_stride, const void* residual, size_t r_stride, const octet_qgemm_params* p) {
    static const octet_qgemm_fn table[] = {octet_qgemm_scalar, octet_qgemm_avx2, octet_qgemm_avx512vnni};
    table[octet_cpu_isa()](M, N, K, A, a_stride, packed_B, C, c_stride, residual, r_stride, p);
}

void octet_sgemm(size_t M, size_t N, size_t K, const float* A, size_t lda, const float* packed_B, float* C,
                 size_t ldc, const float* residual, float min, float max) {
    static const octet_sgemm_fn table[] = {octet_sgemm_scalar, octet_sgemm_avx2, octet_sgemm_avx512vnni};
    table[octet_cpu_isa()](M, N, K, A, lda, packed_B, C, ldc, residual, min, max);
}

void octet_dwconv_q(size_t channels, size_t output_pixels, size_t kernel_size, const void* const* indirection,
                    const void* packed, void* output, size_t output_pixel_stride, const octet_dwconv_params* p) {
    static const octet_dwconv_q_fn table[] = {octet_dwconv_q_scalar, octet_dwconv_q_avx2, octet_dwconv_q_avx512vnni};
    table[octet_cpu_isa()](channels, output_pixels, kernel_size, indirection, packed, output, output_pixel_stride, p);
}

void octet_dwconv_f32(size_t channels, size_t output_pixels, size_t kernel_size, const void* const* indirection,
                      const float* packed, float* output, size_t output_pixel_stride, float min, float max) {
    static const octet_dwconv_f32_fn table[] = {octet_dwconv_f32_scalar, octet_dwconv_f32_avx2,
                                                octet_dwconv_f32_avx512vnni};
    table[octet_cpu_isa()](channels, output_pixels, kernel_size, indirection, packed, output, output_pixel_stride,
                           min, max);
}
