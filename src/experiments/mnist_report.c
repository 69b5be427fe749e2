#include "experiments/mnist_report.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/context.h"
#include "image/image_internal.h"
#include "report/plot.h"
#include "report/text.h"

/* The seed paper's reported numbers (results section). */
#define PAPER_ORIGINAL_KB 290.0
#define PAPER_COMPRESSED_KB 61.8
#define PAPER_REDUCTION 78.69
#define PAPER_SSIM 0.7125490511339234

#define FIGURE_SCALE 3
#define FIGURE_COLUMNS 10
#define FIGURE_GUTTER 2

static void put(nic_text *t, const char *fmt, ...) NIC_PRINTF(2, 3);
static void put(nic_text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    nic_text_vprintf(t, fmt, ap);
    va_end(ap);
}

static nic_status text_write(nic_context *ctx, nic_text *t, const char *dir, const char *name)
{
    char path[8448];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return nic_text_write_file(ctx, t, path);
}

static double percent_smaller(uint64_t bytes, uint64_t reference)
{
    return reference ? 100.0 * (1.0 - (double)bytes / (double)reference) : NAN;
}

/* The record's coded stream in bits per image (the record less its header). */
static double coded_bits(const nic_mnist_arm_result *res, const nic_mnist_rate_point *p,
                         uint32_t n)
{
    return 8.0 * ((double)p->record_bytes - (double)res->record_header_bytes * n) / n;
}

static int trained(const nic_mnist_arm_result *res)
{
    return res->epoch_count > 0;
}

/* ---------------------------------------------------------------- per-arm CSV */

static nic_status write_csvs(nic_context *ctx, const nic_mnist_report *r, int a)
{
    const nic_mnist_arm_result *res = &r->results[a];
    char dir[4200];
    snprintf(dir, sizeof(dir), "%s/%s", r->opt->out_dir, r->arms[a].name);
    mkdir(dir, 0777);
    nic_text t = {0};
    if (!trained(res)) /* the cascade: no training of its own */
        goto rate;
    put(&t, "epoch,train_loss,test_loss,train_accuracy,test_accuracy,test_bits_per_image,"
            "test_ssim,seconds\n");
    for (int e = 0; e < res->epoch_count; e++) {
        const nic_mnist_epoch *ep = &res->epochs[e];
        put(&t, "%d,%.6f,%.6f,%.6f,%.6f,%.4f,%.6f,%.1f\n", ep->epoch, ep->train_loss,
            ep->test_loss, ep->train_accuracy, ep->test_accuracy, ep->test_bits, ep->test_ssim,
            ep->seconds);
    }
    NIC_TRY(text_write(ctx, &t, dir, "epochs.csv"));
rate:;
    const uint32_t n = r->test->count;
    put(&t, "%s,lambda,", res->point_label);
    put(&t, "record_bytes,nic_file_bytes,archive_bytes,bytes_per_image,"
            "percent_of_png,model_bits_per_image,coded_bits_per_image,mean_ssim,mean_psnr,"
            "accuracy\n");
    for (int i = 0; i < res->point_count; i++) {
        const nic_mnist_rate_point *p = &res->points[i];
        put(&t, "%d,%.2f,%llu,%llu,%llu,%.3f,%.3f,%.2f,%.2f,%.6f,%.4f,%.6f\n", p->level, p->lambda,
            (unsigned long long)p->record_bytes, (unsigned long long)p->nic_bytes,
            (unsigned long long)p->archive_bytes, (double)p->record_bytes / n,
            100.0 * (double)p->record_bytes / (double)r->base->png_bytes, p->model_bits,
            coded_bits(res, p, n), p->mean_ssim, p->mean_psnr, p->accuracy);
    }
    return text_write(ctx, &t, dir, "rate.csv");
}

/* ---------------------------------------------------------------- plots */

/* Per trained arm: NAME_loss and NAME_accuracy (.svg, .png), train and test
 * per epoch (each arm's loss has its own unit). */
