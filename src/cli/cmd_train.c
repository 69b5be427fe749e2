/*
 * nic train: trains a model on a folder of images, resumably.
 *
 * A run lives in one folder: checkpoint.safetensors (weights, Adam moments,
 * step, RNG state, configuration; rewritten atomically), train.csv and
 * val.csv (one row per log / validation), and model.safetensors (weights
 * only, what models/ ships). Running the same command again resumes.
 *
 * Under mpirun (cli/dist.h) every process takes its shard of each global
 * batch (--batch), gradients are summed over processes in one MPI_Allreduce,
 * and every process applies the same Adam update; rank 0 alone reads and
 * writes the run folder and prints. See docs/TRAINING.md.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/dist.h"
#include "cli/train.h"
#include "data/batch_loader.h"
#include "data/image_set.h"
#include "codec/hyper_codec.h"
#include "codec/hyper_fit.h"
#include "models/hyper.h"
#include "models/rnn.h"
#include "nn/checkpoint.h"
#include "nn/optim.h"
#include "nn/safetensors.h"
#ifdef NIC_HAVE_CUDA
#include "cuda/hyper_cuda.h"
#endif

#define DEFAULT_DATA "../shared/data/bsds500/train:../shared/data/bsds500/test"
#define DEFAULT_VAL "../shared/data/bsds500/val"

static volatile sig_atomic_t stop_requested;
static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

int train_stop_requested(void)
{
    return stop_requested != 0;
}

void train_install_signals(void)
{
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGUSR1, on_signal);
}

static void fit_progress(void *user, int image)
{
    if (isatty(STDOUT_FILENO)) {
        printf("\rfitting the decoder's tables: image %d of %d", image + 1, *(int *)user);
        fflush(stdout);
    }
}

/* --export of a hyper model: fits the decoder's tables (reconstruction
 * offsets, y tables) on o->fit_images training images spread over the set
 * (of at least 176x176, so that MS-SSIM can be measured) and adds them to the
 * exported file. */
static nic_status fit_tables(nic_context *ctx, const train_options *o)
{
    nic_image_set set;
    nic_image_set_init(&set);
    nic_hyper_codec *c = NULL;
    nic_image *pick = NULL;
    nic_hyper_fit fit = {0};
    nic_status st = nic_image_set_add_list(ctx, &set, o->data, 176, NIC_IMAGE_SET_SKIP_BAD);
    int n = st == NIC_OK ? (int)(set.count < (size_t)o->fit_images ? set.count
                                                                   : (size_t)o->fit_images)
                         : 0;
    if (st == NIC_OK && n == 0) {
        fprintf(stderr, "nic train: warning: no training image of at least 176x176 in %s; "
                        "the decoder's tables are not fitted\n", o->data);
        goto done;
    }
    pick = malloc(sizeof(nic_image) * (size_t)(n > 0 ? n : 1));
    if (st == NIC_OK && !pick)
        st = nic_fail(ctx, NIC_ERR_NOMEM, "out of memory");
    for (int i = 0; st == NIC_OK && i < n; i++) /* evenly over the set (sorted by name) */
        pick[i] = set.images[(size_t)i * set.count / (size_t)n];
    if (st == NIC_OK)
        st = nic_hyper_codec_load(ctx, o->export_path, &c);
    if (st == NIC_OK)
        st = nic_hyper_fit_tables(ctx, c, pick, (size_t)n, &fit, fit_progress, &n);
    if (st == NIC_OK) {
        printf("%sfitted on %d training images, coded at quality indexes 0, 32, ..., 255:\n",
               isatty(STDOUT_FILENO) ? "\n" : "", n);
        printf("  y tables: %.0f bits of y with the Gaussian tables, %.0f with the fitted ones "
               "(%+.2f %%)\n",
               fit.y_bits_before, fit.y_bits_after,
               100.0 * (fit.y_bits_after - fit.y_bits_before) / fit.y_bits_before);
        printf("  reconstruction offsets (share of the Gaussian centroid shift, and the mean %s "
               "it gains):\n",
               c->distortion == NIC_HYPER_MSSSIM ? "MS-SSIM" : "PSNR (dB)");
        for (int k = 0; k < NIC_HYPER_RECON_KNOTS; k++)
            printf("    quality index %3d: alpha %.1f  %+.4f\n", fit.quality[k], fit.alpha[k],
                   fit.gain[k]);
        st = nic_hyper_write_tables(ctx, o->export_path, fit.offsets, fit.y_weights);
    }
done:
    nic_hyper_fit_free(&fit);
    free(pick);
    nic_hyper_codec_free(c);
    nic_image_set_free(&set);
    return st;
}

