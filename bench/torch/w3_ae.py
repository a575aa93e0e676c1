"""PyTorch side of W3 (../shared/bench/WORKLOADS.md): the tied-weight convolutional auto-encoder's
training epoch, measured on this machine so that Crhn's figure can be compared as a ratio from runs
made close together. Same inputs (SplitMix64 streams), same model, same Adam, same timing rule
(1 warm-up epoch, then 5 timed epochs with the training state carried over, the median).
Needs Debian's python3-torch; the reference environment (section 8) also used the OpenMP OpenBLAS:
    LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp \
    GLIBC_TUNABLES=glibc.malloc.trim_threshold=4294967296:glibc.malloc.mmap_threshold=33554432 \
    /usr/bin/python3 bench/torch/w3_ae.py"""
import json
import statistics
import sys
import time

import torch
import torch.nn.functional as F

from w7_conv import uniform


def epoch(x_all, n, params, opt):
    w1, w2, w3, b1, b2, b3, c3, c2, c1 = params
    total = 0.0
    for j in range(n // 50):
        x = x_all[50 * j:50 * j + 50]
        opt.zero_grad()
        h1 = torch.tanh(F.conv2d(x, w1, b1, stride=2, padding=1))
        h2 = torch.tanh(F.conv2d(h1, w2, b2, stride=2, padding=1))
        z = torch.tanh(F.conv2d(h2, w3, b3, stride=2, padding=1))
        g2 = torch.tanh(F.conv_transpose2d(z, w3, c3, stride=2, padding=1))
        g1 = torch.tanh(F.conv_transpose2d(g2, w2, c2, stride=2, padding=1))
        y = torch.sigmoid(F.conv_transpose2d(g1, w1, c1, stride=2, padding=1))
        loss = torch.mean((y - x) ** 2)
        loss.backward()
        opt.step()
        total += loss.item() * 50
    return total / n


def run(n):
    x_all = uniform(301, 0, 1, (500, 3, 64, 64))
    params = [uniform(302, -1 / 48 ** 0.5, 1 / 48 ** 0.5, (32, 3, 4, 4)),
              uniform(303, -1 / 512 ** 0.5, 1 / 512 ** 0.5, (64, 32, 4, 4)),
              uniform(304, -1 / 1024 ** 0.5, 1 / 1024 ** 0.5, (64, 64, 4, 4)),
              torch.zeros(32), torch.zeros(64), torch.zeros(64), torch.zeros(64), torch.zeros(32), torch.zeros(3)]
    for p in params:
        p.requires_grad_()
    opt = torch.optim.Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    loss1 = epoch(x_all, n, params, opt)
    times, loss = [], loss1
    for _ in range(5):
        t0 = time.perf_counter()
        loss = epoch(x_all, n, params, opt)
        times.append(time.perf_counter() - t0)
    key = f"W3.ae_train_epoch[N={n},batch=50]"
    median = statistics.median(times)
    print(f"  {key:<50} {median * 1e3:10.1f} ms", file=sys.stderr)
    return {"key": key, "median_s": median, "min_s": min(times), "max_s": max(times), "repeats": 5, "warmup": 1,
            "times_s": times, "derived": {"images_per_s": n / median},
            "check": {"loss_epoch1": loss1, "loss_epoch6": loss}}


def main():
    torch.set_num_threads(2)
    results = [run(100), run(500)]
    json.dump({"env": {"torch": torch.__version__, "threads": torch.get_num_threads()}, "results": results},
              sys.stdout, indent=2)


if __name__ == "__main__":
    main()
