/*
 * nic experiment: runs a reproducible experiment and writes its report.
 * Only "mnist" so far (the seed paper's MNIST experiment, issue 8).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "experiments/mnist.h"

void help_experiment(FILE *out)
{
    nic_mnist_experiment_options d;
    nic_mnist_experiment_options_init(&d);
    fprintf(out,
            "Usage: nic experiment mnist [options]\n"
            "\n"
            "The seed paper's MNIST experiment: trains its deep CNN autoencoder (with a\n"
            "learned entropy model, so sizes are real files) on the MNIST training set,\n"
            "logs loss and accuracy per epoch, compresses all 10,000 test images at every\n"
            "rate level, decodes them and measures size against PNG and raw pixels, SSIM\n"
            "and PSNR. Writes plots, figures and OUT/report.md (docs/EXPERIMENTS.md).\n"
            "The RNN models of the paper are pending (issue 7). About 30 minutes on 2 cores.\n"
            "\n"
            "Options:\n"
            "  --quick .............. smoke test: %u of the training and %u of the test\n"
            "                         images, 2 epochs (well under a minute)\n"
            "  --out <dir> .......... output folder (default=%s)\n"
            "  --data <dir> ......... folder of the MNIST IDX files (default=%s)\n"
            "  --epochs <int> ....... training epochs (default=10, quick: 2)\n"
            "  --batch <int> ........ images per step (default=%d)\n"
            "  --lr <float> ......... peak learning rate, cosine schedule (default=%g)\n"
            "  --seed <int> ......... random seed (default=%llu)\n"
            "  --train-limit <int> .. use the first N training images (default=all)\n"
            "  --test-limit <int> ... use the first N test images (default=all)\n"
            "  --channels C1,C2,L ... encoder/decoder channels and latent channels\n"
            "                         (default=%d,%d,%d)\n"
            "  --levels <int> ....... rate levels of the model (default=%d)\n"
            "  --lambda MIN,MAX ..... lambda of the lowest and highest level (default=%g,%g)\n"
            "  --mse-weight <float> . weight of the MSE beside 1 - SSIM (default=%g)\n"
            "  -h, --help ........... this help\n",
            1024u, 256u, d.out_dir, d.data_dir, d.batch, d.lr, (unsigned long long)d.seed,
            d.model.c1, d.model.c2, d.model.latent, d.model.levels, d.model.lambda_min,
            d.model.lambda_max, d.model.mse_weight);
}

static void print_progress(void *user, const char *line)
{
    (void)user;
    printf("%s\n", line);
    fflush(stdout);
}

int cmd_experiment(int argc, char **argv)
{
    if (argc < 2)
        return cli_usage_error("experiment", "which experiment? (available: mnist)");
    if (strcmp(argv[1], "mnist") != 0)
        return cli_usage_error("experiment", "unknown experiment '%s' (available: mnist)",
                               argv[1]);
    nic_mnist_experiment_options o;
    nic_mnist_experiment_options_init(&o);
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long n;
        double x;
        if (strcmp(a, "--quick") == 0) {
            o.quick = 1;
            continue;
        }
        if (strcmp(a, "--out") == 0 || strcmp(a, "--data") == 0) {
            if (!v)
                return cli_usage_error("experiment", "%s needs a folder", a);
            if (a[2] == 'o')
                o.out_dir = v;
            else
                o.data_dir = v;
            i++;
            continue;
        }
#define INT_OPT(flag, lo, hi, target)                                                    \
    if (strcmp(a, flag) == 0) {                                                          \
        if (!cli_parse_int(v, lo, hi, &n))                                               \
            return cli_usage_error("experiment", "%s needs an integer in %ld..%ld", flag, \
                                   (long)(lo), (long)(hi));                              \
        target;                                                                          \
        i++;                                                                             \
        continue;                                                                        \
    }
        INT_OPT("--epochs", 1, 10000, o.epochs = (int)n)
        INT_OPT("--batch", 1, 4096, o.batch = (int)n)
        INT_OPT("--seed", 0, 0x7fffffff, o.seed = (uint64_t)n)
        INT_OPT("--train-limit", 1, 100000000, o.train_limit = (uint32_t)n)
        INT_OPT("--test-limit", 1, 100000000, o.test_limit = (uint32_t)n)
        INT_OPT("--levels", 1, NIC_MNIST_MAX_LEVELS, o.model.levels = (int)n)
#undef INT_OPT
        if (strcmp(a, "--lr") == 0 || strcmp(a, "--mse-weight") == 0) {
            if (!cli_parse_double(v, 0.0, 1e6, &x))
                return cli_usage_error("experiment", "%s needs a number", a);
            if (a[2] == 'l')
                o.lr = x;
            else
                o.model.mse_weight = (float)x;
            i++;
            continue;
        }
        if (strcmp(a, "--channels") == 0) {
            int c1, c2, l;
            if (!v || sscanf(v, "%d,%d,%d", &c1, &c2, &l) != 3 || c1 < 1 || c2 < 1 || l < 1 ||
                c1 > 512 || c2 > 512 || l > 512)
                return cli_usage_error("experiment", "--channels needs C1,C2,L (e.g. 16,48,8)");
            o.model.c1 = c1;
            o.model.c2 = c2;
            o.model.latent = l;
            i++;
            continue;
        }
        if (strcmp(a, "--lambda") == 0) {
            double lo, hi;
            if (!v || sscanf(v, "%lf,%lf", &lo, &hi) != 2 || !(lo > 0) || !(hi >= lo) || hi > 1e9)
                return cli_usage_error("experiment", "--lambda needs MIN,MAX with 0 < MIN <= MAX");
            o.model.lambda_min = (float)lo;
            o.model.lambda_max = (float)hi;
            i++;
            continue;
        }
        return cli_usage_error("experiment", "unknown option '%s'", a);
    }
    if (!(o.lr > 0))
        return cli_usage_error("experiment", "--lr must be > 0");
    o.progress = print_progress;
    nic_context *ctx = cli_context_create();
    if (!ctx)
        return NIC_EXIT_INTERNAL;
    nic_mnist_experiment_summary s;
    nic_status st = nic_mnist_experiment_run(ctx, &o, &s);
    if (st != NIC_OK) {
        int code = cli_report("experiment", ctx, st);
        nic_context_destroy(ctx);
        return code;
    }
    printf("mnist: %u test images: PNG %llu bytes -> nic %llu bytes (%.2f %% smaller), "
           "mean SSIM %.4f, mean PSNR %.2f dB (level %d); target %s\n",
           s.test_images, (unsigned long long)s.png_bytes, (unsigned long long)s.nic_bytes,
           s.reduction_vs_png, s.mean_ssim, s.mean_psnr, s.level, s.target_met ? "met" : "not met");
    nic_context_destroy(ctx);
    return NIC_EXIT_OK;
}
