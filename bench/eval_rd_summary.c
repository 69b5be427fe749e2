/*
 * eval_rd_summary: summarizes rate-distortion CSV files (eval_kodak --csv,
 * scripts/eval-codecs.sh) as markdown tables:
 *   (a) mean bpp / PSNR / MS-SSIM per codec and setting (mean over images);
 *   (b) BD-rate of the test codec (default "nic") against every other codec,
 *       for PSNR and for MS-SSIM in dB (-10 log10(1 - MS-SSIM)), per DESIGN.md:
 *       per-setting means over images, curves cut to 0.05-0.5 bpp, PCHIP of
 *       log(rate) against quality, integrated over the overlapping quality
 *       range (bench/bdrate.h says exactly how); negative = fewer bits for the
 *       test codec; "n/a" when the curves do not overlap;
 *   (c) the byte budgets (rows of codec "NAME@BYTES"): per codec and budget,
 *       how many images fit and the mean over those ("—" when none), and the
 *       test codec's mean over the same images (a codec that fits only the
 *       easy pictures is compared on those).
 *
 *   (d) with --plots BASE: PSNR-bpp and MS-SSIM-bpp curves of every codec
 *       (BASE-psnr.png/.svg, BASE-msssim.png/.svg), with the published
 *       bmshj2018-hyperprior point (Balle et al. 2018, CompressAI's Kodak
 *       figure: 0.131 bpp, 27.58 dB) for reference.
 *
 *   eval_rd_summary [--test CODEC] [--min-bpp R] [--max-bpp R] [--plots BASE] FILE.csv...
 *
 * CSV columns: image,codec,setting,bytes,bpp,psnr,ms_ssim (a header line is
 * skipped). A row repeated (same image, codec and setting, e.g. JPEG from both
 * eval_kodak and eval-codecs.sh; for budget rows same image and codec@bytes)
 * counts once: the last one read wins.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bdrate.h"
#include "report/plot.h"

#define NAME_LEN 48

typedef struct row {
    char image[NAME_LEN], codec[NAME_LEN], setting[NAME_LEN];
    double bytes, bpp, psnr, msssim;
} row;

typedef struct group { /* one codec and setting, or one codec and budget */
    char codec[NAME_LEN], setting[NAME_LEN];
    long budget; /* > 0 for budget rows */
    double bpp, psnr, msssim;
    int n;
} group;

static row *rows;
static size_t nrows, caprows;

static int split_csv(char *line, char **f, int max)
{
    int n = 0;
    char *p = line;
    while (n < max) {
        f[n++] = p;
        p = strchr(p, ',');
        if (!p)
            break;
        *p++ = '\0';
    }
    return n;
}

static int read_csv(const char *path)
{
    FILE *fp = fopen(path, "r");
    if (!fp) {
        fprintf(stderr, "eval_rd_summary: cannot read %s\n", path);
        return -1;
    }
    char line[1024];
    int lineno = 0;
    while (fgets(line, sizeof(line), fp)) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0] || !strncmp(line, "image,", 6))
            continue;
        char *f[8];
        if (split_csv(line, f, 8) != 7 || strlen(f[0]) >= NAME_LEN ||
            strlen(f[1]) >= NAME_LEN || strlen(f[2]) >= NAME_LEN) {
            fprintf(stderr, "eval_rd_summary: %s:%d: not image,codec,setting,bytes,bpp,psnr,ms_ssim\n",
                    path, lineno);
            fclose(fp);
            return -1;
        }
        row r;
        snprintf(r.image, NAME_LEN, "%s", f[0]);
        snprintf(r.codec, NAME_LEN, "%s", f[1]);
        snprintf(r.setting, NAME_LEN, "%s", f[2]);
        r.bytes = strtod(f[3], NULL);
        r.bpp = strtod(f[4], NULL);
        r.psnr = strtod(f[5], NULL);
        r.msssim = strtod(f[6], NULL);
        size_t i = 0;
        /* a budget row ("codec@bytes") is one per image whatever setting won */
        int budget_row = strchr(r.codec, '@') != NULL;
        while (i < nrows && (strcmp(rows[i].image, r.image) || strcmp(rows[i].codec, r.codec) ||
                             (!budget_row && strcmp(rows[i].setting, r.setting))))
            i++;
        if (i == nrows) {
            if (nrows == caprows) {
                caprows = caprows ? 2 * caprows : 1024;
                row *nr = realloc(rows, caprows * sizeof(*rows));
                if (!nr) {
                    fclose(fp);
                    return -1;
                }
                rows = nr;
            }
            nrows++;
        }
        rows[i] = r;
    }
    fclose(fp);
    return 0;
}