static nic_status epoch_plots(nic_context *ctx, const nic_mnist_report *r, int a)
{
    const nic_mnist_arm_result *res = &r->results[a];
    const char *name = r->arms[a].name;
    const size_t n = (size_t)res->epoch_count;
    double *c = malloc(5 * n * sizeof(double));
    if (!c)
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "plots: out of memory");
    for (size_t e = 0; e < n; e++) {
        c[e] = res->epochs[e].epoch;
        c[n + e] = res->epochs[e].train_loss;
        c[2 * n + e] = res->epochs[e].test_loss;
        c[3 * n + e] = res->epochs[e].train_accuracy;
        c[4 * n + e] = res->epochs[e].test_accuracy;
    }
    char title[2][128], base[4200];
    snprintf(title[0], sizeof(title[0]), "%s: loss per epoch", name);
    snprintf(title[1], sizeof(title[1]), "%s: accuracy per epoch (binarized pixels)", name);
    const unsigned solid = NIC_PLOT_LINE | NIC_PLOT_MARKERS, dashed = solid | NIC_PLOT_DASHED;
    nic_status st = NIC_OK;
    for (int k = 0; k < 2 - res->no_accuracy && st == NIC_OK; k++) {
        nic_plot p;
        nic_plot_init(&p, title[k], "epoch", k == 0 ? res->loss_label : "accuracy");
        p.legend = NIC_PLOT_LEGEND_OUTSIDE;
        p.width = 760;
        st = nic_plot_add(ctx, &p, "train", c, c + (1 + 2 * k) * n, n, solid, 0);
        if (st == NIC_OK)
            st = nic_plot_add(ctx, &p, "test", c, c + (2 + 2 * k) * n, n, dashed, 0);
        snprintf(base, sizeof(base), "%s/%s_%s", r->opt->out_dir, name,
                 k == 0 ? "loss" : "accuracy");
        if (st == NIC_OK)
            st = nic_plot_write(ctx, &p, base);
    }
    free(c);
    return st;
}

/* Mean SSIM against the size in % of the PNG files, for every arm and file
 * layout, with the paper's point and the target. */
static nic_status rate_plot(nic_context *ctx, const nic_mnist_report *r)
{
    nic_plot p;
    nic_plot_init(&p, "Rate-SSIM on the MNIST test set", "size, % of the PNG files",
                  "mean SSIM");
    p.x_min = 0;
    double xs[3][NIC_MNIST_MAX_POINTS * 4], ys[3][NIC_MNIST_MAX_POINTS * 4];
    char labels[12][64];
    int nl = 0, ns = 0;
    const double png = (double)r->base->png_bytes;
    nic_status st = NIC_OK;
    for (int a = 0; a < r->arm_count && st == NIC_OK && ns < 4; a++) {
        const nic_mnist_arm_result *res = &r->results[a];
        if (res->point_count == 0)
            continue;
        for (int i = 0; i < res->point_count; i++) {
            xs[0][ns * NIC_MNIST_MAX_POINTS + i] = 100.0 * res->points[i].record_bytes / png;
            xs[1][ns * NIC_MNIST_MAX_POINTS + i] = 100.0 * res->points[i].nic_bytes / png;
            xs[2][ns * NIC_MNIST_MAX_POINTS + i] = 100.0 * res->points[i].archive_bytes / png;
            for (int k = 0; k < 3; k++)
                ys[k][ns * NIC_MNIST_MAX_POINTS + i] = res->points[i].mean_ssim;
        }
        const char *what[3] = {"records", ".nic files", "archive"};
        const unsigned style[3] = {NIC_PLOT_LINE | NIC_PLOT_MARKERS,
                                   NIC_PLOT_LINE | NIC_PLOT_MARKERS | NIC_PLOT_DASHED,
                                   NIC_PLOT_LINE | NIC_PLOT_DASHED};
        /* Every layout for the first arm; the records alone for the others. */
        for (int k = 0; k < (ns == 0 ? 3 : 1) && st == NIC_OK; k++) {
            snprintf(labels[nl], 64, "%s %s", r->arms[a].name, what[k]);
            st = nic_plot_add(ctx, &p, labels[nl++], xs[k] + ns * NIC_MNIST_MAX_POINTS,
                              ys[k] + ns * NIC_MNIST_MAX_POINTS, (size_t)res->point_count,
                              style[k], 0);
        }
        ns++;
    }
    double paper_x[1] = {100.0 - PAPER_REDUCTION}, paper_y[1] = {PAPER_SSIM};
    double tx[2] = {100.0 - r->opt->target_reduction, 100.0 - r->opt->target_reduction};
    double ty[2] = {0, 1};
    double hx[2] = {0, 100}, hy[2] = {r->opt->target_ssim, r->opt->target_ssim};
    p.legend = NIC_PLOT_LEGEND_OUTSIDE;
    p.width = 900;
    if (st == NIC_OK)
        st = nic_plot_add(ctx, &p, "paper (CNN)", paper_x, paper_y, 1, NIC_PLOT_MARKERS,
                          0x101010);
    if (st == NIC_OK)
        st = nic_plot_add(ctx, &p, "target 10 %, 0.90", tx, ty, 2,
                          NIC_PLOT_LINE | NIC_PLOT_DASHED, 0x909090);
    if (st == NIC_OK)
        st = nic_plot_add(ctx, &p, NULL, hx, hy, 2, NIC_PLOT_LINE | NIC_PLOT_DASHED, 0x909090);
    /* The reference lines must not stretch the axes: fit the ranges to the rest. */
    double xmax = paper_x[0], ymin = fmin(PAPER_SSIM, r->opt->target_ssim), ymax = 1.0;
    for (int s = 0; s < p.series_count - 2; s++)
        for (size_t i = 0; i < p.series[s].count; i++) {
            xmax = fmax(xmax, p.series[s].x[i]);
            ymin = fmin(ymin, p.series[s].y[i]);
        }
    p.x_max = ceil(xmax / 5.0 + 0.2) * 5.0;
    p.y_min = floor(ymin * 20.0 - 0.2) / 20.0;
    p.y_max = ymax;
    char base[4200];
    snprintf(base, sizeof(base), "%s/rate_ssim", r->opt->out_dir);
    if (st == NIC_OK)
        st = nic_plot_write(ctx, &p, base);
    return st;
}

