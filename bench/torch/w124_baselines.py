"""PyTorch side of W1 (Modern Hopfield retrieval), W2 (predictive-coding epoch and retrieval) and
W4 (FGSM, PGD-10 on the W3 auto-encoder) of ../shared/bench/WORKLOADS.md, measured on this machine
so that Crhn's figures can be compared as ratios from runs made close together. Same inputs
(SplitMix64 streams), same computations, same timing rules. Run as w3_ae.py says:
    LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp \
    GLIBC_TUNABLES=glibc.malloc.trim_threshold=4294967296:glibc.malloc.mmap_threshold=33554432 \
    /usr/bin/python3 bench/torch/w124_baselines.py [W1|W2|W4]"""
import json
import statistics
import sys
import time

import torch
import torch.nn.functional as F

from w7_conv import uniform


def measure(key, warmup, min_reps, call, target=1.0, exact=None):
    for _ in range(warmup):
        call()
    times, start = [], time.perf_counter()
    while len(times) < 200 and ((len(times) < exact) if exact else (len(times) < min_reps or time.perf_counter() - start < target)):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    median = statistics.median(times)
    print(f"  {key:<80} {median * 1e3:10.3f} ms", file=sys.stderr)
    return {"key": key, "median_s": median, "min_s": min(times), "max_s": max(times), "repeats": len(times), "times_s": times}


@torch.no_grad()
def w1():
    d = 12288
    x_all, noise = uniform(101, 0, 1, (500, d)), uniform(102, -0.3, 0.3, (500, d))
    out = []
    for n in (50, 100, 250, 500):
        x = x_all[:n]
        q = torch.clamp(x + noise[:n], 0, 1)
        beta = torch.tensor(1 / d ** 0.5, dtype=torch.float32).item()
        res = {}

        def call():
            s = beta * (q @ x.T)
            p = torch.softmax(s, dim=1)
            res["p"], res["y"] = p, p @ x
        r = measure(f"W1.mhn_retrieval[N={n},d={d}]", 2, 10, call)
        r["check"] = {"accuracy_argmax": (res["p"].argmax(1) == torch.arange(n)).double().mean().item(),
                      "sum_Y": res["y"].double().sum().item(), "mean_abs_Y_minus_X": (res["y"] - x).abs().double().mean().item()}
        out.append(r)
    return out


