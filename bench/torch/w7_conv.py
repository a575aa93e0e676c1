"""PyTorch side of the W7 conv workloads (../shared/bench/WORKLOADS.md), measured on this machine so
that Crhn's figures can be compared as ratios from runs made close together. Same inputs (SplitMix64
streams), same timing rule (warm-up, then >= min_reps calls and >= 1 s, median). Needs Debian's
python3-torch. Run: GLIBC_TUNABLES=glibc.malloc.trim_threshold=4294967296:glibc.malloc.mmap_threshold=33554432 \
    python3 bench/torch/w7_conv.py"""
import json
import statistics
import sys
import time

import numpy as np
import torch

MASK = (1 << 64) - 1


def uniform(seed, lo, hi, shape):
    n = int(np.prod(shape))
    i = np.arange(1, n + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = np.uint64(seed) + i * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    u = (z >> np.uint64(40)).astype(np.float64) * 2.0 ** -24
    return torch.from_numpy((lo + (hi - lo) * u).astype(np.float32).reshape(shape))


def measure(key, warmup, min_reps, call):
    for _ in range(warmup):
        call()
    times, start = [], time.perf_counter()
    while len(times) < 200 and (len(times) < min_reps or time.perf_counter() - start < 1.0):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    median = statistics.median(times)
    print(f"  {key:<80} {median * 1e3:10.3f} ms", file=sys.stderr)
    return {"key": key, "median_s": median, "min_s": min(times), "max_s": max(times), "repeats": len(times)}


def main():
    torch.set_num_threads(2)
    results = []
    a, b = uniform(701, 0, 1, (1024, 1024)), uniform(702, 0, 1, (1024, 1024))
    c = torch.empty(1024, 1024)
    results.append(measure("W7.sgemm[m=1024,n=1024,k=1024]", 3, 20, lambda: torch.mm(a, b, out=c)))
    x = uniform(703, 0, 1, (50, 3, 64, 64))
    w = uniform(704, -1 / 48 ** 0.5, 1 / 48 ** 0.5, (32, 3, 4, 4))
    bias = torch.zeros(32)
    gy = uniform(705, -1, 1, (50, 32, 32, 32))
    with torch.no_grad():
        results.append(measure("W7.conv2d_fwd[input=50x3x64x64,out_ch=32,k=4,s=2,p=1]", 2, 10,
                               lambda: torch.nn.functional.conv2d(x, w, bias, stride=2, padding=1)))
    xg, wg, bg = x.clone().requires_grad_(), w.clone().requires_grad_(), bias.clone().requires_grad_()

    def fwd_bwd():
        xg.grad = wg.grad = bg.grad = None
        torch.nn.functional.conv2d(xg, wg, bg, stride=2, padding=1).backward(gy)

    results.append(measure("W7.conv2d_fwd_bwd[input=50x3x64x64,out_ch=32,k=4,s=2,p=1]", 2, 10, fwd_bwd))
    g = uniform(706, -1, 1, (50, 32, 32, 32)).requires_grad_()
    gout = uniform(707, -1, 1, (50, 3, 64, 64))
    cb = torch.zeros(3, requires_grad=True)

    def convt_fwd_bwd():
        g.grad = wg.grad = cb.grad = None
        torch.nn.functional.conv_transpose2d(g, wg, cb, stride=2, padding=1).backward(gout)

    results.append(measure("W7.conv_transpose2d_fwd_bwd[input=50x32x32x32,out_ch=3,k=4,s=2,p=1]", 2, 10, convt_fwd_bwd))
    json.dump({"env": {"torch": torch.__version__, "threads": torch.get_num_threads()}, "results": results}, sys.stdout, indent=2)


if __name__ == "__main__":
    main()
