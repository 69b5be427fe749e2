#!/usr/bin/env python3
"""Training speed of nic's default hyper model written in PyTorch, to set
bench_train_gpu (the C/CUDA trainer) against on the same GPU.

Same network, loss and optimizer step as src/models/hyper.c: analysis with
GDN, hyper-analysis, mean and scale heads, the step network (t -> per-channel
log steps), noise for the rates and straight-through rounding for the
synthesis, Gaussian conditional and factorized-prior rates, lambda * 255^2 *
MSE per crop, gradient clipping at 1 and Adam. The input batch is copied from
host memory every step, as bench_train_gpu does. Not a test: it prints steps/s.

  python3 bench/bench_train_gpu_torch.py [--device cuda] [--batch 8] [--crop 256]
      [--channels 96,128,64] [--steps 50] [--compile] [--no-tf32]
"""
import argparse
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

PEDESTAL = 2.0 ** -36
LAMBDA_MIN, LAMBDA_MAX = 1e-4, 0.025
Q_HIDDEN, Q_SLOPE, Q_OFFSET = 32, -1.5, 0.7
SCALE_MIN, LIKELIHOOD_MIN = 0.11, 1e-9


class LowerBound(torch.autograd.Function):
    """max(x, bound); the gradient passes where x >= bound or where it raises x."""

    @staticmethod
    def forward(ctx, x, bound):
        ctx.save_for_backward(x)
        ctx.bound = bound
        return torch.clamp(x, min=bound)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * ((x >= ctx.bound) | (g < 0)).to(g.dtype), None


class GDN(nn.Module):
    def __init__(self, c, inverse):
        super().__init__()
        self.inverse = inverse
        self.beta = nn.Parameter(torch.full((c,), math.sqrt(1.0 + PEDESTAL)))
        self.gamma = nn.Parameter(torch.sqrt(0.1 * torch.eye(c) + PEDESTAL))
        self.beta_bound = math.sqrt(1e-6 + PEDESTAL)
        self.gamma_bound = math.sqrt(PEDESTAL)

    def forward(self, x):
        beta = LowerBound.apply(self.beta, self.beta_bound) ** 2 - PEDESTAL
        gamma = LowerBound.apply(self.gamma, self.gamma_bound) ** 2 - PEDESTAL
        c = gamma.shape[0]
        norm = F.conv2d(x * x, gamma.view(c, c, 1, 1), beta)
        return x * torch.sqrt(norm) if self.inverse else x * torch.rsqrt(norm)