void help_train(FILE *out)
{
    fprintf(out,
            "Usage: nic train [options]\n"
            "\n"
            "Trains a model on random crops of a folder of images. hyper: rate + lambda *\n"
            "MSE, lambda drawn per crop over the model's whole range; rnn: L1 of the\n"
            "residual after each of --iterations iterations, backpropagated through all\n"
            "of them; rnn+cnn: the context model over an rnn model's codes. Resumable: the run\n"
            "folder keeps checkpoint.safetensors; running the same command again goes\n"
            "on from it. Ctrl-C (or SIGTERM, SIGUSR1) saves a checkpoint before exiting.\n"
            "Data-parallel: mpirun -np K nic train ... splits each --batch over K\n"
            "processes (docs/TRAINING.md).\n"
            "\n"
            "Options:\n"
            "  --model <name> ....... model to train: hyper, rnn or rnn+cnn (default=hyper)\n"
            "  --data <dirs> ........ ':'-separated folders/files of training images\n"
            "                         (default=" DEFAULT_DATA ")\n"
            "  --val <dirs> ......... validation images (default=" DEFAULT_VAL ")\n"
            "  --out <dir> .......... run folder (default=runs/<model>)\n"
            "  --export <file> ...... write the run's current model (weights + entropy\n"
            "                         tables, what models/ ships) to file and exit; hyper:\n"
            "                         with the decoder's tables (reconstruction offsets,\n"
            "                         y entropy tables) fitted on --fit-images images\n"
            "  --fit-images <int> ... hyper, with --export: training images (of at least\n"
            "                         176x176) to fit the decoder's tables on (0 = none:\n"
            "                         Gaussian tables, no offsets; default=24; a few\n"
            "                         seconds an image)\n"
            "  --device <cpu|cuda> .. where to train (default=cpu); cuda needs a build with\n"
            "                         the CUDA backend (make cuda); checkpoints are the same\n"
            "  --precision <fp32|bf16> convolutions in FP32, or reading BF16 inputs with FP32\n"
            "                         accumulation and FP32 master weights (about 2x faster\n"
            "                         where the CPU has AVX-512 BF16; hyper on the CPU only;\n"
            "                         default=fp32)\n"
            "  --init <file> ........ start a new run from these weights (e.g. a shipped\n"
            "                         model) instead of random ones\n"
            "  --steps <int> ........ total optimizer steps (default=100000)\n"
            "  --batch <int> ........ crops per step (default=8)\n"
            "  --crop <int> ......... crop side, a multiple of 64 (default=256; rnn: of 16,\n"
            "                         default 64)\n"
            "  --lr <float> ......... peak learning rate (default=1e-4; rnn 5e-4)\n"
            "  --lr-min <float> ..... final learning rate of the cosine schedule (default=1e-5)\n"
            "  --warmup <int> ....... steps of linear learning-rate warm-up (default=500;\n"
            "                         rnn 200)\n"
            "  --clip <float> ....... gradient-norm clipping (default=1.0)\n"
            "  --context <C> ........ hyper: a checkerboard context network with C hidden\n"
            "                         channels (0 = none; default=0; fixed once a run has\n"
            "                         started); --init from a model without one starts it at\n"
            "                         zero, i.e. from that model's predictions\n"
            "  --context-anchors <K>  hyper: the anchors a non-anchor's context sees: 4\n"
            "                         (the nearest) or 12 (all of its 5x5 window; 3 times\n"
            "                         the context's first layer); --init from a 4-anchor\n"
            "                         model starts the others at zero (default=4; fixed\n"
            "                         once a run has started)\n"
            "  --context-lr <float> . learning-rate multiplier of the context network's\n"
            "                         parameters (default=5: a new context next to a trained\n"
            "                         model)\n"
            "  --channels N,M,NZ .... transform, latent and hyper-latent channels\n"
            "                         (default=96,128,64; fixed once a run has started)\n"
            "  --seed <int> ......... random seed (default=1; fixed once a run has started)\n"
            "  --log-every <int> .... steps between progress lines (default=50)\n"
            "  --checkpoint-every <int> steps between checkpoints (default=500)\n"
            "  --val-every <int> .... steps between validations (default=2000)\n"
            "  --val-count <int> .... validation crops (default=16)\n"
            "  --time-limit <min> ... stop (with a checkpoint) after this many minutes\n"
            "                         (default=0, none)\n"
            "  --iterations <int> ... rnn: iterations unrolled in training, the most a file\n"
            "                         can have (default=8)\n"
            "  --widths <10 ints> ... rnn: E-Conv,E-RNN1,E-RNN2,E-RNN3,bits,D-Conv,D-RNN1..4\n"
            "                         (default=16,32,64,64,32,64,64,64,32,16; fixed once a\n"
            "                         run has started)\n"
            "  --lstm ............... rnn: ConvLSTM cells instead of ConvGRU\n"
            "  --oneshot ............ rnn: one-shot reconstruction instead of additive\n"
            "  --no-gain ............ rnn: without the learned per-iteration gains (the\n"
            "                         encoder sees g_t r_t, the decoder's output / g_t;\n"
            "                         fixed once a run has started)\n"
            "  --gain-lr <float> .... rnn: learning-rate multiplier of the gains (default=10)\n"
            "  --loss <name> ........ hyper: the distortion, mse (default) or ms-ssim (the\n"
            "                         MS-SSIM-tuned variant: lambda (1 - MS-SSIM), mean of\n"
            "                         R, G, B; fixed once a run has started); rnn: on each\n"
            "                         iteration's residual, l1 (default, the paper's), mse,\n"
            "                         or log-mse (the mean of ln MSE: the late iterations\n"
            "                         count as much as the first)\n"
            "  --val-crop <int> ..... rnn: side of the validation crops (default=128)\n"
            "  --codes <int> ........ rnn+cnn: training crops (default=400)\n"
            "  -h, --help ........... this help\n"
            "\n"
            "  rnn+cnn trains the context model over the codes of a trained rnn model\n"
            "  (--init FILE, default the installed rnn model): --codes crops of --crop\n"
            "  (default 256x256) and --val-count validation crops are encoded once, then\n"
            "  --steps epochs (default 4, --lr 3e-3); writes the rnn+cnn model file. The\n"
            "  rnn models train on the CPU in one process (no --device cuda, no mpirun).\n");
}

