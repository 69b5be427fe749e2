/*
 * bench_codec: speed and peak memory of the default codec (nic_encode /
 * nic_decode at quality 50) on a 768x512 Kodak image and on a 12-megapixel
 * picture made from it (bilinear upscaling to 4000x3000), with 1 and 2
 * threads; then the quality cost of the integer transforms against the float
 * model on a few Kodak images.
 *
 *   bench_codec [--image PNG] [--data DIR] [--reps N] [--psnr-images N] [--no-large]
 *               [--no-speed]
 *
 * Each (picture, threads, encode|decode) runs in its own child process, so
 * "peak RSS" is that of one encode or decode (model, input and output
 * included), as a program using libnic would see. Times are wall-clock, the
 * best of N runs in the same process (the model is loaded once, before the
 * runs: its load time is its own column). The machine may be shared: the
 * load average is printed before and after.
 */
#define _DEFAULT_SOURCE /* wait4 */
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "codec/hyper_codec.h"
#include "image/resize.h"
#include "nn/isa.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void print_load(const char *when)
{
    double l1 = 0, l5 = 0, l15 = 0;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf %lf %lf", &l1, &l5, &l15) != 3)
            l1 = l5 = l15 = -1;
        fclose(f);
    }
    printf("load average %s: %.2f %.2f %.2f (%ld CPUs online)\n", when, l1, l5, l15,
           sysconf(_SC_NPROCESSORS_ONLN));
}

typedef struct result {
    double load_ms, best_ms;
    size_t bytes;
    int ok;
} result;

/* The picture of one benchmark case: the image itself or its 12 MP upscale. */
static nic_status make_picture(nic_context *ctx, const char *path, int large, nic_image *img)
{
    nic_image src;
    NIC_TRY(nic_image_read_file(ctx, path, &src, NULL));
    if (!large) {
        *img = src;
        return NIC_OK;
    }
    nic_status st = nic_image_resize(ctx, &src, 4000, 3000, img);
    nic_image_free(&src);
    return st;
}

/* Child: encode (file == NULL) or decode `file` reps times; results to fd. */
static void child(int fd, const char *path, int large, int threads, int reps, const uint8_t *file,
                  size_t file_size)
{
    omp_set_num_threads(threads);
    nic_context *ctx = nic_context_create();
    result r = {0};
    nic_hyper_codec *c;
    double t0 = now();
    nic_status st = nic_codec_get_hyper(ctx, &c);
    r.load_ms = (now() - t0) * 1e3;
    r.best_ms = 1e30;
    uint8_t *out = NULL;
    if (st == NIC_OK && !file) {
        nic_image img = {0};
        st = make_picture(ctx, path, large, &img);
        nic_encode_options opt;
        nic_encode_options_init(&opt);
        opt.quality = 50;
        for (int i = 0; st == NIC_OK && i < reps; i++) {
            free(out);
            out = NULL;
            t0 = now();
            st = nic_encode(ctx, &img, &opt, &out, &r.bytes, NULL);
            double ms = (now() - t0) * 1e3;
            r.best_ms = ms < r.best_ms ? ms : r.best_ms;
        }
        nic_image_free(&img);
    } else {
        for (int i = 0; st == NIC_OK && i < reps; i++) {
            nic_image dec;
            t0 = now();
            st = nic_decode(ctx, file, file_size, "bench.nic", &dec);
            double ms = (now() - t0) * 1e3;
            r.best_ms = ms < r.best_ms ? ms : r.best_ms;
            if (st == NIC_OK)
                nic_image_free(&dec);
        }
        r.bytes = file_size;
    }
    if (st != NIC_OK)
        fprintf(stderr, "bench_codec: %s\n", nic_context_error(ctx));
    r.ok = st == NIC_OK;
    ssize_t n = write(fd, &r, sizeof(r));
    if (r.ok && out && n == (ssize_t)sizeof(r)) {
        size_t done = 0;
        while (done < r.bytes) {
            ssize_t k = write(fd, out + done, r.bytes - done);
            if (k <= 0)
                break;
            done += (size_t)k;
        }
    }
    free(out);
    nic_context_destroy(ctx);
    _exit(r.ok ? 0 : 1);
}