/* ---------------------------------------------------------------- figures */

/* rows x FIGURE_COLUMNS digits, each scaled by FIGURE_SCALE, gray gutters;
 * row k shows images[k][0..columns). */
static nic_status write_grid(nic_context *ctx, const char *path, const uint8_t *const *rows_px,
                             int rows, int columns)
{
    const int cell = NIC_MNIST_SIDE * FIGURE_SCALE + FIGURE_GUTTER;
    nic_image img;
    NIC_TRY(nic_image_alloc(ctx, &img, (uint32_t)(columns * cell + FIGURE_GUTTER),
                            (uint32_t)(rows * cell + FIGURE_GUTTER), 1));
    memset(img.data, 128, (size_t)img.width * img.height);
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < columns; c++) {
            const uint8_t *px = rows_px[r] + (size_t)c * NIC_MNIST_PIXELS;
            for (int y = 0; y < NIC_MNIST_SIDE * FIGURE_SCALE; y++)
                for (int x = 0; x < NIC_MNIST_SIDE * FIGURE_SCALE; x++)
                    img.data[(size_t)(FIGURE_GUTTER + r * cell + y) * img.width + FIGURE_GUTTER +
                             c * cell + x] =
                        px[(y / FIGURE_SCALE) * NIC_MNIST_SIDE + x / FIGURE_SCALE];
        }
    nic_status st = nic_image_write_png(ctx, path, &img);
    nic_image_free(&img);
    return st;
}

static nic_status figures(nic_context *ctx, const nic_mnist_report *r, int a)
{
    const nic_mnist_arm_result *res = &r->results[a];
    const uint32_t n = r->test->count;
    int columns = n < FIGURE_COLUMNS ? (int)n : FIGURE_COLUMNS;
    char path[4200];
    /* Originals above reconstructions, two blocks when there are enough images. */
    const uint8_t *rows[2 * NIC_MNIST_MAX_POINTS + 2];
    int blocks = n >= 2u * FIGURE_COLUMNS ? 2 : 1;
    for (int b = 0; b < blocks; b++) {
        rows[2 * b] = r->test->pixels + (size_t)b * columns * NIC_MNIST_PIXELS;
        rows[2 * b + 1] = res->reconstruction + (size_t)b * columns * NIC_MNIST_PIXELS;
    }
    snprintf(path, sizeof(path), "%s/%s_input_vs_output.png", r->opt->out_dir, r->arms[a].name);
    NIC_TRY(write_grid(ctx, path, rows, 2 * blocks, columns));
    /* The rate ladder: originals, then every rate point from the smallest files. */
    int lc = res->ladder_count < columns ? res->ladder_count : columns;
    rows[0] = r->test->pixels;
    for (int i = 0; i < res->point_count; i++)
        rows[1 + i] = res->ladder + (size_t)i * res->ladder_count * NIC_MNIST_PIXELS;
    snprintf(path, sizeof(path), "%s/%s_levels.png", r->opt->out_dir, r->arms[a].name);
    return write_grid(ctx, path, rows, 1 + res->point_count, lc);
}

