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

/* The two families share their kernels' shape; they differ in element types,
 * lanes per block (16 int32 or 8 int64 in a 512-bit register), input channels
 * per weight step (a pair or one) and the multiply-add:
 *   16-bit: acc += x0 w0 + x1 w1 (vpdpwssd; vpmaddwd + vpaddd on AVX2)
 *   32-bit: acc += x w           (vpmuldq + vpaddq) */
#define BCAST16_512(p) _mm512_set1_epi32(load_pair(p))
#define MADD16_512(a, x, w) _mm512_dpwssd_epi32(a, x, w)
#define BCAST32_512(p) _mm512_set1_epi64(*(p))
#define MADD32_512(a, x, w) _mm512_add_epi64(a, _mm512_mul_epi32(x, w))
#define BCAST16_256(p) _mm256_set1_epi32(load_pair(p))
#define MADD16_256(a, x, w) _mm256_add_epi32(a, _mm256_madd_epi16(x, w))
#define BCAST32_256(p) _mm256_set1_epi64x(*(p))
#define MADD32_256(a, x, w) _mm256_add_epi64(a, _mm256_mul_epi32(x, w))

/* Per family (16 or 32): input, sum, weight and group types, lanes per
 * block, input channels per weight step. */
#define TYPES_16 int16_t, int32_t, int16_t, nn_iconv16_group, 16, 2
#define TYPES_32 int32_t, int64_t, int64_t, nn_iconv32_group, 8, 1

/* ---------------------------------------------------------------- AVX-512 */

/* R pixels x B blocks of accumulators stay in registers (R * B <= 24). */
#define DEF_K512(FAM, R, B) DEF_K512_(FAM, R, B, TYPES_##FAM)
#define DEF_K512_(FAM, R, B, ...) DEF_K512_X(FAM, R, B, __VA_ARGS__)
#define DEF_K512_X(FAM, R, B, XT, AT, WT, GT, LANES, STEP)                                    \
    static T_AVX512 void k##FAM##_512_##R##_##B(const XT *x, ptrdiff_t rs, int ps,             \
                                                const GT *g, AT *acc, int as)                 \
    {                                                                                         \
        __m512i a[R][B];                                                                      \
        _Pragma("GCC unroll 4") for (int b = 0; b < B; b++)                                   \
        {                                                                                     \
            __m512i bias = _mm512_loadu_si512(g->bias + LANES * b);                           \
            _Pragma("GCC unroll 24") for (int r = 0; r < R; r++) a[r][b] = bias;              \
        }                                                                                     \
        for (int t = 0; t < g->ntaps; t++) {                                                  \
            const nn_iconv_tap *tp = g->taps + t;                                             \
            const XT *xp = x + tp->dy * rs + (ptrdiff_t)tp->dx * ps + tp->c0;                 \
            const WT *wp = g->w + tp->w_off;                                                  \
            for (int q = 0; q < tp->n; q++, xp += STEP, wp += LANES * STEP * B) {             \
                __m512i w[B];                                                                 \
                _Pragma("GCC unroll 4") for (int b = 0; b < B; b++) w[b] =                    \
                    _mm512_loadu_si512(wp + LANES * STEP * b);                                \
                _Pragma("GCC unroll 24") for (int r = 0; r < R; r++)                          \
                {                                                                             \
                    __m512i xb = BCAST##FAM##_512(xp + (ptrdiff_t)r * ps);                    \
                    _Pragma("GCC unroll 4") for (int b = 0; b < B; b++) a[r][b] =             \
                        MADD##FAM##_512(a[r][b], xb, w[b]);                                   \
                }                                                                             \
            }                                                                                 \
        }                                                                                     \
        _Pragma("GCC unroll 24") for (int r = 0; r < R; r++)                                  \
            _Pragma("GCC unroll 4") for (int b = 0; b < B; b++)                               \
                _mm512_storeu_si512(acc + (ptrdiff_t)r * as + LANES * b, a[r][b]);            \
    }
DEF_K512(16, 8, 3)
DEF_K512(16, 4, 3)
DEF_K512(16, 1, 3)
DEF_K512(16, 12, 2)
DEF_K512(16, 4, 2)
DEF_K512(16, 1, 2)
DEF_K512(16, 24, 1)
DEF_K512(16, 4, 1)
DEF_K512(16, 1, 1)
DEF_K512(32, 4, 4)
DEF_K512(32, 1, 4)
DEF_K512(32, 4, 3)
DEF_K512(32, 1, 3)
DEF_K512(32, 4, 2)
DEF_K512(32, 1, 2)
DEF_K512(32, 8, 1)
DEF_K512(32, 1, 1)

/* Whole runs of R pixels, then the rest with smaller R. */
#define RUN512(FAM, R, B)                                                                     \
    for (; p + R <= npix; p += R)                                                             \
        k##FAM##_512_##R##_##B(x + (ptrdiff_t)p * ps, rs, ps, g, acc + (ptrdiff_t)p * as + g->lane0, as);