double train_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int parse_options(int argc, char **argv, train_options *o)
{
    memset(o, 0, sizeof(*o));
    o->model = "hyper";
    o->device = "cpu";
    o->precision = "fp32";
    o->data = DEFAULT_DATA;
    o->val = DEFAULT_VAL;
    o->steps = 100000;
    o->batch = 8;
    o->crop = 256; /* hyper: 128 leaves z 2x2 per crop, and trained a much worse model */
    o->lr = 1e-4;
    o->lr_min = 1e-5;
    o->warmup = 500;
    o->clip = 1.0;
    o->seed = 1;
    o->log_every = 50;
    o->ckpt_every = 500;
    o->val_every = 2000;
    o->val_count = 16;
    o->fit_images = 24;
    nic_hyper_config def;
    nic_hyper_config_default(&def);
    o->n = def.n;
    o->m = def.m;
    o->nz = def.nz;
    o->ctx = def.ctx;
    o->ctx_lr = 5.0;
    o->ctx_nb = 4;
    o->gain_lr = 10.0;
    o->iterations = 8;
    o->val_crop = 128;
    o->codes = 400;
    static const long rnn_widths[10] = {16, 32, 64, 64, 32, 64, 64, 64, 32, 16};
    memcpy(o->widths, rnn_widths, sizeof(rnn_widths));
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define INT_OPT(flag, field, lo, hi)                                                   \
    if (strcmp(a, flag) == 0) {                                                        \
        if (!cli_parse_int(v, lo, hi, &o->field))                                      \
            return cli_usage_error("train", "%s needs an integer in %ld..%ld", flag,   \
                                   (long)(lo), (long)(hi));                            \
        i++;                                                                           \
        continue;                                                                      \
    }
#define DBL_OPT(flag, field, lo, hi)                                                   \
    if (strcmp(a, flag) == 0) {                                                        \
        if (!cli_parse_double(v, lo, hi, &o->field))                                   \
            return cli_usage_error("train", "%s needs a number in %g..%g", flag,       \
                                   (double)(lo), (double)(hi));                        \
        i++;                                                                           \
        continue;                                                                      \
    }
#define STR_OPT(flag, field)                                                           \
    if (strcmp(a, flag) == 0) {                                                        \
        if (!v)                                                                        \
            return cli_usage_error("train", "%s needs a value", flag);                 \
        o->field = v;                                                                  \
        i++;                                                                           \
        continue;                                                                      \
    }
        STR_OPT("--model", model)
        STR_OPT("--data", data)
        STR_OPT("--val", val)
        STR_OPT("--out", out)
        STR_OPT("--init", init)
        STR_OPT("--export", export_path)
        STR_OPT("--device", device)
        STR_OPT("--precision", precision)
        if (strcmp(a, "--steps") == 0)
            o->set_steps = 1;
        if (strcmp(a, "--batch") == 0)
            o->set_batch = 1;
        if (strcmp(a, "--crop") == 0)
            o->set_crop = 1;
        if (strcmp(a, "--lr") == 0)
            o->set_lr = 1;
        if (strcmp(a, "--warmup") == 0)
            o->set_warmup = 1;
        INT_OPT("--steps", steps, 1, 100000000)
        INT_OPT("--batch", batch, 1, 1024)
        INT_OPT("--crop", crop, 16, 4096)
        INT_OPT("--iterations", iterations, 1, 32)
        INT_OPT("--val-crop", val_crop, 16, 4096)
        INT_OPT("--codes", codes, 1, 1000000)
        INT_OPT("--seed", seed, 0, 0x7fffffff)
        INT_OPT("--context", ctx, 0, 1024)
        INT_OPT("--context-anchors", ctx_nb, 4, 12)
        INT_OPT("--log-every", log_every, 1, 1000000)
        INT_OPT("--checkpoint-every", ckpt_every, 1, 100000000)
        INT_OPT("--val-every", val_every, 1, 100000000)
        INT_OPT("--val-count", val_count, 0, 10000)
        INT_OPT("--fit-images", fit_images, 0, 100000)
        INT_OPT("--warmup", warmup, 0, 100000000)
        DBL_OPT("--lr", lr, 1e-8, 1.0)
        DBL_OPT("--lr-min", lr_min, 0.0, 1.0)
        DBL_OPT("--clip", clip, 0.0, 1e9)
        DBL_OPT("--context-lr", ctx_lr, 0.0, 1000.0)
        DBL_OPT("--gain-lr", gain_lr, 0.0, 1000.0)
        DBL_OPT("--time-limit", time_limit_min, 0.0, 1e7)
#undef INT_OPT
#undef DBL_OPT
#undef STR_OPT
        if (strcmp(a, "--channels") == 0) {
            if (!v || sscanf(v, "%ld,%ld,%ld", &o->n, &o->m, &o->nz) != 3 || o->n < 1 ||
                o->m < 1 || o->nz < 1 || o->n > 1024 || o->m > 1024 || o->nz > 1024)
                return cli_usage_error("train", "--channels needs N,M,NZ (e.g. 96,128,64)");
            i++;
            continue;
        }
        if (strcmp(a, "--widths") == 0) {
            long *wd = o->widths;
            if (!v || sscanf(v, "%ld,%ld,%ld,%ld,%ld,%ld,%ld,%ld,%ld,%ld", &wd[0], &wd[1], &wd[2],
                             &wd[3], &wd[4], &wd[5], &wd[6], &wd[7], &wd[8], &wd[9]) != 10)
                return cli_usage_error("train", "--widths needs 10 integers (see --help)");
            for (int k = 0; k < 10; k++)
                if (wd[k] < 1 || wd[k] > 4096 || (k >= 6 && wd[k] % 4 != 0))
                    return cli_usage_error("train", "--widths: %ld is not 1..4096 (D-RNN widths: "
                                           "multiples of 4)", wd[k]);
            i++;
            continue;
        }
        if (strcmp(a, "--lstm") == 0) {
            o->lstm = 1;
            continue;
        }
        if (strcmp(a, "--oneshot") == 0) {
            o->oneshot = 1;
            continue;
        }
        if (strcmp(a, "--no-gain") == 0) {
            o->no_gain = 1;
            continue;
        }
        if (strcmp(a, "--loss") == 0) {
            if (!v)
                return cli_usage_error("train", "--loss needs a value (see --help)");
            o->loss = v;
            i++;
            continue;
        }
        return cli_usage_error("train", "unknown option '%s'", a);
    }
    const int rnn = strcmp(o->model, "rnn") == 0, rnn_cnn = strcmp(o->model, "rnn+cnn") == 0;
    if (o->loss && rnn) {
        if (strcmp(o->loss, "l1") == 0)
            o->mse_loss = NIC_RNN_LOSS_L1;
        else if (strcmp(o->loss, "mse") == 0)
            o->mse_loss = NIC_RNN_LOSS_MSE;
        else if (strcmp(o->loss, "log-mse") == 0)
            o->mse_loss = NIC_RNN_LOSS_LOG_MSE;
        else
            return cli_usage_error("train", "rnn: --loss needs l1, mse or log-mse");
    } else if (o->loss && rnn_cnn) {
        return cli_usage_error("train", "rnn+cnn has no --loss (its context model is lossless)");
    } else if (o->loss) {
        if (nic_hyper_distortion_parse(o->loss) < 0)
            return cli_usage_error("train", "hyper: --loss needs mse or ms-ssim");
        o->msssim = nic_hyper_distortion_parse(o->loss) == NIC_HYPER_MSSSIM;
    }
    if ((rnn || rnn_cnn) && strcmp(o->device, "cpu") != 0)
        return cli_usage_error("train", "%s trains on the CPU only", o->model);
    if ((rnn || rnn_cnn) && o->ctx != 0)
        return cli_usage_error("train", "--context is for the hyper model");
    if (o->ctx_nb != 4 && o->ctx_nb != 12)
        return cli_usage_error("train", "--context-anchors is 4 or 12, not %ld", o->ctx_nb);
    if (o->ctx_nb != 4 && o->ctx == 0)
        return cli_usage_error("train", "--context-anchors needs a context (--context C)");
    if ((rnn || rnn_cnn) && strcmp(o->precision, "fp32") != 0)
        return cli_usage_error("train", "%s trains in fp32 only (--precision bf16 is for hyper)",
                               o->model);
    if (rnn) {
        if (!o->set_crop)
            o->crop = 64;
        if (!o->set_lr)
            o->lr = 5e-4;
        if (!o->set_warmup)
            o->warmup = 200;
        if (o->crop % 16 != 0 || o->val_crop % 16 != 0)
            return cli_usage_error("train", "rnn: --crop and --val-crop must be multiples of 16");
        return NIC_EXIT_OK;
    }
    if (rnn_cnn) {
        if (!o->set_crop)
            o->crop = 256;
        if (!o->set_steps)
            o->steps = 4;
        if (!o->set_lr)
            o->lr = 3e-3;
        if (o->crop % 16 != 0)
            return cli_usage_error("train", "rnn+cnn: --crop must be a multiple of 16");
        return NIC_EXIT_OK;
    }
    if (strcmp(o->model, "hyper") != 0)
        return cli_usage_error("train", "unknown model '%s' (available: hyper, rnn, rnn+cnn)",
                               o->model);
    if (o->crop % 64 != 0)
        return cli_usage_error("train", "--crop must be a multiple of 64");
    if (strcmp(o->device, "cpu") != 0 && strcmp(o->device, "cuda") != 0)
        return cli_usage_error("train", "--device must be cpu or cuda");
    if (strcmp(o->precision, "fp32") != 0 &&
        (strcmp(o->precision, "bf16") != 0 || strcmp(o->device, "cpu") != 0))
        return cli_usage_error("train", "--precision must be fp32 or (on the cpu) bf16");
