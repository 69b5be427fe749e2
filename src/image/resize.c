#include "image/resize.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint8_t to_byte(double v)
{
    v = v < 0 ? 0 : (v > 255 ? 255 : v);
    return (uint8_t)(v + 0.5);
}

/* Keys' cubic convolution kernel with a = -1/2 (Catmull-Rom): interpolating,
 * little ringing; support [-2, 2]. */
static double cubic(double t)
{
    t = fabs(t);
    if (t < 1)
        return (1.5 * t - 2.5) * t * t + 1;
    if (t < 2)
        return ((-0.5 * t + 2.5) * t - 4) * t + 2;
    return 0;
}

/* One output coordinate's source taps: first .. first + count - 1 (clamped to
 * the picture when read), weights summing to 1. */
typedef struct {
    int first, count;
    const double *w;
} taps;

/* The taps of n_out outputs over n_in inputs, pixel centres aligned; when
 * shrinking, the kernel is stretched by the factor (antialiasing). NULL when
 * out of memory; *store holds the weights (free both). */
static taps *make_taps(uint32_t n_in, uint32_t n_out, double **store)
{
    const double scale = (double)n_in / n_out, stretch = scale > 1 ? scale : 1;
    const double radius = 2 * stretch;
    const int most = 2 * (int)ceil(radius) + 1;
    taps *t = malloc(sizeof(taps) * n_out);
    double *w = malloc(sizeof(double) * (size_t)n_out * most);
    if (!t || !w) {
        free(t);
        free(w);
        return NULL;
    }
    for (uint32_t o = 0; o < n_out; o++) {
        const double centre = (o + 0.5) * scale - 0.5;
        const int lo = (int)ceil(centre - radius), hi = (int)floor(centre + radius);
        double *wo = w + (size_t)o * most, sum = 0;
        int n = 0;
        /* hi - lo < most in exact arithmetic; n < most guards the buffer anyway */
        for (int i = lo; i <= hi && n < most; i++, n++) {
            wo[n] = cubic((i - centre) / stretch);
            sum += wo[n];
        }
        for (int k = 0; k < n; k++)
            wo[k] /= sum;
        t[o] = (taps){lo, n, wo};
    }
    *store = w;
    return t;
}

static inline uint32_t clamp_index(int i, uint32_t n)
{
    return i < 0 ? 0 : ((uint32_t)i >= n ? n - 1 : (uint32_t)i);
}

/* Separable: each row is resampled to the new width into a float buffer, then
 * each column of that to the new height, rounded to 8 bits at the end. */
static nic_status resample(nic_context *ctx, const nic_image *s, nic_image *d)
{
    const uint32_t c = s->channels, sw = s->width, sh = s->height, dw = d->width,
                   dh = d->height;
    double *wx = NULL, *wy = NULL;
    taps *tx = make_taps(sw, dw, &wx), *ty = make_taps(sh, dh, &wy);
    float *mid = malloc(sizeof(float) * (size_t)dw * sh * c);
    nic_status st = NIC_OK;
    if (!tx || !ty || !mid) {
        st = NIC_FAIL(ctx, NIC_ERR_NOMEM, "resizing %ux%u to %ux%u: out of memory", sw, sh,
                      dw, dh);
        goto done;
    }
    for (uint32_t y = 0; y < sh; y++) {
        const uint8_t *row = s->data + (size_t)y * sw * c;
        for (uint32_t x = 0; x < dw; x++) {
            double acc[3] = {0, 0, 0};
            for (int k = 0; k < tx[x].count; k++) {
                const uint8_t *p = row + (size_t)clamp_index(tx[x].first + k, sw) * c;
                for (uint32_t ch = 0; ch < c; ch++)
                    acc[ch] += tx[x].w[k] * p[ch];
            }
            for (uint32_t ch = 0; ch < c; ch++)
                mid[((size_t)y * dw + x) * c + ch] = (float)acc[ch];
        }
    }
    for (uint32_t y = 0; y < dh; y++) {
        uint8_t *o = d->data + (size_t)y * dw * c;
        for (uint32_t x = 0; x < dw; x++) {
            double acc[3] = {0, 0, 0};
            for (int k = 0; k < ty[y].count; k++) {
                const float *p = mid + ((size_t)clamp_index(ty[y].first + k, sh) * dw + x) * c;
                for (uint32_t ch = 0; ch < c; ch++)
                    acc[ch] += ty[y].w[k] * p[ch];
            }
            for (uint32_t ch = 0; ch < c; ch++)
                o[x * c + ch] = to_byte(acc[ch]);
        }
    }
done:
    free(tx);
    free(ty);
    free(wx);
    free(wy);
    free(mid);
    return st;
}

nic_status nic_image_resize(nic_context *ctx, const nic_image *src, uint32_t width,
                            uint32_t height, nic_image *dst)
{
    NIC_TRY(nic_image_alloc(ctx, dst, width, height, src->channels));
    if (width == src->width && height == src->height) {
        memcpy(dst->data, src->data, (size_t)width * height * src->channels);
        return NIC_OK;
    }
    nic_status st = resample(ctx, src, dst);
    if (st != NIC_OK)
        nic_image_free(dst);
    return st;
}