def conv(ci, co, k=5, s=2):
    return nn.Conv2d(ci, co, k, s, k // 2)


def deconv(ci, co, k=5, s=2):
    return nn.ConvTranspose2d(ci, co, k, s, k // 2, output_padding=s - 1)


class FactorizedPrior(nn.Module):
    """Balle et al.'s factorized density, 1-3-3-3-1 per channel (likelihood.c)."""

    def __init__(self, c, init_scale=10.0):
        super().__init__()
        dims = [1, 3, 3, 3, 1]
        s = init_scale ** (1.0 / (len(dims) - 1))
        self.matrices, self.biases, self.factors = (nn.ParameterList() for _ in range(3))
        for k in range(4):
            init = math.log(math.expm1(1.0 / s / dims[k + 1]))
            self.matrices.append(nn.Parameter(torch.full((c, dims[k + 1], dims[k]), init)))
            self.biases.append(nn.Parameter(torch.rand(c, dims[k + 1], 1) - 0.5))
            if k < 3:
                self.factors.append(nn.Parameter(torch.zeros(c, dims[k + 1], 1)))

    def logits(self, u):  # u: [c, 1, count]
        h = u
        for k in range(4):
            h = torch.matmul(F.softplus(self.matrices[k]), h) + self.biases[k]
            if k < 3:
                h = h + torch.tanh(self.factors[k]) * torch.tanh(h)
        return h

    def bits(self, z):
        c = z.shape[1]
        u = z.transpose(0, 1).reshape(c, 1, -1)
        lu, ll = self.logits(u + 0.5), self.logits(u - 0.5)
        sign = -torch.sign(lu + ll).detach()
        sign = torch.where(sign == 0, torch.ones_like(sign), sign)
        p = torch.abs(torch.sigmoid(sign * lu) - torch.sigmoid(sign * ll))
        return -torch.log2(LowerBound.apply(p, LIKELIHOOD_MIN)).sum()


def gaussian_bits(v, sigma):
    s = LowerBound.apply(sigma, SCALE_MIN)
    a = torch.abs(v)
    cdf = lambda x: 0.5 * torch.erfc(-x * (2 ** -0.5))
    p = cdf((0.5 - a) / s) - cdf((-0.5 - a) / s)
    return -torch.log2(LowerBound.apply(p, LIKELIHOOD_MIN)).sum()


class Hyper(nn.Module):
    def __init__(self, n, m, nz):
        super().__init__()
        self.g_a = nn.Sequential(conv(3, n), GDN(n, False), conv(n, n), GDN(n, False),
                                 conv(n, n), GDN(n, False), conv(n, m))
        self.h_a = nn.Sequential(conv(m, n, 3, 1), nn.ReLU(), conv(n, n), nn.ReLU(), conv(n, nz))
        heads = lambda: nn.Sequential(deconv(nz, n), nn.ReLU(), deconv(n, n), nn.ReLU(),
                                      conv(n, m, 3, 1))
        self.h_s_mean, self.h_s_scale = heads(), heads()
        self.g_s = nn.Sequential(deconv(m, n), GDN(n, True), deconv(n, n), GDN(n, True),
                                 deconv(n, n), GDN(n, True), deconv(n, 3))
        self.q = nn.Sequential(nn.Linear(1, Q_HIDDEN), nn.ReLU(), nn.Linear(Q_HIDDEN, m))
        self.prior = FactorizedPrior(nz)

    def forward(self, x, t):
        b, _, hh, ww = x.shape
        y = self.g_a(x)
        z = self.h_a(y)
        z_t = z + torch.rand_like(z) - 0.5
        mu, log_scale = self.h_s_mean(z_t), self.h_s_scale(z_t)
        log_step = self.q(t[:, None]) + Q_OFFSET + Q_SLOPE * t[:, None]
        step = torch.exp(log_step)[:, :, None, None]
        yq, mq = y / step, mu / step
        sigma_q = torch.exp(torch.clamp(log_scale, -7.0, 7.0)) / step
        d = yq - mq
        v = d + torch.rand_like(d) - 0.5
        r = d + (torch.round(d) - d).detach()  # straight-through rounding
        x_hat = self.g_s((r + mq) * step)
        pixels = hh * ww * b
        bpp = (gaussian_bits(v, sigma_q) + self.prior.bits(z_t)) / pixels
        lam = torch.exp(math.log(LAMBDA_MIN) + t * (math.log(LAMBDA_MAX) - math.log(LAMBDA_MIN)))
        mse = ((x_hat - x) ** 2).mean(dim=(1, 2, 3))
        return bpp + (lam * 255.0 ** 2 * mse).mean()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--crop", type=int, default=256)
    ap.add_argument("--channels", default="96,128,64")
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--compile", action="store_true", help="torch.compile the model")
    ap.add_argument("--no-tf32", action="store_true")
    a = ap.parse_args()
    n, m, nz = (int(v) for v in a.channels.split(","))
    dev = torch.device(a.device)
    torch.backends.cudnn.benchmark = True  # as nic: algorithms found once per shape
    torch.backends.cudnn.allow_tf32 = not a.no_tf32
    torch.backends.cuda.matmul.allow_tf32 = not a.no_tf32
    torch.manual_seed(1)
    model = Hyper(n, m, nz).to(dev)
    step_fn = torch.compile(model) if a.compile else model
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    x_host = torch.rand(a.batch, 3, a.crop, a.crop)
    t_host = torch.rand(a.batch)

    def step():
        x, t = x_host.to(dev), t_host.to(dev)
        opt.zero_grad(set_to_none=True)
        loss = step_fn(x, t)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss

    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    for _ in range(3):
        step()
    sync()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        loss = step()
    sync()
    sec = time.perf_counter() - t0
    sps = a.steps / sec
    name = "PyTorch %s (%s%s%s)" % (torch.__version__, dev.type,
                                   ", TF32" if dev.type == "cuda" and not a.no_tf32 else "",
                                   ", compiled" if a.compile else "")
    params = sum(p.numel() for p in model.parameters())
    print("hyper model N=%d M=%d NZ=%d (%d parameters), batch %d x %dx%d" %
          (n, m, nz, params, a.batch, a.crop, a.crop))
    print("%-34s %9.3f steps/s  %8.1f ms/step  %9.0f steps in 20 min  (loss %.4f)" %
          (name, sps, 1000 / sps, sps * 1200, loss.item()))


if __name__ == "__main__":
    main()
