/*
 * nic train: trains a model on a folder of images, resumably.
 *
 * A run lives in one folder: checkpoint.safetensors (weights, Adam moments,
 * step, RNG state, configuration; rewritten atomically), train.csv and
 * val.csv (one row per log / validation), and model.safetensors (weights
 * only, what models/ ships). Running the same command again resumes.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/train.h"
#include "data/batch_loader.h"
#include "data/image_set.h"
#include "codec/hyper_codec.h"
#include "models/hyper.h"
#include "nn/checkpoint.h"
#include "nn/optim.h"
#include "nn/safetensors.h"

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
}

void help_train(FILE *out)
{
    fprintf(out,
            "Usage: nic train [options]\n"
            "\n"
            "Trains a model on random crops of a folder of images. hyper: rate + lambda *\n"
            "MSE, lambda drawn per crop over the model's whole range; rnn: L1 of the\n"
            "residual after each of --iterations iterations, backpropagated through all\n"
            "of them. Resumable: the run\n"
            "folder keeps checkpoint.safetensors; running the same command again goes\n"
            "on from it. Ctrl-C (or SIGTERM) saves a checkpoint before exiting.\n"
            "\n"
            "Options:\n"
            "  --model <name> ....... model to train: hyper, rnn or rnn+cnn (default=hyper)\n"
            "  --data <dirs> ........ ':'-separated folders/files of training images\n"
            "                         (default=" DEFAULT_DATA ")\n"
            "  --val <dirs> ......... validation images (default=" DEFAULT_VAL ")\n"
            "  --out <dir> .......... run folder (default=runs/<model>)\n"
            "  --export <file> ...... write the run's current model (weights + entropy\n"
            "                         tables, what models/ ships) to file and exit\n"
            "  --init <file> ........ start a new run from these weights (e.g. a shipped\n"
            "                         model) instead of random ones\n"
            "  --steps <int> ........ total optimizer steps (default=100000)\n"
            "  --batch <int> ........ crops per step (default=8)\n"
            "  --crop <int> ......... crop side, a multiple of 64 (default=128; rnn: of 16,\n"
            "                         default 64)\n"
            "  --lr <float> ......... peak learning rate (default=1e-4; rnn 5e-4)\n"
            "  --lr-min <float> ..... final learning rate of the cosine schedule (default=1e-5)\n"
            "  --clip <float> ....... gradient-norm clipping (default=1.0)\n"
            "  --channels N,M,NZ .... transform, latent and hyper-latent channels\n"
            "                         (default=96,128,64; fixed once a run has started)\n"
            "  --iterations <int> ... rnn: iterations unrolled in training, the most a file\n"
            "                         can have (default=8)\n"
            "  --widths <10 ints> ... rnn: E-Conv,E-RNN1,E-RNN2,E-RNN3,bits,D-Conv,D-RNN1..4\n"
            "                         (default=16,32,64,64,32,64,64,64,32,16; fixed once a\n"
            "                         run has started)\n"
            "  --lstm ............... rnn: ConvLSTM cells instead of ConvGRU\n"
            "  --oneshot ............ rnn: one-shot reconstruction instead of additive\n"
            "  --val-crop <int> ..... rnn: side of the validation crops (default=128)\n"
            "\n"
            "  rnn+cnn trains the context model over the codes of a trained rnn model\n"
            "  (--init FILE, default the installed rnn model): --codes crops of --crop\n"
            "  (default 400 of 256x256) and --val-count validation crops are encoded once,\n"
            "  then --steps epochs (default 4, --lr 3e-3); writes the rnn+cnn model file.\n"
            "  --codes <int> ........ rnn+cnn: training crops (default=400)\n"
            "  --seed <int> ......... random seed (default=1; fixed once a run has started)\n"
            "  --log-every <int> .... steps between progress lines (default=50)\n"
            "  --checkpoint-every <int> steps between checkpoints (default=500)\n"
            "  --val-every <int> .... steps between validations (default=2000)\n"
            "  --val-count <int> .... validation crops (default=16)\n"
            "  --time-limit <min> ... stop (with a checkpoint) after this many minutes\n"
            "                         (default=0, none)\n"
            "  -h, --help ........... this help\n");
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
    o->data = DEFAULT_DATA;
    o->val = DEFAULT_VAL;
    o->steps = 100000;
    o->batch = 8;
    o->crop = 128;
    o->lr = 1e-4;
    o->lr_min = 1e-5;
    o->clip = 1.0;
    o->seed = 1;
    o->log_every = 50;
    o->ckpt_every = 500;
    o->val_every = 2000;
    o->val_count = 16;
    nic_hyper_config def;
    nic_hyper_config_default(&def);
    o->n = def.n;
    o->m = def.m;
    o->nz = def.nz;
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
        if (strcmp(a, "--steps") == 0)
            o->set_steps = 1;
        if (strcmp(a, "--batch") == 0)
            o->set_batch = 1;
        if (strcmp(a, "--crop") == 0)
            o->set_crop = 1;
        if (strcmp(a, "--lr") == 0)
            o->set_lr = 1;
        INT_OPT("--steps", steps, 1, 100000000)
        INT_OPT("--batch", batch, 1, 1024)
        INT_OPT("--crop", crop, 16, 4096)
        INT_OPT("--iterations", iterations, 1, 32)
        INT_OPT("--val-crop", val_crop, 16, 4096)
        INT_OPT("--codes", codes, 1, 1000000)
        INT_OPT("--seed", seed, 0, 0x7fffffff)
        INT_OPT("--log-every", log_every, 1, 1000000)
        INT_OPT("--checkpoint-every", ckpt_every, 1, 100000000)
        INT_OPT("--val-every", val_every, 1, 100000000)
        INT_OPT("--val-count", val_count, 0, 10000)
        DBL_OPT("--lr", lr, 1e-8, 1.0)
        DBL_OPT("--lr-min", lr_min, 0.0, 1.0)
        DBL_OPT("--clip", clip, 0.0, 1e9)
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
        return cli_usage_error("train", "unknown option '%s'", a);
    }
    if (strcmp(o->model, "rnn") == 0) {
        if (!o->set_batch)
            o->batch = 8;
        if (!o->set_crop)
            o->crop = 64;
        if (!o->set_lr)
            o->lr = 5e-4;
        if (o->crop % 16 != 0 || o->val_crop % 16 != 0)
            return cli_usage_error("train", "rnn: --crop and --val-crop must be multiples of 16");
        return NIC_EXIT_OK;
    }
    if (strcmp(o->model, "rnn+cnn") == 0) {
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
    return NIC_EXIT_OK;
}

static void config_string(const train_options *o, char *buf, size_t cap)
{
    snprintf(buf, cap,
             "{\"model\": \"%s\", \"n\": %ld, \"m\": %ld, \"nz\": %ld, \"batch\": %ld, "
             "\"crop\": %ld, \"steps\": %ld, \"lr\": %g, \"lr_min\": %g, \"clip\": %g, "
             "\"seed\": %ld, \"data\": \"%s\"}",
             o->model, o->n, o->m, o->nz, o->batch, o->crop, o->steps, o->lr, o->lr_min,
             o->clip, o->seed, o->data);
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
                           void (*init_fn)(void *model, nn_rng *rng), void *model)
{
    if (resume) {
        NIC_TRY(nn_checkpoint_load(ctx, r->ckpt, p, opt, rng, stored));
        printf("resuming %s at step %lld\n", r->ckpt, (long long)opt->step);
    } else if (o->init) {
        NIC_TRY(nn_weights_load(ctx, o->init, p));
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

nic_status train_run_open_logs(nic_context *ctx, train_run *r, const char *train_header,
                               const char *val_header)
{
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

int train_make_dir(const char *out_dir)
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
            return 0;
        }
    }
    return 1;
}

/* Mean bpp / PSNR on fixed validation crops at three rates (rounding, like the coder). */
static nic_status validate(nic_context *ctx, nic_hyper_trainer *tr, const nic_image_set *val,
                           const train_options *o, float *batch, FILE *csv, int64_t step)
{
    if (!val->count || o->val_count == 0)
        return NIC_OK;
    static const float rates[3] = {0.0f, 0.5f, 1.0f};
    nic_crop_options crop = {(uint32_t)o->crop, (uint32_t)o->crop, 0, 3};
    float *t_rate = malloc(sizeof(float) * o->batch);
    if (!t_rate)
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "out of memory");
    for (int r = 0; r < 3; r++) {
        nn_rng vr;
        nn_rng_seed(&vr, 12345); /* the same crops every time */
        double bpp = 0, mse = 0;
        long done = 0;
        for (long k = 0; k < o->val_count; k += o->batch) {
            nic_status st = nic_image_set_sample(ctx, val, &vr, &crop, (int)o->batch, batch);
            nic_hyper_stats s;
            for (long b = 0; b < o->batch; b++)
                t_rate[b] = rates[r];
            if (st == NIC_OK)
                st = nic_hyper_train_step(ctx, tr, batch, t_rate, NULL, 0, &s);
            if (st != NIC_OK) {
                free(t_rate);
                return st;
            }
            bpp += s.bpp;
            mse += s.mse;
            done++;
        }
        bpp /= done;
        mse /= done;
        double psnr = 10 * log10(255.0 * 255.0 / mse);
        printf("  val t=%.1f: %.4f bpp, %.2f dB\n", rates[r], bpp, psnr);
        fprintf(csv, "%lld,%.2f,%.6f,%.4f\n", (long long)step, rates[r], bpp, psnr);
    }
    fflush(csv);
    fflush(stdout);
    free(t_rate);
    return NIC_OK;
}