#ifndef NIC_HAVE_CUDA
    if (strcmp(o->device, "cuda") == 0)
        return cli_usage_error("train", "this nic was built without the CUDA backend "
                                        "(build with `make cuda`, see docs/TRAINING.md)");
#endif
    return NIC_EXIT_OK;
}

static void config_string(const train_options *o, char *buf, size_t cap)
{
    snprintf(buf, cap,
             "{\"model\": \"%s\", \"n\": %ld, \"m\": %ld, \"nz\": %ld, \"ctx\": %ld, "
             "\"ctx_nb\": %ld, \"msssim\": %d, \"batch\": %ld, \"crop\": %ld, \"steps\": %ld, "
             "\"lr\": %g, \"lr_min\": %g, \"clip\": %g, \"seed\": %ld, \"data\": \"%s\"}",
             o->model, o->n, o->m, o->nz, o->ctx, o->ctx_nb, o->msssim, o->batch, o->crop, o->steps,
             o->lr, o->lr_min, o->clip, o->seed, o->data);
}

int train_config_long(const char *json, const char *key, long *out)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "\"%s\": ", key);
    const char *p = json ? strstr(json, pat) : NULL;
    if (!p)
        return 0;
    *out = strtol(p + strlen(pat), NULL, 10);
    return 1;
}

int train_file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* Where the steps run: the CPU trainer, or the CUDA one (the host model stays
 * the master copy for checkpoints; pull/push move the state across). */
typedef struct backend {
    nic_hyper_trainer *cpu;
#ifdef NIC_HAVE_CUDA
    nn_cuda *dev;
    nic_hyper_cuda *gpu;
#endif
} backend;

static nic_status be_step(nic_context *ctx, backend *be, nic_hyper_model *m, const float *x,
                          const float *t_rate, nn_rng *rng, int train, nic_hyper_stats *s)
{
#ifdef NIC_HAVE_CUDA
    if (be->gpu) {
        if (train)
            NIC_TRY(nn_cuda_zero_grad(ctx, be->dev, nic_hyper_cuda_params(be->gpu)));
        return nic_hyper_cuda_train_step(ctx, be->gpu, x, t_rate, rng, train, s);
    }
#endif
    if (train)
        nn_params_zero_grad(&m->params);
    return nic_hyper_train_step(ctx, be->cpu, x, t_rate, rng, train, s);
}

/* One sum of the whole gradient arena over all processes (through the host for the GPU). */
static nic_status be_sum_grads(nic_context *ctx, const cli_dist *dist, backend *be,
                               nic_hyper_model *m)
{
    if (dist->size < 2)
        return NIC_OK;
#ifdef NIC_HAVE_CUDA
    if (be->gpu)
        NIC_TRY(nn_cuda_grads_download(ctx, be->dev, nic_hyper_cuda_params(be->gpu), &m->params));
#endif
    cli_dist_sum_floats(dist, m->params.grad, m->params.total);
#ifdef NIC_HAVE_CUDA
    if (be->gpu)
        NIC_TRY(nn_cuda_grads_upload(ctx, be->dev, nic_hyper_cuda_params(be->gpu), &m->params));
#endif
    return NIC_OK;
}

static nic_status be_update(nic_context *ctx, backend *be, nic_hyper_model *m, nn_adam *opt,
                            float lr, double clip, double *norm)
{
#ifdef NIC_HAVE_CUDA
    if (be->gpu) {
        nn_cuda_params *p = nic_hyper_cuda_params(be->gpu);
        NIC_TRY(nn_cuda_grad_clip(ctx, be->dev, p, clip, norm));
        return nn_cuda_adam_step(ctx, be->dev, opt, p, lr);
    }
#endif
    *norm = clip > 0 ? nn_grad_clip(&m->params, -1, clip) : nn_grad_norm(&m->params, -1);
    nn_adam_step(opt, &m->params, lr);
    return NIC_OK;
}

/* Device state -> host model (before checkpoints), and back. */
static nic_status be_pull(nic_context *ctx, backend *be, nic_hyper_model *m)
{
#ifdef NIC_HAVE_CUDA
    if (be->gpu)
        return nn_cuda_params_download(ctx, be->dev, nic_hyper_cuda_params(be->gpu), &m->params);
#endif
    (void)ctx, (void)be, (void)m;
    return NIC_OK;
}

static nic_status be_push(nic_context *ctx, backend *be)
{
#ifdef NIC_HAVE_CUDA
    if (be->gpu)
        return nn_cuda_params_upload(ctx, be->dev, nic_hyper_cuda_params(be->gpu));
#endif
    (void)ctx, (void)be;
    return NIC_OK;
}

