/*
 * SSIM as a differentiable training objective.
 *
 * The same SSIM as the metric (src/metrics/ssim.c, docs/METRICS.md): an
 * 11-tap Gaussian window (sigma 1.5), population statistics, K1 = 0.01,
 * K2 = 0.03, and the mean of the map over the positions whose window lies
 * inside the image (the metric's 5-pixel crop). Values are on [0, 1], so
 * C1 = 0.01^2 and C2 = 0.03^2 (the metric's constants on the 0..255 scale).
 *
 * Per position p, with mu, e the window means of y, x*y, y*y:
 *   S = (2 mx my + C1) (2 sxy + C2) / ((mx^2 + my^2 + C1) (sxx + syy + C2))
 * and the gradient with respect to y is the transposed window applied to
 * dS/dmy, x * dS/dexy and 2 y * dS/deyy. Arithmetic is in double.
 */
#ifndef NIC_NN_SSIM_LOSS_H
#define NIC_NN_SSIM_LOSS_H

#include <stddef.h>

#include "common/context.h"

#define NN_SSIM_TAPS 11

/* Doubles of scratch for planes of h x w (both at least NN_SSIM_TAPS). */
size_t nn_ssim_work_size(int h, int w);

/* x (reference) and y (reconstruction): n planes of h x w. Returns the sum
 * over the n planes of their mean SSIM; ssim[i] (may be NULL) receives plane
 * i's. dy (may be NULL) receives scale * d(sum)/dy, WRITTEN. work holds
 * nn_ssim_work_size(h, w) doubles. h and w must be >= NN_SSIM_TAPS. */
double nn_ssim_loss(const float *x, const float *y, int n, int h, int w, double scale,
                    double *ssim, float *dy, double *work);

#endif