@torch.no_grad()
def w2():
    d, h = 3072, 1024
    x_all = uniform(201, 0, 1, (100, d))
    out = []
    for n in (50, 100):
        x = x_all[:n]
        w, b = uniform(202, -1 / 32, 1 / 32, (d, h)), torch.zeros(d)

        def step(x0, x1, m):
            a = torch.tanh(x1)
            e0 = x0 - (a @ w.T + b)
            x1 = x1 + 0.1 * ((e0 @ w) * (1 - a * a))
            if m is not None:
                x0 = x0 - 0.1 * (e0 * m)
            return x0, x1

        energies, times = [], []
        for k in range(6):
            t0 = time.perf_counter()
            x1 = torch.zeros(n, h)
            for _ in range(50):
                _, x1 = step(x, x1, None)
            a = torch.tanh(x1)
            e0 = x - (a @ w.T + b)
            energies.append((0.5 * (e0 * e0).sum() / n).item())
            w += (0.01 / n) * (e0.T @ a)
            b += 0.01 * e0.mean(0)
            if k > 0:
                times.append(time.perf_counter() - t0)
        key = f"W2.pcn_train_epoch[N={n},d={d},h={h},T=50]"
        print(f"  {key:<80} {statistics.median(times) * 1e3:10.3f} ms", file=sys.stderr)
        out.append({"key": key, "median_s": statistics.median(times), "times_s": times,
                    "check": {"energy_epoch1": energies[0], "energy_epoch6": energies[-1], "epochs_done": 6}})
        m = torch.tensor([1.0 if (k % 1024) // 32 >= 16 else 0.0 for k in range(d)])
        res = {}

        def retrieve():
            x0, x1 = x * (1 - m), torch.zeros(n, h)
            for _ in range(100):
                x0, x1 = step(x0, x1, m)
            res["x0"] = x0
        r = measure(f"W2.pcn_retrieval[N={n},d={d},h={h},T=100]", 1, 5, retrieve, exact=5)
        r["check"] = {"mse_unknown_after_6_epochs": (((res["x0"] - x) * m) ** 2).sum().item() / (m.sum().item() * n)}
        out.append(r)
    return out


def w4():
    n = 100
    x = uniform(301, 0, 1, (500, 3, 64, 64))[:n]
    w1 = uniform(302, -1 / 48 ** 0.5, 1 / 48 ** 0.5, (32, 3, 4, 4))
    w2 = uniform(303, -1 / 512 ** 0.5, 1 / 512 ** 0.5, (64, 32, 4, 4))
    w3 = uniform(304, -1 / 1024 ** 0.5, 1 / 1024 ** 0.5, (64, 64, 4, 4))
    b = [torch.zeros(32), torch.zeros(64), torch.zeros(64), torch.zeros(64), torch.zeros(32), torch.zeros(3)]
    eps, alpha = 8 / 255, 2 / 255

    def ae(v):
        h1 = torch.tanh(F.conv2d(v, w1, b[0], stride=2, padding=1))
        h2 = torch.tanh(F.conv2d(h1, w2, b[1], stride=2, padding=1))
        z = torch.tanh(F.conv2d(h2, w3, b[2], stride=2, padding=1))
        g2 = torch.tanh(F.conv_transpose2d(z, w3, b[3], stride=2, padding=1))
        g1 = torch.tanh(F.conv_transpose2d(g2, w2, b[4], stride=2, padding=1))
        return torch.sigmoid(F.conv_transpose2d(g1, w1, b[5], stride=2, padding=1))

    def grad(v):
        v = v.clone().requires_grad_()
        loss = torch.mean((ae(v) - x) ** 2)
        return torch.autograd.grad(loss, v)[0]

    delta0 = uniform(401, -eps, eps, (n, 3, 64, 64))
    res, out = {}, []

    def clean():
        with torch.no_grad():
            res["y"] = ae(x)

    def fgsm():
        res["fgsm"] = torch.clamp(x + eps * grad(x).sign(), 0, 1)

    def pgd():
        v = torch.clamp(x + delta0, 0, 1)
        for _ in range(10):
            v = v + alpha * grad(v).sign()
            v = torch.clamp(torch.min(torch.max(v, x - eps), x + eps), 0, 1)
        res["pgd"] = v

    def mse(v):
        with torch.no_grad():
            return torch.mean((ae(v) - x) ** 2).item()
    r = measure("W4.ae_forward_clean[N=100]", 1, 5, clean)
    r["check"] = {"mse_clean": torch.mean((res["y"] - x) ** 2).item()}
    out.append(r)
    r = measure("W4.fgsm[N=100,eps=8/255]", 1, 5, fgsm)
    r["check"] = {"mse_adv": mse(res["fgsm"]), "sum_x_adv": res["fgsm"].double().sum().item()}
    out.append(r)
    r = measure("W4.pgd10[N=100,eps=8/255,alpha=2/255,steps=10]", 1, 5, pgd, exact=5)
    r["check"] = {"mse_adv": mse(res["pgd"]), "sum_x_adv": res["pgd"].double().sum().item(), "linf_max": (res["pgd"] - x).abs().max().item()}
    out.append(r)
    return out


def main():
    torch.set_num_threads(2)
    which = sys.argv[1:] or ["W1", "W2", "W4"]
    results = [r for w, f in (("W1", w1), ("W2", w2), ("W4", w4)) if w in which for r in f()]
    json.dump({"env": {"torch": torch.__version__, "threads": torch.get_num_threads()}, "results": results}, sys.stdout, indent=2)


if __name__ == "__main__":
    main()
