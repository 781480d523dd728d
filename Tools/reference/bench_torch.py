#!/usr/bin/env python3
"""PyTorch CPU baselines for the Swift benchmarks (AD2 TBG+full model, method.md §4.4 / §5.1 / §7.3).

    .venv-torch/bin/python Tools/reference/bench_torch.py [--threads 1 2] [--json OUT]

Model: H = 64, L = 5, one-hot width 21 (+ t = 22 input columns), N = 22 atoms, float32, random
one-hot rows (timing only), default init with the coordinate head perturbed (irrelevant for speed).

Two idiomatic batched implementations of exactly the same function (checked against each other and
against the unpadded reference in Tools/reference/test_reference.py):
  edge_index  the original TBG/EGNN way: flattened edge list of B·N(N-1) pairs, gather + index_add
  dense       (B, N, N) pair tensors, the first edge Linear split into per-node projections
              (W1 [h_i‖h_j‖r‖d2] = W1a h_i + W1b h_j + w_r r + w_d d2 + b1), self-pairs masked out

train   one optimizer step = fresh prior/noise/t + forward + flow-matching loss + backward + Adam step,
        batch 256; median over --train-steps steps after --warmup steps; reported as samples/s.
sample  one function evaluation = v plus the exact divergence by 3N = 66 reverse-mode passes (one
        per input column, ones over the batch; bgflow BruteForceEstimatorFast), batch 256;
        reported as batch-evaluations/s, per-sample evaluations/s (x B) and samples/s of a fixed-step
        RK4 with 20 steps (80 evaluations per sample).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from egnn_torch import EGNNField, divergence_bruteforce, make_edges  # noqa: E402


# ----------------------------------------------------------------------------------------------
# Batched forward passes for B molecules of the same size N
# ----------------------------------------------------------------------------------------------

class EdgeIndexForward:
    """Original-style: flattened edge index (B·N(N-1) edges), reusing the reference model."""

    def __init__(self, model: EGNNField, features: torch.Tensor, batch: int):
        self.model = model
        self.n = features.shape[0]
        self.batch = batch
        self.counts = [self.n] * batch
        self.edges = make_edges(self.counts)
        self.mol = torch.arange(batch).repeat_interleave(self.n)
        self.features = features.repeat(batch, 1)

    def __call__(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """x: (B, N, 3), t: (B,) -> v (B, N, 3)."""
        v = self.model(x.reshape(-1, 3), self.features, t, self.counts, edges=self.edges, mol=self.mol)
        return v.reshape(x.shape)


class DenseForward:
    """Dense (B, N, N) pairs; same parameters and maths as EGNNField."""

    def __init__(self, model: EGNNField, features: torch.Tensor, batch: int):
        self.model = model
        n = features.shape[0]
        self.features = features
        self.offdiag = (1.0 - torch.eye(n, dtype=features.dtype)).unsqueeze(0).unsqueeze(-1)  # (1,N,N,1)

    def __call__(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        m_ = self.model
        b, n, _ = x.shape
        hid = m_.hidden
        mask = self.offdiag.to(x.dtype)
        feats = self.features.to(x.dtype).unsqueeze(0).expand(b, n, -1)
        h = m_.embedding(torch.cat([feats, t.to(x.dtype).view(b, 1, 1).expand(b, n, 1)], dim=2))
        diff0 = x.unsqueeze(2) - x.unsqueeze(1)                      # (B,N,N,3)
        d2 = (diff0 * diff0).sum(-1, keepdim=True)                   # (B,N,N,1)
        xl = x
        for l in range(m_.layers):
            g = m_.gcl(l)
            w1 = g.edge_mlp[0].weight
            diff = xl.unsqueeze(2) - xl.unsqueeze(1)
            radial = (diff * diff).sum(-1, keepdim=True)
            unit = diff / (torch.sqrt(radial + 1e-8) + 1.0)
            hi = F.linear(h, w1[:, :hid], g.edge_mlp[0].bias)        # receiver part (+ bias)
            hj = F.linear(h, w1[:, hid:2 * hid])                      # sender part
            pre = hi.unsqueeze(2) + hj.unsqueeze(1) + radial * w1[:, 2 * hid] + d2 * w1[:, 2 * hid + 1]
            m = F.silu(g.edge_mlp[2](F.silu(pre)))                    # (B,N,N,H)
            m = m * torch.sigmoid(g.att_mlp[0](m)) * mask
            s = torch.tanh(g.coord_mlp[2](F.silu(g.coord_mlp[0](m))))  # (B,N,N,1)
            x_new = xl + (unit * s).sum(2) * g.coords_weight          # self-pairs: unit = 0
            agg = m.sum(2)
            h = h + g.node_mlp(torch.cat([h, agg], dim=2))
            xl = x_new
        v = xl - x
        return v - v.mean(dim=1, keepdim=True)


IMPLS = {"edge_index": EdgeIndexForward, "dense": DenseForward}


def mean_free(shape, dtype=torch.float32):
    z = torch.randn(shape, dtype=dtype)
    return z - z.mean(dim=1, keepdim=True)


def make_model(k=21, hidden=64, layers=5, seed=0):
    torch.manual_seed(seed)
    model = EGNNField(k, hidden, layers)
    with torch.no_grad():
        for l in range(layers):
            w = model.gcl(l).coord_mlp[2].weight
            w.uniform_(-0.05, 0.05)
    features = F.one_hot(torch.randint(0, k, (22,)), k).float()
    return model, features


def bench_train(impl, threads, batch, steps, warmup, n=22):
    torch.set_num_threads(threads)
    model, features = make_model()
    fwd = IMPLS[impl](model, features, batch)
    opt = torch.optim.Adam(model.parameters(), lr=5e-4)
    x1 = 3.0 * mean_free((batch, n, 3))  # stand-in data, model units (AD2 ~ Angstrom)
    times = []
    for step in range(warmup + steps):
        t0 = time.perf_counter()
        x0 = mean_free((batch, n, 3))
        eps = mean_free((batch, n, 3))
        t = torch.rand(batch)
        tt = t.view(batch, 1, 1)
        xt = (1 - tt) * x0 + tt * x1 + 0.01 * eps
        opt.zero_grad(set_to_none=True)
        v = fwd(xt, t)
        loss = ((v - (x1 - x0)) ** 2).sum(dim=(1, 2)).div(3 * n).mean()
        loss.backward()
        opt.step()
        dt = time.perf_counter() - t0
        if step >= warmup:
            times.append(dt)
    med = statistics.median(times)
    return {"impl": impl, "threads": threads, "batch": batch, "steps": steps, "median_step_s": med,
            "samples_per_s": batch / med, "min_step_s": min(times)}


def bench_sample(impl, threads, batch, evals, warmup, n=22, rk_steps=20):
    torch.set_num_threads(threads)
    model, features = make_model()
    for p in model.parameters():
        p.requires_grad_(False)
    fwd = IMPLS[impl](model, features, batch)
    x = mean_free((batch, n, 3)).reshape(batch, 3 * n)
    times = []
    for k in range(warmup + evals):
        t = torch.full((batch,), 0.5)
        t0 = time.perf_counter()
        v, div = divergence_bruteforce(lambda xx: fwd(xx.reshape(batch, n, 3), t).reshape(batch, 3 * n), x)
        dt = time.perf_counter() - t0
        if k >= warmup:
            times.append(dt)
    med = statistics.median(times)
    per_sample_evals = batch / med
    return {"impl": impl, "threads": threads, "batch": batch, "evals": evals, "median_eval_s": med,
            "batch_evals_per_s": 1.0 / med, "sample_evals_per_s": per_sample_evals,
            "rk4_steps": rk_steps, "rk4_samples_per_s": per_sample_evals / (4 * rk_steps)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--impl", nargs="+", default=["edge_index", "dense"], choices=sorted(IMPLS))
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--train-steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--sample-impl", nargs="+", default=["dense"], choices=sorted(IMPLS),
                    help="implementations for the sampling benchmark (edge_index is ~3x slower: minutes per eval)")
    ap.add_argument("--sample-batch", type=int, default=256)
    ap.add_argument("--sample-evals", type=int, default=2,
                    help="timed evaluations (each = 1 forward + 66 backward passes; slow on CPU)")
    ap.add_argument("--sample-warmup", type=int, default=1)
    ap.add_argument("--skip-train", action="store_true")
    ap.add_argument("--skip-sample", action="store_true")
    ap.add_argument("--json", metavar="OUT")
    args = ap.parse_args()

    res = {"torch": torch.__version__, "machine": platform.machine(), "processor": platform.processor(),
           "cpu_count": os.cpu_count(), "model": {"hidden": 64, "layers": 5, "input_width": 22, "atoms": 22,
                                                   "dtype": "float32"}, "train": [], "sample": []}
    if not args.skip_train:
        for impl in args.impl:
            for th in args.threads:
                r = bench_train(impl, th, args.batch, args.train_steps, args.warmup)
                print(f"train  {impl:10s} threads={th}  {r['median_step_s']*1e3:9.1f} ms/step  "
                      f"{r['samples_per_s']:9.1f} samples/s", flush=True)
                res["train"].append(r)
    if not args.skip_sample:
        for impl in args.sample_impl:
            for th in args.threads:
                r = bench_sample(impl, th, args.sample_batch, args.sample_evals, args.sample_warmup)
                print(f"sample {impl:10s} threads={th}  {r['median_eval_s']:9.2f} s/eval(batch {r['batch']})  "
                      f"{r['sample_evals_per_s']:9.1f} evals/s  {r['rk4_samples_per_s']:8.2f} RK4-20 samples/s",
                      flush=True)
                res["sample"].append(r)

    print("\n| task | impl | threads | batch | time | throughput |\n|---|---|---|---|---|---|")
    for r in res["train"]:
        print(f"| train step | {r['impl']} | {r['threads']} | {r['batch']} | {r['median_step_s']*1e3:.1f} ms "
              f"| {r['samples_per_s']:.1f} samples/s |")
    for r in res["sample"]:
        print(f"| v + exact div (66 bwd) | {r['impl']} | {r['threads']} | {r['batch']} | "
              f"{r['median_eval_s']:.2f} s | {r['sample_evals_per_s']:.1f} evals/s = "
              f"{r['rk4_samples_per_s']:.2f} samples/s (RK4, 20 steps) |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=2)


if __name__ == "__main__":
    main()
