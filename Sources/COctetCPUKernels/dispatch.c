/*
 * Run-time ISA selection, once: CPUID for what the CPU implements, XGETBV for what the OS saves on a
 * context switch (using zmm registers when the OS does not save them corrupts state, so both are required).
 *
 *   AVX2:        CPUID.1:ECX.{FMA[12], OSXSAVE[27], AVX[28]}, CPUID.(7,0):EBX.AVX2[5], XCR0 & 0x06 == 0x06
 *                (SSE and AVX state).
 *   AVXVNNI:     AVX2 above, plus CPUID.(7,1):EAX.AVX_VNNI[4] (VEX-encoded vpdpbusd on ymm; no new state).
 *   AVX512VNNI:  AVX2 above, plus CPUID.(7,0):EBX.{AVX512F[16], AVX512BW[30], AVX512VL[31]},
 *                CPUID.(7,0):ECX.AVX512_VNNI[11], XCR0 & 0xE6 == 0xE6 (SSE, AVX, opmask, ZMM_Hi256, Hi16_ZMM).
 * AVX-VNNI and AVX-512 VNNI are independent (Ice Lake has only the latter, Alder Lake only the former), so the
 * detection keeps a set, and octet_cpu_hardware_isa() picks the fastest member: avx512vnni > avxvnni > avx2.
 *
 * Environment, read once at the first octet_cpu_isa() call:
 *   OCTET_FORCE_GENERIC=1  scalar kernels (takes precedence over OCTET_FORCE_ISA).
 *   OCTET_FORCE_ISA=NAME   scalar | avx2 | avxvnni | avx512vnni: use that ISA's kernels, e.g. to measure the AVX2
 *                          path on an AVX-512 machine. A NAME this CPU/OS cannot run (or an unknown NAME) is
 *                          REFUSED: one line on stderr, then the hardware's best ISA is used, as without it.
 * octet_cpu_hardware_isa() and octet_cpu_isa_supported() always report the hardware.
 */
#include <stdatomic.h>

#include <stdio.h>

#include "octet_internal.h"

#if defined(__x86_64__)
#include <cpuid.h>

static uint64_t read_xcr0(void) {
    uint32_t eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((uint64_t)edx << 32) | eax;
}

/* Bit (1 << isa) for every ISA this CPU and OS support; bit 0 (scalar) always. */
static uint32_t detect_isa_set(void) {
    unsigned eax, ebx, ecx, edx;
    const uint32_t scalar = 1u << OCTET_ISA_SCALAR;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return scalar;
    const int fma = (ecx >> 12) & 1, osxsave = (ecx >> 27) & 1, avx = (ecx >> 28) & 1;
    if (!(fma && osxsave && avx)) return scalar;
    const uint64_t xcr0 = read_xcr0();
    if ((xcr0 & 0x06) != 0x06) return scalar;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return scalar;
    if (!((ebx >> 5) & 1)) return scalar;
    uint32_t set = scalar | 1u << OCTET_ISA_AVX2;
    const unsigned max_subleaf = eax;
    const int avx512f = (ebx >> 16) & 1, avx512bw = (ebx >> 30) & 1, avx512vl = (ebx >> 31) & 1;
    const int vnni = (ecx >> 11) & 1;
    if (avx512f && avx512bw && avx512vl && vnni && (xcr0 & 0xE6) == 0xE6) set |= 1u << OCTET_ISA_AVX512VNNI;
    if (max_subleaf >= 1 && __get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx) && ((eax >> 4) & 1)) {
        set |= 1u << OCTET_ISA_AVXVNNI;
    }
    return set;
}
#else
static uint32_t detect_isa_set(void) { return 1u << OCTET_ISA_SCALAR; }
#endif

/* -1 = not yet detected. Detection is idempotent, so a race only repeats it (and at worst prints the
 * OCTET_FORCE_ISA refusal twice). */
static _Atomic int64_t hardware_set = -1;
static _Atomic int32_t selected_isa = -1;

static uint32_t isa_set(void) {
    int64_t set = atomic_load_explicit(&hardware_set, memory_order_relaxed);
    if (set < 0) {
        set = detect_isa_set();
        atomic_store_explicit(&hardware_set, set, memory_order_relaxed);
    }
    return (uint32_t)set;
}

int32_t octet_cpu_isa_supported(int32_t isa) {
    return isa >= 0 && isa < OCTET_ISA_COUNT && ((isa_set() >> isa) & 1) ? 1 : 0;
}

