"""PyTorch side of the CRHN training benchmark: trains one CRHN the way the public reference
(github Developer2046/Convolutional-Restricted-Hopfield-Network, crhn.py `Con_RHN.train_all_model`
and rhn.py `Nonlinear_RHN.right_train_layer` / `left_train_layer`) trains it, on the architecture
Crhn builds (Crhn.Core.fs/Models/Codec.fs, Crhn.fs, Sra.fs; Crhn/CrhnModel.cs), so that the wall time
of Crhn's `CrhnModel.Fit` can be compared with it as a ratio from runs made close together.

What it computes (per repeat, fresh model, same seed):
  * Data: N×3×32×32 float32 in [0, 1] from a raw little-endian file, mapped to x = 2u − 1 (Crhn's
    DataRange.MinusOneToOne).
  * Codec (Crhn's TiedCodec with Latent.Binary, OutputMap.Tanh, no biases, tied): conv kernels
    K1 16×3×3×3, K2 32×16×3×3 (stride 2, padding 1, uniform(±1/sqrt(fan_in)) as Crhn), D 512×2048
    (orthogonal_ as Crhn/the reference). Encoder: tanh(conv(x, K1)) → tanh(conv(·, K2)) → flatten
    → p = v Dᵀ (the last pre-activation, no tanh) → s = sign(p) with 0 → +1, straight-through
    (gradient passed where |p| ≤ 1: the reference's SignSTE and Crhn's Binarize). Decoder with
    the SAME parameters: tanh(s D) → reshape 32×8×8 → tanh(conv_transpose(·, K2, output_padding 1))
    → tanh(conv_transpose(·, K1, output_padding 1)) (tanh at the end: Crhn's [−1, 1] output map).
    Each tie is ONE nn.Parameter, used twice, its gradient the sum of both uses, one Adam state.
  * Codec training (the reference's train_model): `epochs` full-batch steps of Adam
    (betas 0.9/0.999, eps 1e-8, Crhn's and PyTorch's defaults), MSE reconstruction loss in [−1, 1]
    units, learning rate 3e-3 constant (Crhn's CrhnTrainingOptions.LearningRate; the reference's
    train_model defaults to 1e-3 and its README uses 1e-4; --lr and --final-lr-frac change it,
    the latter a cosine decay as Crhn's FinalLearningRate).
  * Codes: c = sign(p(x)) with 0 → +1, N×512, ±1.
  * RHN: 512 → 128 → 100, W_l of shape n_{l+1}×n_l (semi-orthogonal rows, orthogonal_), tanh, no
    biases; h_{l+1} = tanh(h_l W_lᵀ), backward r_l = v_{l+1} W_l, v_l = tanh(r_l).
  * SRA, `rounds` rounds, never stopping early (the reference stops when every code is a fixed
    point; the round at which that first held is recorded as rounds_to_all_fixed). Each round:
      RSRA (rhn.py right_train_layer): the top state h_L from the codes, once; for l = L−2 … 0
        (here l = 0 only): A = forward pre-activations at l+1 (N×128), V = backward
        post-activations at l+1 from h_L (N×128); U S Vh = svd(Aᵀ V) (128×128); W_l ← (U Vh)ᵀ W_l
        (the reference's row-form W ← W U Vh).
      LSRA (rhn.py left_train_layer): the top state h_L once, with the weights after RSRA; for
        l = L−1 … 0: F = forward pre-activations at l (the codes at l = 0), B = backward
        reconstruction at l from that h_L (post-activation V_l for l > 0, logits R_0 at l = 0);
        U S Vh = svd(Fᵀ B) (n_l×n_l: 128×128 at l = 1, 512×512 at l = 0); W_l ← W_l (U Vh)ᵀ
        (the reference's row-form W ← U Vh W).
    So 3 SVDs a round, torch.linalg.svd(full_matrices=True) in float32 as the reference calls it
    (its default), of shapes 128×128, 128×128, 512×512: 300 SVDs over 100 rounds.
    After each round: one forward + backward pass, fixed points = rows with sign(R_0) == c
    (torch.sign: a zero logit is never a match, as in Crhn's RhnNetwork.Recall and the reference's
    loss check).

Differences from the reference (deliberate, to match Crhn's architecture and the bug list of
shared/DESIGN.md):
  * Tied kernels and dense weight are single parameters; the reference wraps each shared tensor
    in separate nn.Parameters for conv/deconv and fc/fc_output (two gradients, two Adam states on
    one storage, plus unused `shared_*` parameters in the optimiser).
  * The decoder ends in tanh (Crhn's [−1, 1] map); the reference's last deconv is linear (and it
    crops). Conv kernels start uniform(±1/sqrt(fan_in)) as Crhn, not randn·0.1.
  * The reference's loss checks print and sync after both RSRA and LSRA each round; here one check
    per round (after LSRA), with no printing, and no early stop.
  * The reference keeps the gradient graph on its codes (forward_to_rhn outside no_grad); here the
    codes and SRA run under torch.no_grad().
Differences from Crhn (what Crhn does that this does not, as the reference does not either):
  * Crhn's default CrhnTrainingOptions train in batches of 16 with a cosine schedule to 0.05×,
    keep the best epoch (one extra clean pass per epoch) and add robust (damaged-copy) terms;
    here full batch, constant lr, the last weights, plain MSE (the reference's recipe). Compare
    with Crhn run with BatchSize = N, FinalLearningRate = 1, KeepBest = false, Robust = false.
  * Crhn recomputes the top state h_L before every layer's rotation and solves Procrustes with a
    thin rank-N factorisation when 2N < n (the 512×512 one here), and re-orthogonalises by
    Newton–Schulz every 8 rounds; here the reference's stale top state per pass and full SVDs.

Run (Debian's python3-torch):
    GLIBC_TUNABLES=glibc.malloc.trim_threshold=4294967296:glibc.malloc.mmap_threshold=33554432 \
    /usr/bin/python3 bench/torch/crhn_train.py --images PATH [--repeats 3] [--epochs 300] \
        [--rounds 100] [--seed 0] [--threads T] [--lr 3e-3] [--final-lr-frac 1.0]
PATH: raw little-endian float32, N×3×32×32 values in [0, 1], N inferred from the size.
Prints one JSON document on stdout; progress on stderr. Timing: per repeat, time.perf_counter
around the Adam epochs (codec_s) and around encoding the codes + the SRA rounds (sra_s); model
construction is outside both; no warm-up repeat.
Threads: Debian's torch runs its own OpenMP pool and calls Debian's default pthread OpenBLAS, whose
pool is a second one; on 2 cores the two oversubscribe and single Adam steps measured here jumped
from ~35 ms to 100–400 ms. Use the OpenMP OpenBLAS as w3_ae.py says
(LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp, package libopenblas0-openmp) or at least
OMP_WAIT_POLICY=PASSIVE; the env block of the output records which was set."""
import argparse
import json
import math
import os
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

