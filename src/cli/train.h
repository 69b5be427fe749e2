/*
 * Shared pieces of `nic train`: the options (cmd_train.c parses them) and the
 * helpers every model's training loop uses. Each model has its own loop:
 * cmd_train.c (hyper), train_rnn.c (rnn).
 */
#ifndef NIC_CLI_TRAIN_H
#define NIC_CLI_TRAIN_H

#include <stdint.h>
#include <stdio.h>

typedef struct train_options {
    const char *model, *data, *val, *out, *init, *export_path;
    long steps, batch, crop, seed, log_every, ckpt_every, val_every, val_count;
    double lr, lr_min, clip, time_limit_min;
    long n, m, nz; /* hyper widths */
    /* rnn */
    long iterations, val_crop;
    long widths[10]; /* E-Conv, E-RNN1..3, bits, D-Conv, D-RNN1..4 */
    int lstm, oneshot;
    /* which options the command line set (model defaults differ) */
    int set_batch, set_crop, set_lr, set_steps;
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

int train_rnn(train_options *o);

#endif
