/*
 * nic train --model rnn: the progressive RNN model (src/models/rnn.h).
 *
 * Same run folder as the hyper model: checkpoint.safetensors (resumable),
 * train.csv, val.csv (PSNR after each iteration count on fixed validation
 * crops, deterministic binarizer) and model.safetensors.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/train.h"
#include "codec/rnn_codec.h"
#include "data/image_set.h"
#include "models/rnn.h"
#include "nn/checkpoint.h"
#include "nn/optim.h"
#include "nn/safetensors.h"

static void rnn_config_of(const train_options *o, nic_rnn_config *c)
{
    nic_rnn_config_default(c);
    c->cell = o->lstm ? NN_CONVLSTM : NN_CONVGRU;
    c->e_conv = (int)o->widths[0];
    for (int k = 0; k < NIC_RNN_ENC_CELLS; k++)
        c->enc[k] = (int)o->widths[1 + k];
    c->bits = (int)o->widths[4];
    c->d_conv = (int)o->widths[5];
    for (int k = 0; k < NIC_RNN_DEC_CELLS; k++)
        c->dec[k] = (int)o->widths[6 + k];
    c->iterations = (int)o->iterations;
    c->oneshot = o->oneshot;
    c->gain = !o->no_gain;
    c->mse_loss = o->mse_loss;
}

static void config_string(const train_options *o, char *buf, size_t cap)
{
    const long *w = o->widths;
    snprintf(buf, cap,
             "{\"model\": \"rnn\", \"lstm\": %d, \"oneshot\": %d, \"gain\": %d, \"mse\": %d, "
             "\"iterations\": %ld, "
             "\"w0\": %ld, \"w1\": %ld, \"w2\": %ld, \"w3\": %ld, \"w4\": %ld, \"w5\": %ld, "
             "\"w6\": %ld, \"w7\": %ld, \"w8\": %ld, \"w9\": %ld, \"batch\": %ld, \"crop\": %ld, "
             "\"steps\": %ld, \"lr\": %g, \"lr_min\": %g, \"clip\": %g, \"seed\": %ld, "
             "\"data\": \"%s\"}",
             o->lstm, o->oneshot, !o->no_gain, o->mse_loss, o->iterations, w[0], w[1], w[2],
             w[3], w[4], w[5], w[6], w[7], w[8], w[9], o->batch, o->crop, o->steps, o->lr,
             o->lr_min, o->clip, o->seed, o->data);
}

/* The architecture stored in a checkpoint wins over the command line. */
static void config_from_stored(const char *json, train_options *o)
{
    long v;
    char key[8];
    if (train_config_long(json, "lstm", &v))
        o->lstm = (int)v;
    if (train_config_long(json, "oneshot", &v))
        o->oneshot = (int)v;
    /* runs from before the gains have no "gain": they had none */
    o->no_gain = !(train_config_long(json, "gain", &v) && v != 0);
    if (train_config_long(json, "mse", &v))
        o->mse_loss = (int)v;
    if (train_config_long(json, "iterations", &v))
        o->iterations = v;
    for (int k = 0; k < 10; k++) {
        snprintf(key, sizeof(key), "w%d", k);
        if (train_config_long(json, key, &v))
            o->widths[k] = v;
    }
}

static double psnr_of_mse(double mse)
{
    return 10.0 * log10(255.0 * 255.0 / (mse > 1e-12 ? mse : 1e-12));
}

/* PSNR after each iteration count on fixed validation crops (sign binarizer). */
static nic_status validate(nic_context *ctx, nic_rnn_net *net, const nic_image_set *val,
                           const train_options *o, int vbatch, float *buf, FILE *csv,
                           int64_t step)
{
    const int T = (int)o->iterations;
    nic_crop_options crop = {(uint32_t)o->val_crop, (uint32_t)o->val_crop, 0, 3};
    nn_rng vr;
    nn_rng_seed(&vr, 12345); /* the same crops every time */
    double mse[NIC_RNN_MAX_ITERATIONS] = {0};
    int batches = 0;
    for (long k = 0; k < o->val_count; k += vbatch) {
        nic_rnn_stats s;
        NIC_TRY(nic_image_set_sample(ctx, val, &vr, &crop, vbatch, buf));
        NIC_TRY(nic_rnn_train_step(ctx, net, buf, NULL, 0, &s));
        for (int t = 0; t < T; t++)
            mse[t] += s.mse[t];
        batches++;
    }
    printf("  val (%d crops %ldx%ld) PSNR by iterations:", batches * vbatch, o->val_crop,
           o->val_crop);
    for (int t = 0; t < T; t++) {
        double p = psnr_of_mse(mse[t] / batches);
        double bpp = (t + 1) * (double)o->widths[4] / (NIC_RNN_BLOCK * NIC_RNN_BLOCK);
        printf(" %d:%.2f", t + 1, p);
        fprintf(csv, "%lld,%d,%.4f,%.4f\n", (long long)step, t + 1, bpp, p);
    }
    printf(" dB\n");
    fflush(csv);
    fflush(stdout);
    return NIC_OK;
}