/* GPU of this process: the node-local rank under a launcher, else 0. */
#ifdef NIC_HAVE_CUDA
static int local_gpu(int count)
{
    static const char *vars[] = {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID"};
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        if (getenv(vars[i]))
            return count > 0 ? atoi(getenv(vars[i])) % count : 0;
    return 0;
}
#endif

static nic_status be_create(nic_context *ctx, backend *be, const train_options *o,
                            nic_hyper_model *m, nn_engine *eng, int first, int count)
{
    memset(be, 0, sizeof(*be));
#ifdef NIC_HAVE_CUDA
    if (strcmp(o->device, "cuda") == 0) {
        if (m->cfg.ctx > 0)
            return nic_fail(ctx, NIC_ERR_UNSUPPORTED,
                            "--device cuda: the CUDA trainer has no context network (--context)");
        if (o->msssim)
            return nic_fail(ctx, NIC_ERR_UNSUPPORTED,
                            "--device cuda: the CUDA trainer has no MS-SSIM objective (--loss)");
        int n = nn_cuda_device_count();
        if (n == 0)
            return nic_fail(ctx, NIC_ERR_INVALID_ARGUMENT, "--device cuda: %s",
                            nn_cuda_unavailable_reason());
        NIC_TRY(nn_cuda_create(ctx, local_gpu(n), &be->dev));
        NIC_TRY(nic_hyper_cuda_create(ctx, be->dev, m, count, (int)o->crop, &be->gpu));
        return nic_hyper_cuda_set_shard(ctx, be->gpu, first, (int)o->batch);
    }
#endif
    unsigned flags = strcmp(o->precision, "bf16") == 0 ? NN_CONV_BF16 : 0;
    NIC_TRY(nic_hyper_trainer_create(ctx, eng, m, count, (int)o->crop, flags, &be->cpu));
    NIC_TRY(nic_hyper_trainer_set_distortion(ctx, be->cpu,
                                             o->msssim ? NIC_HYPER_MSSSIM : NIC_HYPER_MSE));
    return nic_hyper_trainer_set_shard(ctx, be->cpu, first, (int)o->batch);
}

static void be_destroy(backend *be)
{
    nic_hyper_trainer_destroy(be->cpu);
#ifdef NIC_HAVE_CUDA
    nic_hyper_cuda_destroy(be->gpu);
    nn_cuda_destroy(be->dev);
#endif
    memset(be, 0, sizeof(*be));
}

static const char *be_describe(const backend *be, const nn_engine *eng, char *buf, size_t cap)
{
#ifdef NIC_HAVE_CUDA
    if (be->gpu) {
        snprintf(buf, cap, "cuDNN on %s", nn_cuda_name(be->dev));
        return buf;
    }
#endif
    snprintf(buf, cap, "%s", nn_engine_has_dnnl(eng) ? "oneDNN" : "reference");
    return buf;
}

/* Mean bpp / PSNR on fixed validation crops at three rates (rounding, like the
 * coder). Each process evaluates its shard of every validation batch; rank 0
 * prints and writes the sums. */
static nic_status validate(nic_context *ctx, const cli_dist *dist, backend *be,
                           nic_hyper_model *m, const nic_image_set *val, const train_options *o, int first,
                           int count, float *batch, FILE *csv, int64_t step)
{
    if (!val->count || o->val_count == 0)
        return NIC_OK;
    static const float rates[3] = {0.0f, 0.5f, 1.0f};
    nic_crop_options crop = {(uint32_t)o->crop, (uint32_t)o->crop, 0, 3};
    float *t_rate = malloc(sizeof(float) * o->batch);
    if (!t_rate)
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "out of memory");
    nic_status st = NIC_OK;
    for (int r = 0; r < 3; r++) {
        nn_rng vr;
        nn_rng_seed(&vr, 12345); /* the same crops every time */
        double sums[4] = {0, 0, 0, 0}; /* bpp, mse, failed, ms-ssim */
        long done = 0;
        for (long k = 0; k < o->val_count; k += o->batch) {
            nic_hyper_stats s = {0};
            for (long b = 0; b < o->batch; b++)
                t_rate[b] = rates[r];
            if (st == NIC_OK)
                st = nic_image_set_sample_range(ctx, val, &vr, &crop, (int)o->batch, first,
                                                count, batch);
            if (st == NIC_OK)
                st = be_step(ctx, be, m, batch, t_rate, NULL, 0, &s);
            sums[0] += s.bpp;
            sums[1] += s.mse;
            sums[3] += s.msssim;
            done++;
        }
        sums[2] = st != NIC_OK;
        cli_dist_sum_doubles(dist, sums, 4);
        if (sums[2] > 0) {
            if (st == NIC_OK)
                st = nic_fail(ctx, NIC_ERR_INTERNAL, "validation failed in another process");
            break;
        }
        double bpp = sums[0] / done, mse = sums[1] / done, ms = sums[3] / done;
        double psnr = 10 * log10(255.0 * 255.0 / mse);
        if (dist->rank == 0) {
            printf("  val t=%.1f: %.4f bpp, %.2f dB, MS-SSIM %.4f\n", rates[r], bpp, psnr, ms);
            fprintf(csv, "%lld,%.2f,%.6f,%.4f,%.5f\n", (long long)step, rates[r], bpp, psnr, ms);
        }
    }
    if (dist->rank == 0) {
        fflush(csv);
        fflush(stdout);
    }
    free(t_rate);
    return st;
}

/* Makes every rank's model, moments, step and RNG rank 0's. */
static void share_state(const cli_dist *dist, nn_params *p, nn_adam *opt, nn_rng *rng)
{
    if (dist->size < 2)
        return;
    cli_dist_broadcast(dist, p->data, p->total * sizeof(float));
    cli_dist_broadcast(dist, p->m, p->total * sizeof(float));
    cli_dist_broadcast(dist, p->v, p->total * sizeof(float));
    cli_dist_broadcast(dist, &opt->step, sizeof(opt->step));
    cli_dist_broadcast(dist, rng->s, sizeof(rng->s));
}

static int make_run_folder(const char *out_dir)
{
    if (mkdir(out_dir, 0755) != 0 && errno != EEXIST) {
        /* also create the parent, once (runs/ on a fresh checkout) */
        char parent[1024];
        snprintf(parent, sizeof(parent), "%s", out_dir);
        char *slash = strrchr(parent, '/');
        if (slash) {
            *slash = '\0';
            mkdir(parent, 0755);
        }
        if (mkdir(out_dir, 0755) != 0 && errno != EEXIST) {
            fprintf(stderr, "nic train: error: cannot create %s: %s\n", out_dir, strerror(errno));
            return NIC_EXIT_OUTPUT;
        }
    }
    return NIC_EXIT_OK;
}

int train_make_dir(const char *dir)
{
    return make_run_folder(dir) == NIC_EXIT_OK;
}

int train_run_init(train_run *r, const train_options *o)
{
    memset(r, 0, sizeof(*r));
    if (o->out)
        snprintf(r->dir, sizeof(r->dir), "%s", o->out);
    else
        snprintf(r->dir, sizeof(r->dir), "runs/%s", o->model);
    if (!train_make_dir(r->dir))
        return 0;
    snprintf(r->ckpt, sizeof(r->ckpt), "%s/checkpoint.safetensors", r->dir);
    snprintf(r->model, sizeof(r->model), "%s/model.safetensors", r->dir);
    snprintf(r->train_csv, sizeof(r->train_csv), "%s/train.csv", r->dir);
    snprintf(r->val_csv, sizeof(r->val_csv), "%s/val.csv", r->dir);
    return 1;
}

nic_status train_run_start(nic_context *ctx, const train_run *r, const train_options *o,
                           int resume, nn_params *p, nn_adam *opt, nn_rng *rng, char **stored,
                           void (*init_fn)(void *model, nn_rng *rng),
                           nic_status (*load_fn)(nic_context *ctx, void *model, const char *path),
                           void *model)
{
    if (resume) {
        NIC_TRY(nn_checkpoint_load(ctx, r->ckpt, p, opt, rng, stored));
        printf("resuming %s at step %lld\n", r->ckpt, (long long)opt->step);
    } else if (o->init) {
        NIC_TRY(load_fn ? load_fn(ctx, model, o->init) : nn_weights_load(ctx, o->init, p));
        printf("new run in %s, weights from %s\n", r->dir, o->init);
    } else {
        init_fn(model, rng);
        printf("new run in %s\n", r->dir);
    }
    return NIC_OK;
}

nic_status train_load_sets(nic_context *ctx, const train_options *o, uint32_t val_side,
                           nic_image_set *data, nic_image_set *val)
{
    printf("loading training images from %s\n", o->data);
    fflush(stdout);
    NIC_TRY(nic_image_set_add_list(ctx, data, o->data, (uint32_t)o->crop, NIC_IMAGE_SET_SKIP_BAD));
    if (data->count == 0)
        return nic_fail(ctx, NIC_ERR_INVALID_ARGUMENT, "no training image is %ldx%ld or larger",
                        o->crop, o->crop);
    if (o->val_count > 0 &&
        nic_image_set_add_list(ctx, val, o->val, val_side, NIC_IMAGE_SET_SKIP_BAD) != NIC_OK) {
        fprintf(stderr, "nic: warning: no validation (%s)\n", nic_context_error(ctx));
        nic_context_clear_error(ctx);
    }
    return NIC_OK;
}

