#!/usr/bin/env python3
"""The PyTorch twin of bench_train.c: the same hyperprior model (analysis with
GDN, hyper-analysis, mean and scale hyper-synthesis, synthesis with inverse GDN,
adaptive quantization network, Gaussian conditional and factorized prior,
rate + lambda * MSE, Adam, gradient clipping), the same shapes and threads.

    python3 bench/bench_train_torch.py --config 128,192,128 --batch 8 --crop 256 \
        --steps 2 --form convtranspose|pixelshuffle --threads 2

--form convtranspose writes every upsampling layer as ConvTranspose2d(5, 2, 2,
output_padding=1), as codec papers do; --form pixelshuffle writes it as the
equivalent 3x3 convolution to 4x the channels followed by PixelShuffle(2) (any
stride-2 5x5 transposed convolution is one, with a rearranged kernel), the
fastest formulation PyTorch runs on CPU. Prints one line
"RESULT step_ms X fwd_ms Y rss_mb Z" that bench_train parses.
"""
import argparse
import math
import resource
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class GDN(nn.Module):
    def __init__(self, c, inverse):
        super().__init__()
        self.inverse = inverse
        self.beta = nn.Parameter(torch.ones(c))
        self.gamma = nn.Parameter(0.1 * torch.eye(c))

    def forward(self, x):
        beta = self.beta.clamp(min=1e-6)
        gamma = self.gamma.clamp(min=0).view(*self.gamma.shape, 1, 1)
        norm = F.conv2d(x * x, gamma, beta)
        return x * torch.sqrt(norm) if self.inverse else x * torch.rsqrt(norm)


def up(c_in, c_out, form):
    if form == "convtranspose":
        return nn.ConvTranspose2d(c_in, c_out, 5, 2, 2, output_padding=1)
    return nn.Sequential(nn.Conv2d(c_in, 4 * c_out, 3, 1, 1), nn.PixelShuffle(2))


def down(c_in, c_out, k=5, s=2):
    return nn.Conv2d(c_in, c_out, k, s, k // 2)


class Factorized(nn.Module):
    """Balle's per-channel density (filters 3,3,3), cumulative via logits."""

    def __init__(self, c, filters=(3, 3, 3)):
        super().__init__()
        dims = (1,) + filters + (1,)
        self.mats, self.biases, self.factors = nn.ParameterList(), nn.ParameterList(), \
            nn.ParameterList()
        for i in range(len(dims) - 1):
            self.mats.append(nn.Parameter(torch.randn(c, dims[i + 1], dims[i]) * 0.1))
            self.biases.append(nn.Parameter(torch.zeros(c, dims[i + 1], 1)))
            if i < len(dims) - 2:
                self.factors.append(nn.Parameter(torch.zeros(c, dims[i + 1], 1)))

    def logits(self, v):  # v: [C, 1, N]
        for i, m in enumerate(self.mats):
            v = torch.matmul(F.softplus(m), v) + self.biases[i]
            if i < len(self.factors):
                v = v + torch.tanh(self.factors[i]) * torch.tanh(v)
        return v

    def likelihood(self, z):
        b, c, h, w = z.shape
        v = z.permute(1, 0, 2, 3).reshape(c, 1, -1)
        p = torch.sigmoid(self.logits(v + 0.5)) - torch.sigmoid(self.logits(v - 0.5))
        return p.reshape(c, b, h, w).permute(1, 0, 2, 3)


class Hyper(nn.Module):
    def __init__(self, n, m, nz, form):
        super().__init__()
        self.ga = nn.ModuleList([down(3, n), down(n, n), down(n, n), down(n, m)])
        self.ga_gdn = nn.ModuleList([GDN(n, False) for _ in range(3)])
        self.ha = nn.Sequential(down(m, n, 3, 1), nn.ReLU(), down(n, n), nn.ReLU(), down(n, nz))
        self.hm = nn.Sequential(up(nz, n, form), nn.ReLU(), up(n, n, form), nn.ReLU(),
                                down(n, m, 3, 1))
        self.hs = nn.Sequential(up(nz, n, form), nn.ReLU(), up(n, n, form), nn.ReLU(),
                                down(n, m, 3, 1))
        self.gs = nn.ModuleList([up(m, n, form), up(n, n, form), up(n, n, form), up(n, 3, form)])
        self.gs_gdn = nn.ModuleList([GDN(n, True) for _ in range(3)])
        self.q = nn.Sequential(nn.Linear(1, 32), nn.ReLU(), nn.Linear(32, m))
        self.prior = Factorized(nz)

    def forward(self, x, t, train):
        y = x
        for i, conv in enumerate(self.ga):
            y = conv(y)
            if i < 3:
                y = self.ga_gdn[i](y)
        z = self.ha(torch.abs(y))
        z_hat = z + torch.rand_like(z) - 0.5 if train else torch.round(z)
        mean, log_scale = self.hm(z_hat), self.hs(z_hat)
        step = torch.exp(0.7 - 1.5 * t.view(-1, 1) + self.q(t.view(-1, 1))).view(*y.shape[:2], 1,
                                                                                1)
        ys, mu = y / step, mean / step
        scale = torch.exp(log_scale).clamp(min=0.11) / step
        if train:
            y_noisy = ys + torch.rand_like(ys) - 0.5
            y_hat = ys + (torch.round(ys - mu) + mu - ys).detach()
        else:
            y_noisy = y_hat = torch.round(ys - mu) + mu
        d = torch.distributions.Normal(mu, scale)
        py = (d.cdf(y_noisy + 0.5) - d.cdf(y_noisy - 0.5)).clamp(min=1e-9)
        pz = self.prior.likelihood(z_hat).clamp(min=1e-9)
        r = y_hat * step
        for i, conv in enumerate(self.gs):
            r = conv(r)
            if i < 3:
                r = self.gs_gdn[i](r)
        pixels = x.shape[0] * x.shape[2] * x.shape[3]
        bpp = (-torch.log2(py).sum() - torch.log2(pz).sum()) / pixels
        lam = 1e-4 * (250.0 ** t)
        mse = ((r - x) ** 2).mean(dim=(1, 2, 3))
        return bpp + (lam * 255 ** 2 * mse).mean()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="128,192,128")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--crop", type=int, default=256)
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--form", choices=["convtranspose", "pixelshuffle"], default="pixelshuffle")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    n, m, nz = (int(v) for v in a.config.split(","))
    model = Hyper(n, m, nz, a.form)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    col = torch.arange(a.crop, dtype=torch.float32) / a.crop
    x = 0.5 * col.expand(a.batch, 3, a.crop, a.crop) + 0.5 * torch.rand(a.batch, 3, a.crop, a.crop)
    t = torch.linspace(0, 1, a.batch)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = model(x, t, True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    def forward():
        with torch.no_grad():
            model(x, t, False)

    def timed(fn):
        fn()  # warm-up
        t0 = time.perf_counter()
        for _ in range(a.steps):
            fn()
        return (time.perf_counter() - t0) / a.steps * 1e3

    step_ms = timed(step)
    fwd_ms = timed(forward)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print("torch %s threads %d" % (torch.__version__, torch.get_num_threads()))
    print("RESULT step_ms %.1f fwd_ms %.1f rss_mb %d" % (step_ms, fwd_ms, rss), flush=True)


if __name__ == "__main__":
    main()