static void hyper_init(void *model, nn_rng *rng)
{
    nic_hyper_model_init(model, rng);
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
    train_run run;
    if (!train_run_init(&run, &o))
        return NIC_EXIT_OUTPUT;

    nic_context *ctx = cli_context_create();
    if (!ctx)
        return NIC_EXIT_INTERNAL;
    nn_engine *eng = NULL;
    nic_hyper_model model;
    memset(&model, 0, sizeof(model));
    nic_hyper_trainer *tr = NULL;
    nic_image_set data, val;
    nic_image_set_init(&data);
    nic_image_set_init(&val);
    float *batch = NULL, *t_rate = NULL;
    nic_batch_loader *loader = NULL;
    const nic_crop_options crop = {(uint32_t)o.crop, (uint32_t)o.crop, 1, 3};
    nn_rng rng;
    nn_adam opt;
    char config[1024];
    char *stored = NULL;
    nic_status st = NIC_OK;

    int resume = train_file_exists(run.ckpt);
    if (resume) {
        /* The architecture comes from the checkpoint, whatever the flags say. */
        nn_st_file f;
        st = nn_st_read_file(ctx, run.ckpt, &f);
        if (st == NIC_OK) {
            const char *cfg = nn_st_get_meta(&f, "config");
            long n, m, nz, seed;
            if (train_config_long(cfg, "n", &n) && train_config_long(cfg, "m", &m) &&
                train_config_long(cfg, "nz", &nz)) {
                o.n = n;
                o.m = m;
                o.nz = nz;
            }
            /* the training batches are a function of the run's seed and the step */
            if (train_config_long(cfg, "seed", &seed))
                o.seed = seed;
            nn_st_free(&f);
        }
    }
    config_string(&o, config, sizeof(config));
    nic_hyper_config hc = {(int)o.n, (int)o.m, (int)o.nz};
    if (st == NIC_OK)
        st = nic_hyper_model_create(ctx, &hc, &model);
    nn_adam_init(&opt);
    nn_rng_seed(&rng, (uint64_t)o.seed);
    if (st == NIC_OK)
        st = train_run_start(ctx, &run, &o, resume, &model.params, &opt, &rng, &stored,
                             hyper_init, &model);
    if (st == NIC_OK && o.export_path) {
        char desc[3072];
        snprintf(desc, sizeof(desc), "hyper model, step %lld of run %s; training config %s",
                 (long long)opt.step, run.dir, stored ? stored : config);
        st = nic_hyper_export(ctx, &model, o.export_path, desc);
        if (st == NIC_OK)
            printf("wrote %s (step %lld)\n", o.export_path, (long long)opt.step);
        goto done;
    }
    if (st == NIC_OK)
        st = train_load_sets(ctx, &o, (uint32_t)o.crop, &data, &val);
    if (st == NIC_OK)
        st = nn_engine_create(ctx, &eng);
    if (st == NIC_OK)
        st = nic_hyper_trainer_create(ctx, eng, &model, (int)o.batch, (int)o.crop, 0, &tr);
    /* crops of the next step are cut on a worker thread while a step trains */
    if (st == NIC_OK)
        st = nic_batch_loader_create(ctx, &data, &crop, (int)o.batch, (uint64_t)o.seed, opt.step,
                                     1, &loader);
    if (st == NIC_OK) {
        batch = malloc(sizeof(float) * o.batch * 3 * o.crop * o.crop); /* validation */
        t_rate = malloc(sizeof(float) * o.batch);
        if (!batch || !t_rate)
            st = nic_fail(ctx, NIC_ERR_NOMEM, "out of memory");
    }
    if (st == NIC_OK)
        st = train_run_open_logs(ctx, &run, "step,loss,bpp,bpp_z,psnr,grad_norm,lr,seconds",
                                 "step,t,bpp,psnr");
    if (st != NIC_OK)
        goto done;
    FILE *tcsv = run.tcsv, *vcsv = run.vcsv;
    printf("model hyper: N=%ld M=%ld NZ=%ld, %zu parameters; %zu training images (%.1f MP); "
           "batch %ld x %ldx%ld; %s convolutions\n",
           o.n, o.m, o.nz, model.params.total, data.count, data.pixels / 1e6, o.batch, o.crop,
           o.crop, nn_engine_has_dnnl(eng) ? "oneDNN" : "reference");
    fflush(stdout);

    train_install_signals();
    nn_lr_schedule sched = {.kind = NN_LR_COSINE, .lr = (float)o.lr, .lr_min = (float)o.lr_min,
                            .warmup = 500, .total = o.steps > 500 ? o.steps - 500 : 1};
    double start = train_now(), last = start;
    int64_t last_step = opt.step;
    double acc_loss = 0, acc_bpp = 0, acc_bpp_z = 0, acc_mse = 0, acc_norm = 0;
    int acc_n = 0;
    while (opt.step < o.steps && !stop_requested) {
        if (o.time_limit_min > 0 && train_now() - start > o.time_limit_min * 60) {
            printf("time limit reached\n");
            break;
        }
        const float *x = NULL;
        st = nic_batch_loader_next(ctx, loader, &x, NULL);
        if (st != NIC_OK)
            break;
        for (long b = 0; b < o.batch; b++)
            t_rate[b] = nn_rng_uniform(&rng);
        nn_params_zero_grad(&model.params);
        nic_hyper_stats s;
        st = nic_hyper_train_step(ctx, tr, x, t_rate, &rng, 1, &s);
        if (st != NIC_OK)
            break;
        if (!isfinite(s.loss)) {
            st = nic_fail(ctx, NIC_ERR_INTERNAL, "loss is not finite at step %lld; resume from the "
                          "last checkpoint with a lower --lr", (long long)opt.step);
            break;
        }
        double norm = o.clip > 0 ? nn_grad_clip(&model.params, -1, o.clip)
                                 : nn_grad_norm(&model.params, -1);
        float lr = nn_lr_at(&sched, opt.step);
        nn_adam_step(&opt, &model.params, lr);
        acc_loss += s.loss;
        acc_bpp += s.bpp;
        acc_bpp_z += s.bpp_z;
        acc_mse += s.mse;
        acc_norm += norm;
        acc_n++;
        if (opt.step % o.log_every == 0) {
            double t = train_now();
            double sps = (opt.step - last_step) / (t - last);
            double mse = acc_mse / acc_n;
            double eta = (o.steps - opt.step) / (sps > 0 ? sps : 1);
            long eta_min = (long)(eta / 60);
            printf("step %7lld/%ld  loss %.4f  bpp %.4f (z %.4f)  psnr %.2f  |g| %.3f  lr %.2e  "
                   "%.2f steps/s  eta %ldh%02ldm\n",
                   (long long)opt.step, o.steps, acc_loss / acc_n, acc_bpp / acc_n,
                   acc_bpp_z / acc_n, 10 * log10(255.0 * 255.0 / mse), acc_norm / acc_n, lr, sps,
                   eta_min / 60, eta_min % 60);
            fflush(stdout);
            fprintf(tcsv, "%lld,%.6f,%.6f,%.6f,%.4f,%.5f,%.3g,%.1f\n", (long long)opt.step,
                    acc_loss / acc_n, acc_bpp / acc_n, acc_bpp_z / acc_n,
                    10 * log10(255.0 * 255.0 / mse), acc_norm / acc_n, lr, t - start);
            fflush(tcsv);
            acc_loss = acc_bpp = acc_bpp_z = acc_mse = acc_norm = 0;
            acc_n = 0;
            last = t;
            last_step = opt.step;
        }
        if (opt.step % o.ckpt_every == 0) {
            st = nn_checkpoint_save(ctx, run.ckpt, &model.params, &opt, &rng, config);
            if (st != NIC_OK)
                break;
        }
        if (opt.step % o.val_every == 0) {
            st = validate(ctx, tr, &val, &o, batch, vcsv, opt.step);
            if (st != NIC_OK)
                break;
        }
    }
    if (st == NIC_OK) {
        st = nn_checkpoint_save(ctx, run.ckpt, &model.params, &opt, &rng, config);
        if (st == NIC_OK)
            st = nic_hyper_export(ctx, &model, run.model, config);
        if (st == NIC_OK)
            printf("saved %s (step %lld) and %s\n", run.ckpt, (long long)opt.step, run.model);
    }
done:
    rc = cli_report("train", ctx, st);
    train_run_close(&run);
    nic_batch_loader_destroy(loader);
    free(batch);
    free(t_rate);
    free(stored);
    nic_hyper_trainer_destroy(tr);
    nic_hyper_model_free(&model);
    nn_engine_destroy(eng);
    nic_image_set_free(&data);
    nic_image_set_free(&val);
    nic_context_destroy(ctx);
    return rc;
}