/* ---------------------------------------------------------------- report */

/* A byte count for a table, or a dash where the arm has no such layout. */
static void fmt_bytes(char *buf, size_t cap, uint64_t bytes, int none)
{
    if (none)
        snprintf(buf, cap, "—");
    else
        snprintf(buf, cap, "%llu", (unsigned long long)bytes);
}

/* The per-epoch, rate and figure sections of one arm. */
static void report_arm(nic_text *t, const nic_mnist_report *r, int a)
{
    const nic_mnist_arm_result *res = &r->results[a];
    const nic_mnist_rate_point *h = &res->points[res->headline];
    const uint32_t n = r->test->count;
    const char *name = r->arms[a].name;
    if (trained(res)) {
        put(t, "\n## %s: training, per epoch\n\n", name);
        put(t, "![%s loss per epoch](%s_loss.png)", name, name);
        if (!res->no_accuracy)
            put(t, " ![%s accuracy per epoch](%s_accuracy.png)", name, name);
        put(t, "\n\n**Loss**: %s.", res->loss_what);
        if (!res->no_accuracy)
            put(t, " **Accuracy**: the fraction of pixels that fall on the same side of 1/2 (128 "
                    "of 255) in the original and the reconstruction, i.e. binarized-pixel "
                    "accuracy (MNIST is mostly background, so it starts high; it is the paper's "
                    "kind of \"accuracy\" for an autoencoder, made explicit).");
        put(t, "\n\n| epoch | train loss | test loss | train accuracy | test accuracy | test "
                "bits/image (model) | test SSIM | time |\n|---|---|---|---|---|---|---|---|\n");
        for (int e = 0; e < res->epoch_count; e++) {
            const nic_mnist_epoch *ep = &res->epochs[e];
            char tra[16] = "—", tea[16] = "—", ssim[16] = "—";
            if (isfinite(ep->train_accuracy))
                snprintf(tra, sizeof(tra), "%.4f", ep->train_accuracy);
            if (isfinite(ep->test_accuracy))
                snprintf(tea, sizeof(tea), "%.4f", ep->test_accuracy);
            if (isfinite(ep->test_ssim))
                snprintf(ssim, sizeof(ssim), "%.4f", ep->test_ssim);
            put(t, "| %d | %.4g | %.4g | %s | %s | %.1f | %s | %.0f s |\n", ep->epoch,
                ep->train_loss, ep->test_loss, tra, tea, ep->test_bits, ssim, ep->seconds);
        }
    }
    put(t, "\n## %s: rate-SSIM curve\n\n![rate-SSIM](rate_ssim.png)\n\n", name);
    put(t, "%s Sizes are totals over the %u test images.\n\n", res->rate_what, n);
    put(t, "| %s | lambda | records | B/image | %% of PNG | .nic files | archive | model "
            "estimate, bits/image | coded, bits/image | SSIM | PSNR | accuracy |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|---|\n",
        res->point_label);
    for (int i = 0; i < res->point_count; i++) {
        const nic_mnist_rate_point *p = &res->points[i];
        char lambda[32] = "—", arch[32];
        if (p->lambda > 0)
            snprintf(lambda, sizeof(lambda), "%.0f", p->lambda);
        fmt_bytes(arch, sizeof(arch), p->archive_bytes, res->no_archive);
        put(t, "| %d%s | %s | %llu | %.2f | %.2f | %llu | %s | %.1f | %.1f | %.4f | %.2f | "
                "%.4f |\n",
            p->level, i == res->headline ? " (headline)" : "", lambda,
            (unsigned long long)p->record_bytes, (double)p->record_bytes / n,
            100.0 * (double)p->record_bytes / (double)r->base->png_bytes,
            (unsigned long long)p->nic_bytes, arch, p->model_bits, coded_bits(res, p, n),
            p->mean_ssim, p->mean_psnr, p->accuracy);
    }
    put(t, "\n\"Coded\" counts the record's stream bits (the record less its %d-byte header); "
            "the difference from the model's estimate is the coder's rounding to whole bytes "
            "and its 16-bit probabilities.\n\n",
        res->record_header_bytes);
    put(t, "## %s: input versus output\n\n", name);
    put(t, "Originals (rows 1 and 3) above their reconstructions (rows 2 and 4) at the headline "
            "(%s %d, %.2f bytes per image):\n\n![input vs output](%s_input_vs_output.png)\n\n",
        res->point_label, h->level, (double)h->record_bytes / n, name);
    put(t, "Every rate point, from the smallest files (row 2) to the largest (last row), the "
            "originals on top:\n\n![levels](%s_levels.png)\n\n", name);
}

