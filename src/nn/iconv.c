#include "nn/iconv.h"

#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define NN_HAVE_X86 1
#include <immintrin.h>
#define T_AVX2 __attribute__((target("avx2,fma")))
#define T_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma")))
#endif

/* Two int16 (a channel pair) as one int32, without aliasing trouble. */
static inline int32_t load_pair(const int16_t *p)
{
    int32_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

/* ---------------------------------------------------------------- C */

static void row16_c(const int16_t *x, ptrdiff_t rs, int ps, int npix, const nn_iconv16_group *g,
                    int32_t *acc, int as)
{
    const int lanes = 16 * g->blocks;
    uint32_t s[48];
    for (int p = 0; p < npix; p++) {
        for (int l = 0; l < lanes; l++)
            s[l] = (uint32_t)g->bias[l];
        for (int t = 0; t < g->ntaps; t++) {
            const nn_iconv_tap *tp = g->taps + t;
            const int16_t *xp = x + (ptrdiff_t)p * ps + tp->dy * rs + (ptrdiff_t)tp->dx * ps + tp->c0;
            const int16_t *wp = g->w + tp->w_off;
            for (int q = 0; q < tp->n; q++, xp += 2, wp += 2 * lanes) {
                const int32_t x0 = xp[0], x1 = xp[1];
                /* products of int16 fit int32; the sum wraps modulo 2^32 (unsigned) */
                for (int l = 0; l < lanes; l++)
                    s[l] += (uint32_t)(x0 * wp[2 * l]) + (uint32_t)(x1 * wp[2 * l + 1]);
            }
        }
        int32_t *ap = acc + (ptrdiff_t)p * as + g->lane0;
        for (int l = 0; l < lanes; l++)
            ap[l] = (int32_t)s[l];
    }
}

static void row32_c(const int32_t *x, ptrdiff_t rs, int ps, int npix, const nn_iconv32_group *g,
                    int64_t *acc, int as)
{
    const int lanes = 8 * g->blocks;
    uint64_t s[32];
    for (int p = 0; p < npix; p++) {
        for (int l = 0; l < lanes; l++)
            s[l] = (uint64_t)g->bias[l];
        for (int t = 0; t < g->ntaps; t++) {
            const nn_iconv_tap *tp = g->taps + t;
            const int32_t *xp = x + (ptrdiff_t)p * ps + tp->dy * rs + (ptrdiff_t)tp->dx * ps + tp->c0;
            const int64_t *wp = g->w + tp->w_off;
            for (int c = 0; c < tp->n; c++, wp += lanes) {
                const int64_t xv = xp[c];
                for (int l = 0; l < lanes; l++)
                    s[l] += (uint64_t)(xv * wp[l]); /* |int32 x int32| < 2^62 */
            }
        }
        int64_t *ap = acc + (ptrdiff_t)p * as + g->lane0;
        for (int l = 0; l < lanes; l++)
            ap[l] = (int64_t)s[l];
    }
}

#ifdef NN_HAVE_X86

/* ---------------------------------------------------------------- AVX-512 */

/* R pixels x B blocks of accumulators stay in registers (R * B <= 24). */
#define DEF_K16_512(R, B)                                                                     \
    static T_AVX512 void k16_512_##R##_##B(const int16_t *x, ptrdiff_t rs, int ps,             \
                                           const nn_iconv16_group *g, int32_t *acc, int as)   \
    {                                                                                         \
        __m512i a[R][B];                                                                      \
        _Pragma("GCC unroll 4") for (int b = 0; b < B; b++)                                   \
        {                                                                                     \
            __m512i bias = _mm512_loadu_si512(g->bias + 16 * b);                              \
            _Pragma("GCC unroll 24") for (int r = 0; r < R; r++) a[r][b] = bias;              \
        }                                                                                     \
        for (int t = 0; t < g->ntaps; t++) {                                                  \
            const nn_iconv_tap *tp = g->taps + t;                                             \
            const int16_t *xp = x + tp->dy * rs + (ptrdiff_t)tp->dx * ps + tp->c0;            \
            const int16_t *wp = g->w + tp->w_off;                                             \
            for (int q = 0; q < tp->n; q++, xp += 2, wp += 32 * B) {                          \
                __m512i w[B];                                                                 \
                _Pragma("GCC unroll 4") for (int b = 0; b < B; b++) w[b] =                    \
                    _mm512_loadu_si512(wp + 32 * b);                                          \
                _Pragma("GCC unroll 24") for (int r = 0; r < R; r++)                          \
                {                                                                             \
                    __m512i xb = _mm512_set1_epi32(load_pair(xp + (ptrdiff_t)r * ps));        \
                    _Pragma("GCC unroll 4") for (int b = 0; b < B; b++) a[r][b] =             \
                        _mm512_dpwssd_epi32(a[r][b], xb, w[b]);                               \
                }                                                                             \
            }                                                                                 \
        }                                                                                     \
        _Pragma("GCC unroll 24") for (int r = 0; r < R; r++)                                  \
            _Pragma("GCC unroll 4") for (int b = 0; b < B; b++)                               \
                _mm512_storeu_si512(acc + (ptrdiff_t)r * as + 16 * b, a[r][b]);               \
    }

