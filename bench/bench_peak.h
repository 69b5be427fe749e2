/*
 * Shared by the benchmark programs: a monotonic clock and the machine's FP32
 * FMA peak, measured in the same run by register-only FMA chains on every
 * OpenMP thread (the figure the GFLOP/s of the engine are compared with), and
 * likewise the BF16 dot-product peak where the CPU has AVX-512 BF16.
 */
#ifndef NIC_BENCH_PEAK_H
#define NIC_BENCH_PEAK_H

#include <omp.h>
#include <time.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_X86 1
#endif

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#ifdef HAVE_X86
/* 12 independent FMA chains in named registers (an array would be spilled):
 * FLOP = 2 * lanes * 12 per iteration. */
#define FMA12(op)                                                                       \
    a0 = op(a0, m, c), a1 = op(a1, m, c), a2 = op(a2, m, c), a3 = op(a3, m, c),        \
    a4 = op(a4, m, c), a5 = op(a5, m, c), a6 = op(a6, m, c), a7 = op(a7, m, c),        \
    a8 = op(a8, m, c), a9 = op(a9, m, c), a10 = op(a10, m, c), a11 = op(a11, m, c)

/* The 12 accumulators of the 512-bit loops, and their sum at the end. */
#define ACC12_INIT_512                                                                  \
    __m512 a0 = _mm512_set1_ps(0), a1 = _mm512_set1_ps(1), a2 = _mm512_set1_ps(2),     \
           a3 = _mm512_set1_ps(3), a4 = _mm512_set1_ps(4), a5 = _mm512_set1_ps(5),     \
           a6 = _mm512_set1_ps(6), a7 = _mm512_set1_ps(7), a8 = _mm512_set1_ps(8),     \
           a9 = _mm512_set1_ps(9), a10 = _mm512_set1_ps(10), a11 = _mm512_set1_ps(11)
#define ACC12_SUM_512                                                                   \
    __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)), \
                             _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7))); \
    s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));   \
    return _mm512_reduce_add_ps(s)

__attribute__((target("avx512f"))) static float fma_loop_512(long iters)
{
    __m512 m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
    ACC12_INIT_512;
    for (long i = 0; i < iters; i++)
        FMA12(_mm512_fmadd_ps);
    ACC12_SUM_512;
}

__attribute__((target("avx2,fma"))) static float fma_loop_256(long iters)
{
    __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
    __m256 a0 = _mm256_set1_ps(0), a1 = _mm256_set1_ps(1), a2 = _mm256_set1_ps(2),
           a3 = _mm256_set1_ps(3), a4 = _mm256_set1_ps(4), a5 = _mm256_set1_ps(5),
           a6 = _mm256_set1_ps(6), a7 = _mm256_set1_ps(7), a8 = _mm256_set1_ps(8),
           a9 = _mm256_set1_ps(9), a10 = _mm256_set1_ps(10), a11 = _mm256_set1_ps(11);
    for (long i = 0; i < iters; i++)
        FMA12(_mm256_fmadd_ps);
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                             _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
    s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
    float out[8];
    _mm256_storeu_ps(out, s);
    return out[0];
}

/* BF16 dot products (vdpbf16ps: 16 lanes x 2 products, each a multiply and an
 * add): FLOP = 64 * 12 per iteration. */
#define DP12(op)                                                                        \
    a0 = op(a0, m, m), a1 = op(a1, m, m), a2 = op(a2, m, m), a3 = op(a3, m, m),        \
    a4 = op(a4, m, m), a5 = op(a5, m, m), a6 = op(a6, m, m), a7 = op(a7, m, m),        \
    a8 = op(a8, m, m), a9 = op(a9, m, m), a10 = op(a10, m, m), a11 = op(a11, m, m)

__attribute__((target("avx512f,avx512bf16"))) static float dpbf16_loop(long iters)
{
    __m512bh m = _mm512_cvtne2ps_pbh(_mm512_set1_ps(1e-4f), _mm512_set1_ps(1e-4f));
    ACC12_INIT_512;
    for (long i = 0; i < iters; i++)
        DP12(_mm512_dpbf16_ps);
    ACC12_SUM_512;
}
#endif

#ifdef HAVE_X86
/* GFLOP/s of loop(iters) run on every OpenMP thread at once. */
static inline double peak_of(float (*loop)(long), long iters, double flop_per_iter)
{
    volatile float sink = 0;
    double t0 = now();
    int threads = 1;
#pragma omp parallel reduction(+ : sink)
    {
#pragma omp single
        threads = omp_get_num_threads();
        sink += loop(iters);
    }
    double t = now() - t0;
    (void)sink;
    return flop_per_iter * (double)iters * threads / t * 1e-9;
}
#endif

/* BF16 dot-product peak over all OpenMP threads, GFLOP/s (0 without AVX-512 BF16). */
static inline double measure_peak_bf16(void)
{
#ifdef HAVE_X86
    return __builtin_cpu_supports("avx512bf16") ? peak_of(dpbf16_loop, 10000000, 64.0 * 12) : 0.0;
#else
    return 0.0;
#endif
}

/* FP32 FMA peak over all OpenMP threads, GFLOP/s. */
static double measure_peak(void)
{
#ifdef HAVE_X86
    int wide = __builtin_cpu_supports("avx512f");
    return peak_of(wide ? fma_loop_512 : fma_loop_256, 20000000, 2.0 * (wide ? 16 : 8) * 12);
#else
    return 0.0;
#endif
}

#endif
