/* The hyper codec with a checkerboard context network (small random models,
 * of 4 and of 12 anchors): the integer context against the float model's,
 * files of three streams that round-trip, decode identically on every
 * instruction set, thread count and strip height, fit byte budgets, and fail
 * cleanly when cut or damaged. */
#include "test.h"
#include "test_codec_util.h"

#include <omp.h>

#include "codec/hyper_codec.h"
#include <sys/stat.h>
#include "test_hyper_util.h"

/* nic_hyper_int_context against the float network on random anchors. */
static void test_int_context(nic_hyper_codec *hc)
{
    const nic_hyper_model *m = &hc->model;
    const int M = m->cfg.m, C = m->cfg.ctx, K = nic_hyper_ctx_k(&m->cfg), hy = 5, wy = 7;
    const size_t plane = (size_t)hy * wy, ny = (size_t)M * plane;
    float *yf = calloc(ny, sizeof(float)), *in = calloc((size_t)K * ny, sizeof(float));
    int32_t *yq = calloc(ny, sizeof(int32_t)), *mean = calloc(ny, sizeof(int32_t));
    int32_t *ls = calloc(ny, sizeof(int32_t));
    nn_rng rng;
    nn_rng_seed(&rng, 11);
    for (size_t k = 0; k < ny; k++) {
        int r = (int)(k % plane) / wy, col = (int)(k % plane) % wy;
        if (!nic_hyper_is_anchor(r, col))
            continue;
        yq[k] = nic_q_from_float(6.0 * (nn_rng_uniform(&rng) - 0.5));
        yf[k] = yq[k] / 65536.0f;
    }
    CHECK_STATUS(nic_hyper_int_context(NULL, &hc->hint, yq, hy, wy, mean, ls), NIC_OK);
    /* the fast kernels on every instruction set and thread count = the reference */
    int32_t *mr = calloc(ny, sizeof(int32_t)), *lr = calloc(ny, sizeof(int32_t));
    int32_t *mf = malloc(ny * sizeof(int32_t)), *lf = malloc(ny * sizeof(int32_t));
    CHECK_STATUS(nic_hyper_int_context_reference(NULL, &hc->hint, yq, hy, wy, mr, lr), NIC_OK);
    const nn_isa best = hc->hint.isa;
    const int threads = omp_get_max_threads();
    int differ = 0;
    for (int isa = 0; isa < NN_ISA_COUNT; isa++)
        for (int th = 1; th <= 3 && nn_isa_supported((nn_isa)isa); th++) {
            hc->hint.isa = (nn_isa)isa;
            omp_set_num_threads(th);
            memset(mf, 0, ny * sizeof(int32_t));
            memset(lf, 0, ny * sizeof(int32_t));
            CHECK_STATUS(nic_hyper_int_context(NULL, &hc->hint, yq, hy, wy, mf, lf), NIC_OK);
            differ += memcmp(mf, mr, ny * sizeof(int32_t)) != 0 || memcmp(lf, lr, ny * sizeof(int32_t)) != 0;
        }
    hc->hint.isa = best;
    omp_set_num_threads(threads);
    CHECK_MSG(differ == 0, "the fast integer context differs from the reference %d ways", differ);
    CHECK(memcmp(mean, mr, ny * sizeof(int32_t)) == 0 && memcmp(ls, lr, ny * sizeof(int32_t)) == 0);
    free(mr);
    free(lr);
    free(mf);
    free(lf);
    nic_hyper_ctx_gather(yf, 1, M, hy, wy, K, in);
    const float *w1 = nn_param_data(&m->params, m->cx[0].weight);
    const float *b1 = nn_param_data(&m->params, m->cx[0].bias);
    const float *w2 = nn_param_data(&m->params, m->cx[1].weight);
    const float *b2 = nn_param_data(&m->params, m->cx[1].bias);
    double worst = 0;
    int anchors_touched = 0;
    for (size_t i = 0; i < plane; i++) {
        int anchor = nic_hyper_is_anchor((int)i / wy, (int)i % wy);
        double h[64];
        for (int j = 0; j < C && j < 64; j++) {
            double a = b1[j];
            for (int k = 0; k < K * M; k++)
                a += (double)w1[(size_t)j * K * M + k] * in[(size_t)k * plane + i];
            h[j] = a > 0 ? a : 0;
        }
        for (int o = 0; o < 2 * M; o++) {
            double a = b2[o];
            for (int j = 0; j < C; j++)
                a += (double)w2[o * C + j] * h[j];
            int32_t got = o < M ? mean[(size_t)o * plane + i] : ls[(size_t)(o - M) * plane + i];
            if (anchor) {
                anchors_touched += got != 0;
                continue;
            }
            double d = fabs(got / 65536.0 - a);
            worst = d > worst ? d : worst;
        }
    }
    CHECK_MSG(anchors_touched == 0, "the context changed %d anchor values", anchors_touched);
    CHECK_MSG(worst < 1e-3, "integer context off the float one by %g", worst);
    printf("integer context: largest difference from float %.2e\n", worst);
    free(yf);
    free(in);
    free(yq);
    free(mean);
    free(ls);
}

