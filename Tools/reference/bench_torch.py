#!/usr/bin/env python3
"""PyTorch CPU baselines for the Swift benchmarks (method.md §4.4 / §5.1 / §7.3).

    .venv-torch/bin/python Tools/reference/bench_torch.py [--threads 1 2] [--json OUT]
    # the transferable (2AA) model as the original trains it: 36-atom dipeptides padded to 51 atoms
    .venv-torch/bin/python Tools/reference/bench_torch.py --model 2aa [--threads 1 2]

Models (float32, random one-hot rows: timing only, default init with the coordinate head perturbed):
  ad2  H = 64, L = 5, one-hot width 21 (+ t), N = 22 atoms, batch 256 (`tbg bench train`'s default)
  2aa  H = 128, L = 9, one-hot width 76 (TBG+full), N = 36 atoms padded to P = 51 with node and edge
       masks, as the original transferable TBG batches peptides of different sizes; batch 400
       (`tbg bench train --atoms 36 --hidden 128 --layers 9 --feature-width 76 --batch 400`, unpadded)
--hidden/--layers/--atoms/--pad-to/--features override a model's sizes.

Two idiomatic batched implementations of exactly the same function (checked against each other and
against the unpadded reference in Tools/reference/test_reference.py):
  edge_index  the original TBG/EGNN way: flattened edge list of B·N(N-1) pairs, gather + index_add
  dense       (B, N, N) pair tensors, the first edge Linear split into per-node projections
              (W1 [h_i‖h_j‖r‖d2] = W1a h_i + W1b h_j + w_r r + w_d d2 + b1), self-pairs masked out

train   one optimizer step = fresh prior/noise/t + forward + flow-matching loss + backward + Adam step,
        batch 256; median over --train-steps steps after --warmup steps; reported as samples/s.
sample  one function evaluation = v plus the exact divergence by 3N = 66 (padded: 3P) reverse-mode passes (one
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
    """Original-style: flattened edge index (B·P(P-1) edges), reusing the reference model.

    With padding (mask: (P,) with N < P ones) the padded atoms take part in every pair and are
    masked out as in the original transferable TBG: messages times the edge mask, h times the node
    mask, the velocity's mean over the real atoms."""

    def __init__(self, model: EGNNField, features: torch.Tensor, batch: int, mask: torch.Tensor | None = None):
        self.model = model
        self.n = features.shape[0]
        self.batch = batch
        self.counts = [self.n] * batch
        self.edges = make_edges(self.counts)
        self.mol = torch.arange(batch).repeat_interleave(self.n)
        self.features = features.repeat(batch, 1)
        self.node_mask = None if mask is None else mask.repeat(batch).unsqueeze(1)         # (B·P, 1)
        if mask is not None:
            row, col = self.edges
            self.edge_mask = self.node_mask[row] * self.node_mask[col]                     # (E, 1)

    def __call__(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """x: (B, P, 3), t: (B,) -> v (B, P, 3)."""
        if self.node_mask is None:
            v = self.model(x.reshape(-1, 3), self.features, t, self.counts, edges=self.edges, mol=self.mol)
            return v.reshape(x.shape)
        m_, (row, col), nm, em = self.model, self.edges, self.node_mask, self.edge_mask
        xf = x.reshape(-1, 3)
        h = m_.embedding(torch.cat([self.features.to(x.dtype), t.to(x.dtype)[self.mol].unsqueeze(1)], dim=1)) * nm
        diff0 = xf[row] - xf[col]
        d2 = (diff0 * diff0).sum(dim=1, keepdim=True)
        xl = xf
        for l in range(m_.layers):
            g = m_.gcl(l)
            diff = xl[row] - xl[col]
            radial = (diff * diff).sum(dim=1, keepdim=True)
            unit = diff / (torch.sqrt(radial + 1e-8) + 1.0)
            m = g.edge_mlp(torch.cat([h[row], h[col], radial, d2], dim=1))
            m = m * g.att_mlp(m) * em
            s = torch.tanh(g.coord_mlp(m))
            xl = xl + torch.zeros_like(xl).index_add_(0, row, unit * s * em * g.coords_weight)
            agg = torch.zeros_like(h).index_add_(0, row, m)
            h = (h + g.node_mlp(torch.cat([h, agg], dim=1))) * nm
        v = ((xl - xf) * nm).reshape(x.shape)
        mask = nm.reshape(x.shape[0], -1, 1)
        return (v - v.sum(dim=1, keepdim=True) / mask.sum(dim=1, keepdim=True)) * mask


class DenseForward:
    """Dense (B, N, N) pairs; same parameters and maths as EGNNField."""

    def __init__(self, model: EGNNField, features: torch.Tensor, batch: int, mask: torch.Tensor | None = None):
        self.model = model
        n = features.shape[0]
        self.features = features
        self.offdiag = (1.0 - torch.eye(n, dtype=features.dtype)).unsqueeze(0).unsqueeze(-1)  # (1,N,N,1)
        # Padding (original transferable TBG): pairs with a padded atom are masked, h times the node mask.
        self.node_mask = None if mask is None else mask.view(1, n, 1)
        if mask is not None:
            self.offdiag = self.offdiag * mask.view(1, n, 1, 1) * mask.view(1, 1, n, 1)

    def __call__(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        m_ = self.model
        b, n, _ = x.shape
        hid = m_.hidden
        mask = self.offdiag.to(x.dtype)
        feats = self.features.to(x.dtype).unsqueeze(0).expand(b, n, -1)
        h = m_.embedding(torch.cat([feats, t.to(x.dtype).view(b, 1, 1).expand(b, n, 1)], dim=2))
        nm = self.node_mask
        if nm is not None:
            h = h * nm
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
            if nm is not None:
                h = h * nm
            xl = x_new
        v = xl - x
        if nm is None:
            return v - v.mean(dim=1, keepdim=True)
        v = v * nm
        return (v - v.sum(dim=1, keepdim=True) / nm.sum(dim=1, keepdim=True)) * nm


IMPLS = {"edge_index": EdgeIndexForward, "dense": DenseForward}


MODELS = {"ad2": dict(hidden=64, layers=5, features=21, atoms=22, pad_to=22, batch=256),
          "2aa": dict(hidden=128, layers=9, features=76, atoms=36, pad_to=51, batch=400)}


def mean_free(shape, dtype=torch.float32, mask=None):
    """Gaussian, mean-free over the atoms; with mask (P,), zero on padded atoms and mean-free over the real ones."""
    z = torch.randn(shape, dtype=dtype)
    if mask is None:
        return z - z.mean(dim=1, keepdim=True)
    m = mask.view(1, -1, 1).to(dtype)
    z = z * m
    return (z - z.sum(dim=1, keepdim=True) / m.sum()) * m


def make_model(spec, seed=0):
    """The model, one-hot features for spec['pad_to'] atoms (zero rows for padding) and the node mask (None unpadded)."""
    torch.manual_seed(seed)
    k, n, p = spec["features"], spec["atoms"], spec["pad_to"]
    model = EGNNField(k, spec["hidden"], spec["layers"])
    with torch.no_grad():
        for l in range(spec["layers"]):
            w = model.gcl(l).coord_mlp[2].weight
            w.uniform_(-0.05, 0.05)
    features = torch.zeros(p, k)
    features[:n] = F.one_hot(torch.randint(0, k, (n,)), k).float()
    mask = None if p == n else (torch.arange(p) < n).float()
    return model, features, mask


def bench_train(impl, threads, batch, steps, warmup, spec):
    torch.set_num_threads(threads)
    model, features, mask = make_model(spec)
    n, p = spec["atoms"], spec["pad_to"]
    fwd = IMPLS[impl](model, features, batch, mask)
    opt = torch.optim.Adam(model.parameters(), lr=5e-4)
    x1 = 3.0 * mean_free((batch, p, 3), mask=mask)  # stand-in data, model units (AD2 ~ Angstrom)
    times = []
    for step in range(warmup + steps):
        t0 = time.perf_counter()
        x0 = mean_free((batch, p, 3), mask=mask)
        eps = mean_free((batch, p, 3), mask=mask)
        t = torch.rand(batch)
        tt = t.view(batch, 1, 1)
        xt = (1 - tt) * x0 + tt * x1 + 0.01 * eps
        opt.zero_grad(set_to_none=True)
        v = fwd(xt, t)
        loss = ((v - (x1 - x0)) ** 2).sum(dim=(1, 2)).div(3 * n).mean()   # padded entries are zero
        loss.backward()
        opt.step()
        dt = time.perf_counter() - t0
        if step >= warmup:
            times.append(dt)
    med = statistics.median(times)
    return {"impl": impl, "threads": threads, "batch": batch, "steps": steps, "median_step_s": med,
            "samples_per_s": batch / med, "min_step_s": min(times)}


def bench_sample(impl, threads, batch, evals, warmup, spec, rk_steps=20):
    """The brute-force trace runs over all 3P coordinates (padded ones included), as the original."""
    torch.set_num_threads(threads)
    model, features, mask = make_model(spec)
    n = spec["pad_to"]
    for p in model.parameters():
        p.requires_grad_(False)
    fwd = IMPLS[impl](model, features, batch, mask)
    x = mean_free((batch, n, 3), mask=mask).reshape(batch, 3 * n)
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


def cpu_model() -> str:
    """The CPU's model name (Linux /proc/cpuinfo), else platform.processor()."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", choices=sorted(MODELS), default="ad2")
    ap.add_argument("--hidden", type=int)
    ap.add_argument("--layers", type=int)
    ap.add_argument("--atoms", type=int, help="real atoms per molecule")
    ap.add_argument("--pad-to", type=int, help="atoms per padded molecule (default: the model's)")
    ap.add_argument("--features", type=int, help="one-hot width")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--impl", nargs="+", default=["edge_index", "dense"], choices=sorted(IMPLS))
    ap.add_argument("--batch", type=int, help="training batch (default: the model's)")
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
    spec = dict(MODELS[args.model])
    for key in ("hidden", "layers", "atoms", "pad_to", "features", "batch"):
        if getattr(args, key) is not None:
            spec[key] = getattr(args, key)
    if args.pad_to is None and args.atoms is not None and args.model == "ad2":
        spec["pad_to"] = spec["atoms"]
    if spec["pad_to"] < spec["atoms"]:
        ap.error("--pad-to must be at least --atoms")

    res = {"torch": torch.__version__, "machine": platform.machine(), "processor": platform.processor(),
           "cpu_model": cpu_model(), "cpu_count": os.cpu_count(),
           "model": {"name": args.model, "hidden": spec["hidden"], "layers": spec["layers"],
                     "input_width": spec["features"] + 1, "atoms": spec["atoms"], "padded_atoms": spec["pad_to"],
                     "dtype": "float32"}, "train": [], "sample": []}
    print(f"CPU: {res['cpu_model']}; model {args.model}: H {spec['hidden']}, L {spec['layers']}, "
          f"{spec['atoms']} atoms padded to {spec['pad_to']}, one-hot width {spec['features']}", flush=True)
    if not args.skip_train:
        for impl in args.impl:
            for th in args.threads:
                r = bench_train(impl, th, spec["batch"], args.train_steps, args.warmup, spec)
                print(f"train  {impl:10s} threads={th}  {r['median_step_s']*1e3:9.1f} ms/step  "
                      f"{r['samples_per_s']:9.1f} samples/s", flush=True)
                res["train"].append(r)
    if not args.skip_sample:
        for impl in args.sample_impl:
            for th in args.threads:
                r = bench_sample(impl, th, args.sample_batch, args.sample_evals, args.sample_warmup, spec)
                print(f"sample {impl:10s} threads={th}  {r['median_eval_s']:9.2f} s/eval(batch {r['batch']})  "
                      f"{r['sample_evals_per_s']:9.1f} evals/s  {r['rk4_samples_per_s']:8.2f} RK4-20 samples/s",
                      flush=True)
                res["sample"].append(r)

    print("\n| task | impl | threads | batch | time | throughput |\n|---|---|---|---|---|---|")
    for r in res["train"]:
        print(f"| train step | {r['impl']} | {r['threads']} | {r['batch']} | {r['median_step_s']*1e3:.1f} ms "
              f"| {r['samples_per_s']:.1f} samples/s |")
    for r in res["sample"]:
        print(f"| v + exact div ({3 * spec['pad_to']} bwd) | {r['impl']} | {r['threads']} | {r['batch']} | "
              f"{r['median_eval_s']:.2f} s | {r['sample_evals_per_s']:.1f} evals/s = "
              f"{r['rk4_samples_per_s']:.2f} samples/s (RK4, 20 steps) |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=2)


if __name__ == "__main__":
    main()
