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
            "Then the paper's RNN model (Toderici et al.'s recurrent codec) on MNIST, its\n"
            "cascade (the RNN's output picture coded again by the CNN) and the combined\n"
            "rnn+cnn model (the RNN's codes through a context model). About 30 minutes on\n"
            "2 cores.\n"
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
            "RNN arms:\n"
            "  --rnn-init <file> .... starting weights of the RNN (default: the installed\n"
            "                         rnn model, trained on photos; 'none': random)\n"
            "  --rnn-epochs <int> ... RNN training epochs (default=%d, quick: 2)\n"
            "  --rnn-images <int> ... training images drawn at random per RNN epoch\n"
            "                         (default=%u, quick: 256)\n"
            "  --rnn-eval-images <int> test images of the per-epoch evaluation\n"
            "                         (default=%u, quick: 256)\n"
            "  --rnn-batch <int> .... images per RNN step (default=%d)\n"
            "  --rnn-lr <float> ..... RNN peak learning rate (default=%g)\n"
            "  --rnn-iterations <int> iterations = layers = rate points (default=%d)\n"
            "  --rnn-widths E,E1,E2,E3,BITS,D,D1,D2,D3,D4  channels of E-Conv, E-RNN1..3,\n"
            "                         the bits per 16x16 block, D-Conv, D-RNN1..4\n"
            "                         (default=%d,%d,%d,%d,%d,%d,%d,%d,%d,%d)\n"
            "  --ctx-images <int> ... rnn+cnn: training digits whose codes fit the context\n"
            "                         model (default=%u, quick: 256)\n"
            "  --ctx-epochs <int> ... rnn+cnn: context model epochs (default=%d)\n"
            "  --ctx-lr <float> ..... rnn+cnn: context model learning rate (default=%g)\n"
            "  -h, --help ........... this help\n",
            1024u, 256u, d.out_dir, d.data_dir, d.batch, d.lr, (unsigned long long)d.seed,
            d.model.c1, d.model.c2, d.model.latent, d.model.levels, d.model.lambda_min,
            d.model.lambda_max, d.model.mse_weight, NIC_MNIST_RNN_EPOCHS,
            NIC_MNIST_RNN_EPOCH_IMAGES, NIC_MNIST_RNN_EVAL_IMAGES, d.rnn_batch, d.rnn_lr,
            d.rnn.iterations, d.rnn.e_conv, d.rnn.enc[0], d.rnn.enc[1], d.rnn.enc[2], d.rnn.bits,
            d.rnn.d_conv, d.rnn.dec[0], d.rnn.dec[1], d.rnn.dec[2], d.rnn.dec[3],
            NIC_MNIST_RNN_CTX_IMAGES, d.ctx_epochs, d.ctx_lr);
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
        if (strcmp(a, "--rnn-init") == 0) {
            if (!v)
                return cli_usage_error("experiment", "%s needs a model file", a);
            o.rnn_init = v;
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
        INT_OPT("--rnn-epochs", 1, 10000, o.rnn_epochs = (int)n)
        INT_OPT("--rnn-images", 1, 100000000, o.rnn_epoch_images = (uint32_t)n)
        INT_OPT("--rnn-eval-images", 1, 100000000, o.rnn_eval_images = (uint32_t)n)
        INT_OPT("--rnn-batch", 1, 4096, o.rnn_batch = (int)n)
        INT_OPT("--rnn-iterations", 1, NIC_RNN_MAX_ITERATIONS, o.rnn.iterations = (int)n)
        INT_OPT("--ctx-images", 1, 100000000, o.ctx_images = (uint32_t)n)
        INT_OPT("--ctx-epochs", 1, 10000, o.ctx_epochs = (int)n)
#undef INT_OPT
        if (strcmp(a, "--lr") == 0 || strcmp(a, "--mse-weight") == 0 ||
            strcmp(a, "--rnn-lr") == 0 || strcmp(a, "--ctx-lr") == 0) {
            if (!cli_parse_double(v, 0.0, 1e6, &x) ||
                (strcmp(a, "--mse-weight") != 0 && !(x > 0)))
                return cli_usage_error("experiment", "%s needs a number%s", a,
                                       strcmp(a, "--mse-weight") != 0 ? " > 0" : "");
            if (strcmp(a, "--lr") == 0)
                o.lr = x;
            else if (strcmp(a, "--rnn-lr") == 0)
                o.rnn_lr = x;
            else if (strcmp(a, "--ctx-lr") == 0)
                o.ctx_lr = x;
            else
                o.model.mse_weight = (float)x;
            i++;
            continue;
        }
        if (strcmp(a, "--rnn-widths") == 0) {
            nic_rnn_config *r = &o.rnn;
            if (!v || sscanf(v, "%d,%d,%d,%d,%d,%d,%d,%d,%d,%d", &r->e_conv, &r->enc[0],
                             &r->enc[1], &r->enc[2], &r->bits, &r->d_conv, &r->dec[0], &r->dec[1],
                             &r->dec[2], &r->dec[3]) != 10)
                return cli_usage_error("experiment", "--rnn-widths needs E,E1,E2,E3,BITS,D,D1,D2,"
                                                     "D3,D4 (e.g. 8,16,32,32,8,32,32,32,16,16)");
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
    nic_context *check = cli_context_create();
    if (!check)
        return NIC_EXIT_INTERNAL;
    if (nic_rnn_config_check(check, &o.rnn) != NIC_OK) {
        int code = cli_usage_error("experiment", "%s", nic_context_error(check));
        nic_context_destroy(check);
        return code;
    }
    nic_context_destroy(check);
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