int32_t octet_cpu_hardware_isa(void) {
    static const int32_t preference[] = {OCTET_ISA_AVX512VNNI, OCTET_ISA_AVXVNNI, OCTET_ISA_AVX2};
    for (size_t i = 0; i < sizeof preference / sizeof preference[0]; i++) {
        if (octet_cpu_isa_supported(preference[i])) return preference[i];
    }
    return OCTET_ISA_SCALAR;
}

static int32_t isa_from_environment(void) {
    const char* generic = getenv("OCTET_FORCE_GENERIC");
    if (generic != NULL && strcmp(generic, "1") == 0) return OCTET_ISA_SCALAR;
    const int32_t hardware = octet_cpu_hardware_isa();
    const char* forced = getenv("OCTET_FORCE_ISA");
    if (forced == NULL || forced[0] == 0) return hardware;
    for (int32_t isa = 0; isa < OCTET_ISA_COUNT; isa++) {
        if (strcmp(forced, octet_cpu_isa_name(isa)) != 0) continue;
        if (octet_cpu_isa_supported(isa)) return isa;
        fprintf(stderr, "octet: OCTET_FORCE_ISA=%s refused: this CPU/OS lacks it; using %s\n", forced,
                octet_cpu_isa_name(hardware));
        return hardware;
    }
    fprintf(stderr, "octet: OCTET_FORCE_ISA=%s refused: not one of scalar, avx2, avxvnni, avx512vnni; using %s\n",
            forced, octet_cpu_isa_name(hardware));
    return hardware;
}

int32_t octet_cpu_isa(void) {
    int32_t isa = atomic_load_explicit(&selected_isa, memory_order_relaxed);
    if (isa < 0) {
        isa = isa_from_environment();
        atomic_store_explicit(&selected_isa, isa, memory_order_relaxed);
    }
    return isa;
}

const char* octet_cpu_isa_name(int32_t isa) {
    switch (isa) {
    case OCTET_ISA_SCALAR: return "scalar";
    case OCTET_ISA_AVX2: return "avx2";
    case OCTET_ISA_AVX512VNNI: return "avx512vnni";
    case OCTET_ISA_AVXVNNI: return "avxvnni";
    default: return "unknown";
    }
}

/* The kernel of each family for each ISA, in the order of OCTET_ISA_*: scalar, avx2, avx512vnni, avxvnni. The
 * AVX-VNNI level has its own quantized GEMM and depthwise kernels; its float and pointwise kernels are the AVX2
 * ones (VNNI adds nothing to them). The un-suffixed entry points and the tests both go through these getters, so
 * what a test checks for an ISA is what runs there. */
#define OCTET_KERNELS(family, scalar, avx2, avx512vnni, avxvnni)                       \
    octet_##family##_fn octet_##family##_kernel(int32_t isa) {                       \
        static const octet_##family##_fn table[] = {scalar, avx2, avx512vnni, avxvnni}; \
        assert(isa >= 0 && isa < OCTET_ISA_COUNT);                                     \
        return table[isa];                                                             \
    }
OCTET_KERNELS(qgemm, octet_qgemm_scalar, octet_qgemm_avx2, octet_qgemm_avx512vnni, octet_qgemm_avxvnni)
OCTET_KERNELS(sgemm, octet_sgemm_scalar, octet_sgemm_avx2, octet_sgemm_avx512vnni, octet_sgemm_avx2)
OCTET_KERNELS(dwconv_q, octet_dwconv_q_scalar, octet_dwconv_q_avx2, octet_dwconv_q_avx512vnni, octet_dwconv_q_avxvnni)
OCTET_KERNELS(dwconv_f32, octet_dwconv_f32_scalar, octet_dwconv_f32_avx2, octet_dwconv_f32_avx512vnni,
              octet_dwconv_f32_avx2)
OCTET_KERNELS(quantize_f32, octet_quantize_f32_scalar, octet_quantize_f32_avx2, octet_quantize_f32_avx512vnni,
              octet_quantize_f32_avx2)
OCTET_KERNELS(sum_pixels_8bit, octet_sum_pixels_8bit_scalar, octet_sum_pixels_8bit_avx2,
              octet_sum_pixels_8bit_avx512vnni, octet_sum_pixels_8bit_avx2)
OCTET_KERNELS(maxpool_8bit, octet_maxpool_8bit_scalar, octet_maxpool_8bit_avx2, octet_maxpool_8bit_avx512vnni,
              octet_maxpool_8bit_avx2)
