/*
 * eval_rnn: the progressive rnn codec on Kodak, one row per layer count, and
 * JPEG in the same bytes (models/rnn.md quotes its output).
 *
 *   eval_rnn [--data DIR] [--images N] [--models DIR] [--csv FILE] [--plots DIR]
 *
 * Protocol (DESIGN.md): rate = the bytes of the K-layer file that
 * `nic encode --model rnn --layers K` writes (container and CRC included) * 8 /
 * pixels; PSNR over 8-bit RGB, MS-SSIM on luma; the mean over images. The
 * pictures are those of nic decode (deterministic kernels), taken after each
 * layer of one progressive decode (a K-layer prefix decodes to exactly that
 * picture; test_codec_rnn checks it). JPEG: for each image, the best
 * libjpeg-turbo quality (optimized Huffman tables, 4:2:0) whose file fits in
 * the K-layer file's bytes; images where even quality 1 does not fit are
 * counted apart. Also prints the decode time per layer of the first image.
 * With an rnn+cnn model holding the same rnn weights, its file sizes too (the
 * pictures are the same) and the bytes it saves per layer. --plots DIR writes
 * the rate-distortion curves (PSNR and MS-SSIM against bpp, with JPEG and
 * Toderici et al.'s published points) as DIR/rnn_psnr and DIR/rnn_msssim,
 * .svg and .png.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec/rnn_codec.h"
#include "image/image_internal.h"
#include "report/plot.h"

#define MAX_IMAGES 24

typedef struct acc {
    double bpp, psnr, msssim;
    int n;
} acc;

typedef struct layer_eval {
    nic_context *ctx;
    const nic_image *orig;
    nic_quality q[NIC_RNN_MAX_ITERATIONS + 1];
} layer_eval;

static void add(acc *a, double bpp, const nic_quality *q)
{
    a->bpp += bpp;
    a->psnr += q->psnr_rgb;
    a->msssim += q->ms_ssim;
    a->n++;
}

/* Bytes of the file that --layers k writes: f's first k streams in their own container. */
static size_t k_layer_bytes(nic_context *ctx, const nic_container *f, int k)
{
    nic_container fk = *f;
    fk.stream_count = (uint32_t)k;
    uint8_t *kb;
    size_t ks = 0;
    if (nic_container_write(ctx, &fk, &kb, &ks) != NIC_OK) {
        fprintf(stderr, "eval_rnn: %s\n", nic_context_error(ctx));
        exit(1);
    }
    free(kb);
    return ks;
}

/* Toderici et al. 2017 on Kodak (the reference points). */
static const double toderici_bpp[3] = {0.125, 0.25, 0.375};
static const double toderici_psnr[3] = {23.0, 25.7, 27.1};
static const double toderici_msssim[3] = {0.82, 0.90, 0.94};

/* Mean bpp and quality of each row with images, as plot series. */
static size_t curve(const acc *a, int T, int msssim, double *x, double *y)
{
    size_t n = 0;
    for (int k = 1; k <= T; k++)
        if (a[k].n) {
            x[n] = a[k].bpp / a[k].n;
            y[n] = (msssim ? a[k].msssim : a[k].psnr) / a[k].n;
            n++;
        }
    return n;
}

