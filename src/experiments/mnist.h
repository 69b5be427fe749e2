/*
 * The seed paper's MNIST experiment (issue 8): train its models on MNIST,
 * compress the whole test set into real files, measure, and write a report
 * with per-epoch plots, the rate-SSIM curve, the input-versus-output figure
 * and the paper's numbers side by side (docs/EXPERIMENTS.md).
 *
 * The experiment is a list of "arms", one per model of the paper. Each arm
 * trains, logs its epochs and compresses the test set at one or more rates;
 * the driver measures the baselines (PNG, raw pixels), writes the plots and
 * the report. Arms: the deep CNN autoencoder, the RNN model (issue 7), the
 * paper's cascade (the RNN's output pictures coded again by the CNN) and the
 * combined rnn+cnn model (the RNN's codes through a context model).
 *
 * The library prints nothing: progress lines go to the caller's callback.
 */
#ifndef NIC_EXPERIMENTS_MNIST_H
#define NIC_EXPERIMENTS_MNIST_H

#include <stdint.h>

#include "models/mnist_ae.h"
#include "models/rnn.h"

typedef void (*nic_mnist_progress_fn)(void *user, const char *line);

typedef struct nic_mnist_experiment_options {
    const char *data_dir;   /* the four IDX files (.gz or raw) */
    const char *out_dir;    /* created if missing */
    int quick;              /* a small run for tests: a subset, 2 short epochs */
    int epochs;             /* 0: the default of the mode */
    int batch;
    uint32_t train_limit;   /* images used; 0 = all (60 000) */
    uint32_t test_limit;    /* 0 = all (10 000) */
    uint64_t seed;
    double lr;              /* peak learning rate (cosine schedule) */
    double target_ssim;     /* the bar: mean SSIM >= 0.90 */
    double target_reduction; /* and >= 90 % smaller than PNG */
    nic_mnist_ae_config model;
    /* The RNN arms (rnn, rnn-cnn, rnn+cnn). Zeros: the mode's defaults. */
    nic_rnn_config rnn;          /* widths, bits per 16x16 block, iterations = rate points */
    const char *rnn_init;        /* start from these rnn weights; NULL: the installed rnn
                                  * model (nic_codec_get_rnn); "none": random weights */
    int rnn_epochs;
    uint32_t rnn_epoch_images;   /* training images drawn at random for each RNN epoch */
    uint32_t rnn_eval_images;    /* test images of the per-epoch evaluation */
    int rnn_batch;
    double rnn_lr;
    uint32_t ctx_images;         /* rnn+cnn: training images whose codes fit the context model */
    int ctx_epochs;
    double ctx_lr;
    unsigned conv_flags;    /* nn/conv.h flags (tests: NN_CONV_REFERENCE) */
    nic_mnist_progress_fn progress;
    void *progress_user;
} nic_mnist_experiment_options;

/* The RNN arms' defaults for the full run (quick: 2 epochs of 256 images,
 * 256 for the context model). */
#define NIC_MNIST_RNN_EPOCHS 4
#define NIC_MNIST_RNN_EPOCH_IMAGES 3072u
#define NIC_MNIST_RNN_EVAL_IMAGES 1000u
#define NIC_MNIST_RNN_CTX_IMAGES 5000u

/* Defaults of the full experiment (quick = 0). */
void nic_mnist_experiment_options_init(nic_mnist_experiment_options *o);

/* The headline numbers (also written to OUT/summary.txt). */
typedef struct nic_mnist_experiment_summary {
    uint32_t test_images;
    uint64_t png_bytes, raw_bytes;        /* originals */
    uint64_t nic_bytes;                   /* the headline: per-image record files */
    double reduction_vs_png;              /* percent */
    double mean_ssim, mean_psnr;
    int level;                            /* the headline's rate level */
    int target_met;
    double seconds;
} nic_mnist_experiment_summary;

nic_status nic_mnist_experiment_run(nic_context *ctx, const nic_mnist_experiment_options *o,
                                    nic_mnist_experiment_summary *summary);

#endif
