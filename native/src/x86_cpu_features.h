// What the x86-64 CPU and the operating system support, read with CPUID and
// XGETBV: the checks behind llama-reward's AVX-512 and AVX2 kernels
// (avx512_bf16_matmul.cpp, avx512_f32_matmul.cpp, avx2_matmul.cpp) and the choice between
// them (weight_product_hook.cpp).
#pragma once

#if defined(__x86_64__)
#    include <cpuid.h>

// True when the CPU has AVX-512 F, BW, VL and DQ (and AVX512_BF16 when bf16 is asked), and the operating
// system saves the AVX-512 state (opmask and ZMM registers) across context switches.
inline bool x86_has_avx512(bool bf16) {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || !((ecx >> 27) & 1)) {  // OSXSAVE
        return false;
    }
    unsigned xcr0_lo = 0, xcr0_hi = 0;
    __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
    if ((xcr0_lo & 0xE6) != 0xE6) {  // SSE, AVX and the AVX-512 state
        return false;
    }
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) {
        return false;
    }
    const bool f  = (ebx >> 16) & 1;
    const bool dq = (ebx >> 17) & 1;
    const bool bw = (ebx >> 30) & 1;
    const bool vl = (ebx >> 31) & 1;
    if (!(f && dq && bw && vl)) {
        return false;
    }
    if (!bf16) {
        return true;
    }
    return __get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx) && ((eax >> 5) & 1);  // AVX512_BF16
}

// True when the CPU has AVX2, FMA and F16C, and the operating system saves the AVX state (YMM registers) across
// context switches.
inline bool x86_has_avx2_fma() {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) {
        return false;
    }
    const bool fma = (ecx >> 12) & 1, osxsave = (ecx >> 27) & 1, avx = (ecx >> 28) & 1, f16c = (ecx >> 29) & 1;
    if (!(fma && osxsave && avx && f16c)) {
        return false;
    }
    unsigned xcr0_lo = 0, xcr0_hi = 0;
    __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
    if ((xcr0_lo & 0x6) != 0x6) {  // SSE and AVX state
        return false;
    }
    return __get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) && ((ebx >> 5) & 1);  // AVX2
}

// True when CPUID's vendor string is Intel's ("GenuineIntel").
inline bool x86_is_intel() {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (!__get_cpuid(0, &eax, &ebx, &ecx, &edx)) {
        return false;
    }
    return ebx == 0x756e6547 && edx == 0x49656e69 && ecx == 0x6c65746e;  // "Genu" "ineI" "ntel"
}
#endif
