/* SM_VECTOR_CLONES: compile a hot elementwise or fixed-lane loop for
 * AVX-512, AVX2 and baseline x86-64, the copy picked once at load time for
 * the CPU it runs on (GCC target_clones, an ifunc).  The project builds for
 * baseline x86-64 (SSE2: 2 doubles or 4 floats per operation), so without
 * this the BatchNorm and ReLU loops run at a quarter of AVX-512's width.
 *
 * Results do not depend on the copy chosen: C11 mode compiles with
 * -ffp-contract=off (no fused multiply-add is introduced) and, without
 * unsafe-math optimisation flags, the compiler may not reorder a sum, so
 * every copy performs the same IEEE operations in the same order, only more
 * per instruction.
 * Elsewhere (other compilers, other architectures, sanitizer builds) the
 * macro is empty and the baseline code runs. */
#ifndef SM_CORE_SIMD_H
#define SM_CORE_SIMD_H

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
#define SM_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define SM_VECTOR_CLONES
#endif

#endif