static void rnn_init(void *model, nn_rng *rng)
{
    nic_rnn_model_init(model, rng);
}

/* --init: random values first, for the channels a narrower file lacks. */
static nic_status rnn_load(nic_context *ctx, void *model, const char *path)
{
    nn_rng rng;
    nn_rng_seed(&rng, 0x5bd1e995u);
    nic_rnn_model_init(model, &rng);
    return nic_rnn_model_load(ctx, model, path);
}

/* The run folder and a context: NIC_EXIT_OK, or the exit code. */
static int begin(train_options *o, train_run *run, nic_context **ctx)
{
    if (!train_run_init(run, o))
        return NIC_EXIT_OUTPUT;
    *ctx = cli_context_create();
    return *ctx ? NIC_EXIT_OK : NIC_EXIT_INTERNAL;
}

int train_rnn(train_options *o)
{
    train_run run;
    nic_context *ctx = NULL;
    int rc_begin = begin(o, &run, &ctx);
    if (rc_begin != NIC_EXIT_OK)
        return rc_begin;
    nn_engine *eng = NULL;
    nic_rnn_model model;
    memset(&model, 0, sizeof(model));
    nic_rnn_net *net = NULL, *vnet = NULL;
    nic_image_set data, val;
    nic_image_set_init(&data);
    nic_image_set_init(&val);
    float *batch = NULL, *vbuf = NULL;
    nn_rng rng;
    nn_adam opt;
    char config[1024];
    char *stored = NULL;
    nic_status st = NIC_OK;
    int vbatch = (int)(o->val_count < 8 ? o->val_count : 8);

    const int resume = train_file_exists(run.ckpt);
    if (resume) {
        nn_st_file f;
        st = nn_st_read_file(ctx, run.ckpt, &f);
        if (st == NIC_OK) {
            config_from_stored(nn_st_get_meta(&f, "config"), o);
            nn_st_free(&f);
        }
    }
    config_string(o, config, sizeof(config));
    nic_rnn_config rc;
    rnn_config_of(o, &rc);
    if (st == NIC_OK)
        st = nic_rnn_model_create(ctx, &rc, &model);
    nn_adam_init(&opt);
    opt.groups[NIC_RNN_GAIN_GROUP].lr_scale = (float)o->gain_lr;
    nn_rng_seed(&rng, (uint64_t)o->seed);
    if (st == NIC_OK)
        st = train_run_start(ctx, &run, o, resume, &model.params, &opt, &rng, &stored, rnn_init,
                             rnn_load, &model);
    if (st == NIC_OK && o->export_path) {
        char desc[3072];
        snprintf(desc, sizeof(desc), "rnn model, step %lld of run %s; training config %s",
                 (long long)opt.step, run.dir, stored ? stored : config);
        st = nic_rnn_export(ctx, &model, o->export_path, desc);
        if (st == NIC_OK)
            printf("wrote %s (step %lld)\n", o->export_path, (long long)opt.step);
        goto done;
    }
    if (st == NIC_OK)
        st = train_load_sets(ctx, o, (uint32_t)o->val_crop, &data, &val);
    if (val.count == 0)
        vbatch = 0;
    if (st == NIC_OK)
        st = nn_engine_create(ctx, &eng);
    if (st == NIC_OK)
        st = nic_rnn_net_create(ctx, eng, &model, (int)o->batch, (int)o->crop, (int)o->crop,
                                rc.iterations, 1, 0, &net);
    if (st == NIC_OK && vbatch > 0)
        st = nic_rnn_net_create(ctx, eng, &model, vbatch, (int)o->val_crop, (int)o->val_crop,
                                rc.iterations, 1, 0, &vnet);
    if (st == NIC_OK) {
        batch = malloc(sizeof(float) * o->batch * 3 * o->crop * o->crop);
        vbuf = malloc(sizeof(float) * (vbatch > 0 ? vbatch : 1) * 3 * o->val_crop * o->val_crop);
        if (!batch || !vbuf)
            st = nic_fail(ctx, NIC_ERR_NOMEM, "out of memory");
    }
    if (st == NIC_OK)
        st = train_run_open_logs(ctx, &run, "step,loss,psnr_1,psnr_last,grad_norm,lr,seconds",
                                 "step,iterations,bpp,psnr", resume ? opt.step : -1);
    if (st != NIC_OK)
        goto done;
    FILE *tcsv = run.tcsv, *vcsv = run.vcsv;
    const int T = rc.iterations;
    printf("model rnn (%s, %s): E-Conv %d, E-RNN %d/%d/%d, %d bits, D-Conv %d, D-RNN "
           "%d/%d/%d/%d; %zu parameters; %.0f FLOPs per pixel and iteration; %zu training "
           "images (%.1f MP); batch %ld x %ldx%ld, %d iterations; %s convolutions\n",
           rc.cell == NN_CONVGRU ? "GRU" : "LSTM",
           rc.oneshot ? (rc.gain ? "one-shot, gains" : "one-shot")
                      : (rc.gain ? "additive, gains" : "additive"),
           rc.e_conv, rc.enc[0], rc.enc[1], rc.enc[2], rc.bits, rc.d_conv, rc.dec[0], rc.dec[1],
           rc.dec[2], rc.dec[3], model.params.total, nic_rnn_flops_per_pixel(&rc, 1), data.count,
           data.pixels / 1e6, o->batch, o->crop, o->crop, T,
           nn_engine_has_dnnl(eng) ? "oneDNN" : "reference");
    fflush(stdout);

    train_install_signals();
    nn_lr_schedule sched = {.kind = NN_LR_COSINE, .lr = (float)o->lr, .lr_min = (float)o->lr_min,
                            .warmup = o->warmup,
                            .total = o->steps > o->warmup ? o->steps - o->warmup : 1};
    nic_crop_options crop = {(uint32_t)o->crop, (uint32_t)o->crop, 1, 3};
    double start = train_now(), last = start;
    int64_t last_step = opt.step;
    double acc_loss = 0, acc_mse1 = 0, acc_mse_t = 0, acc_norm = 0;
    int acc_n = 0;
    while (opt.step < o->steps && !train_stop_requested()) {
        if (o->time_limit_min > 0 && train_now() - start > o->time_limit_min * 60) {
            printf("time limit reached\n");
            break;
        }
        st = nic_image_set_sample(ctx, &data, &rng, &crop, (int)o->batch, batch);
        if (st != NIC_OK)
            break;
        nn_params_zero_grad(&model.params);
        nic_rnn_stats s;
        st = nic_rnn_train_step(ctx, net, batch, &rng, 1, &s);
        if (st != NIC_OK)
            break;
        if (!isfinite(s.loss)) {
            st = nic_fail(ctx, NIC_ERR_INTERNAL, "loss is not finite at step %lld; resume from "
                          "the last checkpoint with a lower --lr", (long long)opt.step);
            break;
        }
        double norm = o->clip > 0 ? nn_grad_clip(&model.params, -1, o->clip)
                                  : nn_grad_norm(&model.params, -1);
        float lr = nn_lr_at(&sched, opt.step);
        nn_adam_step(&opt, &model.params, lr);
        acc_loss += s.loss;
        acc_mse1 += s.mse[0];
        acc_mse_t += s.mse[T - 1];
        acc_norm += norm;
        acc_n++;
        if (opt.step % o->log_every == 0) {
            double t = train_now();
            double sps = (opt.step - last_step) / (t - last);
            double eta = (o->steps - opt.step) / (sps > 0 ? sps : 1);
            long eta_min = (long)(eta / 60);
            double p1 = psnr_of_mse(acc_mse1 / acc_n), pt = psnr_of_mse(acc_mse_t / acc_n);
            printf("step %7lld/%ld  loss %.5f  psnr 1 it %.2f, %d it %.2f  |g| %.4f  lr %.2e  "
                   "%.2f steps/s  eta %ldh%02ldm\n",
                   (long long)opt.step, o->steps, acc_loss / acc_n, p1, T, pt, acc_norm / acc_n,
                   lr, sps, eta_min / 60, eta_min % 60);
            fflush(stdout);
            fprintf(tcsv, "%lld,%.6f,%.4f,%.4f,%.5f,%.3g,%.1f\n", (long long)opt.step,
                    acc_loss / acc_n, p1, pt, acc_norm / acc_n, lr, t - start);
            fflush(tcsv);
            acc_loss = acc_mse1 = acc_mse_t = acc_norm = 0;
            acc_n = 0;
            last = t;
            last_step = opt.step;
        }
        if (opt.step % o->ckpt_every == 0) {
            st = nn_checkpoint_save(ctx, run.ckpt, &model.params, &opt, &rng, config);
            if (st != NIC_OK)
                break;
        }
        if (vnet && opt.step % o->val_every == 0) {
            st = validate(ctx, vnet, &val, o, vbatch, vbuf, vcsv, opt.step);
            if (st != NIC_OK)
                break;
            if (model.gain >= 0) {
                const float *a = nn_param_data(&model.params, model.gain);
                printf("  gains g_t:");
                for (int t = 0; t < T; t++)
                    printf(" %.3g", exp(a[t]));
                printf("\n");
            }
        }
    }
    if (st == NIC_OK) {
        st = nn_checkpoint_save(ctx, run.ckpt, &model.params, &opt, &rng, config);
        if (st == NIC_OK)
            st = nic_rnn_export(ctx, &model, run.model, config);
        if (st == NIC_OK)
            printf("saved %s (step %lld) and %s\n", run.ckpt, (long long)opt.step, run.model);
    }
done:;
    int rc_exit = cli_report("train", ctx, st);
    train_run_close(&run);
    free(batch);
    free(vbuf);
    free(stored);
    nic_rnn_net_destroy(net);
    nic_rnn_net_destroy(vnet);
    nic_rnn_model_free(&model);
    nn_engine_destroy(eng);
    nic_image_set_free(&data);
    nic_image_set_free(&val);
    nic_context_destroy(ctx);
    return rc_exit;
}