static T_AVX512 void row16_avx512(const int16_t *x, ptrdiff_t rs, int ps, int npix,
                                  const nn_iconv16_group *g, int32_t *acc, int as)
{
    int p = 0;
    switch (g->blocks) {
    case 3:
        RUN512(16, 8, 3) RUN512(16, 4, 3) RUN512(16, 1, 3) break;
    case 2:
        RUN512(16, 12, 2) RUN512(16, 4, 2) RUN512(16, 1, 2) break;
    default:
        RUN512(16, 24, 1) RUN512(16, 4, 1) RUN512(16, 1, 1) break;
    }
}

static T_AVX512 void row32_avx512(const int32_t *x, ptrdiff_t rs, int ps, int npix,
                                  const nn_iconv32_group *g, int64_t *acc, int as)
{
    int p = 0;
    switch (g->blocks) {
    case 4:
        RUN512(32, 4, 4) RUN512(32, 1, 4) break;
    case 3:
        RUN512(32, 4, 3) RUN512(32, 1, 3) break;
    case 2:
        RUN512(32, 4, 2) RUN512(32, 1, 2) break;
    default:
        RUN512(32, 8, 1) RUN512(32, 1, 1) break;
    }
}

/* ---------------------------------------------------------------- AVX2 */

/* One block (two registers) for R pixels. */
#define DEF_K256(FAM, R) DEF_K256_(FAM, R, TYPES_##FAM)
#define DEF_K256_(FAM, R, ...) DEF_K256_X(FAM, R, __VA_ARGS__)
#define DEF_K256_X(FAM, R, XT, AT, WT, GT, LANES, STEP)                                       \
    static T_AVX2 void k##FAM##_256_##R(const XT *x, ptrdiff_t rs, int ps, const GT *g, int b, \
                                        AT *acc, int as)                                      \
    {                                                                                         \
        const int B = g->blocks, H = LANES / 2; /* elements per register */                   \
        __m256i a[R][2];                                                                      \
        __m256i b0 = _mm256_loadu_si256((const __m256i *)(g->bias + LANES * b));              \
        __m256i b1 = _mm256_loadu_si256((const __m256i *)(g->bias + LANES * b + H));          \
        _Pragma("GCC unroll 8") for (int r = 0; r < R; r++)                                   \
        {                                                                                     \
            a[r][0] = b0;                                                                     \
            a[r][1] = b1;                                                                     \
        }                                                                                     \
        for (int t = 0; t < g->ntaps; t++) {                                                  \
            const nn_iconv_tap *tp = g->taps + t;                                             \
            const XT *xp = x + tp->dy * rs + (ptrdiff_t)tp->dx * ps + tp->c0;                 \
            const WT *wp = g->w + tp->w_off + LANES * STEP * b;                               \
            for (int q = 0; q < tp->n; q++, xp += STEP, wp += LANES * STEP * B) {             \
                __m256i w0 = _mm256_loadu_si256((const __m256i *)wp);                         \
                __m256i w1 = _mm256_loadu_si256((const __m256i *)(wp + H * STEP));            \
                _Pragma("GCC unroll 8") for (int r = 0; r < R; r++)                           \
                {                                                                             \
                    __m256i xb = BCAST##FAM##_256(xp + (ptrdiff_t)r * ps);                    \
                    a[r][0] = MADD##FAM##_256(a[r][0], xb, w0);                               \
                    a[r][1] = MADD##FAM##_256(a[r][1], xb, w1);                               \
                }                                                                             \
            }                                                                                 \
        }                                                                                     \
        _Pragma("GCC unroll 8") for (int r = 0; r < R; r++)                                   \
        {                                                                                     \
            _mm256_storeu_si256((__m256i *)(acc + (ptrdiff_t)r * as + LANES * b), a[r][0]);   \
            _mm256_storeu_si256((__m256i *)(acc + (ptrdiff_t)r * as + LANES * b + H), a[r][1]); \
        }                                                                                     \
    }

DEF_K256(16, 6)
DEF_K256(16, 1)
DEF_K256(32, 6)
DEF_K256(32, 1)

/* Block by block, whole runs of 6 pixels, then one at a time. */
#define DEF_ROW256(FAM) DEF_ROW256_(FAM, TYPES_##FAM)
#define DEF_ROW256_(FAM, ...) DEF_ROW256_X(FAM, __VA_ARGS__)
#define DEF_ROW256_X(FAM, XT, AT, WT, GT, LANES, STEP)                                        \
    static T_AVX2 void row##FAM##_avx2(const XT *x, ptrdiff_t rs, int ps, int npix,           \
                                       const GT *g, AT *acc, int as)                          \
    {                                                                                         \
        for (int b = 0; b < g->blocks; b++) {                                                 \
            int p = 0;                                                                        \
            for (; p + 6 <= npix; p += 6)                                                     \
                k##FAM##_256_6(x + (ptrdiff_t)p * ps, rs, ps, g, b,                           \
                               acc + (ptrdiff_t)p * as + g->lane0, as);                       \
            for (; p < npix; p++)                                                             \
                k##FAM##_256_1(x + (ptrdiff_t)p * ps, rs, ps, g, b,                           \
                               acc + (ptrdiff_t)p * as + g->lane0, as);                       \
        }                                                                                     \
    }

DEF_ROW256(16)
DEF_ROW256(32)

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
