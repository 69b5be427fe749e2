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

/* The AVX-512 and AVX2 versions are one template over the vector width W
 * (512: 16 floats, 256: 8 floats). */
#define VF_512 __m512
#define VLEN_512 16
#define TARGET_512 T_AVX512
#define LOAD_512(p) _mm512_loadu_ps(p)
#define STORE_512(p, v) _mm512_storeu_ps(p, v)
#define SET1_512(x) _mm512_set1_ps(x)
#define FMA_512(a, b, c) _mm512_fmadd_ps(a, b, c)
#define MUL_512(a, b) _mm512_mul_ps(a, b)
#define DIV_512(a, b) _mm512_div_ps(a, b)
#define SQRT_512(a) _mm512_sqrt_ps(a)
#define CLAMP_512(a, lo, hi) _mm512_max_ps(_mm512_min_ps(a, hi), lo)
#define FROM_I32_512(p) _mm512_cvtepi32_ps(_mm512_loadu_si512(p))
#define STORE_I16_512(p, v)                                                                   \
    _mm256_storeu_si256((__m256i *)(p), _mm512_cvtsepi32_epi16(_mm512_cvtps_epi32(v)))

#define VF_256 __m256
#define VLEN_256 8
#define TARGET_256 T_AVX2
#define LOAD_256(p) _mm256_loadu_ps(p)
#define STORE_256(p, v) _mm256_storeu_ps(p, v)
#define SET1_256(x) _mm256_set1_ps(x)
#define FMA_256(a, b, c) _mm256_fmadd_ps(a, b, c)
#define MUL_256(a, b) _mm256_mul_ps(a, b)
#define DIV_256(a, b) _mm256_div_ps(a, b)
#define SQRT_256(a) _mm256_sqrt_ps(a)
#define CLAMP_256(a, lo, hi) _mm256_max_ps(_mm256_min_ps(a, hi), lo)
#define FROM_I32_256(p) _mm256_cvtepi32_ps(_mm256_loadu_si256((const __m256i *)(p)))
#define STORE_I16_256(p, v) store_i16_256(p, v)

static inline T_AVX2 void store_i16_256(int16_t *p, __m256 v)
{
    __m256i q = _mm256_cvtps_epi32(v);
    _mm_storeu_si128((__m128i *)p,
                     _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1)));
}

/* P pixels x IB vectors of output channels from i0: norms in registers while
 * j runs over the input channels. */
#define DEF_GDN(W, P, IB)                                                                     \
    static TARGET_##W void gdn##W##_##P##_##IB(int inverse, int c, const float *v,            \
                                               const float *sq, const float *beta,            \
                                               const float *gt, float out_mul, int i0,        \
                                               int16_t *out, ptrdiff_t os)                    \
    {                                                                                         \
        const int L = VLEN_##W;                                                               \
        VF_##W n[P][IB];                                                                      \
        _Pragma("GCC unroll 4") for (int b = 0; b < IB; b++)                                  \
        {                                                                                     \
            VF_##W bb = LOAD_##W(beta + i0 + L * b);                                          \
            _Pragma("GCC unroll 4") for (int p = 0; p < P; p++) n[p][b] = bb;                 \
        }                                                                                     \
        for (int j = 0; j < c; j++) {                                                         \
            VF_##W g[IB];                                                                     \
            _Pragma("GCC unroll 4") for (int b = 0; b < IB; b++) g[b] =                       \
                LOAD_##W(gt + (size_t)j * c + i0 + L * b);                                    \
            _Pragma("GCC unroll 4") for (int p = 0; p < P; p++)                               \
            {                                                                                 \
                VF_##W s = SET1_##W(sq[(size_t)p * c + j]);                                   \
                _Pragma("GCC unroll 4") for (int b = 0; b < IB; b++) n[p][b] =                \
                    FMA_##W(g[b], s, n[p][b]);                                                \
            }                                                                                 \
        }                                                                                     \
        const VF_##W lo = SET1_##W(-32767.0f), hi = SET1_##W(32767.0f), mul = SET1_##W(out_mul); \
        _Pragma("GCC unroll 4") for (int p = 0; p < P; p++)                                   \
            _Pragma("GCC unroll 4") for (int b = 0; b < IB; b++)                              \
        {                                                                                     \
            VF_##W a = LOAD_##W(v + (size_t)p * c + i0 + L * b);                              \
            VF_##W r = SQRT_##W(n[p][b]);                                                     \
            VF_##W u = inverse ? MUL_##W(a, r) : DIV_##W(a, r);                               \
            STORE_I16_##W(out + p * os + i0 + L * b, CLAMP_##W(MUL_##W(u, mul), lo, hi));     \
        }                                                                                     \
    }