C, H, W = 3, 32, 32
CONV = (16, 32)
KERNEL, STRIDE, PADDING = 3, 2, 1
DENSE = (512,)
RHN_HIDDEN = (128, 100)


class SignSte(torch.autograd.Function):
    """sign with 0 → +1 forward; gradient passed where |p| ≤ 1 (clipped straight-through)."""

    @staticmethod
    def forward(ctx, p):
        ctx.save_for_backward(p)
        return torch.where(p >= 0, torch.ones_like(p), -torch.ones_like(p))

    @staticmethod
    def backward(ctx, g):
        p, = ctx.saved_tensors
        return g * (p.abs() <= 1).to(g.dtype)


def conv_out(n):
    return (n + 2 * PADDING - KERNEL) // STRIDE + 1


class TiedCodec(torch.nn.Module):
    def __init__(self):
        super().__init__()
        inputs = (C,) + CONV[:-1]
        self.kernels = torch.nn.ParameterList()
        for cin, cout in zip(inputs, CONV):
            bound = 1.0 / math.sqrt(cin * KERNEL * KERNEL)
            self.kernels.append(torch.nn.Parameter(torch.empty(cout, cin, KERNEL, KERNEL).uniform_(-bound, bound)))
        sizes = [H]
        for _ in CONV:
            sizes.append(conv_out(sizes[-1]))
        # output padding that brings decoder layer k back to the size encoder layer k took in
        self.output_padding = [sizes[k] - ((sizes[k + 1] - 1) * STRIDE - 2 * PADDING + KERNEL) for k in range(len(CONV))]
        self.conv_shape = (CONV[-1], sizes[-1], sizes[-1])
        flat = CONV[-1] * sizes[-1] * sizes[-1]
        self.dense = torch.nn.ParameterList()
        for j, width in enumerate(DENSE):
            fan_in = flat if j == 0 else DENSE[j - 1]
            self.dense.append(torch.nn.Parameter(torch.nn.init.orthogonal_(torch.empty(width, fan_in))))

    def pre_latent(self, x):
        z = x
        for k in self.kernels:
            z = torch.tanh(F.conv2d(z, k, stride=STRIDE, padding=PADDING))
        v = z.reshape(x.shape[0], -1)
        for j, d in enumerate(self.dense):
            v = v @ d.T
            if j < len(self.dense) - 1:
                v = torch.tanh(v)
        return v

    def decode(self, s):
        v = s
        for d in reversed(self.dense):
            v = torch.tanh(v @ d)
        g = v.reshape((s.shape[0],) + self.conv_shape)
        for k in range(len(self.kernels) - 1, -1, -1):
            g = torch.tanh(F.conv_transpose2d(g, self.kernels[k], stride=STRIDE, padding=PADDING,
                                              output_padding=self.output_padding[k]))
        return g

    def forward(self, x):
        return self.decode(SignSte.apply(self.pre_latent(x)))


