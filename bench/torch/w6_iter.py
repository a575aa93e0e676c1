"""PyTorch side of W6 (the weight-shared iterative two-layer network, with and without its Jacobian
penalty) of ../shared/bench/WORKLOADS.md, measured on this machine so that Crhn's figures can be
compared as ratios from runs made close together. Same inputs (SplitMix64 streams), same
computation, same timing rule. Run as w3_ae.py says:
    LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp \
    GLIBC_TUNABLES=glibc.malloc.trim_threshold=4294967296:glibc.malloc.mmap_threshold=33554432 \
    /usr/bin/python3 bench/torch/w6_iter.py"""
import json
import statistics
import sys
import time

import torch

from w7_conv import uniform

N, D, H, CLASSES, BATCH = 10000, 784, 512, 10, 128
ALPHA, LAMBDA, MARGIN, POWER = 0.5, 0.1, 0.5, 5


def run(k_steps, penalty):
    x_all = uniform(601, 0, 1, (N, D))
    g = uniform(602, -1, 1, (CLASSES, D))
    y_all = (x_all.double() @ g.double().T).argmax(1)
    m = uniform(603, -1 / 28, 1 / 28, (H, D)).requires_grad_()
    c_w = uniform(604, -1 / 28, 1 / 28, (CLASSES, D)).requires_grad_()
    c_b = torch.zeros(CLASSES, requires_grad=True)
    opt = torch.optim.Adam([m, c_w, c_b], lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    epochs = []
    for _ in range(6):
        t0 = time.perf_counter()
        ce_sum = pen_sum = sigma_sum = 0.0
        correct = 0
        for start in range(0, N, BATCH):
            x, y = x_all[start:start + BATCH], y_all[start:start + BATCH]
            opt.zero_grad()
            v = x
            for _ in range(k_steps):
                v = (1 - ALPHA) * v + ALPHA * (torch.tanh(v @ m.T) @ m)
            logits = v @ c_w.T + c_b
            ce = torch.nn.functional.cross_entropy(logits, y)
            loss = ce
            if penalty:
                vbar = v.detach()
                with torch.no_grad():
                    dbar = 1 - torch.tanh(vbar @ m.T) ** 2
                    u = torch.full((x.shape[0], D), 1 / 28)
                    for _ in range(POWER):
                        w = ((u @ m.T) * dbar) @ m
                        u = w / (w.norm(dim=1, keepdim=True) + 1e-12)
                d = 1 - torch.tanh(vbar @ m.T) ** 2
                w = ((u @ m.T) * d) @ m
                sigma = w.norm(dim=1)
                pen = LAMBDA * torch.clamp(sigma - MARGIN, min=0).pow(2).mean()
                loss = ce + pen
                pen_sum += pen.item() * x.shape[0]
                sigma_sum += sigma.sum().item()
            loss.backward()
            opt.step()
            ce_sum += ce.item() * x.shape[0]
            correct += (logits.argmax(1) == y).sum().item()
        epochs.append({"time": time.perf_counter() - t0, "ce": ce_sum / N, "acc": correct / N, "pen": pen_sum / N, "sigma": sigma_sum / N})
    times = [e["time"] for e in epochs[1:]]
    median = statistics.median(times)
    key = f"W6.iter_net_epoch[K={k_steps},jac_penalty={penalty},n={N},batch={BATCH}]"
    print(f"  {key:<80} {median * 1e3:10.3f} ms", file=sys.stderr)
    check = {"ce_epoch1": epochs[0]["ce"], "acc_epoch1": epochs[0]["acc"], "ce_epoch6": epochs[-1]["ce"]}
    if penalty:
        check.update({"penalty_epoch1": epochs[0]["pen"], "sigma_mean_epoch1": epochs[0]["sigma"]})
    return {"key": key, "median_s": median, "min_s": min(times), "max_s": max(times), "repeats": len(times), "warmup": 1,
            "times_s": times, "derived": {"samples_per_s": N / median}, "check": check}


def main():
    torch.set_num_threads(2)
    results = [run(k, p) for k in (1, 3, 5) for p in (False, True)]
    json.dump({"env": {"torch": torch.__version__, "threads": torch.get_num_threads()}, "results": results}, sys.stdout, indent=2)


if __name__ == "__main__":
    main()
