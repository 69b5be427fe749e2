/* The hyper codec end to end with a small random model: round trips, byte
 * budgets (with downscaling), deterministic decoding across thread counts,
 * integer table choices, and malformed files. */
#include "test.h"
#include "test_codec_util.h"

#include <omp.h>
#include <sys/stat.h>

#include "codec/hyper_codec.h"
#include "metrics/metrics.h"
#include "nn/safetensors.h"
#include "test_hyper_util.h"

/* What a progress callback was told: steps counted from 1, and the messages. */
typedef struct {
    int steps, out_of_order;
    char first[128], all[4096];
} progress_log;

static void record_progress(void *user, const char *what, int step)
{
    progress_log *p = user;
    if (step != p->steps + 1)
        p->out_of_order = 1;
    p->steps = step;
    if (step == 1)
        snprintf(p->first, sizeof(p->first), "%s", what);
    size_t used = strlen(p->all);
    snprintf(p->all + used, sizeof(p->all) - used, "%s\n", what);
}

int main(void)
{
    nic_context *ctx = nic_context_create();
    /* A small random model, exported like a shipped one. */
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", test_tmp_dir());
    export_small_hyper(ctx, dir, "test model", 4);
    CHECK_STATUS(nic_context_set_model_dir(ctx, dir), NIC_OK);

    /* Scale index: integer comparisons against the committed log-scales. */
    CHECK(nic_hyper_scale_index(INT32_MIN) == 0 && nic_hyper_scale_index(INT32_MAX) == 63);
    CHECK(nic_hyper_scale_index(-144656) == 0 && nic_hyper_scale_index(-144655) == 1);
    CHECK(nic_hyper_scale_index(0) == 18); /* sigma 1.0 lies between tables 17 and 18 */

    nic_image img;
    make_image(&img, 100, 70, 3, 1); /* not a multiple of 64: padding and cropping */
    nic_encode_options opt;
    nic_encode_options_init(&opt);
    uint8_t *buf = NULL, *buf_hi = NULL;
    size_t size = 0, size_hi = 0;
    nic_encode_result res;
    opt.quality = 10;
    CHECK_STATUS(nic_encode(ctx, &img, &opt, &buf, &size, &res), NIC_OK);
    opt.quality = 90;
    CHECK_STATUS(nic_encode(ctx, &img, &opt, &buf_hi, &size_hi, NULL), NIC_OK);
    CHECK_MSG(size_hi > size, "quality 90 gave %zu bytes, quality 10 %zu", size_hi, size);
    CHECK(res.bytes == size && res.quality_index == 26 && res.coded_width == 100);

    nic_image dec1, dec2;
    CHECK_STATUS(nic_decode(ctx, buf_hi, size_hi, "hi.nic", &dec1), NIC_OK);
    CHECK(dec1.width == 100 && dec1.height == 70 && dec1.channels == 3);
    /* Deterministic: other thread counts, instruction sets and strip heights
     * (memory budgets) give the same pixels, and the encoder the same file. */
    nic_hyper_codec *hc;
    CHECK_STATUS(nic_codec_get_hyper(ctx, &hc), NIC_OK);
    opt.quality = 90;
    int ways = 0;
    int differ = codec_every_way(ctx, hc, &img, &opt, buf_hi, size_hi, &dec1, 0, &ways);
    CHECK_MSG(differ == 0, "%d of %d ways to decode (or encode) gave other bytes", differ, ways);
    /* A fresh context (model loaded again) decodes the same. */
    nic_context *ctx2 = nic_context_create();
    nic_context_set_model_dir(ctx2, dir);
    CHECK_STATUS(nic_decode(ctx2, buf_hi, size_hi, "hi.nic", &dec2), NIC_OK);
    CHECK(dec2.data && memcmp(dec1.data, dec2.data, 100 * 70 * 3) == 0);
    nic_image_free(&dec2);
    nic_context_destroy(ctx2);
    nic_image_free(&dec1);
    free(buf_hi);

    /* Gray images stay gray. */
    nic_image gray;
    make_image(&gray, 64, 64, 1, 2);
    uint8_t *gbuf;
    size_t gsize;
    CHECK_STATUS(nic_encode(ctx, &gray, NULL, &gbuf, &gsize, NULL), NIC_OK);
    CHECK_STATUS(nic_decode(ctx, gbuf, gsize, "gray.nic", &dec1), NIC_OK);
    CHECK(dec1.channels == 1 && dec1.width == 64);
    nic_image_free(&dec1);
    free(gbuf);
    nic_image_free(&gray);

    /* Byte budgets: never over, even when the picture has to shrink. */
    nic_image big;
    make_image(&big, 192, 128, 3, 3);
    size_t budgets[] = {60, 120, 300, 800, 3000};
    for (size_t i = 0; i < sizeof(budgets) / sizeof(budgets[0]); i++) {
        nic_encode_options_init(&opt);
        opt.max_bytes = budgets[i];
        uint8_t *b = NULL;
        size_t n = 0;
        nic_status st = nic_encode(ctx, &big, &opt, &b, &n, &res);
        if (st == NIC_ERR_LIMIT) {
            printf("budget %zu: cannot fit (%s)\n", budgets[i], nic_context_error(ctx));
            continue;
        }
        CHECK_STATUS(st, NIC_OK);
        CHECK_MSG(n <= budgets[i], "budget %zu: %zu bytes", budgets[i], n);
        printf("budget %zu: %zu bytes, q %d, coded %ux%u\n", budgets[i], n, res.quality_index,
               res.coded_width, res.coded_height);
        nic_image d;
        CHECK_STATUS(nic_decode(ctx, b, n, "budget.nic", &d), NIC_OK);
        CHECK(d.width == 192 && d.height == 128); /* scaled back to the original */
        nic_image_free(&d);
        free(b);
    }
    /* The search over smaller pictures never loses to the full picture alone. */
    for (size_t i = 0; i < sizeof(budgets) / sizeof(budgets[0]); i++) {
        double mse[2] = {-1, -1};
        for (int down = 0; down < 2; down++) {
            nic_encode_options_init(&opt);
            opt.max_bytes = budgets[i];
            opt.allow_downscale = down;
            uint8_t *b = NULL;
            size_t n = 0;
            nic_image d;
            if (nic_encode(ctx, &big, &opt, &b, &n, NULL) != NIC_OK)
                continue;
            CHECK_STATUS(nic_decode(ctx, b, n, "budget.nic", &d), NIC_OK);
            mse[down] = nic_mse_images(&big, &d);
            nic_image_free(&d);
            free(b);
        }
        CHECK_MSG(mse[1] >= 0, "budget %zu: the search found nothing", budgets[i]);
        if (mse[0] >= 0)
            CHECK_MSG(mse[1] <= mse[0], "budget %zu: MSE %g searched, %g full size", budgets[i],
                      mse[1], mse[0]);
    }
    /* Progress: a step per picture size the budget codes, from the full size on,
     * the chosen one among them; each encode counts from 1 again. */
    for (int run = 0; run < 2; run++) {
        progress_log pl = {0};
        nic_context_set_progress(ctx, record_progress, &pl);
        nic_encode_options_init(&opt);
        opt.max_bytes = budgets[0];
        uint8_t *b = NULL;
        size_t n = 0;
        CHECK_STATUS(nic_encode(ctx, &big, &opt, &b, &n, &res), NIC_OK);
        free(b);
        char chosen[64];
        snprintf(chosen, sizeof(chosen), "coding %ux%u\n", res.coded_width, res.coded_height);
        CHECK_MSG(pl.steps >= 2 && !pl.out_of_order, "%d steps, out of order %d", pl.steps,
                  pl.out_of_order);
        CHECK_MSG(strstr(pl.first, "coding 192x128") != NULL, "first step: %s", pl.first);
        CHECK_MSG(strstr(pl.all, chosen) != NULL, "%s not among:\n%s", chosen, pl.all);
    }
    /* No size under 8 x 8 is coded, the finer steps included (a 10 x 10 picture:
     * 0.8 gives 8 x 8, the finer step 0.72 would give 7 x 7). */
    nic_image tiny;
    make_image(&tiny, 10, 10, 3, 4);
    for (size_t b = 40; b <= 200; b += 20) {
        progress_log pl = {0};
        nic_context_set_progress(ctx, record_progress, &pl);
        nic_encode_options_init(&opt);
        opt.max_bytes = b;
        uint8_t *f = NULL;
        size_t n = 0;
        if (nic_encode(ctx, &tiny, &opt, &f, &n, NULL) == NIC_OK)
            free(f);
        for (const char *s = strstr(pl.all, "coding "); s; s = strstr(s + 1, "coding ")) {
            unsigned w = 0, h = 0;
            CHECK(sscanf(s, "coding %ux%u", &w, &h) == 2);
            CHECK_MSG(w >= 8 && h >= 8, "budget %zu: coded %ux%u", b, w, h);
        }
    }
    nic_image_free(&tiny);
    nic_context_set_progress(ctx, NULL, NULL);
    nic_encode_options_init(&opt);
    opt.max_bytes = 10;
    CHECK_STATUS(nic_encode(ctx, &big, &opt, &buf_hi, &size_hi, NULL), NIC_ERR_LIMIT);
    CHECK(buf_hi == NULL && size_hi == 0);
    nic_image_free(&big);

    /* Malformed and mismatched files. */
    nic_image d;
    for (size_t cut = 0; cut < size; cut += size / 13 + 1)
        CHECK(nic_decode(ctx, buf, cut, "cut.nic", &d) != NIC_OK && d.data == NULL);
    uint8_t *bad = malloc(size);
    memcpy(bad, buf, size);
    bad[size / 2] ^= 0x40;
    CHECK_STATUS(nic_decode(ctx, bad, size, "flip.nic", &d), NIC_ERR_CORRUPT);
    free(bad);
    char other[4200]; /* other weights, same shapes */
    snprintf(other, sizeof(other), "%s/other", dir);
    mkdir(other, 0755);
    export_small_hyper(ctx, other, "other", 5);
    ctx2 = nic_context_create();
    nic_context_set_model_dir(ctx2, other);
    CHECK_STATUS(nic_decode(ctx2, buf, size, "a.nic", &d), NIC_ERR_MISMATCH);
    CHECK(strstr(nic_context_error(ctx2), "other weights") != NULL);
    nic_context_destroy(ctx2);
    ctx2 = nic_context_create();
    nic_context_set_model_dir(ctx2, "/nonexistent");
    setenv("NIC_MODEL_DIR", "/nonexistent", 1);
    CHECK(nic_decode(ctx2, buf, size, "a.nic", &d) != NIC_OK);
    nic_context_destroy(ctx2);

    free(buf);
    nic_image_free(&img);
    nic_context_destroy(ctx);
    return test_finish("test_codec");
}