def rhn_init(sizes):
    return [torch.nn.init.orthogonal_(torch.empty(sizes[l + 1], sizes[l])) for l in range(len(sizes) - 1)]


def top_state(codes, ws):
    h = codes
    for w in ws:
        h = torch.tanh(h @ w.T)
    return h


def logits(codes, ws):
    v, r = top_state(codes, ws), None
    for l in range(len(ws) - 1, -1, -1):
        r = v @ ws[l]
        v = torch.tanh(r)
    return r


def fixed_points(codes, ws):
    return int((torch.sign(logits(codes, ws)) == codes).all(dim=1).sum().item())


def svd_rotation(m):
    """U Vh from the full SVD of m, as the reference computes it (torch.linalg.svd, full_matrices)."""
    u, _, vh = torch.linalg.svd(m, full_matrices=True)
    return u @ vh


def rsra(codes, ws):
    n_layer = len(ws)
    top = top_state(codes, ws)
    for l in range(n_layer - 2, -1, -1):
        h, pre = codes, None
        for i in range(l + 1):
            pre = h @ ws[i].T
            h = torch.tanh(pre)
        v = top
        for i in range(n_layer - 1, l, -1):
            v = torch.tanh(v @ ws[i])
        ws[l] = svd_rotation(pre.T @ v).T @ ws[l]


def lsra(codes, ws):
    n_layer = len(ws)
    top = top_state(codes, ws)
    for l in range(n_layer - 1, -1, -1):
        f, pre = codes, codes
        for i in range(l):
            pre = f @ ws[i].T
            f = torch.tanh(pre)
        v, r = top, None
        for i in range(n_layer - 1, l - 1, -1):
            r = v @ ws[i]
            v = torch.tanh(r)
        b = r if l == 0 else v
        ws[l] = ws[l] @ svd_rotation(pre.T @ b).T


