/*
 * Shared pieces of `nic train`: the options (cmd_train.c parses them) and the
 * helpers every model's training loop uses. Each model has its own loop:
 * cmd_train.c (hyper), train_rnn.c (rnn).
 */
#ifndef NIC_CLI_TRAIN_H
#define NIC_CLI_TRAIN_H

#include <stdint.h>
#include <stdio.h>

#include "data/image_set.h"
#include "nn/optim.h"
#include "nn/rng.h"

typedef struct train_options {
    const char *model, *data, *val, *out, *init, *export_path, *device, *precision;
    long steps, batch, crop, seed, log_every, ckpt_every, val_every, val_count, warmup;
    double lr, lr_min, clip, time_limit_min;
    long n, m, nz; /* hyper widths */
    long ctx;      /* hyper: hidden channels of the checkerboard context (0 = none) */
    long ctx_nb;   /* hyper: anchors the context sees, 4 or 12 */
    double ctx_lr; /* hyper: learning-rate multiplier of the context's parameters */
    /* rnn */
    long iterations, val_crop;
    long codes; /* rnn+cnn: training crops whose codes train the context model */
    long widths[10]; /* E-Conv, E-RNN1..3, bits, D-Conv, D-RNN1..4 */
    int lstm, oneshot;
    int no_gain;    /* rnn: without the per-iteration gains */
    const char *loss; /* --loss as given (NULL: the model's default) */
    int mse_loss;   /* rnn: NIC_RNN_LOSS_* (L1, MSE or log MSE) */
    int msssim;     /* hyper: the MS-SSIM objective instead of MSE */
    double gain_lr; /* rnn: learning-rate multiplier of the gains */
    long fit_images; /* hyper, --export: images the decoder's tables are fitted on */
    /* which options the command line set (model defaults differ) */
    int set_batch, set_crop, set_lr, set_steps, set_warmup;
} train_options;

/* Set by SIGINT / SIGTERM once train_install_signals() ran. */
int train_stop_requested(void);
void train_install_signals(void);
double train_now(void);
/* Creates the run folder (and its parent once); prints the error and returns 0 on failure. */
int train_make_dir(const char *dir);
int train_file_exists(const char *path);
/* Reads "key": number from a stored JSON configuration. */
int train_config_long(const char *json, const char *key, long *out);

/* A run folder: its files, and the two logs once opened. */
typedef struct train_run {
    char dir[1024], ckpt[1100], model[1100], train_csv[1100], val_csv[1100];
    FILE *tcsv, *vcsv;
} train_run;

/* Makes the folder (o->out, else runs/<model>) and the paths; prints the error
 * and returns 0 on failure. */
int train_run_init(train_run *r, const train_options *o);
/* The parameters of a run: from its checkpoint (resume: Adam moments, step
 * and RNG too; *stored receives the stored configuration), from o->init
 * (load_fn, or nn_weights_load when NULL), or init_fn(model, rng); prints
 * which. */
nic_status train_run_start(nic_context *ctx, const train_run *r, const train_options *o,
                           int resume, nn_params *p, nn_adam *opt, nn_rng *rng, char **stored,
                           void (*init_fn)(void *model, nn_rng *rng),
                           nic_status (*load_fn)(nic_context *ctx, void *model, const char *path),
                           void *model);
/* The training images (sides at least crop) and, when o->val_count > 0, the
 * validation images (sides at least val_side; none, with a warning, when
 * they cannot be read). */
nic_status train_load_sets(nic_context *ctx, const train_options *o, uint32_t val_side,
                           nic_image_set *data, nic_image_set *val);
/* Opens train.csv and val.csv for appending; new files get the header lines.
 * resume_step >= 0 (a resumed run whose logs start with the step): rows past
 * the checkpoint's step, logged before the process was killed, are dropped
 * first, since the resumed run logs those steps again. */
nic_status train_run_open_logs(nic_context *ctx, train_run *r, const char *train_header,
                               const char *val_header, int64_t resume_step);
void train_run_close(train_run *r);

int train_rnn(train_options *o);
int train_rnn_cnn(train_options *o);

#endif