/* ---------------------------------------------------------------- rnn+cnn */

/* Codes of `count` random crops (side `side`) of a set, as the rnn encoder
 * makes them (deterministic binarizer, all iterations). */
static nic_status collect_codes(nic_context *ctx, nic_rnn_codec *c, const nic_image_set *set,
                                int count, int side, nn_rng *rng, nic_rnn_codes *out,
                                const char *what)
{
    nic_image crop;
    NIC_TRY(nic_image_alloc(ctx, &crop, (uint32_t)side, (uint32_t)side, 3));
    nic_status st = NIC_OK;
    double t0 = train_now();
    for (int i = 0; i < count && st == NIC_OK && !train_stop_requested(); i++) {
        const nic_image *img = &set->images[nn_rng_below(rng, set->count)];
        uint32_t x0 = (uint32_t)nn_rng_below(rng, img->width - (uint32_t)side + 1);
        uint32_t y0 = (uint32_t)nn_rng_below(rng, img->height - (uint32_t)side + 1);
        for (int y = 0; y < side; y++)
            for (int x = 0; x < side; x++)
                for (int ch = 0; ch < 3; ch++)
                    crop.data[((size_t)y * side + x) * 3 + ch] =
                        img->data[((size_t)(y0 + y) * img->width + x0 + x) * img->channels +
                                  (img->channels == 3 ? ch : 0)];
        uint8_t *buf = NULL;
        size_t size = 0;
        st = nic_rnn_encode_codes(ctx, c, &crop, c->model.cfg.iterations, 0, 0, 0, &buf, &size,
                                  NULL, &out[i]);
        free(buf);
        if ((i + 1) % 50 == 0 || i + 1 == count) {
            printf("  %s codes: %d of %d crops (%.0f s)\n", what, i + 1, count, train_now() - t0);
            fflush(stdout);
        }
    }
    nic_image_free(&crop);
    if (st == NIC_OK && train_stop_requested())
        st = nic_fail(ctx, NIC_ERR_INVALID_ARGUMENT, "stopped while collecting codes");
    return st;
}