DEF_K16_512(8, 3)
DEF_K16_512(4, 3)
DEF_K16_512(1, 3)
DEF_K16_512(12, 2)
DEF_K16_512(4, 2)
DEF_K16_512(1, 2)
DEF_K16_512(24, 1)
DEF_K16_512(4, 1)
DEF_K16_512(1, 1)

#define RUN16(R, B)                                                                           \
    for (; p + R <= npix; p += R)                                                             \
        k16_512_##R##_##B(x + (ptrdiff_t)p * ps, rs, ps, g, acc + (ptrdiff_t)p * as + g->lane0, as);

static T_AVX512 void row16_avx512(const int16_t *x, ptrdiff_t rs, int ps, int npix,
                                  const nn_iconv16_group *g, int32_t *acc, int as)
{
    int p = 0;
    switch (g->blocks) {
    case 3:
        RUN16(8, 3) RUN16(4, 3) RUN16(1, 3) break;
    case 2:
        RUN16(12, 2) RUN16(4, 2) RUN16(1, 2) break;
    default:
        RUN16(24, 1) RUN16(4, 1) RUN16(1, 1) break;
    }
}

#define DEF_K32_512(R, B)                                                                     \
    static T_AVX512 void k32_512_##R##_##B(const int32_t *x, ptrdiff_t rs, int ps,             \
                                           const nn_iconv32_group *g, int64_t *acc, int as)   \
    {                                                                                         \
        __m512i a[R][B];                                                                      \
        _Pragma("GCC unroll 4") for (int b = 0; b < B; b++)                                   \
        {                                                                                     \
            __m512i bias = _mm512_loadu_si512(g->bias + 8 * b);                               \
            _Pragma("GCC unroll 8") for (int r = 0; r < R; r++) a[r][b] = bias;               \
        }                                                                                     \
        for (int t = 0; t < g->ntaps; t++) {                                                  \
            const nn_iconv_tap *tp = g->taps + t;                                             \
            const int32_t *xp = x + tp->dy * rs + (ptrdiff_t)tp->dx * ps + tp->c0;            \
            const int64_t *wp = g->w + tp->w_off;                                             \
            for (int c = 0; c < tp->n; c++, xp++, wp += 8 * B) {                              \
                __m512i w[B];                                                                 \
                _Pragma("GCC unroll 4") for (int b = 0; b < B; b++) w[b] =                    \
                    _mm512_loadu_si512(wp + 8 * b);                                           \
                _Pragma("GCC unroll 8") for (int r = 0; r < R; r++)                           \
                {                                                                             \
                    __m512i xb = _mm512_set1_epi64(xp[(ptrdiff_t)r * ps]);                    \
                    _Pragma("GCC unroll 4") for (int b = 0; b < B; b++) a[r][b] =             \
                        _mm512_add_epi64(a[r][b], _mm512_mul_epi32(xb, w[b]));                \
                }                                                                             \
            }                                                                                 \
        }                                                                                     \
        _Pragma("GCC unroll 8") for (int r = 0; r < R; r++)                                   \
            _Pragma("GCC unroll 4") for (int b = 0; b < B; b++)                               \
                _mm512_storeu_si512(acc + (ptrdiff_t)r * as + 8 * b, a[r][b]);                \
    }

DEF_K32_512(4, 4)
DEF_K32_512(1, 4)
DEF_K32_512(4, 3)
DEF_K32_512(1, 3)
DEF_K32_512(4, 2)
DEF_K32_512(1, 2)
DEF_K32_512(8, 1)
DEF_K32_512(1, 1)