/* Every arm at its headline, beside the paper. */
static void report_arms_table(nic_text *t, const nic_mnist_report *r)
{
    const uint32_t n = r->test->count;
    const uint64_t png = r->base->png_bytes, raw = r->base->raw_bytes;
    put(t, "| arm | rate point | records | B/image | reduction vs PNG | vs raw | mean SSIM | "
            "mean PSNR | accuracy | target | training | coding + measuring |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    put(t, "| paper (Ghosh; its CNN and its RNN -> CNN model) | not stated | %.1f KB of %.0f KB | — "
            "| %.2f %% | — | %.4f | — | plotted, not defined | — | — | — |\n",
        PAPER_COMPRESSED_KB, PAPER_ORIGINAL_KB, PAPER_REDUCTION, PAPER_SSIM);
    for (int a = 0; a < r->arm_count; a++) {
        const nic_mnist_arm_result *res = &r->results[a];
        if (r->arms[a].pending || res->point_count == 0)
            continue;
        const nic_mnist_rate_point *h = &res->points[res->headline];
        const double red = percent_smaller(h->record_bytes, png);
        const int met = h->mean_ssim >= r->opt->target_ssim &&
                        red >= r->opt->target_reduction;
        put(t, "| **%s** | %s %d | %llu | %.2f | **%.2f %%** | %.2f %% | **%.4f** | %.2f dB | "
                "%.4f | %s | %.0f s | %.0f s |\n",
            r->arms[a].name, res->point_label, h->level, (unsigned long long)h->record_bytes,
            (double)h->record_bytes / n, red, percent_smaller(h->record_bytes, raw),
            h->mean_ssim, h->mean_psnr, h->accuracy, met ? "met" : "not met",
            res->train_seconds, res->eval_seconds);
    }
    put(t, "\nEach arm's headline is its smallest records whose mean SSIM reaches %.2f, else "
            "its best SSIM. The paper's numbers are its only numbers (\"290 KB\" to \"61.8 "
            "KB\", SSIM 0.7125), given after its CNN results; for its RNN it shows accuracy "
            "and loss curves only.\n\n",
        r->opt->target_ssim);
}

/* rnn+cnn against rnn: the same codes and pictures, the bytes saved. */
static void report_savings(nic_text *t, const nic_mnist_report *r)
{
    const nic_mnist_arm_result *raw = NULL, *coded = NULL;
    for (int a = 0; a < r->arm_count; a++) {
        if (strcmp(r->arms[a].name, "rnn") == 0)
            raw = &r->results[a];
        if (strcmp(r->arms[a].name, "rnn+cnn") == 0)
            coded = &r->results[a];
    }
    if (!raw || !coded || raw->point_count == 0 || coded->point_count != raw->point_count)
        return;
    const uint32_t n = r->test->count;
    put(t, "### rnn+cnn against rnn: bytes saved\n\nThe same codes and the same pictures "
            "(checked: the decoded digits are identical), coded by the context model instead "
            "of stored raw.\n\n| layers | rnn records (raw codes) | rnn+cnn records | saved | "
            "rnn .nic files | rnn+cnn .nic files | saved | SSIM |\n"
            "|---|---|---|---|---|---|---|---|\n");
    for (int i = 0; i < raw->point_count; i++) {
        const nic_mnist_rate_point *p = &raw->points[i], *q = &coded->points[i];
        put(t, "| %d | %llu (%.2f B/image) | %llu (%.2f B/image) | %.1f %% | %llu | %llu | "
                "%.1f %% | %.4f |\n",
            p->level, (unsigned long long)p->record_bytes, (double)p->record_bytes / n,
            (unsigned long long)q->record_bytes, (double)q->record_bytes / n,
            percent_smaller(q->record_bytes, p->record_bytes),
            (unsigned long long)p->nic_bytes, (unsigned long long)q->nic_bytes,
            percent_smaller(q->nic_bytes, p->nic_bytes), p->mean_ssim);
    }
    put(t, "\n");
}