/* -10 log10(1 - MS-SSIM), capped at 100 dB for a perfect score */
static double msssim_db(double m)
{
    return m >= 1.0 ? 100.0 : -10.0 * log10(1.0 - m);
}

static int cmp_group(const void *pa, const void *pb)
{
    const group *a = pa, *b = pb;
    if (a->budget != b->budget)
        return a->budget < b->budget ? -1 : 1;
    return a->bpp < b->bpp ? -1 : a->bpp > b->bpp;
}

/* (d): one chart per metric, a line per codec (settings in bpp order) up to
 * twice the BD range's top. */
static int write_plots(const char *base, const group *groups, int ngroups,
                       char (*codecs)[NAME_LEN], int ncodecs, double rmax)
{
    static const double ref_bpp[1] = {0.131}, ref_psnr[1] = {27.58};
    nic_context *ctx = nic_context_create();
    double *xs = malloc((size_t)ngroups * 2 * sizeof(double));
    double *ys = xs ? xs + ngroups : NULL;
    int status = ctx && xs ? 0 : 1;
    for (int metric = 0; metric < 2 && !status; metric++) {
        nic_plot p;
        nic_plot_init(&p, metric ? "Kodak: MS-SSIM against rate" : "Kodak: PSNR against rate",
                      "bits per pixel", metric ? "MS-SSIM (dB, -10 log10(1 - MS-SSIM))"
                                               : "PSNR-RGB (dB)");
        p.legend = NIC_PLOT_LEGEND_OUTSIDE;
        p.width = 900;
        p.height = 520;
        p.x_min = 0;
        p.x_max = 2 * rmax;
        int used = 0;
        for (int c = 0; c < ncodecs && p.series_count < NIC_PLOT_MAX_SERIES - 1; c++) {
            int first = used;
            for (int g = 0; g < ngroups; g++)
                if (!groups[g].budget && !strcmp(groups[g].codec, codecs[c]) &&
                    groups[g].bpp <= 2 * rmax) {
                    xs[used] = groups[g].bpp;
                    ys[used++] = metric ? msssim_db(groups[g].msssim) : groups[g].psnr;
                }
            if (used > first && nic_plot_add(ctx, &p, codecs[c], xs + first, ys + first,
                                             (size_t)(used - first),
                                             NIC_PLOT_LINE | NIC_PLOT_MARKERS, 0) != NIC_OK)
                status = 1;
        }
        if (!metric && nic_plot_add(ctx, &p, "bmshj2018 (published)", ref_bpp, ref_psnr, 1,
                                    NIC_PLOT_MARKERS, 0x111111) != NIC_OK)
            status = 1;
        char path[4096];
        snprintf(path, sizeof(path), "%s-%s", base, metric ? "msssim" : "psnr");
        if (!status && nic_plot_write(ctx, &p, path) != NIC_OK)
            status = 1;
        if (!status)
            printf("\nwrote %s.png and %s.svg\n", path, path);
    }
    if (status)
        fprintf(stderr, "eval_rd_summary: plots: %s\n", ctx ? nic_context_error(ctx) : "no memory");
    free(xs);
    nic_context_destroy(ctx);
    return status;
}

/* The last row of codec "name@budget" for image (NULL: none). */
static const row *budget_row(const char *name, long budget, const char *image)
{
    char key[NAME_LEN + 24];
    snprintf(key, sizeof(key), "%s@%ld", name, budget);
    const row *hit = NULL;
    for (size_t i = 0; i < nrows; i++)
        if (!strcmp(rows[i].codec, key) && !strcmp(rows[i].image, image))
            hit = &rows[i];
    return hit;
}

/* Ends a budget table row: the test codec's mean PSNR / MS-SSIM at the budget
 * over the images where codec fit ("n of m" when the test codec fit fewer). */
static void same_images(const char *codec, const char *test, long budget)
{
    double psnr = 0, msssim = 0;
    int fit = 0, both = 0;
    for (size_t i = 0; i < nrows; i++) {
        char key[NAME_LEN + 24];
        snprintf(key, sizeof(key), "%s@%ld", codec, budget);
        /* each image once: at its last row of codec@budget */
        if (strcmp(rows[i].codec, key) || budget_row(codec, budget, rows[i].image) != &rows[i])
            continue;
        fit++;
        const row *t = budget_row(test, budget, rows[i].image);
        if (t) {
            psnr += t->psnr;
            msssim += t->msssim;
            both++;
        }
    }
    if (!both)
        printf("— |\n");
    else if (both < fit)
        printf("%.2f / %.4f (%d of the %d) |\n", psnr / both, msssim / both, both, fit);
    else
        printf("%.2f / %.4f |\n", psnr / both, msssim / both);
}

