/*
 * eval_kodak: the rate-distortion table of nic against JPEG on Kodak, and the
 * byte-budget table (the README quotes its output, via make eval).
 *
 *   eval_kodak [--data DIR] [--images N] [--no-budgets] [--csv FILE] [--refine K]
 *              [--model hyper|hyper-msssim]
 *
 * Protocol (DESIGN.md): rate = whole file bytes * 8 / pixels; PSNR over 8-bit
 * RGB; MS-SSIM on luma; per setting, the mean over images. nic's files are
 * real (entropy coded, container included); quality is measured on the decoded
 * picture (fast kernels; nic decode's deterministic kernels agree to within
 * rounding). JPEG is libjpeg-turbo with optimized Huffman tables (cjpeg
 * -optimize), 4:2:0. Budgets: per image, the best file that fits; every nic
 * file is checked to fit (the program exits 1 otherwise). --refine K: nic's
 * files with the encoder's refinement of K steps (nic encode --refine K), as
 * codec "nic-refine" in the CSV. --model hyper-msssim: the MS-SSIM-tuned
 * weights (codec "nic-msssim", or "nic-msssim-refine").
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec/hyper_codec.h"
#include "image/image_internal.h"
#include "image/resize.h"

#define MAX_IMAGES 24
static const int nic_qs[] = {0, 16, 32, 64, 96, 128, 176, 224, 255};
static const int jpeg_qs[] = {2, 5, 8, 12, 20, 30, 50, 75};
static const size_t budgets[] = {1000, 2000, 4000, 8000, 16000};
#define NQ (int)(sizeof(nic_qs) / sizeof(nic_qs[0]))
#define NJ (int)(sizeof(jpeg_qs) / sizeof(jpeg_qs[0]))
#define NB (int)(sizeof(budgets) / sizeof(budgets[0]))

typedef struct acc {
    double bpp, psnr, msssim;
    int n;
} acc;

static void add(acc *a, double bpp, const nic_quality *q)
{
    a->bpp += bpp;
    a->psnr += q->psnr_rgb;
    a->msssim += q->ms_ssim;
    a->n++;
}

static nic_status decode_fast(nic_context *ctx, nic_hyper_codec *c, const uint8_t *buf,
                              size_t size, const nic_image *orig, nic_image *out)
{
    nic_container f;
    nic_image coded;
    NIC_TRY(nic_container_parse(ctx, buf, size, "eval", 0, &f));
    NIC_TRY(nic_hyper_decode(ctx, c, &f, "eval", &coded));
    nic_status st = nic_image_resize(ctx, &coded, orig->width, orig->height, out);
    nic_image_free(&coded);
    return st;
}

static nic_status jpeg_at(nic_context *ctx, const nic_image *img, int q, size_t *bytes,
                          nic_quality *quality)
{
    nic_jpeg_options o = {.quality = q};
    uint8_t *buf;
    size_t size;
    NIC_TRY(nic_jpeg_encode(ctx, img->data, img->width, img->height, img->channels, &o, &buf,
                            &size));
    nic_image dec;
    nic_status st = nic_image_read_memory(ctx, buf, size, "jpeg", &dec, NULL);
    free(buf);
    if (st == NIC_OK)
        st = nic_compare(ctx, img, &dec, quality);
    nic_image_free(&dec);
    *bytes = size;
    return st;
}

int main(int argc, char **argv)
{
    const char *data = "../shared/data/kodak", *csv_path = NULL;
    const char *model = "hyper";
    int images = MAX_IMAGES, do_budgets = 1, refine = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--data") && i + 1 < argc)
            data = argv[++i];
        else if (!strcmp(argv[i], "--images") && i + 1 < argc)
            images = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--csv") && i + 1 < argc)
            csv_path = argv[++i];
        else if (!strcmp(argv[i], "--no-budgets"))
            do_budgets = 0;
        else if (!strcmp(argv[i], "--refine") && i + 1 < argc)
            refine = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--model") && i + 1 < argc &&
                 (!strcmp(argv[i + 1], "hyper") || !strcmp(argv[i + 1], "hyper-msssim")))
            model = argv[++i];
        else {
            fprintf(stderr, "usage: eval_kodak [--data DIR] [--images N] [--no-budgets] "
                            "[--csv FILE] [--refine K] [--model hyper|hyper-msssim]\n");
            return 2;
        }
    }
    if (images < 1 || images > MAX_IMAGES)
        images = MAX_IMAGES;
    nic_context *ctx = nic_context_create();
    nic_hyper_codec *c; /* found as nic encode finds it */
    const int msssim = strcmp(model, "hyper-msssim") == 0;
    if ((msssim ? nic_codec_get_hyper_msssim(ctx, &c) : nic_codec_get_hyper(ctx, &c)) != NIC_OK) {
        fprintf(stderr, "eval_kodak: %s\n", nic_context_error(ctx));
        return 1;
    }
    printf("model: %s (weights %08x), N=%d M=%d NZ=%d, context %d\n", c->path, c->weights_hash,
           c->model.cfg.n, c->model.cfg.m, c->model.cfg.nz, c->model.cfg.ctx);
    const char *name = msssim ? (refine > 0 ? "nic-msssim-refine" : "nic-msssim")
                              : (refine > 0 ? "nic-refine" : "nic");
    if (refine > 0)
        printf("encoder refinement: %d steps per file\n", refine);
    /* with a context: bytes of the anchors' and the other half's y streams per setting */
    double half_bytes[NQ][2] = {{0}};

    acc nic_acc[NQ] = {{0}}, jpg_acc[NJ] = {{0}};
    acc bud_nic[NB] = {{0}}, bud_jpg[NB] = {{0}};
    int over_budget = 0;
    FILE *csv = csv_path ? fopen(csv_path, "w") : NULL;
    if (csv)
        fprintf(csv, "image,codec,setting,bytes,bpp,psnr,ms_ssim\n");
    double t0 = (double)clock();
    for (int k = 1; k <= images; k++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/kodim%02d.png", data, k);
        nic_image img;
        if (nic_image_read_file(ctx, path, &img, NULL) != NIC_OK) {
            fprintf(stderr, "eval_kodak: %s\n", nic_context_error(ctx));
            return 1;
        }
        double pixels = (double)img.width * img.height;
        nic_hyper_latents lat;
        if (nic_hyper_analyze(ctx, c, &img, &lat) != NIC_OK) {
            fprintf(stderr, "eval_kodak: %s\n", nic_context_error(ctx));
            return 1;
        }
        for (int i = 0; i < NQ; i++) {
            uint8_t *buf;
            size_t size;
            nic_image dec;
            nic_quality q;
            nic_hyper_latents tuned, *use = &lat;
            if (refine > 0) {
                /* from the analysis's y again: the refinement is for one quality */
                if (nic_hyper_analyze(ctx, c, &img, &tuned) != NIC_OK ||
                    nic_hyper_refine_latents(ctx, c, &img, nic_qs[i], refine, &tuned) != NIC_OK) {
                    fprintf(stderr, "eval_kodak: %s\n", nic_context_error(ctx));
                    return 1;
                }
                use = &tuned;
            }
            nic_status est = nic_hyper_encode(ctx, c, use, nic_qs[i], 0, 0, &buf, &size);
            if (use != &lat)
                nic_hyper_latents_free(use);
            if (est != NIC_OK ||
                decode_fast(ctx, c, buf, size, &img, &dec) != NIC_OK ||
                nic_compare(ctx, &img, &dec, &q) != NIC_OK) {
                fprintf(stderr, "eval_kodak: %s\n", nic_context_error(ctx));
                return 1;
            }
            add(&nic_acc[i], size * 8.0 / pixels, &q);
            nic_container f;
            if (c->model.cfg.ctx > 0 && nic_container_parse(ctx, buf, size, "eval", 0, &f) == NIC_OK &&
                f.stream_count == 3)
                for (int h = 0; h < 2; h++)
                    half_bytes[i][h] += (double)f.streams[1 + h].size;
            if (csv)
                fprintf(csv, "kodim%02d,%s,q%d,%zu,%.5f,%.4f,%.6f\n", k, name, nic_qs[i], size,
                        size * 8.0 / pixels, q.psnr_rgb, q.ms_ssim);
            free(buf);
            nic_image_free(&dec);
        }
        nic_hyper_latents_free(&lat);
        for (int i = 0; i < NJ; i++) {
            size_t size;
            nic_quality q;
            if (jpeg_at(ctx, &img, jpeg_qs[i], &size, &q) != NIC_OK)
                return 1;
            add(&jpg_acc[i], size * 8.0 / pixels, &q);
            if (csv)
                fprintf(csv, "kodim%02d,jpeg,q%d,%zu,%.5f,%.4f,%.6f\n", k, jpeg_qs[i], size,
                        size * 8.0 / pixels, q.psnr_rgb, q.ms_ssim);
        }
        for (int b = 0; do_budgets && b < NB; b++) {
            nic_encode_options o;
            nic_encode_options_init(&o);
            o.max_bytes = budgets[b];
            o.refine = refine;
            o.model = model;
            uint8_t *buf;
            size_t size;
            nic_status st = nic_encode(ctx, &img, &o, &buf, &size, NULL);
            if (st == NIC_OK) {
                nic_image dec;
                nic_quality q;
                if (size > budgets[b])
                    over_budget++;
                if (decode_fast(ctx, c, buf, size, &img, &dec) == NIC_OK &&
                    nic_compare(ctx, &img, &dec, &q) == NIC_OK) {
                    add(&bud_nic[b], size * 8.0 / pixels, &q);
                    if (csv)
                        fprintf(csv, "kodim%02d,%s@%zu,auto,%zu,%.5f,%.4f,%.6f\n", k, name,
                                budgets[b], size, size * 8.0 / pixels, q.psnr_rgb, q.ms_ssim);
                }
                nic_image_free(&dec);
                free(buf);
            }
            /* JPEG: the highest quality that fits */
            for (int jq = 100; jq >= 1; jq -= (jq > 20 ? 5 : 1)) {
                size_t size_j;
                nic_quality q;
                if (jpeg_at(ctx, &img, jq, &size_j, &q) != NIC_OK)
                    return 1;
                if (size_j <= budgets[b]) {
                    add(&bud_jpg[b], size_j * 8.0 / pixels, &q);
                    if (csv)
                        fprintf(csv, "kodim%02d,jpeg@%zu,q%d,%zu,%.5f,%.4f,%.6f\n", k,
                                budgets[b], jq, size_j, size_j * 8.0 / pixels, q.psnr_rgb,
                                q.ms_ssim);
                    break;
                }
            }
        }
        nic_image_free(&img);
        fprintf(stderr, "\r%d/%d images", k, images);
    }
    fprintf(stderr, "\n");
    printf("\nKodak, %d images: mean over images per setting\n\n", images);
    printf("| codec | setting | bpp | PSNR-RGB (dB) | MS-SSIM |\n|---|---|---|---|---|\n");
    for (int i = 0; i < NQ; i++)
        printf("| %s | q=%d | %.4f | %.2f | %.4f |\n", name, nic_qs[i], nic_acc[i].bpp / images,
               nic_acc[i].psnr / images, nic_acc[i].msssim / images);
    for (int i = 0; i < NJ; i++)
        printf("| JPEG (libjpeg-turbo, optimized) | q=%d | %.4f | %.2f | %.4f |\n", jpeg_qs[i],
               jpg_acc[i].bpp / images, jpg_acc[i].psnr / images, jpg_acc[i].msssim / images);
    if (c->model.cfg.ctx > 0) {
        printf("\nCheckerboard context: bytes of y per half (anchors: hyperprior alone; the "
               "others: with the context), summed over the images\n\n");
        printf("| setting | anchors | others | others / anchors |\n|---|---|---|---|\n");
        for (int i = 0; i < NQ; i++)
            printf("| q=%d | %.0f | %.0f | %.3f |\n", nic_qs[i], half_bytes[i][0], half_bytes[i][1],
                   half_bytes[i][0] > 0 ? half_bytes[i][1] / half_bytes[i][0] : 0.0);
    }
    if (do_budgets) {
        printf("\nByte budgets (best file that fits; mean over the images that fit)\n\n");
        printf("| budget | nic: fit | nic bpp | nic PSNR | nic MS-SSIM | JPEG: fit | JPEG bpp | "
               "JPEG PSNR | JPEG MS-SSIM |\n|---|---|---|---|---|---|---|---|---|\n");
        for (int b = 0; b < NB; b++) {
            acc *a = &bud_nic[b], *j = &bud_jpg[b];
            printf("| %zu B | %d/%d | %.4f | %.2f | %.4f | %d/%d | %.4f | %.2f | %.4f |\n",
                   budgets[b], a->n, images, a->n ? a->bpp / a->n : 0, a->n ? a->psnr / a->n : 0,
                   a->n ? a->msssim / a->n : 0, j->n, images, j->n ? j->bpp / j->n : 0,
                   j->n ? j->psnr / j->n : 0, j->n ? j->msssim / j->n : 0);
        }
        printf("\nfiles over budget: %d\n", over_budget);
    }
    printf("(%.0f s of CPU)\n", ((double)clock() - t0) / CLOCKS_PER_SEC);
    if (csv)
        fclose(csv);
    nic_context_destroy(ctx);
    return over_budget ? 1 : 0;
}