/* Keeps the header and the rows whose first field is <= step (atomically:
 * temp file + rename). 1 on success (or no file). */
static int train_trim_log(const char *path, int64_t step)
{
    FILE *in = fopen(path, "r");
    if (!in)
        return 1; /* no log yet */
    char tmp[1200];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *out = fopen(tmp, "w");
    if (!out) {
        fclose(in);
        return 0;
    }
    char line[4096];
    int first = 1, dropped = 0;
    while (fgets(line, sizeof(line), in)) {
        char *end;
        long long row = strtoll(line, &end, 10);
        /* the header, and rows up to the checkpoint's step, stay */
        if (first || end == line || row <= step)
            fputs(line, out);
        else
            dropped++;
        first = 0;
    }
    fclose(in);
    int ok = fclose(out) == 0;
    if (ok && dropped)
        ok = rename(tmp, path) == 0;
    else
        remove(tmp);
    return ok;
}

/* Both logs of a resumed run cut back to its checkpoint's step. */
static nic_status trim_logs(nic_context *ctx, const char *dir, const char *train_csv,
                            const char *val_csv, int64_t step)
{
    if (!train_trim_log(train_csv, step) || !train_trim_log(val_csv, step))
        return nic_fail(ctx, NIC_ERR_IO, "%s: cannot rewrite the logs: %s", dir, strerror(errno));
    return NIC_OK;
}

nic_status train_run_open_logs(nic_context *ctx, train_run *r, const char *train_header,
                               const char *val_header, int64_t resume_step)
{
    if (resume_step >= 0)
        NIC_TRY(trim_logs(ctx, r->dir, r->train_csv, r->val_csv, resume_step));
    r->tcsv = fopen(r->train_csv, "a");
    r->vcsv = fopen(r->val_csv, "a");
    if (!r->tcsv || !r->vcsv)
        return nic_fail(ctx, NIC_ERR_IO, "%s: cannot write logs: %s", r->dir, strerror(errno));
    if (ftell(r->tcsv) == 0)
        fprintf(r->tcsv, "%s\n", train_header);
    if (ftell(r->vcsv) == 0)
        fprintf(r->vcsv, "%s\n", val_header);
    return NIC_OK;
}

void train_run_close(train_run *r)
{
    if (r->tcsv)
        fclose(r->tcsv);
    if (r->vcsv)
        fclose(r->vcsv);
    r->tcsv = r->vcsv = NULL;
}