/* Runs one case in a child; returns its peak RSS in MB (-1 on failure). */
static double run_case(const char *path, int large, int threads, int reps, const uint8_t *file,
                       size_t file_size, result *r, uint8_t **file_out)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        close(fds[0]);
        child(fds[1], path, large, threads, reps, file, file_size);
    }
    close(fds[1]);
    memset(r, 0, sizeof(*r));
    ssize_t n = read(fds[0], r, sizeof(*r));
    if (n == (ssize_t)sizeof(*r) && r->ok && file_out) {
        *file_out = malloc(r->bytes ? r->bytes : 1);
        size_t done = 0;
        while (*file_out && done < r->bytes) {
            ssize_t k = read(fds[0], *file_out + done, r->bytes - done);
            if (k <= 0)
                break;
            done += (size_t)k;
        }
        if (done != r->bytes)
            r->ok = 0;
    }
    close(fds[0]);
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        r->ok = 0;
    return r->ok ? ru.ru_maxrss / 1024.0 : -1;
}

static void speed_table(const char *path, int reps, int large_too)
{
    printf("\n| picture | threads | model load ms | encode ms | encode peak RSS MB | file bytes "
           "| decode ms | decode peak RSS MB |\n");
    printf("|---|---|---|---|---|---|---|---|\n");
    for (int large = 0; large <= large_too; large++)
        for (int threads = 1; threads <= 2; threads++) {
            int n = large ? (reps + 2) / 3 : reps;
            result enc, dec;
            uint8_t *file = NULL;
            double enc_rss = run_case(path, large, threads, n, NULL, 0, &enc, &file);
            double dec_rss = -1;
            if (enc_rss >= 0)
                dec_rss = run_case(path, large, threads, n, file, enc.bytes, &dec, NULL);
            if (enc_rss < 0 || dec_rss < 0) {
                printf("| %s | %d | failed |\n", large ? "4000x3000" : "768x512", threads);
                free(file);
                continue;
            }
            printf("| %s | %d | %.0f | %.0f | %.0f | %zu | %.0f | %.0f |\n",
                   large ? "4000x3000 (12 MP)" : "768x512", threads, dec.load_ms, enc.best_ms,
                   enc_rss, enc.bytes, dec.best_ms, dec_rss);
            free(file);
        }
}

static double psnr(nic_context *ctx, const nic_image *a, const nic_image *b)
{
    nic_quality q;
    return nic_compare(ctx, a, b, &q) == NIC_OK ? q.psnr_rgb : NAN;
}

/* One image at quality index q: file size and PSNR for the float model
 * (float analysis and synthesis), the integer codec, and the integer codec's
 * file decoded by the float synthesis. */
static nic_status quality_row(nic_context *ctx, nic_hyper_codec *c, const char *path, int q,
                              double *sum)
{
    nic_image img, dec;
    NIC_TRY(nic_image_read_file(ctx, path, &img, NULL));
    double bytes[2], p[3];
    nic_status st = NIC_OK;
    for (int fl = 1; fl >= 0 && st == NIC_OK; fl--) {
        c->float_transforms = fl;
        nic_hyper_latents lat;
        uint8_t *buf = NULL;
        size_t size = 0;
        st = nic_hyper_analyze(ctx, c, &img, &lat);
        if (st == NIC_OK) {
            st = nic_hyper_encode(ctx, c, &lat, q, 0, 0, &buf, &size);
            nic_hyper_latents_free(&lat);
        }
        nic_container f;
        if (st == NIC_OK)
            st = nic_container_parse(ctx, buf, size, "bench", 0, &f);
        for (int dl = fl; dl <= 1 && st == NIC_OK; dl++) {
            c->float_transforms = dl;
            st = nic_hyper_decode(ctx, c, &f, "bench", &dec);
            if (st == NIC_OK) {
                p[fl ? 0 : 1 + dl] = psnr(ctx, &img, &dec);
                nic_image_free(&dec);
            }
        }
        bytes[fl] = (double)size;
        free(buf);
    }
    c->float_transforms = 0;
    if (st == NIC_OK) {
        const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
        double bpp = 8.0 / ((double)img.width * img.height);
        printf("| %s | %d | %.4f | %.3f | %.4f | %.3f | %.3f | %+.3f | %+.3f |\n", name, q,
               bytes[1] * bpp, p[0], bytes[0] * bpp, p[1], p[2], p[1] - p[2], p[1] - p[0]);
        sum[0] += p[1] - p[2];
        sum[1] += p[1] - p[0];
        sum[2] += bytes[0] / bytes[1] - 1;
    }
    nic_image_free(&img);
    return st;
}