def train_once(x, seed, epochs, rounds, lr, final_frac):
    torch.manual_seed(seed)
    codec = TiedCodec()
    ws = rhn_init((DENSE[-1],) + RHN_HIDDEN)
    n_params = sum(p.numel() for p in codec.parameters())

    t0 = time.perf_counter()
    opt = torch.optim.Adam(codec.parameters(), lr=lr, betas=(0.9, 0.999), eps=1e-8)
    last = None
    for epoch in range(epochs):
        if final_frac != 1.0:
            progress = 0.0 if epochs == 1 else epoch / (epochs - 1)
            for group in opt.param_groups:
                group["lr"] = lr * (final_frac + (1 - final_frac) * 0.5 * (1 + math.cos(math.pi * progress)))
        opt.zero_grad()
        loss = F.mse_loss(codec(x), x)
        loss.backward()
        opt.step()
        last = loss.detach()
    t1 = time.perf_counter()

    with torch.no_grad():
        pre = codec.pre_latent(x)
        codes = torch.where(pre >= 0, torch.ones_like(pre), -torch.ones_like(pre))
        rounds_to_all = None
        fixed = None
        for r in range(1, rounds + 1):
            rsra(codes, ws)
            lsra(codes, ws)
            fixed = fixed_points(codes, ws)
            if fixed == codes.shape[0] and rounds_to_all is None:
                rounds_to_all = r
    t2 = time.perf_counter()

    with torch.no_grad():
        y = codec(x)
        mse_01 = (((y - x) / 2) ** 2).mean().item()
        if fixed is None:
            fixed = fixed_points(codes, ws)
        orth = max((w @ w.T - torch.eye(w.shape[0])).abs().max().item() for w in ws)
        distinct = int(torch.unique(codes, dim=0).shape[0])
    final_loss = last.item() if last is not None else float("nan")
    if not math.isfinite(final_loss):
        raise RuntimeError(f"codec training diverged: loss {final_loss}")
    return t1 - t0, t2 - t1, {"final_loss": final_loss, "mse_01": mse_01, "fixed_points": fixed,
                              "rounds_to_all_fixed": rounds_to_all, "codes": codes.shape[0],
                              "distinct_codes": distinct, "max_abs_WWt_minus_I": orth,
                              "codec_parameters": n_params}


def svd_shapes(sizes):
    """The shapes of the matrices a round factorises, in order: RSRA's, then LSRA's."""
    layers = len(sizes) - 1
    return [[sizes[l + 1]] * 2 for l in range(layers - 2, -1, -1)] + [[sizes[l]] * 2 for l in range(layers - 1, -1, -1)]


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", required=True)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--final-lr-frac", type=float, default=1.0)
    args = ap.parse_args()
    if args.repeats < 1 or args.epochs < 0 or args.rounds < 0:
        ap.error("repeats must be positive, epochs and rounds non-negative")

    torch.set_num_threads(args.threads)
    raw = np.fromfile(args.images, dtype="<f4")
    per = C * H * W
    if raw.size == 0 or raw.size % per != 0:
        sys.exit(f"{args.images}: {raw.size} float32 values is not a positive multiple of {C}x{H}x{W} = {per}")
    u = torch.from_numpy(raw.astype(np.float32).reshape(-1, C, H, W))
    if not torch.isfinite(u).all() or u.min() < 0 or u.max() > 1:
        sys.exit(f"{args.images}: values must be finite and in [0, 1]")
    n = u.shape[0]
    x = (2 * u - 1).contiguous()

    times, codec_s, sra_s, check = [], [], [], None
    for rep in range(args.repeats):
        tc, ts, check = train_once(x, args.seed, args.epochs, args.rounds, args.lr, args.final_lr_frac)
        times.append(tc + ts)
        codec_s.append(tc)
        sra_s.append(ts)
        print(f"  repeat {rep + 1}/{args.repeats}: codec {tc:.3f} s, sra {ts:.3f} s, loss {check['final_loss']:.5f}, "
              f"fixed {check['fixed_points']}/{n}", file=sys.stderr)

    key = (f"crhn.train[N={n},{C}x{H}x{W},conv={','.join(map(str, CONV))},k={KERNEL},dense={','.join(map(str, DENSE))},"
           f"rhn={','.join(map(str, RHN_HIDDEN))},epochs={args.epochs},sra={args.rounds}]")
    result = {"key": key, "median_s": statistics.median(times), "min_s": min(times), "max_s": max(times),
              "repeats": args.repeats, "times_s": times,
              "derived": {"codec_s": codec_s, "sra_s": sra_s, "lr": args.lr, "final_lr_frac": args.final_lr_frac,
                          "batch": n, "svd_per_round": svd_shapes((DENSE[-1],) + RHN_HIDDEN)},
              "check": check}
    env = {"torch": torch.__version__, "threads": torch.get_num_threads(), "cpu": cpu_name(), "cpu_count": os.cpu_count(),
           "vars": {k: os.environ[k] for k in ("LD_LIBRARY_PATH", "OMP_WAIT_POLICY", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                                "GLIBC_TUNABLES") if k in os.environ}}
    json.dump({"env": env, "results": [result]}, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