int cmd_train(int argc, char **argv)
{
    train_options o;
    int rc = parse_options(argc, argv, &o);
    if (rc != NIC_EXIT_OK)
        return rc;
    if (strcmp(o.model, "rnn") == 0)
        return train_rnn(&o);
    if (strcmp(o.model, "rnn+cnn") == 0)
        return train_rnn_cnn(&o);
    cli_dist dist;
    if (cli_dist_init(&dist) != 0)
        return NIC_EXIT_INTERNAL;
    const int root = dist.rank == 0;
    char out_dir[1024], ckpt[1100], model_path[1100], train_csv[1100], val_csv[1100];
    snprintf(out_dir, sizeof(out_dir), "%s", o.out ? o.out : "runs/hyper");
    rc = root ? make_run_folder(out_dir) : NIC_EXIT_OK;
    if (cli_dist_any(&dist, rc != NIC_EXIT_OK)) {
        cli_dist_finalize(&dist, 0);
        return rc != NIC_EXIT_OK ? rc : NIC_EXIT_OUTPUT;
    }
    snprintf(ckpt, sizeof(ckpt), "%s/checkpoint.safetensors", out_dir);
    snprintf(model_path, sizeof(model_path), "%s/model.safetensors", out_dir);
    snprintf(train_csv, sizeof(train_csv), "%s/train.csv", out_dir);
    snprintf(val_csv, sizeof(val_csv), "%s/val.csv", out_dir);

    nic_context *ctx = cli_context_create();
    if (!ctx) {
        cli_dist_finalize(&dist, 1);
        return NIC_EXIT_INTERNAL;
    }
    if (!root)
        nic_context_set_log(ctx, NULL, NULL); /* rank 0 speaks for the run */
    nn_engine *eng = NULL;
    nic_hyper_model model;
    memset(&model, 0, sizeof(model));
    backend be;
    memset(&be, 0, sizeof(be));
    nic_image_set data, val;
    nic_image_set_init(&data);
    nic_image_set_init(&val);
    float *batch = NULL, *t_rate = NULL;
    nic_batch_loader *loader = NULL;
    const nic_crop_options crop = {(uint32_t)o.crop, (uint32_t)o.crop, 1, 3};
    FILE *tcsv = NULL, *vcsv = NULL;
    nn_rng rng;
    nn_adam opt;
    char config[1024];
    char *stored = NULL;
    nic_status st = NIC_OK;
    int shard_first = 0, shard_count = (int)o.batch;

    /* Rank 0 decides: new run or resume, and the architecture (from the
     * checkpoint, whatever the flags say); the others follow. */
    long head[7] = {0, o.n, o.m, o.nz, o.ctx, o.msssim, o.ctx_nb};
    if (root && train_file_exists(ckpt)) {
        head[0] = 1;
        nn_st_file f;
        st = nn_st_read_file(ctx, ckpt, &f);
        if (st == NIC_OK) {
            const char *cfg = nn_st_get_meta(&f, "config");
            long n, m, nz, seed;
            if (train_config_long(cfg, "n", &n) && train_config_long(cfg, "m", &m) &&
                train_config_long(cfg, "nz", &nz)) {
                head[1] = n;
                head[2] = m;
                head[3] = nz;
                long cw;
                head[4] = train_config_long(cfg, "ctx", &cw) ? cw : 0; /* older runs: none */
                head[5] = train_config_long(cfg, "msssim", &cw) ? cw : 0; /* older: MSE */
                head[6] = train_config_long(cfg, "ctx_nb", &cw) ? cw : 4; /* older: 4 */
            }
            /* the training batches are a function of the run's seed and the step */
            if (train_config_long(cfg, "seed", &seed))
                o.seed = seed;
            nn_st_free(&f);
        }
    }
    cli_dist_broadcast(&dist, head, sizeof(head));
    int resume = (int)head[0];
    o.n = head[1];
    o.m = head[2];
    o.nz = head[3];
    o.ctx = head[4];
    o.msssim = (int)head[5];
    o.ctx_nb = head[6];
    config_string(&o, config, sizeof(config));
    nic_hyper_config hc = {(int)o.n, (int)o.m, (int)o.nz, (int)o.ctx, (int)o.ctx_nb};
    if (st == NIC_OK)
        st = nic_hyper_model_create(ctx, &hc, &model);
    nn_adam_init(&opt);
    opt.groups[NIC_HYPER_CTX_GROUP].lr_scale = (float)o.ctx_lr;
    nn_rng_seed(&rng, (uint64_t)o.seed);
    if (st == NIC_OK && root) {
        if (resume) {
            st = nn_checkpoint_load(ctx, ckpt, &model.params, &opt, &rng, &stored);
            if (st == NIC_OK)
                printf("resuming %s at step %lld\n", ckpt, (long long)opt.step);
        } else if (o.init) {
            /* a weights file, or an exported model (weights + its entropy tables) */
            if (o.ctx > 0) {
                /* the context's start, if o.init has none; from its own generator, so
                 * that the run draws the same noise and rates as one without context */
                nn_rng init_rng;
                nn_rng_seed(&init_rng, (uint64_t)o.seed ^ 0x5bd1e995u);
                nic_hyper_model_init(&model, &init_rng);
            }
            st = nic_hyper_model_load(ctx, &model, o.init);
            if (st == NIC_OK)
                printf("new run in %s, weights from %s\n", out_dir, o.init);
        } else {
            nic_hyper_model_init(&model, &rng);
            printf("new run in %s\n", out_dir);
        }
    }
    if (cli_dist_any(&dist, st != NIC_OK)) {
        if (st == NIC_OK)
            st = nic_fail(ctx, NIC_ERR_INTERNAL, "rank 0 could not set up the run");
        goto done;
    }
    share_state(&dist, &model.params, &opt, &rng);
    if (o.export_path) {
        if (root) {
            char desc[3072];
            snprintf(desc, sizeof(desc), "hyper model, step %lld of run %s; training config %s",
                     (long long)opt.step, out_dir, stored ? stored : config);
            if (!resume && o.init && opt.step == 0) {
                /* the --init model itself (e.g. to refit its reconstruction offsets):
                 * it keeps its description */
                nn_st_file f;
                if (nn_st_read_file(ctx, o.init, &f) == NIC_OK) {
                    const char *d = nn_st_get_meta(&f, "description");
                    if (d)
                        snprintf(desc, sizeof(desc), "%s", d);
                    nn_st_free(&f);
                } else {
                    nic_context_clear_error(ctx);
                }
            }
            st = nic_hyper_export(ctx, &model, o.export_path, desc,
                                  o.msssim ? NIC_HYPER_MSSSIM : NIC_HYPER_MSE);
            if (st == NIC_OK && o.fit_images > 0)
                st = fit_tables(ctx, &o);
            if (st == NIC_OK)
                printf("wrote %s (step %lld)\n", o.export_path, (long long)opt.step);
        }
        goto done;
    }
    if (dist.size > o.batch) {
        st = nic_fail(ctx, NIC_ERR_INVALID_ARGUMENT,
                      "%d processes cannot share a batch of %ld crops (--batch is the global batch)",
                      dist.size, o.batch);
        goto done;
    }
    cli_dist_shard((int)o.batch, dist.rank, dist.size, &shard_first, &shard_count);
    if (root) {
        printf("loading training images from %s\n", o.data);
        fflush(stdout);
    }
    st = nic_image_set_add_list(ctx, &data, o.data, (uint32_t)o.crop, NIC_IMAGE_SET_SKIP_BAD);
    if (st == NIC_OK && data.count == 0)
        st = nic_fail(ctx, NIC_ERR_INVALID_ARGUMENT, "no training image is %ldx%ld or larger",
                      o.crop, o.crop);
    if (st == NIC_OK && o.val_count > 0) {
        st = nic_image_set_add_list(ctx, &val, o.val, (uint32_t)o.crop, NIC_IMAGE_SET_SKIP_BAD);
        if (st != NIC_OK) {
            if (root)
                fprintf(stderr, "nic: warning: no validation (%s)\n", nic_context_error(ctx));
            nic_context_clear_error(ctx);
            nic_image_set_free(&val);
            nic_image_set_init(&val);
            st = NIC_OK;
        }
    }
    /* Validation runs only when every rank has the images (same sets everywhere). */
    if (cli_dist_any(&dist, val.count == 0)) {
        nic_image_set_free(&val);
        nic_image_set_init(&val);
    }
    if (st == NIC_OK)
        st = nn_engine_create(ctx, &eng);
    if (st == NIC_OK)
        st = be_create(ctx, &be, &o, &model, eng, shard_first, shard_count);
    /* crops of the next step are cut on a worker thread while a step trains
     * (each process only its shard of the global batch) */
    if (st == NIC_OK)
        st = nic_batch_loader_create_shard(ctx, &data, &crop, (int)o.batch, shard_first,
                                           shard_count, (uint64_t)o.seed, opt.step, 1, &loader);
    if (st == NIC_OK) {
        batch = malloc(sizeof(float) * shard_count * 3 * o.crop * o.crop); /* validation */
        t_rate = malloc(sizeof(float) * o.batch);
        if (!batch || !t_rate)
            st = nic_fail(ctx, NIC_ERR_NOMEM, "out of memory");
    }
    if (st == NIC_OK && root && resume)
        st = trim_logs(ctx, out_dir, train_csv, val_csv, opt.step);
    if (st == NIC_OK && root) {
        tcsv = fopen(train_csv, "a");
        vcsv = fopen(val_csv, "a");
        if (!tcsv || !vcsv)
            st = nic_fail(ctx, NIC_ERR_IO, "%s: cannot write logs: %s", out_dir, strerror(errno));
    }
    if (cli_dist_any(&dist, st != NIC_OK)) {
        if (st == NIC_OK)
            st = nic_fail(ctx, NIC_ERR_INTERNAL, "another process could not set up training");
        goto done;
    }
    if (root) {
        if (ftell(tcsv) == 0)
            fprintf(tcsv, "step,loss,bpp,bpp_z,psnr,grad_norm,lr,seconds\n");
        if (ftell(vcsv) == 0)
            fprintf(vcsv, "step,t,bpp,psnr,msssim\n");
        char where[512];
        printf("model hyper: N=%ld M=%ld NZ=%ld%s, %zu parameters; loss bpp + lambda %s; "
               "%zu training images (%.1f MP); batch %ld x %ldx%ld; %s convolutions%s\n",
               o.n, o.m, o.nz,
               o.ctx <= 0 ? "" : o.ctx_nb == 12 ? ", checkerboard context (12 anchors)"
                                                : ", checkerboard context",
               model.params.total,
               o.msssim ? "(1 - MS-SSIM)" : "255^2 MSE", data.count, data.pixels / 1e6, o.batch,
               o.crop,
               o.crop, be_describe(&be, eng, where, sizeof(where)),
               strcmp(o.precision, "bf16") == 0 ? " (BF16 inputs where the CPU has them)" : "");
        if (dist.size > 1)
            printf("data-parallel: %d processes, %d to %d crops each\n", dist.size,
                   (int)(o.batch / dist.size), (int)((o.batch + dist.size - 1) / dist.size));
        fflush(stdout);
    }

    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGUSR1, on_signal); /* mpirun forwards SIGUSR1 to every process */
    nn_lr_schedule sched = {.kind = NN_LR_COSINE, .lr = (float)o.lr, .lr_min = (float)o.lr_min,
                            .warmup = o.warmup,
                            .total = o.steps > o.warmup ? o.steps - o.warmup : 1};
    double start = train_now(), last = start;
    int64_t last_step = opt.step;
    double acc_loss = 0, acc_bpp = 0, acc_bpp_z = 0, acc_mse = 0, acc_norm = 0, acc_ms = 0;
    int acc_n = 0;
    while (opt.step < o.steps) {
        /* Every rank must agree to go on (a signal or a clock may reach one first). */
        int time_up = o.time_limit_min > 0 && train_now() - start > o.time_limit_min * 60;
        if (cli_dist_any(&dist, stop_requested || time_up)) {
            if (root && !stop_requested)
                printf("time limit reached\n");
            break;
        }
        /* The loader cut this process's shard of the global batch; every
         * process draws all the global batch's rates (the RNG stays the same
         * everywhere). */
        const float *x = NULL;
        st = nic_batch_loader_next(ctx, loader, &x, NULL);
        for (long b = 0; b < o.batch; b++)
            t_rate[b] = nn_rng_uniform(&rng);
        nic_hyper_stats s = {0};
        if (st == NIC_OK)
            st = be_step(ctx, &be, &model, x, t_rate + shard_first, &rng, 1, &s);
        /* One sum over the whole gradient arena; then the shards' loss terms. */
        if (dist.size > 1) {
            int failed = st != NIC_OK;
            nic_status sum_st = be_sum_grads(ctx, &dist, &be, &model);
            if (!failed)
                st = sum_st;
        }
        double red[6] = {s.loss, s.bpp, s.bpp_z, s.mse, st != NIC_OK, s.msssim};
        cli_dist_sum_doubles(&dist, red, 6);
        if (red[4] > 0) {
            if (st == NIC_OK)
                st = nic_fail(ctx, NIC_ERR_INTERNAL, "another process failed at step %lld",
                              (long long)opt.step);
            break;
        }
        s.loss = red[0];
        s.bpp = red[1];
        s.bpp_z = red[2];
        s.mse = red[3];
        s.msssim = red[5];
        if (!isfinite(s.loss)) {
            st = nic_fail(ctx, NIC_ERR_INTERNAL, "loss is not finite at step %lld; resume from the "
                          "last checkpoint with a lower --lr", (long long)opt.step);
            break;
        }
        double norm = 0;
        float lr = nn_lr_at(&sched, opt.step);
        st = be_update(ctx, &be, &model, &opt, lr, o.clip, &norm);
        if (cli_dist_any(&dist, st != NIC_OK)) {
            if (st == NIC_OK)
                st = nic_fail(ctx, NIC_ERR_INTERNAL, "another process failed at step %lld",
                              (long long)opt.step);
            break;
        }
        acc_loss += s.loss;
        acc_bpp += s.bpp;
        acc_bpp_z += s.bpp_z;
        acc_mse += s.mse;
        acc_ms += s.msssim;
        acc_norm += norm;
        acc_n++;
        if (opt.step % o.log_every == 0) {
            double t = train_now();
            double sps = (opt.step - last_step) / (t - last);
            double mse = acc_mse / acc_n;
            double eta = (o.steps - opt.step) / (sps > 0 ? sps : 1);
            long eta_min = (long)(eta / 60);
            if (root) {
                char ms[32] = "";
                if (o.msssim)
                    snprintf(ms, sizeof(ms), "  ms-ssim %.4f", acc_ms / acc_n);
                printf("step %7lld/%ld  loss %.4f  bpp %.4f (z %.4f)  psnr %.2f%s  |g| %.3f  "
                       "lr %.2e  %.2f steps/s  eta %ldh%02ldm\n",
                       (long long)opt.step, o.steps, acc_loss / acc_n, acc_bpp / acc_n,
                       acc_bpp_z / acc_n, 10 * log10(255.0 * 255.0 / mse), ms, acc_norm / acc_n,
                       lr, sps, eta_min / 60, eta_min % 60);
                fflush(stdout);
                fprintf(tcsv, "%lld,%.6f,%.6f,%.6f,%.4f,%.5f,%.3g,%.1f\n", (long long)opt.step,
                        acc_loss / acc_n, acc_bpp / acc_n, acc_bpp_z / acc_n,
                        10 * log10(255.0 * 255.0 / mse), acc_norm / acc_n, lr, t - start);
                fflush(tcsv);
            }
            acc_loss = acc_bpp = acc_bpp_z = acc_mse = acc_norm = acc_ms = 0;
            acc_n = 0;
            last = t;
            last_step = opt.step;
        }
        if (opt.step % o.ckpt_every == 0) {
            /* Ranks hold the same state (identical sums, identical updates);
             * rank 0's copy is shared anyway so nothing can drift. */
            st = be_pull(ctx, &be, &model);
            share_state(&dist, &model.params, &opt, &rng);
            if (st == NIC_OK && dist.size > 1)
                st = be_push(ctx, &be);
            if (st == NIC_OK && root)
                st = nn_checkpoint_save(ctx, ckpt, &model.params, &opt, &rng, config);
            if (cli_dist_any(&dist, st != NIC_OK))
                break;
        }
        if (opt.step % o.val_every == 0) {
            st = validate(ctx, &dist, &be, &model, &val, &o, shard_first, shard_count, batch,
                          vcsv, opt.step);
            if (st != NIC_OK)
                break;
        }
    }
    if (cli_dist_any(&dist, st != NIC_OK)) {
        if (st == NIC_OK)
            st = nic_fail(ctx, NIC_ERR_INTERNAL, "another process failed");
    } else if (root) {
        st = be_pull(ctx, &be, &model);
        if (st == NIC_OK)
            st = nn_checkpoint_save(ctx, ckpt, &model.params, &opt, &rng, config);
        if (st == NIC_OK)
            st = nic_hyper_export(ctx, &model, model_path, config,
                                  o.msssim ? NIC_HYPER_MSSSIM : NIC_HYPER_MSE);
        if (st == NIC_OK)
            printf("saved %s (step %lld) and %s\n", ckpt, (long long)opt.step, model_path);
    }
done:
    rc = cli_report("train", ctx, st);
    if (tcsv)
        fclose(tcsv);
    if (vcsv)
        fclose(vcsv);
    nic_batch_loader_destroy(loader);
    free(batch);
    free(t_rate);
    free(stored);
    be_destroy(&be);
    nic_hyper_model_free(&model);
    nn_engine_destroy(eng);
    nic_image_set_free(&data);
    nic_image_set_free(&val);
    nic_context_destroy(ctx);
    cli_dist_finalize(&dist, 0);
    return rc;
}