/* v and v^2 of every pixel, then 4 pixels x IBF vectors at a time. */
#define DEF_GDN_ROWS(W, IBF)                                                                  \
    DEF_GDN(W, 4, IBF)                                                                        \
    DEF_GDN(W, 1, 1)                                                                          \
    static TARGET_##W void gdn_##W(int inverse, int c, int npix, const int32_t *acc,           \
                                   ptrdiff_t as, const float *scale, const float *beta,       \
                                   const float *gt, float out_mul, int16_t *out, ptrdiff_t os, \
                                   float *scratch)                                            \
    {                                                                                         \
        const int L = VLEN_##W;                                                               \
        float *v = scratch, *sq = scratch + (size_t)npix * c;                                 \
        for (int p = 0; p < npix; p++)                                                        \
            for (int i = 0; i < c; i += L) {                                                  \
                VF_##W a = MUL_##W(FROM_I32_##W(acc + p * as + i), LOAD_##W(scale + i));      \
                STORE_##W(v + (size_t)p * c + i, a);                                          \
                STORE_##W(sq + (size_t)p * c + i, MUL_##W(a, a));                             \
            }                                                                                 \
        int p = 0;                                                                            \
        for (; p + 4 <= npix; p += 4) {                                                       \
            int i = 0;                                                                        \
            for (; i + IBF * L <= c; i += IBF * L)                                            \
                gdn##W##_4_##IBF(inverse, c, v + (size_t)p * c, sq + (size_t)p * c, beta, gt, \
                                 out_mul, i, out + p * os, os);                               \
            for (; i < c; i += L)                                                             \
                for (int k = 0; k < 4; k++)                                                   \
                    gdn##W##_1_1(inverse, c, v + (size_t)(p + k) * c,                         \
                                 sq + (size_t)(p + k) * c, beta, gt, out_mul, i,              \
                                 out + (p + k) * os, os);                                     \
        }                                                                                     \
        for (; p < npix; p++)                                                                 \
            for (int i = 0; i < c; i += L)                                                    \
                gdn##W##_1_1(inverse, c, v + (size_t)p * c, sq + (size_t)p * c, beta, gt,    \
                             out_mul, i, out + p * os, os);                                   \
    }

DEF_GDN_ROWS(512, 3)
DEF_GDN_ROWS(256, 2)

#endif /* NN_HAVE_X86 */

void nn_gdn_det_rows(nn_isa isa, int inverse, int c, int npix, const int32_t *acc,
                     ptrdiff_t acc_stride, const float *scale, const float *beta,
                     const float *gamma_t, float out_mul, int16_t *out, ptrdiff_t out_stride,
                     float *scratch)
{
#ifdef NN_HAVE_X86
    if (isa == NN_ISA_AVX512 && c % 16 == 0) {
        gdn_512(inverse, c, npix, acc, acc_stride, scale, beta, gamma_t, out_mul, out, out_stride,
                scratch);
        return;
    }
    if (isa >= NN_ISA_AVX2 && c % 8 == 0) {
        gdn_256(inverse, c, npix, acc, acc_stride, scale, beta, gamma_t, out_mul, out, out_stride,
                scratch);
        return;
    }
#endif
    gdn_c(inverse, c, npix, acc, acc_stride, scale, beta, gamma_t, out_mul, out, out_stride,
          scratch);
}
