/*
 * Outputs of the MNIST experiment (docs/EXPERIMENTS.md lists every file):
 * epochs.csv and rate.csv per arm, the per-epoch loss and accuracy plots, the
 * rate-SSIM plot, the input-versus-output figure, report.md and summary.txt.
 */
#ifndef NIC_EXPERIMENTS_MNIST_REPORT_H
#define NIC_EXPERIMENTS_MNIST_REPORT_H

#include "experiments/mnist_arms.h"

/* The originals every arm is compared with. */
typedef struct nic_mnist_baselines {
    uint64_t png_bytes; /* each test image its own PNG file (see png_sizes in mnist.c) */
    uint64_t raw_bytes; /* 784 bytes per image */
} nic_mnist_baselines;

typedef struct nic_mnist_report {
    const nic_mnist_experiment_options *opt;
    const nic_mnist *train, *test;
    const nic_mnist_baselines *base;
    const nic_mnist_arm *arms;
    const nic_mnist_arm_result *results; /* one per arm; empty for pending arms */
    int arm_count;
    double seconds;                      /* the whole run so far */
} nic_mnist_report;

nic_status nic_mnist_report_write(nic_context *ctx, const nic_mnist_report *r,
                                  nic_mnist_experiment_summary *summary);

#endif