static void quality_table(const char *data, int images)
{
    nic_context *ctx = nic_context_create();
    nic_hyper_codec *c;
    if (nic_codec_get_hyper(ctx, &c) != NIC_OK) {
        printf("quality: %s\n", nic_context_error(ctx));
        nic_context_destroy(ctx);
        return;
    }
    printf("\nQuality of the integer transforms (what nic ships) against the float model:\n"
           "float = float analysis and synthesis (engine kernels); int = nic encode + decode;\n"
           "int->float = the integer encoder's file through the float synthesis.\n\n");
    printf("| image | q | float bpp | float PSNR | int bpp | int PSNR | int->float PSNR "
           "| int - int->float dB | int - float dB |\n");
    printf("|---|---|---|---|---|---|---|---|---|\n");
    static const int qs[] = {32, 128, 255};
    double sum[3] = {0};
    int rows = 0;
    for (int i = 1; i <= images; i++)
        for (size_t k = 0; k < sizeof(qs) / sizeof(qs[0]); k++) {
            char path[4096];
            snprintf(path, sizeof(path), "%s/kodim%02d.png", data, i);
            if (quality_row(ctx, c, path, qs[k], sum) != NIC_OK) {
                printf("| %s | failed: %s |\n", path, nic_context_error(ctx));
                continue;
            }
            rows++;
        }
    if (rows)
        printf("\nmean over %d rows: decode (int - int->float) %+.4f dB; end to end (int - "
               "float) %+.4f dB at %+.2f %% bytes\n",
               rows, sum[0] / rows, sum[1] / rows, 100 * sum[2] / rows);
    nic_context_destroy(ctx);
}

int main(int argc, char **argv)
{
    const char *image = "../shared/data/kodak/kodim23.png", *data = "../shared/data/kodak";
    int reps = 5, psnr_images = 4, large = 1, speed = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--image") == 0 && i + 1 < argc)
            image = argv[++i];
        else if (strcmp(argv[i], "--data") == 0 && i + 1 < argc)
            data = argv[++i];
        else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (strcmp(argv[i], "--psnr-images") == 0 && i + 1 < argc)
            psnr_images = atoi(argv[++i]);
        else if (strcmp(argv[i], "--no-large") == 0)
            large = 0;
        else if (strcmp(argv[i], "--no-speed") == 0)
            speed = 0;
        else {
            fprintf(stderr,
                    "usage: bench_codec [--image PNG] [--data DIR] [--reps N] [--psnr-images N] "
                    "[--no-large] [--no-speed]\n");
            return 2;
        }
    }
    if (access(image, R_OK) != 0) {
        printf("bench_codec: %s not found (run from the checkout, beside ../shared)\n", image);
        return 0;
    }
    reps = reps < 1 ? 1 : reps;
    printf("bench_codec: %s, quality 50, kernels %s, best of %d runs (12 MP: %d)\n", image,
           nn_isa_name(nn_isa_best()), reps, (reps + 2) / 3);
    print_load("before");
    if (speed)
        speed_table(image, reps, large);
    if (psnr_images > 0)
        quality_table(data, psnr_images);
    print_load("after");
    return 0;
}