static void fmt_kb(char *buf, size_t cap, uint64_t bytes)
{
    snprintf(buf, cap, "%.1f KB", bytes / 1000.0);
}

static void report_results_table(nic_text *t, const nic_mnist_report *r, const nic_mnist_arm_result *res)
{
    const uint32_t n = r->test->count;
    const nic_mnist_rate_point *h = &res->points[res->headline];
    const uint64_t png = r->base->png_bytes, raw = r->base->raw_bytes;
    char a[32], b[32], c[32], d[32], e[32];
    fmt_kb(a, sizeof(a), png);
    fmt_kb(b, sizeof(b), raw);
    fmt_kb(c, sizeof(c), h->record_bytes);
    fmt_kb(d, sizeof(d), h->nic_bytes);
    fmt_kb(e, sizeof(e), h->archive_bytes);
    put(t, "| | paper (Ghosh, CNN) | nic cnn: per-image records | nic cnn: per-image .nic files "
           "| nic cnn: one .nic archive |\n|---|---|---|---|---|\n");
    put(t, "| images | not stated | %u | %u | %u |\n", n, n, n);
    put(t, "| original size | %.0f KB (files not stated) | PNG %s, raw %s | PNG %s, raw %s | "
           "PNG %s, raw %s |\n",
        PAPER_ORIGINAL_KB, a, b, a, b, a, b);
    put(t, "| compressed size | %.1f KB | **%s** (%.2f B/image) | %s (%.2f B/image) | %s "
           "(%.2f B/image) |\n",
        PAPER_COMPRESSED_KB, c, (double)h->record_bytes / n, d, (double)h->nic_bytes / n, e,
        (double)h->archive_bytes / n);
    put(t, "| reduction vs PNG | %.2f %% | **%.2f %%** | %.2f %% | %.2f %% |\n", PAPER_REDUCTION,
        percent_smaller(h->record_bytes, png), percent_smaller(h->nic_bytes, png),
        percent_smaller(h->archive_bytes, png));
    put(t, "| reduction vs raw pixels | — | %.2f %% | %.2f %% | %.2f %% |\n",
        percent_smaller(h->record_bytes, raw), percent_smaller(h->nic_bytes, raw),
        percent_smaller(h->archive_bytes, raw));
    put(t, "| mean SSIM | %.4f | **%.4f** | %.4f | %.4f |\n", PAPER_SSIM, h->mean_ssim,
        h->mean_ssim, h->mean_ssim);
    put(t, "| mean PSNR | not reported | %.2f dB | %.2f dB | %.2f dB |\n\n", h->mean_psnr,
        h->mean_psnr, h->mean_psnr);
}