#define RUN32(R, B)                                                                           \
    for (; p + R <= npix; p += R)                                                             \
        k32_512_##R##_##B(x + (ptrdiff_t)p * ps, rs, ps, g, acc + (ptrdiff_t)p * as + g->lane0, as);

static T_AVX512 void row32_avx512(const int32_t *x, ptrdiff_t rs, int ps, int npix,
                                  const nn_iconv32_group *g, int64_t *acc, int as)
{
    int p = 0;
    switch (g->blocks) {
    case 4:
        RUN32(4, 4) RUN32(1, 4) break;
    case 3:
        RUN32(4, 3) RUN32(1, 3) break;
    case 2:
        RUN32(4, 2) RUN32(1, 2) break;
    default:
        RUN32(8, 1) RUN32(1, 1) break;
    }
}

/* ---------------------------------------------------------------- AVX2 */

/* One 16-lane block (two registers) for R pixels: vpmaddwd + vpaddd is the
 * same wrap-around sum as vpdpwssd. */
#define DEF_K16_256(R)                                                                        \
    static T_AVX2 void k16_256_##R(const int16_t *x, ptrdiff_t rs, int ps,                     \
                                   const nn_iconv16_group *g, int b, int32_t *acc, int as)    \
    {                                                                                         \
        const int B = g->blocks;                                                              \
        __m256i a[R][2];                                                                      \
        __m256i b0 = _mm256_loadu_si256((const __m256i *)(g->bias + 16 * b));                 \
        __m256i b1 = _mm256_loadu_si256((const __m256i *)(g->bias + 16 * b + 8));             \
        _Pragma("GCC unroll 8") for (int r = 0; r < R; r++)                                   \
        {                                                                                     \
            a[r][0] = b0;                                                                     \
            a[r][1] = b1;                                                                     \
        }                                                                                     \
        for (int t = 0; t < g->ntaps; t++) {                                                  \
            const nn_iconv_tap *tp = g->taps + t;                                             \
            const int16_t *xp = x + tp->dy * rs + (ptrdiff_t)tp->dx * ps + tp->c0;            \
            const int16_t *wp = g->w + tp->w_off + 32 * b;                                    \
            for (int q = 0; q < tp->n; q++, xp += 2, wp += 32 * B) {                          \
                __m256i w0 = _mm256_loadu_si256((const __m256i *)wp);                         \
                __m256i w1 = _mm256_loadu_si256((const __m256i *)(wp + 16));                  \
                _Pragma("GCC unroll 8") for (int r = 0; r < R; r++)                           \
                {                                                                             \
                    __m256i xb = _mm256_set1_epi32(load_pair(xp + (ptrdiff_t)r * ps));        \
                    a[r][0] = _mm256_add_epi32(a[r][0], _mm256_madd_epi16(xb, w0));           \
                    a[r][1] = _mm256_add_epi32(a[r][1], _mm256_madd_epi16(xb, w1));           \
                }                                                                             \
            }                                                                                 \
        }                                                                                     \
        _Pragma("GCC unroll 8") for (int r = 0; r < R; r++)                                   \
        {                                                                                     \
            _mm256_storeu_si256((__m256i *)(acc + (ptrdiff_t)r * as + 16 * b), a[r][0]);      \
            _mm256_storeu_si256((__m256i *)(acc + (ptrdiff_t)r * as + 16 * b + 8), a[r][1]);  \
        }                                                                                     \
    }

DEF_K16_256(6)
DEF_K16_256(1)

static T_AVX2 void row16_avx2(const int16_t *x, ptrdiff_t rs, int ps, int npix,
                              const nn_iconv16_group *g, int32_t *acc, int as)
{
    for (int b = 0; b < g->blocks; b++) {
        int p = 0;
        for (; p + 6 <= npix; p += 6)
            k16_256_6(x + (ptrdiff_t)p * ps, rs, ps, g, b, acc + (ptrdiff_t)p * as + g->lane0, as);
        for (; p < npix; p++)
            k16_256_1(x + (ptrdiff_t)p * ps, rs, ps, g, b, acc + (ptrdiff_t)p * as + g->lane0, as);
    }
}

