#include "nn/gdn_det.h"

#include <math.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define NN_HAVE_X86 1
#include <immintrin.h>
#define T_AVX2 __attribute__((target("avx2,fma")))
#define T_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma")))
#endif

/* v and v^2 of every pixel: scratch [npix][c] twice. */
static void gdn_c(int inverse, int c, int npix, const int32_t *acc, ptrdiff_t as,
                  const float *scale, const float *beta, const float *gt, float out_mul,
                  int16_t *out, ptrdiff_t os, float *scratch)
{
    float *v = scratch, *sq = scratch + (size_t)npix * c;
    for (int p = 0; p < npix; p++)
        for (int i = 0; i < c; i++) {
            float a = (float)acc[p * as + i] * scale[i];
            v[(size_t)p * c + i] = a;
            sq[(size_t)p * c + i] = a * a;
        }
    for (int p = 0; p < npix; p++)
        for (int i = 0; i < c; i++) {
            float norm = beta[i];
            for (int j = 0; j < c; j++)
                norm = fmaf(gt[(size_t)j * c + i], sq[(size_t)p * c + j], norm);
            float r = sqrtf(norm), a = v[(size_t)p * c + i];
            float u = inverse ? a * r : a / r;
            out[p * os + i] = nn_det_quantize(u * out_mul);
        }
}

#ifdef NN_HAVE_X86

#define DEF_GDN_512(P, IB)                                                                    \
    static T_AVX512 void gdn512_##P##_##IB(int inverse, int c, const float *v, const float *sq, \
                                           const float *beta, const float *gt, float out_mul, \
                                           int i0, int16_t *out, ptrdiff_t os)                \
    {                                                                                         \
        __m512 n[P][IB];                                                                      \
        _Pragma("GCC unroll 4") for (int b = 0; b < IB; b++)                                  \
        {                                                                                     \
            __m512 bb = _mm512_loadu_ps(beta + i0 + 16 * b);                                  \
            _Pragma("GCC unroll 4") for (int p = 0; p < P; p++) n[p][b] = bb;                 \
        }                                                                                     \
        for (int j = 0; j < c; j++) {                                                         \
            __m512 g[IB];                                                                     \
            _Pragma("GCC unroll 4") for (int b = 0; b < IB; b++) g[b] =                       \
                _mm512_loadu_ps(gt + (size_t)j * c + i0 + 16 * b);                            \
            _Pragma("GCC unroll 4") for (int p = 0; p < P; p++)                               \
            {                                                                                 \
                __m512 s = _mm512_set1_ps(sq[(size_t)p * c + j]);                             \
                _Pragma("GCC unroll 4") for (int b = 0; b < IB; b++) n[p][b] =                \
                    _mm512_fmadd_ps(g[b], s, n[p][b]);                                        \
            }                                                                                 \
        }                                                                                     \
        const __m512 lo = _mm512_set1_ps(-32767.0f), hi = _mm512_set1_ps(32767.0f);           \
        const __m512 mul = _mm512_set1_ps(out_mul);                                           \
        _Pragma("GCC unroll 4") for (int p = 0; p < P; p++)                                   \
            _Pragma("GCC unroll 4") for (int b = 0; b < IB; b++)                              \
        {                                                                                     \
            __m512 a = _mm512_loadu_ps(v + (size_t)p * c + i0 + 16 * b);                      \
            __m512 r = _mm512_sqrt_ps(n[p][b]);                                               \
            __m512 u = inverse ? _mm512_mul_ps(a, r) : _mm512_div_ps(a, r);                   \
            u = _mm512_max_ps(_mm512_min_ps(_mm512_mul_ps(u, mul), hi), lo);                  \
            _mm256_storeu_si256((__m256i *)(out + p * os + i0 + 16 * b),                      \
                                _mm512_cvtsepi32_epi16(_mm512_cvtps_epi32(u)));               \
        }                                                                                     \
    }

DEF_GDN_512(4, 3)
DEF_GDN_512(1, 1)

static T_AVX512 void gdn_avx512(int inverse, int c, int npix, const int32_t *acc, ptrdiff_t as,
                                const float *scale, const float *beta, const float *gt,
                                float out_mul, int16_t *out, ptrdiff_t os, float *scratch)
{
    float *v = scratch, *sq = scratch + (size_t)npix * c;
    for (int p = 0; p < npix; p++)
        for (int i = 0; i < c; i += 16) {
            __m512 a = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_loadu_si512(acc + p * as + i)),
                                     _mm512_loadu_ps(scale + i));
            _mm512_storeu_ps(v + (size_t)p * c + i, a);
            _mm512_storeu_ps(sq + (size_t)p * c + i, _mm512_mul_ps(a, a));
        }
    int p = 0;
    for (; p + 4 <= npix; p += 4) {
        int i = 0;
        for (; i + 48 <= c; i += 48)
            gdn512_4_3(inverse, c, v + (size_t)p * c, sq + (size_t)p * c, beta, gt, out_mul, i,
                       out + p * os, os);
        for (; i < c; i += 16)
            for (int k = 0; k < 4; k++)
                gdn512_1_1(inverse, c, v + (size_t)(p + k) * c, sq + (size_t)(p + k) * c, beta, gt,
                           out_mul, i, out + (p + k) * os, os);
    }
    for (; p < npix; p++)
        for (int i = 0; i < c; i += 16)
            gdn512_1_1(inverse, c, v + (size_t)p * c, sq + (size_t)p * c, beta, gt, out_mul, i,
                       out + p * os, os);
}