int main(int argc, char **argv)
{
    const char *test = "nic", *plots = NULL;
    double rmin = 0.05, rmax = 0.5;
    int nfiles = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--test") && i + 1 < argc)
            test = argv[++i];
        else if (!strcmp(argv[i], "--min-bpp") && i + 1 < argc)
            rmin = atof(argv[++i]);
        else if (!strcmp(argv[i], "--max-bpp") && i + 1 < argc)
            rmax = atof(argv[++i]);
        else if (!strcmp(argv[i], "--plots") && i + 1 < argc)
            plots = argv[++i];
        else if (argv[i][0] == '-') {
            fprintf(stderr, "usage: eval_rd_summary [--test CODEC] [--min-bpp R] [--max-bpp R] "
                            "[--plots BASE] FILE.csv...\n");
            return 2;
        } else {
            if (read_csv(argv[i]) != 0)
                return 1;
            nfiles++;
        }
    }
    if (!nfiles || !nrows) {
        fprintf(stderr, "eval_rd_summary: no rows (give one or more CSV files)\n");
        return nfiles ? 1 : 2;
    }

    /* codecs in order of first appearance (the test codec first), and images */
    char(*codecs)[NAME_LEN] = calloc(nrows + 1, NAME_LEN);
    char(*images)[NAME_LEN] = calloc(nrows, NAME_LEN);
    group *groups = calloc(nrows, sizeof(*groups));
    if (!codecs || !images || !groups)
        return 1;
    int ncodecs = 0, nimages = 0, ngroups = 0;
    snprintf(codecs[ncodecs++], NAME_LEN, "%s", test);
    for (size_t i = 0; i < nrows; i++) {
        char base[NAME_LEN];
        snprintf(base, NAME_LEN, "%s", rows[i].codec);
        char *at = strchr(base, '@');
        long budget = at ? strtol(at + 1, NULL, 10) : 0;
        if (at)
            *at = '\0';
        int c = 0;
        while (c < ncodecs && strcmp(codecs[c], base))
            c++;
        if (c == ncodecs)
            snprintf(codecs[ncodecs++], NAME_LEN, "%s", base);
        int m = 0;
        while (m < nimages && strcmp(images[m], rows[i].image))
            m++;
        if (m == nimages)
            snprintf(images[nimages++], NAME_LEN, "%s", rows[i].image);
        int g = 0;
        while (g < ngroups && (strcmp(groups[g].codec, base) ||
                               (budget ? groups[g].budget != budget
                                       : groups[g].budget || strcmp(groups[g].setting, rows[i].setting))))
            g++;
        if (g == ngroups) {
            snprintf(groups[g].codec, NAME_LEN, "%s", base);
            snprintf(groups[g].setting, NAME_LEN, "%s", budget ? "" : rows[i].setting);
            groups[g].budget = budget;
            ngroups++;
        }
        groups[g].bpp += rows[i].bpp;
        groups[g].psnr += rows[i].psnr;
        groups[g].msssim += rows[i].msssim;
        groups[g].n++;
    }
    for (int g = 0; g < ngroups; g++) {
        groups[g].bpp /= groups[g].n;
        groups[g].psnr /= groups[g].n;
        groups[g].msssim /= groups[g].n;
    }
    qsort(groups, (size_t)ngroups, sizeof(*groups), cmp_group);
    printf("%zu rows from %d file(s), %d image(s)\n", nrows, nfiles, nimages);

    /* (a) */
    printf("\n## Mean over images per codec and setting\n\n");
    printf("| codec | setting | images | bpp | PSNR-RGB (dB) | MS-SSIM |\n|---|---|---|---|---|---|\n");
    for (int c = 0; c < ncodecs; c++)
        for (int g = 0; g < ngroups; g++)
            if (!groups[g].budget && !strcmp(groups[g].codec, codecs[c]))
                printf("| %s | %s | %d | %.4f | %.2f | %.4f |\n", groups[g].codec,
                       groups[g].setting, groups[g].n, groups[g].bpp, groups[g].psnr,
                       groups[g].msssim);

    /* (b) */
    printf("\n## BD-rate of %s against each codec\n\n", test);
    printf("Curves: per-setting means over images, dominated points dropped, cut to "
           "%.3g-%.3g bpp (points inside kept; end points interpolated linearly in "
           "(log rate, quality) where a curve crosses a limit); PCHIP of log(rate) against "
           "quality, integrated exactly over the overlapping quality range. MS-SSIM in dB: "
           "-10 log10(1 - MS-SSIM). Negative = fewer bits for %s.\n\n",
           rmin, rmax, test);
    bd_point *tp = malloc((size_t)ngroups * sizeof(*tp)), *ap = malloc((size_t)ngroups * sizeof(*ap));
    bd_point *tm = malloc((size_t)ngroups * sizeof(*tm)), *am = malloc((size_t)ngroups * sizeof(*am));
    if (!tp || !ap || !tm || !am)
        return 1;
    int nt = 0;
    for (int g = 0; g < ngroups; g++)
        if (!groups[g].budget && !strcmp(groups[g].codec, test)) {
            tp[nt] = (bd_point){groups[g].bpp, groups[g].psnr};
            tm[nt++] = (bd_point){groups[g].bpp, msssim_db(groups[g].msssim)};
        }
    if (!nt) {
        printf("(no rows of codec \"%s\": nothing to compare; --test CODEC picks another)\n", test);
    } else {
        printf("| %s against | BD-rate (PSNR) | PSNR range (dB) | BD-rate (MS-SSIM) | "
               "MS-SSIM range (dB) |\n|---|---|---|---|---|\n", test);
        for (int c = 1; c < ncodecs; c++) {
            int na = 0;
            for (int g = 0; g < ngroups; g++)
                if (!groups[g].budget && !strcmp(groups[g].codec, codecs[c])) {
                    ap[na] = (bd_point){groups[g].bpp, groups[g].psnr};
                    am[na++] = (bd_point){groups[g].bpp, msssim_db(groups[g].msssim)};
                }
            if (!na)
                continue;
            printf("| %s |", codecs[c]);
            for (int metric = 0; metric < 2; metric++) {
                double pct, lo, hi;
                if (bd_rate(metric ? am : ap, na, metric ? tm : tp, nt, rmin, rmax, &pct, &lo,
                            &hi) == BD_OK)
                    printf(" %+.1f %% | %.2f-%.2f |", pct, lo, hi);
                else
                    printf(" n/a | — |");
            }
            printf("\n");
        }
    }

    /* (c) */
    int any_budget = 0;
    for (int g = 0; g < ngroups; g++)
        any_budget |= groups[g].budget > 0;
    if (any_budget) {
        printf("\n## Byte budgets (per image, the best setting that fits; mean over the images "
               "that fit)\n\n");
        printf("| budget | codec | fit | bpp | PSNR-RGB (dB) | MS-SSIM | %s on the same images "
               "(PSNR / MS-SSIM) |\n|---|---|---|---|---|---|---|\n", test);
        long prev = 0;
        for (int g = 0; g < ngroups; g++) {
            long b = groups[g].budget;
            if (!b || b == prev)
                continue;
            prev = b;
            for (int c = 0; c < ncodecs; c++) {
                /* a codec without any budget rows was not measured at budgets (e.g.
                 * eval_rnn's layer rows): no row, rather than "0 fit" */
                int measured = 0;
                for (int h = 0; h < ngroups && !measured; h++)
                    measured = groups[h].budget > 0 && !strcmp(groups[h].codec, codecs[c]);
                if (!measured)
                    continue;
                /* images this codec was run on: those of its setting rows */
                int nimg = 0, has_rows = 0;
                for (int m = 0; m < nimages; m++) {
                    int seen = 0;
                    for (size_t i = 0; i < nrows && !seen; i++) {
                        size_t len = strlen(codecs[c]);
                        if (!strcmp(rows[i].image, images[m]) &&
                            !strncmp(rows[i].codec, codecs[c], len) &&
                            (rows[i].codec[len] == '\0' || rows[i].codec[len] == '@'))
                            seen = 1;
                    }
                    nimg += seen;
                    has_rows |= seen;
                }
                if (!has_rows)
                    continue;
                const group *hit = NULL;
                for (int h = 0; h < ngroups; h++)
                    if (groups[h].budget == b && !strcmp(groups[h].codec, codecs[c]))
                        hit = &groups[h];
                if (hit) {
                    printf("| %ld B | %s | %d/%d | %.4f | %.2f | %.4f | ", b, codecs[c], hit->n,
                           nimg, hit->bpp, hit->psnr, hit->msssim);
                    same_images(codecs[c], test, b);
                } else {
                    printf("| %ld B | %s | 0/%d | — | — | — | — |\n", b, codecs[c], nimg);
                }
            }
        }
    }
    int plot_status = plots ? write_plots(plots, groups, ngroups, codecs, ncodecs, rmax) : 0;
    free(tp);
    free(ap);
    free(tm);
    free(am);
    free(groups);
    free(images);
    free(codecs);
    free(rows);
    return plot_status;
}