#define DEF_K32_256(R)                                                                        \
    static T_AVX2 void k32_256_##R(const int32_t *x, ptrdiff_t rs, int ps,                     \
                                   const nn_iconv32_group *g, int b, int64_t *acc, int as)    \
    {                                                                                         \
        const int B = g->blocks;                                                              \
        __m256i a[R][2];                                                                      \
        __m256i b0 = _mm256_loadu_si256((const __m256i *)(g->bias + 8 * b));                  \
        __m256i b1 = _mm256_loadu_si256((const __m256i *)(g->bias + 8 * b + 4));              \
        _Pragma("GCC unroll 8") for (int r = 0; r < R; r++)                                   \
        {                                                                                     \
            a[r][0] = b0;                                                                     \
            a[r][1] = b1;                                                                     \
        }                                                                                     \
        for (int t = 0; t < g->ntaps; t++) {                                                  \
            const nn_iconv_tap *tp = g->taps + t;                                             \
            const int32_t *xp = x + tp->dy * rs + (ptrdiff_t)tp->dx * ps + tp->c0;            \
            const int64_t *wp = g->w + tp->w_off + 8 * b;                                     \
            for (int c = 0; c < tp->n; c++, xp++, wp += 8 * B) {                              \
                __m256i w0 = _mm256_loadu_si256((const __m256i *)wp);                         \
                __m256i w1 = _mm256_loadu_si256((const __m256i *)(wp + 4));                   \
                _Pragma("GCC unroll 8") for (int r = 0; r < R; r++)                           \
                {                                                                             \
                    __m256i xb = _mm256_set1_epi64x(xp[(ptrdiff_t)r * ps]);                   \
                    a[r][0] = _mm256_add_epi64(a[r][0], _mm256_mul_epi32(xb, w0));            \
                    a[r][1] = _mm256_add_epi64(a[r][1], _mm256_mul_epi32(xb, w1));            \
                }                                                                             \
            }                                                                                 \
        }                                                                                     \
        _Pragma("GCC unroll 8") for (int r = 0; r < R; r++)                                   \
        {                                                                                     \
            _mm256_storeu_si256((__m256i *)(acc + (ptrdiff_t)r * as + 8 * b), a[r][0]);       \
            _mm256_storeu_si256((__m256i *)(acc + (ptrdiff_t)r * as + 8 * b + 4), a[r][1]);   \
        }                                                                                     \
    }

DEF_K32_256(6)
DEF_K32_256(1)

static T_AVX2 void row32_avx2(const int32_t *x, ptrdiff_t rs, int ps, int npix,
                              const nn_iconv32_group *g, int64_t *acc, int as)
{
    for (int b = 0; b < g->blocks; b++) {
        int p = 0;
        for (; p + 6 <= npix; p += 6)
            k32_256_6(x + (ptrdiff_t)p * ps, rs, ps, g, b, acc + (ptrdiff_t)p * as + g->lane0, as);
        for (; p < npix; p++)
            k32_256_1(x + (ptrdiff_t)p * ps, rs, ps, g, b, acc + (ptrdiff_t)p * as + g->lane0, as);
    }
}

#endif /* NN_HAVE_X86 */

/* ---------------------------------------------------------------- dispatch */

void nn_iconv16_row(nn_isa isa, const int16_t *x, ptrdiff_t row_stride, int pixel_stride,
                    int npix, const nn_iconv16_group *g, int32_t *acc, int acc_stride)
{
#ifdef NN_HAVE_X86
    if (isa == NN_ISA_AVX512) {
        row16_avx512(x, row_stride, pixel_stride, npix, g, acc, acc_stride);
        return;
    }
    if (isa == NN_ISA_AVX2) {
        row16_avx2(x, row_stride, pixel_stride, npix, g, acc, acc_stride);
        return;
    }
#endif
    row16_c(x, row_stride, pixel_stride, npix, g, acc, acc_stride);
}

void nn_iconv32_row(nn_isa isa, const int32_t *x, ptrdiff_t row_stride, int pixel_stride,
                    int npix, const nn_iconv32_group *g, int64_t *acc, int acc_stride)
{
#ifdef NN_HAVE_X86
    if (isa == NN_ISA_AVX512) {
        row32_avx512(x, row_stride, pixel_stride, npix, g, acc, acc_stride);
        return;
    }
    if (isa == NN_ISA_AVX2) {
        row32_avx2(x, row_stride, pixel_stride, npix, g, acc, acc_stride);
        return;
    }
#endif
    row32_c(x, row_stride, pixel_stride, npix, g, acc, acc_stride);
}