/* Everything below for a context of `anchors` (4 or 12) anchors. */
static void test_model(int anchors)
{
    printf("context of %d anchors\n", anchors);
    nic_context *ctx = nic_context_create();
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/ctx_model%d", test_tmp_dir(), anchors);
    mkdir(dir, 0755);
    export_small_hyper_anchors(ctx, dir, "test model with context", 4, 8, anchors);
    CHECK_STATUS(nic_context_set_model_dir(ctx, dir), NIC_OK);
    nic_hyper_codec *hc;
    CHECK_STATUS(nic_codec_get_hyper(ctx, &hc), NIC_OK);
    CHECK(hc->model.cfg.ctx == 8 && hc->hint.ctx_width == 8);
    CHECK(nic_hyper_ctx_k(&hc->model.cfg) == anchors && hc->hint.ctx_nb == anchors);
    test_int_context(hc);

    nic_image img;
    make_image(&img, 100, 70, 3, 1);
    nic_encode_options opt;
    nic_encode_options_init(&opt);
    opt.quality = 90;
    uint8_t *buf = NULL;
    size_t size = 0;
    CHECK_STATUS(nic_encode(ctx, &img, &opt, &buf, &size, NULL), NIC_OK);
    nic_container f;
    CHECK_STATUS(nic_container_parse(ctx, buf, size, "ctx.nic", 0, &f), NIC_OK);
    CHECK_MSG(f.stream_count == 3, "a context model's file has %u streams", f.stream_count);
    CHECK(f.streams[1].size > 0 && f.streams[2].size > 0);
    nic_image dec1;
    CHECK_STATUS(nic_decode(ctx, buf, size, "ctx.nic", &dec1), NIC_OK);
    CHECK(dec1.width == 100 && dec1.height == 70 && dec1.channels == 3);
    nic_quality mt;
    CHECK_STATUS(nic_compare(ctx, &img, &dec1, &mt), NIC_OK);
    printf("q 90: %zu bytes, PSNR %.2f dB\n", size, mt.psnr_rgb);

    /* the same pixels every way: instruction sets x threads x strip heights */
    int ways = 0;
    int differ = codec_every_way(ctx, hc, &img, &opt, buf, size, &dec1, 1, &ways);
    CHECK_MSG(differ == 0, "%d of %d ways to decode or encode gave other bytes", differ, ways);
    nic_image_free(&dec1);

    /* byte budgets */
    nic_image big;
    make_image(&big, 192, 128, 3, 3);
    size_t budgets[] = {120, 800, 3000};
    for (size_t i = 0; i < sizeof(budgets) / sizeof(budgets[0]); i++) {
        nic_encode_options_init(&opt);
        opt.max_bytes = budgets[i];
        uint8_t *b = NULL;
        size_t n = 0;
        nic_status st = nic_encode(ctx, &big, &opt, &b, &n, NULL);
        if (st == NIC_ERR_LIMIT)
            continue;
        CHECK_STATUS(st, NIC_OK);
        CHECK_MSG(n <= budgets[i], "budget %zu: %zu bytes", budgets[i], n);
        nic_image d;
        CHECK_STATUS(nic_decode(ctx, b, n, "budget.nic", &d), NIC_OK);
        CHECK(d.width == 192 && d.height == 128);
        nic_image_free(&d);
        free(b);
    }
    nic_image_free(&big);

    /* cut or damaged files: an error, never a crash or a picture */
    nic_image d;
    for (size_t cut = 0; cut < size; cut += size / 17 + 1)
        CHECK(nic_decode(ctx, buf, cut, "cut.nic", &d) != NIC_OK && d.data == NULL);
    uint8_t *bad = malloc(size);
    for (size_t at = size / 3; at < size; at += size / 5 + 1) {
        memcpy(bad, buf, size);
        bad[at] ^= 0x10;
        CHECK(nic_decode(ctx, bad, size, "flip.nic", &d) != NIC_OK && d.data == NULL);
    }
    free(bad);
    /* a model without context refuses the file by its weights hash */
    char plain[4200];
    snprintf(plain, sizeof(plain), "%s/plain", dir);
    mkdir(plain, 0755);
    export_small_hyper(ctx, plain, "plain", 4);
    nic_context *ctx2 = nic_context_create();
    nic_context_set_model_dir(ctx2, plain);
    CHECK_STATUS(nic_decode(ctx2, buf, size, "ctx.nic", &d), NIC_ERR_MISMATCH);
    nic_context_destroy(ctx2);

    free(buf);
    nic_image_free(&img);
    nic_context_destroy(ctx);
}

int main(void)
{
    test_model(4);
    test_model(12);
    return test_finish("test_codec_context");
}