void octet_qgemm(size_t M, size_t N, size_t K, const uint8_t* A, size_t a_stride, const void* packed_B, void* C,
                 size_t c_stride, const void* residual, size_t r_stride, const octet_qgemm_params* p) {
    octet_qgemm_kernel(octet_cpu_isa())(M, N, K, A, a_stride, packed_B, C, c_stride, residual, r_stride, p);
}

void octet_sgemm(size_t M, size_t N, size_t K, const float* A, size_t lda, const float* packed_B, float* C,
                 size_t ldc, const float* residual, float min, float max) {
    octet_sgemm_kernel(octet_cpu_isa())(M, N, K, A, lda, packed_B, C, ldc, residual, min, max);
}

void octet_dwconv_q(size_t channels, size_t output_pixels, size_t kernel_size, const void* const* indirection,
                    const void* packed, void* output, size_t output_pixel_stride, const octet_dwconv_params* p) {
    octet_dwconv_q_kernel(octet_cpu_isa())(channels, output_pixels, kernel_size, indirection, packed, output,
                                           output_pixel_stride, p);
}

/* Bytes per vector of `isa`'s dot-product depthwise layout, or 0 for the 16-channel blocks. */
static size_t dwconv_qdot_vector_bytes(int32_t isa) {
    return isa == OCTET_ISA_AVX512VNNI ? 64 : isa == OCTET_ISA_AVXVNNI ? 32 : 0;
}

int32_t octet_dwconv_q_saturation_clamps_for(int32_t isa, size_t channels, size_t kernel_size, const void* packed,
                                             const octet_dwconv_params* p) {
    const size_t vb = dwconv_qdot_vector_bytes(isa);
    return vb ? octet_dwconv_qdot_saturation_clamps(vb, channels, kernel_size, packed, p)
              : octet_dwconv_q16_saturation_clamps(channels, kernel_size, packed, p);
}

int32_t octet_dwconv_q_saturation_clamps(size_t channels, size_t kernel_size, const void* packed,
                                         const octet_dwconv_params* p) {
    return octet_dwconv_q_saturation_clamps_for(octet_cpu_isa(), channels, kernel_size, packed, p);
}

size_t octet_dwconv_q_packed_size_for(int32_t isa, size_t channels, size_t kernel_size) {
    const size_t vb = dwconv_qdot_vector_bytes(isa);
    return vb ? octet_dwconv_qdot_packed_size(vb, channels, kernel_size) : octet_dwconv_q16_packed_size(channels, kernel_size);
}

void octet_dwconv_q_pack_for(int32_t isa, size_t channels, size_t kernel_size, const int8_t* w, const int32_t* bias,
                             const float* multiplier, void* packed) {
    const size_t vb = dwconv_qdot_vector_bytes(isa);
    if (vb) {
        octet_dwconv_qdot_pack(vb, channels, kernel_size, w, bias, multiplier, packed);
    } else {
        octet_dwconv_q16_pack(channels, kernel_size, w, bias, multiplier, packed);
    }
}

size_t octet_dwconv_q_packed_size(size_t channels, size_t kernel_size) {
    return octet_dwconv_q_packed_size_for(octet_cpu_isa(), channels, kernel_size);
}

void octet_dwconv_q_pack(size_t channels, size_t kernel_size, const int8_t* w, const int32_t* bias,
                         const float* multiplier, void* packed) {
    octet_dwconv_q_pack_for(octet_cpu_isa(), channels, kernel_size, w, bias, multiplier, packed);
}

void octet_dwconv_f32(size_t channels, size_t output_pixels, size_t kernel_size, const void* const* indirection,
                      const float* packed, float* output, size_t output_pixel_stride, float min, float max) {
    octet_dwconv_f32_kernel(octet_cpu_isa())(channels, output_pixels, kernel_size, indirection, packed, output,
                                             output_pixel_stride, min, max);
}

void octet_quantize_f32(size_t n, const float* x, uint8_t* y, const octet_quantize_params* p) {
    octet_quantize_f32_kernel(octet_cpu_isa())(n, x, y, p);
}

void octet_sum_pixels_8bit(size_t pixels, size_t channels, const uint8_t* x, int32_t input_signed, int32_t* sums) {
    octet_sum_pixels_8bit_kernel(octet_cpu_isa())(pixels, channels, x, input_signed, sums);
}

void octet_maxpool_8bit(size_t channels, size_t output_pixels, size_t kernel_size, const void* const* indirection,
                        int32_t input_signed, uint8_t* output, size_t output_pixel_stride) {
    octet_maxpool_8bit_kernel(octet_cpu_isa())(channels, output_pixels, kernel_size, indirection, input_signed, output,
                                               output_pixel_stride);
}
