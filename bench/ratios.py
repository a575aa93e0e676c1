#!/usr/bin/env python3
"""Crhn against TorchSharp from interleaved rounds, as BENCHMARKS.md's issue-20 tables give it.

    python3 bench/ratios.py bench/results/issue20-s4

reads PREFIX-r{1,2,...}-results-openblas.json (Crhn), -results-torchsharp.json and
-results-torchsharp-tuned-malloc.json, and prints one Markdown row a key: each side's median of
the rounds' medians, Crhn ÷ the faster TorchSharp (plain or tuned malloc, by median), the
per-round ratios (each round's Crhn ÷ that round's faster TorchSharp) and the minor page faults
a call (Crhn / TorchSharp's fewer, medians of the rounds).
"""
import glob
import json
import re
import statistics
import sys

SIDES = {"c": "results-openblas.json", "t": "results-torchsharp.json", "u": "results-torchsharp-tuned-malloc.json"}


def load(path):
    with open(path) as f:
        return {r["key"]: r for r in json.load(f)["results"]}


def count(faults):
    return "–" if faults != faults else f"{faults:.0f}"


def show(seconds):
    return f"{seconds:.3f} s" if seconds >= 1 else f"{seconds * 1000:.2f} ms"


def main(prefix):
    rounds = sorted({int(m.group(1)) for p in glob.glob(prefix + "-r*-results-*.json")
                     if (m := re.search(r"-r(\d+)-results-", p))})
    if not rounds:
        sys.exit(f"no files {prefix}-r*-results-*.json")
    data = {r: {side: load(f"{prefix}-r{r}-{name}") for side, name in SIDES.items()} for r in rounds}
    keys = list(data[rounds[0]]["c"])
    print("| key | Crhn openblas | TorchSharp | TorchSharp, tuned malloc | Crhn ÷ faster TorchSharp | per-round ratios | page faults a call (Crhn / TS fewer) |")
    print("|---|---|---|---|---|---|---|")
    for key in keys:
        rows = [data[r] for r in rounds if all(key in data[r][s] for s in SIDES)]
        if not rows:
            print(f"| `{key}` | {show(statistics.median(data[r]['c'][key]['median_s'] for r in rounds))} |  |  |  |  |  |")
            continue
        med = {s: statistics.median(row[s][key]["median_s"] for row in rows) for s in SIDES}
        ratio = med["c"] / min(med["t"], med["u"])
        per_round = " / ".join(f"{row['c'][key]['median_s'] / min(row['t'][key]['median_s'], row['u'][key]['median_s']):.2f}" for row in rows)
        faults = {s: statistics.median(row[s][key].get("minor_faults_per_call", float("nan")) for row in rows) for s in SIDES}
        torch_faults = min((f for f in (faults["t"], faults["u"]) if f == f), default=float("nan"))
        print(f"| `{key}` | {show(med['c'])} | {show(med['t'])} | {show(med['u'])} | **{ratio:.2f}** | {per_round} | "
              f"{count(faults['c'])} / {count(torch_faults)} |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "bench/results/issue20-s4")
