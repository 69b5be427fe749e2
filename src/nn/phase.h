/*
 * Phase decomposition: the codec's stride-2 5x5 convolutions (and their
 * transposes) as 3x3 stride-1 "tap-list" convolutions on the half-resolution
 * grid, the form the integer kernels of iconv.h compute.
 *
 *  - NN_PHASE_CONVT_S2, ConvTranspose2d(k 5, stride 2, padding 2, output
 *    padding 1): output pixel (2i + py, 2j + px) reads x(i + dy, j + dx) with
 *    weight w[ky = py + 2 - 2 dy][kx = px + 2 - 2 dx]; each input pixel
 *    feeds a 2x2 block of outputs, i.e. 4 "phases" of c_out lanes each. A
 *    phase reads 3 or 2 offsets per axis (9, 6, 6 or 4 taps), so grouping the
 *    lanes by phase wastes no multiply.
 *  - NN_PHASE_CONV_S2, Conv2d(k 5, stride 2, padding 2) on the input stored
 *    space-to-depth: grid pixel (i, j) holds the 2x2 input block
 *    (2i + qy, 2j + qx) as 4 x cin_pad channels ((2 qy + qx) cin_pad + c).
 *    Output (i, j) reads block (i + dy, j + dx), phase (qy, qx), with
 *    ky = 2 dy + qy + 2: each offset reads only the phases with ky, kx <= 4.
 *  - NN_PHASE_CONV_S1, Conv2d(k 3, stride 1, padding 1): nine full taps.
 *
 * Weights are PyTorch's layouts ([c_in][c_out][k][k] for the transposed
 * convolution, [c_out][c_in][k][k] otherwise).
 */
#ifndef NIC_NN_PHASE_H
#define NIC_NN_PHASE_H

#include "common/context.h"
#include "nn/iconv.h"

typedef enum nn_phase_kind {
    NN_PHASE_CONVT_S2 = 0,
    NN_PHASE_CONV_S2 = 1,
    NN_PHASE_CONV_S1 = 2
} nn_phase_kind;

typedef struct nn_phase_group {
    int blocks, lane0;
    int tap0, ntaps; /* into the layout's taps */
} nn_phase_group;

typedef struct nn_phase_layout {
    nn_phase_kind kind;
    int c_in, c_out;
    int cin_pad;  /* c_in rounded up to the weight unit */
    int cin_grid; /* channels per pixel of the kernel's input grid */
    /* Accumulator lanes per grid pixel: split * split_lanes + (phase * c_out + oc,
     * or oc). With splits, each run of `split` input channels is summed in its
     * own lanes (the caller adds them), so each partial sum has its own, smaller
     * worst case: more weight precision for the same int32 range. */
    int lanes, split_lanes, split, splits;
    int block;    /* lanes per block: 16 (int16 kernels) or 8 (int32 kernels) */
    int unit;     /* input channels per weight step: 2 (int16 pairs) or 1 */
    int ngroups;
    nn_phase_group *groups;
    int ntaps;
    nn_iconv_tap *taps; /* w_off: offset in weight elements (int16 or int64) */
    size_t w_count;     /* weight elements in all */
} nn_phase_layout;

/* max_blocks: blocks computed together (3 for the int16 kernels, 4 for int32);
 * split: input channels per partial sum (a multiple of unit; 0 = all). */
nic_status nn_phase_layout_init(nic_context *ctx, nn_phase_layout *l, nn_phase_kind kind,
                                int c_in, int c_out, int block, int unit, int max_blocks,
                                int split);
void nn_phase_layout_free(nn_phase_layout *l);

/* Output channel of a lane, or -1 for a padding lane. */
static inline int nn_phase_lane_channel(const nn_phase_layout *l, int lane)
{
    lane %= l->split_lanes;
    if (l->kind == NN_PHASE_CONVT_S2)
        return lane < 4 * l->c_out ? lane % l->c_out : -1;
    return lane < l->c_out ? lane : -1;
}

/* Where the layout's weight element (lane, tap, grid input channel ch) is
 * in the PyTorch weight array, or -1 where it is zero (padding lanes and
 * channels, offsets a phase does not read). Inline: the weights of a whole
 * model go through it when the model is loaded. */
static inline ptrdiff_t nn_phase_weight_index(const nn_phase_layout *l, int lane,
                                              const nn_iconv_tap *tap, int ch)
{
    const int co = l->c_out, ci = l->c_in;
    if (nn_phase_lane_channel(l, lane) < 0)
        return -1;
    lane %= l->split_lanes;
    if (l->kind == NN_PHASE_CONVT_S2) {
        int phase = lane / co, oc = lane % co;
        int ky = phase / 2 + 2 - 2 * tap->dy, kx = phase % 2 + 2 - 2 * tap->dx;
        if (ch >= ci || ky < 0 || ky > 4 || kx < 0 || kx > 4)
            return -1;
        return (((ptrdiff_t)ch * co + oc) * 5 + ky) * 5 + kx;
    }
    if (l->kind == NN_PHASE_CONV_S2) {
        int q = ch / l->cin_pad, ic = ch % l->cin_pad;
        int ky = 2 * tap->dy + q / 2 + 2, kx = 2 * tap->dx + q % 2 + 2;
        if (ic >= ci || ky > 4 || kx > 4)
            return -1;
        return (((ptrdiff_t)lane * ci + ic) * 5 + ky) * 5 + kx;
    }
    if (ch >= ci)
        return -1;
    return (((ptrdiff_t)lane * ci + ch) * 3 + tap->dy + 1) * 3 + tap->dx + 1;
}

/* Position in the weight array of element (group g, tap t of the layout,
 * weight step q, lane l of the group, element e < unit). */
static inline size_t nn_phase_w_index(const nn_phase_layout *l, const nn_phase_group *g,
                                      const nn_iconv_tap *t, int q, int lane, int e)
{
    return t->w_off + ((size_t)q * g->blocks * l->block + (size_t)lane) * l->unit + (size_t)e;
}

#endif