static nic_status write_plots(nic_context *ctx, const char *dir, int T, const acc *rnn,
                              const acc *cnn, const acc *jpg, const acc *jpg_cnn)
{
    double x[4][NIC_RNN_MAX_ITERATIONS], y[4][NIC_RNN_MAX_ITERATIONS];
    for (int m = 0; m < 2; m++) {
        nic_plot p;
        nic_plot_init(&p, m ? "Kodak: MS-SSIM (luma) of the rnn codecs"
                            : "Kodak: PSNR (RGB) of the rnn codecs",
                      "bits per pixel", m ? "MS-SSIM" : "PSNR (dB)");
        p.legend = NIC_PLOT_LEGEND_OUTSIDE;
        const acc *rows[4] = {rnn, cnn, jpg, jpg_cnn};
        const char *names[4] = {"rnn", "rnn+cnn", "JPEG (rnn's bytes)", "JPEG (rnn+cnn's bytes)"};
        for (int i = 0; i < 4; i++) {
            size_t n = rows[i] ? curve(rows[i], T, m, x[i], y[i]) : 0;
            if (n)
                NIC_TRY(nic_plot_add(ctx, &p, names[i], x[i], y[i], n,
                                     NIC_PLOT_LINE | NIC_PLOT_MARKERS | (i >= 2 ? NIC_PLOT_DASHED : 0),
                                     0));
        }
        NIC_TRY(nic_plot_add(ctx, &p, "Toderici et al. 2017", toderici_bpp,
                             m ? toderici_msssim : toderici_psnr, 3, NIC_PLOT_MARKERS, 0));
        char base[4200];
        snprintf(base, sizeof(base), "%s/%s", dir, m ? "rnn_msssim" : "rnn_psnr");
        NIC_TRY(nic_plot_write(ctx, &p, base));
    }
    return NIC_OK;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static nic_status on_layer(void *user, int k, const nic_image *pic)
{
    layer_eval *e = user;
    return nic_compare(e->ctx, e->orig, pic, &e->q[k]);
}

/* The best JPEG of at most `bytes` bytes: 0 when none fits. */
static int jpeg_within(nic_context *ctx, const nic_image *img, size_t bytes, double *bpp,
                       nic_quality *quality)
{
    int lo = 1, hi = 100, best = 0;
    size_t best_size = 0;
    while (lo <= hi) {
        int q = (lo + hi) / 2;
        nic_jpeg_options o = {.quality = q};
        uint8_t *buf;
        size_t size;
        if (nic_jpeg_encode(ctx, img->data, img->width, img->height, img->channels, &o, &buf,
                            &size) != NIC_OK)
            return 0;
        free(buf);
        if (size <= bytes) {
            best = q;
            best_size = size;
            lo = q + 1;
        } else {
            hi = q - 1;
        }
    }
    if (!best)
        return 0;
    nic_jpeg_options o = {.quality = best};
    uint8_t *buf;
    size_t size;
    nic_image dec;
    if (nic_jpeg_encode(ctx, img->data, img->width, img->height, img->channels, &o, &buf, &size) !=
        NIC_OK)
        return 0;
    nic_status st = nic_image_read_memory(ctx, buf, size, "jpeg", &dec, NULL);
    free(buf);
    if (st == NIC_OK)
        st = nic_compare(ctx, img, &dec, quality);
    nic_image_free(&dec);
    *bpp = nic_bits_per_pixel(best_size, img->width, img->height);
    return st == NIC_OK;
}

int main(int argc, char **argv)
{
    const char *data = "../shared/data/kodak", *models = NULL, *csv_path = NULL, *plots = NULL;
    int images = MAX_IMAGES;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--data") && v)
            data = v, i++;
        else if (!strcmp(argv[i], "--models") && v)
            models = v, i++;
        else if (!strcmp(argv[i], "--csv") && v)
            csv_path = v, i++;
        else if (!strcmp(argv[i], "--plots") && v)
            plots = v, i++;
        else if (!strcmp(argv[i], "--images") && v)
            images = atoi(v), i++;
        else {
            fprintf(stderr, "usage: eval_rnn [--data DIR] [--images N] [--models DIR] "
                            "[--csv FILE] [--plots DIR]\n");
            return 2;
        }
    }
    if (images < 1 || images > MAX_IMAGES)
        images = MAX_IMAGES;
    nic_context *ctx = nic_context_create();
    if (models)
        nic_context_set_model_dir(ctx, models);
    nic_rnn_codec *c;
    if (nic_codec_get_rnn(ctx, &c) != NIC_OK) {
        fprintf(stderr, "eval_rnn: %s\n", nic_context_error(ctx));
        return 1;
    }
    const int T = c->model.cfg.iterations;
    /* rnn+cnn when its model is there and holds the same rnn weights (same pictures) */
    nic_rnn_codec *cc = NULL;
    if (nic_codec_get_rnn_cnn(ctx, &cc) != NIC_OK) {
        nic_context_clear_error(ctx);
        cc = NULL;
    } else if (cc->model.params.total != c->model.params.total ||
               memcmp(cc->model.params.data, c->model.params.data,
                      c->model.params.total * sizeof(float)) != 0 ||
               cc->model.cfg.iterations != T) {
        fprintf(stderr, "eval_rnn: %s holds other rnn weights than %s: no rnn+cnn rows\n",
                cc->path, c->path);
        cc = NULL;
    }
    acc cnn[NIC_RNN_MAX_ITERATIONS + 1] = {{0}}, jpg_cnn[NIC_RNN_MAX_ITERATIONS + 1] = {{0}};
    double layer_raw[NIC_RNN_MAX_ITERATIONS + 1] = {0}, layer_cnn[NIC_RNN_MAX_ITERATIONS + 1] = {0};
    acc rnn[NIC_RNN_MAX_ITERATIONS + 1] = {{0}}, jpg[NIC_RNN_MAX_ITERATIONS + 1] = {{0}};

    double decode_per_layer = 0;
    FILE *csv = csv_path ? fopen(csv_path, "w") : NULL;
    if (csv)
        fprintf(csv, "image,codec,layers,bytes,bpp,psnr,ms_ssim\n");
    for (int i = 1; i <= images; i++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/kodim%02d.png", data, i);
        nic_image img;
        uint8_t *buf = NULL;
        size_t size = 0;
        int got = 0;
        if (nic_image_read_file(ctx, path, &img, NULL) != NIC_OK ||
            nic_rnn_encode(ctx, c, &img, T, 0, 0, 0, &buf, &size, &got) != NIC_OK) {
            fprintf(stderr, "eval_rnn: %s\n", nic_context_error(ctx));
            return 1;
        }
        nic_container f;
        nic_image dec;
        layer_eval e = {.ctx = ctx, .orig = &img};
        double t0 = now();
        if (nic_container_parse(ctx, buf, size, path, 0, &f) != NIC_OK ||
            nic_rnn_decode_layers(ctx, c, &f, buf, size, path, 0, on_layer, &e, &dec, NULL) !=
                NIC_OK) {
            fprintf(stderr, "eval_rnn: %s\n", nic_context_error(ctx));
            return 1;
        }
        double dt = now() - t0;
        nic_image_free(&dec);
        if (i == 1) {
            /* a second decode, without the metrics, for the time per layer */
            t0 = now();
            nic_rnn_decode(ctx, c, &f, buf, size, path, 0, &dec, NULL);
            decode_per_layer = (now() - t0) / T;
            nic_image_free(&dec);
        }
        for (int k = 1; k <= T; k++) {
            const size_t ks = k_layer_bytes(ctx, &f, k);
            double bpp = nic_bits_per_pixel(ks, img.width, img.height);
            add(&rnn[k], bpp, &e.q[k]);
            if (csv)
                fprintf(csv, "kodim%02d,rnn,%d,%zu,%.5f,%.4f,%.5f\n", i, k, ks, bpp,
                        e.q[k].psnr_rgb, e.q[k].ms_ssim);
            nic_quality jq;
            double jbpp;
            if (jpeg_within(ctx, &img, ks, &jbpp, &jq)) {
                add(&jpg[k], jbpp, &jq);
                if (csv)
                    fprintf(csv, "kodim%02d,jpeg,%d,%.0f,%.5f,%.4f,%.5f\n", i, k,
                            jbpp * img.width * img.height / 8, jbpp, jq.psnr_rgb, jq.ms_ssim);
            }
        }
        if (cc) {
            uint8_t *cb = NULL;
            size_t cs = 0;
            nic_container cf;
            if (nic_rnn_encode(ctx, cc, &img, T, 0, 0, 0, &cb, &cs, NULL) != NIC_OK ||
                nic_container_parse(ctx, cb, cs, "cnn", 0, &cf) != NIC_OK) {
                fprintf(stderr, "eval_rnn: %s\n", nic_context_error(ctx));
                return 1;
            }
            for (int k = 1; k <= T; k++) {
                const size_t ks = k_layer_bytes(ctx, &cf, k);
                double bpp = nic_bits_per_pixel(ks, img.width, img.height);
                add(&cnn[k], bpp, &e.q[k]); /* the same pictures */
                layer_raw[k] += (double)f.streams[k - 1].size;
                layer_cnn[k] += (double)cf.streams[k - 1].size;
                if (csv)
                    fprintf(csv, "kodim%02d,rnn+cnn,%d,%zu,%.5f,%.4f,%.5f\n", i, k, ks, bpp,
                            e.q[k].psnr_rgb, e.q[k].ms_ssim);
                nic_quality jq;
                double jbpp;
                if (jpeg_within(ctx, &img, ks, &jbpp, &jq))
                    add(&jpg_cnn[k], jbpp, &jq);
            }
            free(cb);
        }
        fprintf(stderr, "kodim%02d: %d layers, %zu bytes, %.2f dB after 1, %.2f after %d (%.1f s)\n",
                i, T, size, e.q[1].psnr_rgb, e.q[T].psnr_rgb, T, dt);
        free(buf);
        nic_image_free(&img);
    }
    printf("Kodak, %d images, rnn model %s (%s cells, %d bits per 16x16 block)\n\n", images,
           c->path, c->model.cfg.cell == NN_CONVGRU ? "GRU" : "LSTM", c->model.cfg.bits);
    printf("| layers | rnn bpp | PSNR (dB) | MS-SSIM | JPEG in the same bytes: images | bpp | "
           "PSNR (dB) | MS-SSIM |\n|---|---|---|---|---|---|---|---|\n");
    for (int k = 1; k <= T; k++) {
        printf("| %d | %.4f | %.2f | %.4f | ", k, rnn[k].bpp / rnn[k].n, rnn[k].psnr / rnn[k].n,
               rnn[k].msssim / rnn[k].n);
        if (jpg[k].n)
            printf("%d of %d | %.4f | %.2f | %.4f |\n", jpg[k].n, images, jpg[k].bpp / jpg[k].n,
                   jpg[k].psnr / jpg[k].n, jpg[k].msssim / jpg[k].n);
        else
            printf("0 of %d | - | - | - |\n", images);
    }
    if (cc) {
        printf("\nrnn+cnn (%s): the same pictures from fewer bytes\n\n", cc->path);
        printf("| layers | rnn+cnn bpp | PSNR (dB) | MS-SSIM | bytes saved (file) | this layer's "
               "bytes saved | JPEG in the same bytes: images | bpp | PSNR (dB) | MS-SSIM |\n"
               "|---|---|---|---|---|---|---|---|---|---|\n");
        for (int k = 1; k <= T; k++) {
            printf("| %d | %.4f | %.2f | %.4f | %.1f %% | %.1f %% | ", k, cnn[k].bpp / cnn[k].n,
                   cnn[k].psnr / cnn[k].n, cnn[k].msssim / cnn[k].n,
                   100 * (1 - cnn[k].bpp / rnn[k].bpp), 100 * (1 - layer_cnn[k] / layer_raw[k]));
            if (jpg_cnn[k].n)
                printf("%d of %d | %.4f | %.2f | %.4f |\n", jpg_cnn[k].n, images,
                       jpg_cnn[k].bpp / jpg_cnn[k].n, jpg_cnn[k].psnr / jpg_cnn[k].n,
                       jpg_cnn[k].msssim / jpg_cnn[k].n);
            else
                printf("0 of %d | - | - | - |\n", images);
        }
    }
    printf("\nnic decode time per layer, kodim01 (%ux%u): %.2f s\n", 768u, 512u,
           decode_per_layer);
    if (csv)
        fclose(csv);
    if (plots && write_plots(ctx, plots, T, rnn, cc ? cnn : NULL, jpg, cc ? jpg_cnn : NULL) != NIC_OK) {
        fprintf(stderr, "eval_rnn: %s\n", nic_context_error(ctx));
        return 1;
    }
    nic_context_destroy(ctx);
    return 0;
}