static void print_bits(const char *what, double mean, const double *per_t, int T, FILE *csv,
                       long epoch)
{
    printf("  %s: %.4f bits per code (%.1f %% saved); by iteration:", what, mean,
           100 * (1 - mean));
    for (int t = 0; t < T; t++)
        printf(" %d:%.1f%%", t + 1, 100 * (1 - per_t[t]));
    printf("\n");
    if (csv)
        for (int t = 0; t < T; t++)
            fprintf(csv, "%ld,%d,%.5f,%.3f\n", epoch, t + 1, per_t[t], 100 * (1 - per_t[t]));
    fflush(stdout);
}

/* nic train --model rnn+cnn: the context model over a trained rnn model's
 * codes (--init: the rnn model file, else the installed rnn model); --steps
 * counts epochs over the --codes crops (see help_train). */
int train_rnn_cnn(train_options *o)
{
    train_run run;
    nic_context *ctx = NULL;
    int rc_begin = begin(o, &run, &ctx);
    if (rc_begin != NIC_EXIT_OK)
        return rc_begin;
    nic_rnn_codec *c = NULL;
    nic_image_set data, val;
    nic_image_set_init(&data);
    nic_image_set_init(&val);
    nic_rnn_ctx_model cm;
    memset(&cm, 0, sizeof(cm));
    nic_rnn_codes *tcodes = NULL, *vcodes = NULL;
    const int ntrain = (int)o->codes, nval = (int)o->val_count;
    nn_rng rng;
    nn_rng_seed(&rng, (uint64_t)o->seed);
    nic_status st = o->init ? nic_rnn_codec_load(ctx, o->init, &c) : nic_codec_get_rnn(ctx, &c);
    if (st == NIC_OK && c->has_ctx)
        st = nic_fail(ctx, NIC_ERR_INVALID_ARGUMENT, "%s: already an rnn+cnn model", c->path);
    if (st == NIC_OK)
        st = train_load_sets(ctx, o, (uint32_t)o->crop, &data, &val);
    const int T = st == NIC_OK ? c->model.cfg.iterations : 1;
    if (st == NIC_OK)
        st = nic_rnn_ctx_create(ctx, c->model.cfg.bits, T, &cm);
    if (st == NIC_OK) {
        tcodes = calloc((size_t)ntrain, sizeof(*tcodes));
        vcodes = calloc((size_t)(nval > 0 ? nval : 1), sizeof(*vcodes));
        if (!tcodes || !vcodes)
            st = nic_fail(ctx, NIC_ERR_NOMEM, "out of memory");
    }
    if (st == NIC_OK)
        st = train_run_open_logs(ctx, &run, "epoch,bits_per_code",
                                 "epoch,iteration,bits_per_code,saved_percent", -1);
    if (st == NIC_OK) {
        printf("rnn+cnn: context model over the codes of %s (%d bits per position, %d "
               "iterations): %d weights per iteration; codes of %d training and %d validation "
               "crops of %ldx%ld\n",
               c->path, c->model.cfg.bits, T, c->model.cfg.bits * (cm.nfeat + 1), ntrain,
               val.count ? nval : 0, o->crop, o->crop);
        fflush(stdout);
        st = collect_codes(ctx, c, &data, ntrain, (int)o->crop, &rng, tcodes, "training");
    }
    if (st == NIC_OK && val.count && nval > 0)
        st = collect_codes(ctx, c, &val, nval, (int)o->crop, &rng, vcodes, "validation");
    double per_t[64];
    if (st == NIC_OK && val.count && nval > 0) {
        print_bits("validation, before training", nic_rnn_ctx_evaluate(&cm, vcodes, nval, per_t),
                   per_t, T, NULL, 0);
    }
    train_install_signals();
    for (long e = 1; st == NIC_OK && e <= o->steps && !train_stop_requested(); e++) {
        double t0 = train_now();
        double mean = nic_rnn_ctx_train_epoch(&cm, tcodes, ntrain, (float)o->lr, &rng, per_t);
        if (!isfinite(mean)) {
            st = nic_fail(ctx, NIC_ERR_NOMEM, "context model: out of memory");
            break;
        }
        printf("epoch %ld/%ld (%.0f s)\n", e, o->steps, train_now() - t0);
        print_bits("training (float model, during the epoch)", mean, per_t, T, NULL, e);
        fprintf(run.tcsv, "%ld,%.5f\n", e, mean);
        fflush(run.tcsv);
        if (val.count && nval > 0)
            print_bits("validation (integer model)",
                       nic_rnn_ctx_evaluate(&cm, vcodes, nval, per_t), per_t, T, run.vcsv, e);
    }
    if (st == NIC_OK) {
        char desc[2048];
        snprintf(desc, sizeof(desc),
                 "rnn+cnn: context model trained for %ld epochs on the codes of %d crops of "
                 "%ldx%ld from %s, with the rnn model %s",
                 o->steps, ntrain, o->crop, o->crop, o->data, c->path);
        st = nic_rnn_cnn_export(ctx, &c->model, &cm, run.model, desc);
        if (st == NIC_OK && o->export_path)
            st = nic_rnn_cnn_export(ctx, &c->model, &cm, o->export_path, desc);
        if (st == NIC_OK)
            printf("saved %s%s%s\n", run.model, o->export_path ? " and " : "",
                   o->export_path ? o->export_path : "");
    }
    int rc_exit = cli_report("train", ctx, st);
    for (int i = 0; tcodes && i < ntrain; i++)
        free(tcodes[i].v);
    for (int i = 0; vcodes && i < nval; i++)
        free(vcodes[i].v);
    free(tcodes);
    free(vcodes);
    nic_rnn_ctx_free(&cm);
    if (o->init)
        nic_rnn_codec_free(c);
    train_run_close(&run);
    nic_image_set_free(&data);
    nic_image_set_free(&val);
    nic_context_destroy(ctx);
    return rc_exit;
}
