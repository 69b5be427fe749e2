#include "nn/phase.h"

#include <stdlib.h>
#include <string.h>

static int round_up(int v, int m)
{
    return (v + m - 1) / m * m;
}

/* Offsets -1..1 that phase p (0 or 1) of a transposed convolution reads. */
static int convt_reads(int p, int d)
{
    int k = p + 2 - 2 * d;
    return k >= 0 && k <= 4;
}

void nn_phase_layout_free(nn_phase_layout *l)
{
    free(l->groups);
    free(l->taps);
    memset(l, 0, sizeof(*l));
}

/* Appends a tap; returns its index. */
static void add_tap(nn_phase_layout *l, int dy, int dx, int c0, int n)
{
    nn_iconv_tap *t = &l->taps[l->ntaps++];
    t->dy = dy;
    t->dx = dx;
    t->c0 = c0;
    t->n = n;
    t->w_off = 0;
}

/* The taps of a group that reads the given phase (-1: all nine offsets),
 * over grid input channels [c0, c0 + n) of each input phase. */
static void add_group_taps(nn_phase_layout *l, int phase, int c0, int n)
{
    const int u = l->unit;
    for (int dy = -1; dy <= 1; dy++)
        for (int dx = -1; dx <= 1; dx++) {
            if (l->kind == NN_PHASE_CONVT_S2) {
                if (phase >= 0 && !(convt_reads(phase / 2, dy) && convt_reads(phase % 2, dx)))
                    continue;
                add_tap(l, dy, dx, c0, n / u);
            } else if (l->kind == NN_PHASE_CONV_S1) {
                add_tap(l, dy, dx, c0, n / u);
            } else {
                /* input phases qy (and qx) with k = 2 d + q + 2 <= 4: both unless d = 1;
                 * (qy, 0) and (qy, 1) are adjacent, one tap when all channels are read */
                int nqy = dy == 1 ? 1 : 2, nqx = dx == 1 ? 1 : 2;
                for (int qy = 0; qy < nqy; qy++) {
                    if (n == l->cin_pad) {
                        add_tap(l, dy, dx, 2 * qy * l->cin_pad, nqx * n / u);
                        continue;
                    }
                    for (int qx = 0; qx < nqx; qx++)
                        add_tap(l, dy, dx, (2 * qy + qx) * l->cin_pad + c0, n / u);
                }
            }
        }
}

nic_status nn_phase_layout_init(nic_context *ctx, nn_phase_layout *l, nn_phase_kind kind,
                                int c_in, int c_out, int block, int unit, int max_blocks,
                                int split)
{
    memset(l, 0, sizeof(*l));
    if (c_in < 1 || c_out < 1 || block < 1 || unit < 1 || max_blocks < 1 || split < 0 ||
        split % unit)
        return NIC_FAIL(ctx, NIC_ERR_INVALID_ARGUMENT, "phase layout: bad sizes");
    l->kind = kind;
    l->c_in = c_in;
    l->c_out = c_out;
    l->block = block;
    l->unit = unit;
    l->cin_pad = round_up(c_in, unit);
    l->cin_grid = kind == NN_PHASE_CONV_S2 ? 4 * l->cin_pad : l->cin_pad;
    /* Transposed: one set of lanes per phase when c_out fills whole blocks (no
     * wasted multiplies); otherwise the phases share blocks and read all nine
     * offsets (zero weights where a phase has none). */
    const int by_phase = kind == NN_PHASE_CONVT_S2 && c_out % block == 0;
    if (kind == NN_PHASE_CONVT_S2)
        l->split_lanes = by_phase ? 4 * c_out : round_up(4 * c_out, block);
    else
        l->split_lanes = round_up(c_out, block);
    l->split = split && split < l->cin_pad ? split : l->cin_pad;
    l->splits = (l->cin_pad + l->split - 1) / l->split;
    l->lanes = l->splits * l->split_lanes;
    const int sets = by_phase ? 4 : 1;
    const int blocks_per_set = (by_phase ? c_out : l->split_lanes) / block;
    const int groups_per_set = (blocks_per_set + max_blocks - 1) / max_blocks;
    const int ngroups = l->splits * sets * groups_per_set;
    l->groups = calloc((size_t)ngroups, sizeof(*l->groups));
    l->taps = calloc((size_t)ngroups * 25, sizeof(*l->taps)); /* 5 x 5 input phase offsets */
    if (!l->groups || !l->taps) {
        nn_phase_layout_free(l);
        return NIC_FAIL(ctx, NIC_ERR_NOMEM, "phase layout: out of memory");
    }
    size_t w_off = 0;
    for (int sp = 0; sp < l->splits; sp++)
        for (int s = 0; s < sets; s++)
            for (int k = 0; k < groups_per_set; k++) {
                nn_phase_group *g = &l->groups[l->ngroups++];
                int first = k * max_blocks, c0 = sp * l->split;
                g->blocks = blocks_per_set - first < max_blocks ? blocks_per_set - first : max_blocks;
                g->lane0 = sp * l->split_lanes + s * c_out * by_phase + first * block;
                g->tap0 = l->ntaps;
                add_group_taps(l, by_phase ? s : -1, c0,
                               l->cin_pad - c0 < l->split ? l->cin_pad - c0 : l->split);
                g->ntaps = l->ntaps - g->tap0;
                for (int t = g->tap0; t < l->ntaps; t++) {
                    l->taps[t].w_off = w_off;
                    w_off += (size_t)l->taps[t].n * g->blocks * block * unit;
                }
            }
    l->w_count = w_off;
    return NIC_OK;
}
