#!/usr/bin/env python3
"""A data-parallel scaling model for `tbg train` on clusters, from measurements on 1–2 ranks.

  bash Jobs/scaling_bench.sh                       # measures, writes data/runs/scaling/*.json
  python Tools/scaling_model.py data/runs/scaling  # prints the tables (README "Scaling to clusters")

Per model (AD2: H 64, L 5, 22 atoms, B = 256; 2AA: H 128, L 9, 36 atoms, B = 400) the step time on
p ranks is modelled as

    T(p) = c0 + c1 · ceil(B / p) + A(p, 4·P bytes)

- c0 + c1·b: one rank's step at per-rank batch b, least squares over `tbg bench train` runs at
  several batches on 1 rank (`train-<model>-b<b>.json`). c0 holds what does not shrink with the
  batch: Adam and EMA over all P parameters on every rank, per-step overheads.
- A(p, n): the all-reduce of the gradient (P float32). Within a node, the measured
  `tbg bench allreduce` fit (`allreduce.json`: alpha, beta on this machine's ranks). Across nodes, a
  ring all-reduce, 2(p-1)·alpha_net + 2(p-1)/p · n·beta_net, with alpha_net and 1/beta_net from
  --net-latency-us and --net-gbps (default 2 µs and 12 GB/s: 100 Gb/s InfiniBand); or recursive
  doubling, log2(p)·(alpha_net + n·beta_net), whichever is smaller (MPI libraries switch the same way).
- --ranks-per-node: ranks that share a node (default 32); p up to that uses the intra-node fit.

Efficiency E(p) = T(1) / (p · T(p)): the fraction of p ranks' throughput that p ranks deliver.
Data parallelism stops paying where E drops below one half; past that, the step is dominated by
c0 and the all-reduce, neither of which shrinks with p.
"""
import argparse
import glob
import json
import math
import os
import sys

MODELS = {"ad2": {"batch": 256, "label": "AD2 (H 64, L 5, 22 atoms, B = 256)"},
          "2aa": {"batch": 400, "label": "2AA (H 128, L 9, 36 atoms, B = 400)"}}
RANKS = [1, 2, 16, 64, 256, 1024]


def fit_line(xs, ys):
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    c1 = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx > 0 else 0.0
    return my - c1 * mx, c1


def allreduce_seconds(p, nbytes, intra, a):
    if p == 1:
        return 0.0
    if p <= a.ranks_per_node:
        return intra["latency_seconds"] + intra["seconds_per_byte"] * nbytes
    alpha, beta = a.net_latency_us * 1e-6, 1.0 / (a.net_gbps * 1e9)
    ring = 2 * (p - 1) * alpha + 2 * (p - 1) / p * nbytes * beta
    doubling = math.log2(p) * (alpha + nbytes * beta)
    return min(ring, doubling)


def load_runs(folder, model):
    runs = []
    for path in glob.glob(os.path.join(folder, f"train-{model}-b*.json")):
        with open(path) as fh:
            runs.append(json.load(fh))
    return sorted(runs, key=lambda r: r["global_batch"])


def model_table(folder, model, intra, a):
    runs = load_runs(folder, model)
    if len(runs) < 2:
        return f"{model}: need `tbg bench train` at two or more batches in {folder}\n"
    c0, c1 = fit_line([r["global_batch"] for r in runs], [r["median_step_seconds"] for r in runs])
    params = runs[0].get("parameters") or 0
    batch = MODELS[model]["batch"]
    t1 = c0 + c1 * batch
    lines = [f"**{MODELS[model]['label']}**, {params} parameters ({4 * params / 1e6:.2f} MB of gradient): "
             f"c0 = {1e3 * c0:.1f} ms, c1 = {1e3 * c1:.2f} ms per molecule (fit of {len(runs)} batches on 1 rank), "
             f"T(1) = {t1:.2f} s per step",
             "",
             "| ranks | molecules per rank | compute (s) | all-reduce (s) | step (s) | samples/s | efficiency |",
             "|---|---|---|---|---|---|---|"]
    stop = None
    for p in RANKS:
        if p > batch:
            lines.append(f"| {p} | < 1 | – | – | – | – | impossible: fewer molecules than ranks |")
            stop = stop or p
            continue
        per_rank = math.ceil(batch / p)
        compute = c0 + c1 * per_rank
        reduce = allreduce_seconds(p, 4 * params, intra, a)
        step = compute + reduce
        efficiency = t1 / (p * step)
        if efficiency < 0.5 and stop is None:
            stop = p
        lines.append(f"| {p} | {per_rank} | {compute:.4f} | {reduce:.4f} | {step:.4f} | {batch / step:.0f} | {100 * efficiency:.0f} % |")
    lines.append("")
    lines.append(f"Efficiency falls below 50 % at {stop} ranks." if stop else "Efficiency stays above 50 % up to 1024 ranks.")
    return "\n".join(lines) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", help="the output folder of Jobs/scaling_bench.sh")
    ap.add_argument("--ranks-per-node", type=int, default=32)
    ap.add_argument("--net-latency-us", type=float, default=2.0)
    ap.add_argument("--net-gbps", type=float, default=12.0, help="inter-node bandwidth, GB/s")
    a = ap.parse_args(argv)
    with open(os.path.join(a.folder, "allreduce.json")) as fh:
        intra = json.load(fh)
    cpu_path = os.path.join(a.folder, "cpu.txt")
    cpu = open(cpu_path).read().strip() if os.path.exists(cpu_path) else "this machine"
    print(f"Measured on {cpu}: intra-node all-reduce on {intra['ranks']} ranks "
          f"alpha = {1e6 * intra['latency_seconds']:.1f} µs, 1/beta = {1 / intra['seconds_per_byte'] / 1e9:.2f} GB/s; "
          f"inter-node assumed alpha = {a.net_latency_us} µs, {a.net_gbps} GB/s; {a.ranks_per_node} ranks per node.\n")
    for model in MODELS:
        print(model_table(a.folder, model, intra, a))
    return 0


if __name__ == "__main__":
    sys.exit(main())