#define DEF_GDN_256(P, IB)                                                                    \
    static T_AVX2 void gdn256_##P##_##IB(int inverse, int c, const float *v, const float *sq,  \
                                         const float *beta, const float *gt, float out_mul,   \
                                         int i0, int16_t *out, ptrdiff_t os)                  \
    {                                                                                         \
        __m256 n[P][IB];                                                                      \
        _Pragma("GCC unroll 4") for (int b = 0; b < IB; b++)                                  \
        {                                                                                     \
            __m256 bb = _mm256_loadu_ps(beta + i0 + 8 * b);                                   \
            _Pragma("GCC unroll 4") for (int p = 0; p < P; p++) n[p][b] = bb;                 \
        }                                                                                     \
        for (int j = 0; j < c; j++) {                                                         \
            __m256 g[IB];                                                                     \
            _Pragma("GCC unroll 4") for (int b = 0; b < IB; b++) g[b] =                       \
                _mm256_loadu_ps(gt + (size_t)j * c + i0 + 8 * b);                             \
            _Pragma("GCC unroll 4") for (int p = 0; p < P; p++)                               \
            {                                                                                 \
                __m256 s = _mm256_set1_ps(sq[(size_t)p * c + j]);                             \
                _Pragma("GCC unroll 4") for (int b = 0; b < IB; b++) n[p][b] =                \
                    _mm256_fmadd_ps(g[b], s, n[p][b]);                                        \
            }                                                                                 \
        }                                                                                     \
        const __m256 lo = _mm256_set1_ps(-32767.0f), hi = _mm256_set1_ps(32767.0f);           \
        const __m256 mul = _mm256_set1_ps(out_mul);                                           \
        _Pragma("GCC unroll 4") for (int p = 0; p < P; p++)                                   \
            _Pragma("GCC unroll 4") for (int b = 0; b < IB; b++)                              \
        {                                                                                     \
            __m256 a = _mm256_loadu_ps(v + (size_t)p * c + i0 + 8 * b);                       \
            __m256 r = _mm256_sqrt_ps(n[p][b]);                                               \
            __m256 u = inverse ? _mm256_mul_ps(a, r) : _mm256_div_ps(a, r);                   \
            u = _mm256_max_ps(_mm256_min_ps(_mm256_mul_ps(u, mul), hi), lo);                  \
            __m256i q = _mm256_cvtps_epi32(u);                                                \
            __m128i packed = _mm_packs_epi32(_mm256_castsi256_si128(q),                       \
                                             _mm256_extracti128_si256(q, 1));                 \
            _mm_storeu_si128((__m128i *)(out + p * os + i0 + 8 * b), packed);                 \
        }                                                                                     \
    }

DEF_GDN_256(4, 2)
DEF_GDN_256(1, 1)

static T_AVX2 void gdn_avx2(int inverse, int c, int npix, const int32_t *acc, ptrdiff_t as,
                            const float *scale, const float *beta, const float *gt, float out_mul,
                            int16_t *out, ptrdiff_t os, float *scratch)
{
    float *v = scratch, *sq = scratch + (size_t)npix * c;
    for (int p = 0; p < npix; p++)
        for (int i = 0; i < c; i += 8) {
            __m256 a = _mm256_mul_ps(
                _mm256_cvtepi32_ps(_mm256_loadu_si256((const __m256i *)(acc + p * as + i))),
                _mm256_loadu_ps(scale + i));
            _mm256_storeu_ps(v + (size_t)p * c + i, a);
            _mm256_storeu_ps(sq + (size_t)p * c + i, _mm256_mul_ps(a, a));
        }
    int p = 0;
    for (; p + 4 <= npix; p += 4) {
        int i = 0;
        for (; i + 16 <= c; i += 16)
            gdn256_4_2(inverse, c, v + (size_t)p * c, sq + (size_t)p * c, beta, gt, out_mul, i,
                       out + p * os, os);
        for (; i < c; i += 8)
            for (int k = 0; k < 4; k++)
                gdn256_1_1(inverse, c, v + (size_t)(p + k) * c, sq + (size_t)(p + k) * c, beta, gt,
                           out_mul, i, out + (p + k) * os, os);
    }
    for (; p < npix; p++)
        for (int i = 0; i < c; i += 8)
            gdn256_1_1(inverse, c, v + (size_t)p * c, sq + (size_t)p * c, beta, gt, out_mul, i,
                       out + p * os, os);
}

#endif /* NN_HAVE_X86 */

void nn_gdn_det_rows(nn_isa isa, int inverse, int c, int npix, const int32_t *acc,
                     ptrdiff_t acc_stride, const float *scale, const float *beta,
                     const float *gamma_t, float out_mul, int16_t *out, ptrdiff_t out_stride,
                     float *scratch)
{
#ifdef NN_HAVE_X86
    if (isa == NN_ISA_AVX512 && c % 16 == 0) {
        gdn_avx512(inverse, c, npix, acc, acc_stride, scale, beta, gamma_t, out_mul, out,
                   out_stride, scratch);
        return;
    }
    if (isa >= NN_ISA_AVX2 && c % 8 == 0) {
        gdn_avx2(inverse, c, npix, acc, acc_stride, scale, beta, gamma_t, out_mul, out, out_stride,
                 scratch);
        return;
    }
#endif
    gdn_c(inverse, c, npix, acc, acc_stride, scale, beta, gamma_t, out_mul, out, out_stride,
          scratch);
}
