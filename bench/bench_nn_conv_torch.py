#!/usr/bin/env python3
"""PyTorch on the shapes of bench_nn_conv.c (same threads), for comparison.

    OMP_NUM_THREADS=2 /usr/bin/python3 bench/bench_nn_conv_torch.py

Times aten::convolution (forward) and aten::convolution_backward with only
the input gradient (bwd-data) or only weight+bias gradients (bwd-weights),
i.e. exactly the three passes nic times. Transposed shapes use PyTorch's
ConvTranspose2d path (transposed=True), as codec papers write them.
"""
import os
import time

import torch

torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
SHAPES = [  # name, transposed, n, c_in, h, w, c_out, k, stride, pad, output_padding
    ("conv 3->128 5x5 s2 256^2", 0, 8, 3, 256, 256, 128, 5, 2, 2, 0),
    ("conv 128->128 5x5 s2 128^2", 0, 8, 128, 128, 128, 128, 5, 2, 2, 0),
    ("conv 128->128 5x5 s2 64^2", 0, 8, 128, 64, 64, 128, 5, 2, 2, 0),
    ("convT 128->128 5x5 s2 32^2->64^2", 1, 8, 128, 32, 32, 128, 5, 2, 2, 1),
    ("convT 128->3 5x5 s2 128^2->256^2", 1, 8, 128, 128, 128, 3, 5, 2, 2, 1),
]


def timeit(fn, min_time=0.3, min_reps=2):
    fn()
    t0 = time.perf_counter()
    reps = 0
    while reps < min_reps or time.perf_counter() - t0 < min_time:
        fn()
        reps += 1
    return (time.perf_counter() - t0) / reps


def main():
    print("torch %s, threads %d" % (torch.__version__, torch.get_num_threads()))
    print("%-34s %8s %8s %8s   GFLOP/s" % ("shape (batch 8)", "fwd", "bwd-data", "bwd-wgt"))
    for name, tr, n, ci, h, w, co, k, s, p, op in SHAPES:
        x = torch.randn(n, ci, h, w)
        if tr:
            wt = torch.randn(ci, co, k, k) * 0.05
        else:
            wt = torch.randn(co, ci, k, k) * 0.05
        b = torch.zeros(co)
        conv = lambda: torch.ops.aten.convolution(x, wt, b, [s, s], [p, p], [1, 1], bool(tr),
                                                  [op, op], 1)
        y = conv()
        dy = torch.randn_like(y)
        # multiply-adds: per output element of the (adjoint) convolution
        macs = (x.numel() if tr else y.numel()) * (co if tr else ci) * k * k
        flops = 2.0 * macs
        bwd = lambda mask: torch.ops.aten.convolution_backward(
            dy, x, wt, [co], [s, s], [p, p], [1, 1], bool(tr), [op, op], 1, mask)
        with torch.no_grad():
            tf = timeit(conv)
            td = timeit(lambda: bwd([True, False, False]))
            tw = timeit(lambda: bwd([False, True, True]))
        print("%-34s %8.1f %8.1f %8.1f" % (name, flops / tf * 1e-9, flops / td * 1e-9,
                                           flops / tw * 1e-9), flush=True)


if __name__ == "__main__":
    main()