static nic_status write_report(nic_context *ctx, const nic_mnist_report *r, int cnn,
                               nic_mnist_experiment_summary *sum)
{
    const nic_mnist_experiment_options *o = r->opt;
    const nic_mnist_arm_result *res = &r->results[cnn];
    const nic_mnist_rate_point *h = &res->points[res->headline];
    const uint32_t n = r->test->count;
    const char *name = r->arms[cnn].name;
    nic_text t = {0};
    put(&t, "# MNIST: the seed paper's experiment, reproduced\n\n");
    put(&t, "Generated by `nic experiment mnist%s` (docs/EXPERIMENTS.md): %u training and %u "
            "test images, %.0f s in all (the CNN: %d epochs, training %.0f s, coding and "
            "measuring %.0f s; the other arms' times are in the table of all arms).%s\n\n",
        o->quick ? " --quick" : "", r->train->count, n, r->seconds, res->epoch_count,
        res->train_seconds, res->eval_seconds,
        o->quick ? " **Quick mode: a small subset and two short epochs — a smoke test, not the "
                   "result.**"
                 : "");
    put(&t, "## Result\n\n");
    int met = h->mean_ssim >= o->target_ssim &&
              percent_smaller(h->record_bytes, r->base->png_bytes) >= o->target_reduction;
    put(&t, "Target of issue 8: at least %.0f %% smaller than PNG at a mean SSIM of at least "
            "%.2f. **%s** (rate level %d of %d, the smallest files that reach the SSIM bar%s).\n\n",
        o->target_reduction, o->target_ssim, met ? "Met" : "Not met", h->level,
        res->point_count, h->mean_ssim >= o->target_ssim ? "" : "; none did, so the best SSIM");
    report_results_table(&t, r, res);
    put(&t, "### Every model of the paper, measured the same way\n\n");
    report_arms_table(&t, r);
    report_savings(&t, r);
    put(&t, "**What the paper measured.** Its results section says that \"the original image was "
            "of 290 KB in size and the compressed image is of size 61.8 KB\" (78.69 %%) and gives "
            "one SSIM, 0.7125, for its CNN autoencoder; it says neither which images nor which "
            "files were weighed, nor how the compressed size was stored (its autoencoder has no "
            "quantizer or entropy coder, so the 61.8 KB is not a bitstream). Here every number "
            "is measured over the whole test set: the originals are the %u test images as "
            "individual PNG files (libpng, zlib level 9, the smaller of no filter and adaptive "
            "filtering: %.1f bytes per image) and as raw 8-bit pixels (784 bytes per image); the "
            "compressed sizes are the bytes of files that were written, read back and decoded; "
            "SSIM and PSNR compare the decoded 8-bit pictures with the originals "
            "(docs/METRICS.md: SSIM as scikit-image, Gaussian window, 5-pixel crop; PSNR per "
            "image, then the mean).\n\n",
        n, (double)r->base->png_bytes / n);
    put(&t, "**Per-image overhead.** A *record* (`.nicm`) is one byte (rate level and record "
            "version) followed by the entropy-coded stream, whose end is the end of the file: "
            "1 byte of overhead, counted. It carries no weights hash and no CRC: the two sides "
            "are assumed to run the same model, as two copies of one application would. A "
            "*.nic file* is the same stream in the project's container (docs/FORMAT.md 6.2), "
            "with magic, model id, weights hash, size, stream length and CRC-32: 18 bytes of "
            "overhead per image, counted. The *archive* is one .nic file holding all %u images "
            "in one stream (overhead counted once).\n\n",
        n);
    put(&t, "## Models\n\n");
    for (int a = 0; a < r->arm_count; a++) {
        if (r->arms[a].pending)
            put(&t, "- **%s** — %s. Not run: %s.\n", r->arms[a].name, r->arms[a].title,
                r->arms[a].pending);
        else
            put(&t, "- **%s** — %s. %s\n", r->arms[a].name, r->arms[a].title,
                r->results[a].description);
    }
    for (int a = 0; a < r->arm_count; a++)
        if (!r->arms[a].pending)
            report_arm(&t, r, a);
    put(&t, "## Files\n\n`summary.txt` (the headline numbers); per arm NAME: `NAME/rate.csv`, "
            "`NAME/epochs.csv` (trained arms), the plots `NAME_loss` and `NAME_accuracy` and "
            "`rate_ssim` as SVG and PNG, the figures `NAME_input_vs_output.png` and "
            "`NAME_levels.png`;");
    for (int a = 0; a < r->arm_count; a++)
        if (!r->arms[a].pending)
            put(&t, " %s: %s%s", r->arms[a].name, r->results[a].files_note,
                a + 1 < r->arm_count ? ";" : ".\n");
    NIC_TRY(text_write(ctx, &t, o->out_dir, "report.md"));

    sum->test_images = n;
    sum->png_bytes = r->base->png_bytes;
    sum->raw_bytes = r->base->raw_bytes;
    sum->nic_bytes = h->record_bytes;
    sum->reduction_vs_png = percent_smaller(h->record_bytes, r->base->png_bytes);
    sum->mean_ssim = h->mean_ssim;
    sum->mean_psnr = h->mean_psnr;
    sum->level = h->level;
    sum->target_met = met;
    sum->seconds = r->seconds;
    put(&t, "# nic experiment mnist: headline numbers (arm %s, rate level %d)\n", name, h->level);
    put(&t, "mode = %s\n", o->quick ? "quick" : "full");
    put(&t, "test_images = %u\n", n);
    put(&t, "epochs = %d\n", res->epoch_count);
    put(&t, "png_bytes = %llu\n", (unsigned long long)r->base->png_bytes);
    put(&t, "raw_bytes = %llu\n", (unsigned long long)r->base->raw_bytes);
    put(&t, "record_bytes = %llu\n", (unsigned long long)h->record_bytes);
    put(&t, "nic_file_bytes = %llu\n", (unsigned long long)h->nic_bytes);
    put(&t, "archive_bytes = %llu\n", (unsigned long long)h->archive_bytes);
    put(&t, "reduction_vs_png_percent = %.4f\n", sum->reduction_vs_png);
    put(&t, "reduction_vs_raw_percent = %.4f\n",
        percent_smaller(h->record_bytes, r->base->raw_bytes));
    put(&t, "mean_ssim = %.6f\n", h->mean_ssim);
    put(&t, "mean_psnr_db = %.4f\n", h->mean_psnr);
    put(&t, "accuracy = %.6f\n", h->accuracy);
    put(&t, "level = %d\n", h->level);
    put(&t, "levels = %d\n", res->point_count);
    put(&t, "target_met = %d\n", met);
    put(&t, "seconds = %.1f\n", r->seconds);
    /* every arm at its headline: arm_NAME_KEY = value */
    for (int a = 0; a < r->arm_count; a++) {
        const char *an = r->arms[a].name;
        const nic_mnist_arm_result *ar = &r->results[a];
        if (r->arms[a].pending) {
            put(&t, "arm_%s = %s\n", an, r->arms[a].pending);
            continue;
        }
        const nic_mnist_rate_point *p = &ar->points[ar->headline];
        put(&t, "arm_%s_point = %d\n", an, p->level);
        put(&t, "arm_%s_points = %d\n", an, ar->point_count);
        put(&t, "arm_%s_epochs = %d\n", an, ar->epoch_count);
        put(&t, "arm_%s_record_bytes = %llu\n", an, (unsigned long long)p->record_bytes);
        put(&t, "arm_%s_nic_file_bytes = %llu\n", an, (unsigned long long)p->nic_bytes);
        put(&t, "arm_%s_reduction_vs_png_percent = %.4f\n", an,
            percent_smaller(p->record_bytes, r->base->png_bytes));
        put(&t, "arm_%s_mean_ssim = %.6f\n", an, p->mean_ssim);
        put(&t, "arm_%s_mean_psnr_db = %.4f\n", an, p->mean_psnr);
        put(&t, "arm_%s_accuracy = %.6f\n", an, p->accuracy);
        put(&t, "arm_%s_train_seconds = %.1f\n", an, ar->train_seconds);
        put(&t, "arm_%s_eval_seconds = %.1f\n", an, ar->eval_seconds);
    }
    return text_write(ctx, &t, o->out_dir, "summary.txt");
}

nic_status nic_mnist_report_write(nic_context *ctx, const nic_mnist_report *r,
                                  nic_mnist_experiment_summary *summary)
{
    nic_mnist_experiment_summary scratch;
    if (!summary)
        summary = &scratch;
    memset(summary, 0, sizeof(*summary));
    int cnn = -1;
    for (int a = 0; a < r->arm_count; a++) {
        if (r->arms[a].pending)
            continue;
        NIC_TRY(write_csvs(ctx, r, a));
        NIC_TRY(figures(ctx, r, a));
        if (trained(&r->results[a]))
            NIC_TRY(epoch_plots(ctx, r, a));
        if (cnn < 0)
            cnn = a;
    }
    if (cnn < 0)
        return NIC_FAIL(ctx, NIC_ERR_INTERNAL, "mnist experiment: no arm ran");
    NIC_TRY(rate_plot(ctx, r));
    return write_report(ctx, r, cnn, summary);
}
