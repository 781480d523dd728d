#!/usr/bin/env python3
"""The dopri5 tolerance trade-off (issue 14, "fewer evaluations per sample"): the same latents
integrated at several tolerances, against the tightest one as the reference.

  .venv/bin/python Tools/tolerance_study.py --checkpoint Configs/models/ad2.h5 \\
      --peptide Tests/Fixtures/ad2_capped.h5 --count 400 --tolerances 1e-3,3e-4,1e-4,3e-5,1e-5 \\
      --out data/runs/tolerance [--np 2] [--json]

Runs `tbg sample` once per tolerance (same seed: sample i starts from the same latent z_i), then
for every tolerance reports
  - evaluations of the vector field per sample (`/samples@evaluations_per_sample`) and CPU seconds
    per sample (all processes of the tbg run; unlike wall time, little affected by other load);
  - the valid fraction and the Kish ESS over the valid samples (the TBG protocol, field.md §4);
  - |Δ log q| against the tightest tolerance, per sample valid at both (median, 95th percentile,
    max; nats), which is the error the importance weights inherit, and the largest coordinate
    difference (nm).
A tolerance is good enough when its log-q error is far below the spread of the log weights (their
standard deviation is printed too): then the ESS it gives is the ESS of the exact flow.
Runs already in OUT (same tolerance, count, seed, checkpoint) are reused, and an interrupted one
continues from its finished chunks (its CPU time then counts the continued part only: rerun it
from scratch for the timing); delete them to rerun.
"""
import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time

import h5py
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def kish(log_weights):
    """Normalised Kish ESS of log weights (nan when empty)."""
    if len(log_weights) == 0:
        return float("nan")
    w = np.exp(log_weights - np.max(log_weights))
    return float(w.sum() ** 2 / (w * w).sum() / len(w))


def read(path):
    with h5py.File(path, "r") as h:
        s = h["samples"]
        return {
            "index": s["index"][()],
            "log_q": s["log_q"][()],
            "log_weight": s["log_weight"][()],
            "valid": (s["topology_ok"][()] != 0) & (s["chirality_ok"][()] != 0),
            "coordinates": h["coordinates"][()],
            "evaluations_per_sample": float(np.ravel(s.attrs["evaluations_per_sample"])[0]),
            "checkpoint_step": int(np.ravel(s.attrs["checkpoint_step"])[0]),
        }


def run_one(args, tolerance, path):
    """Runs tbg sample at `tolerance` into `path` unless a finished run is there.

    Returns (wall seconds, CPU seconds of all its processes). The CPU time hardly depends on other
    load on the machine; the wall time does."""
    timing = path + ".timing.json"
    if os.path.exists(path) and os.path.exists(timing):
        with h5py.File(path, "r") as h:
            made_with = h["samples"].attrs["checkpoint"]
        made_with = made_with.decode() if isinstance(made_with, bytes) else str(made_with)
        if os.path.abspath(made_with) != os.path.abspath(args.checkpoint):
            raise SystemExit(f"tolerance_study: error: {path} was sampled with {made_with}, not {args.checkpoint}; choose another --out")
        with open(timing) as fh:
            t = json.load(fh)
        return t["wall_seconds"], t["cpu_seconds"]
    tbg = os.environ.get("TBG", os.path.join(ROOT, ".build", "release", "tbg"))
    command = [tbg, "sample", "--checkpoint", args.checkpoint, "--peptide", args.peptide, "--count", str(args.count),
               "--seed", str(args.seed), "--tolerance", f"{tolerance:g}", "--out", path, "--progress-seconds", "120",
               "--resume"]   # an interrupted run (its chunks in OUT.chunks/) continues
    if args.np > 1:
        command = ["mpirun", "-np", str(args.np)] + command
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMPI_MCA_rmaps_base_oversubscribe="1")
    print(f"tolerance_study: {' '.join(command)}", file=sys.stderr, flush=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    result = subprocess.run(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    print(result.stdout, end="", file=sys.stderr)
    if result.returncode != 0:
        raise SystemExit(f"tolerance_study: error: tbg sample at tolerance {tolerance:g} exited with status {result.returncode}")
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    with open(timing, "w") as fh:
        json.dump({"wall_seconds": wall, "cpu_seconds": cpu}, fh)
    return wall, cpu


def compare(runs, tolerances):
    """One row per tolerance, against the tightest (smallest) tolerance."""
    tightest = runs[min(tolerances)]
    rows = []
    for tolerance in sorted(tolerances, reverse=True):
        r = runs[tolerance]
        if not np.array_equal(r["index"], tightest["index"]):
            raise SystemExit(f"tolerance_study: error: the runs at {tolerance:g} and {min(tolerances):g} hold different sample indices")
        both = r["valid"] & tightest["valid"]
        dlogq = np.abs(r["log_q"][both] - tightest["log_q"][both])
        dx = np.abs(r["coordinates"][both] - tightest["coordinates"][both]).reshape(int(both.sum()), -1)
        valid_lw = r["log_weight"][r["valid"]]
        rows.append({
            "tolerance": tolerance,
            "samples": int(len(r["index"])),
            "wall_seconds": r["wall_seconds"],
            "cpu_seconds_per_sample": r["cpu_seconds"] / len(r["index"]),
            "evaluations_per_sample": r["evaluations_per_sample"],
            "valid_fraction": float(r["valid"].mean()),
            "ess": kish(valid_lw),
            "log_weight_std": float(np.std(valid_lw)) if len(valid_lw) > 1 else float("nan"),
            "compared": int(both.sum()),
            "log_q_error_median": float(np.median(dlogq)) if len(dlogq) else float("nan"),
            "log_q_error_p95": float(np.percentile(dlogq, 95)) if len(dlogq) else float("nan"),
            "log_q_error_max": float(np.max(dlogq)) if len(dlogq) else float("nan"),
            "coordinate_error_max_nm": float(np.max(dx)) if dx.size else float("nan"),
        })
    return rows


def table(rows, reference):
    def f(x, spec):
        return "–" if x is None or (isinstance(x, float) and not math.isfinite(x)) else format(x, spec)
    lines = [f"| tolerance | evals/sample | CPU s/sample | valid | ESS | std log w | median / p95 / max abs dlog q vs {reference:g} (nats) | max dx (nm) |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['tolerance']:g} | {f(r['evaluations_per_sample'], '.1f')} | {f(r['cpu_seconds_per_sample'], '.3f')} | "
                     f"{100 * r['valid_fraction']:.1f} % | {f(100 * r['ess'], '.2f')} % | {f(r['log_weight_std'], '.2f')} | "
                     f"{f(r['log_q_error_median'], '.2e')} / {f(r['log_q_error_p95'], '.2e')} / {f(r['log_q_error_max'], '.2e')} | "
                     f"{f(r['coordinate_error_max_nm'], '.1e')} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--peptide", required=True)
    parser.add_argument("--count", type=int, default=400)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--tolerances", default="1e-3,3e-4,1e-4,3e-5,1e-5")
    parser.add_argument("--np", type=int, default=1)
    parser.add_argument("--out", required=True, help="folder for the sample files")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON instead of the table")
    args = parser.parse_args(argv)
    try:
        tolerances = [float(t) for t in args.tolerances.split(",")]
    except ValueError:
        parser.error(f"--tolerances: expected comma-separated numbers, got {args.tolerances!r}")
    if len(tolerances) < 2 or any(not (t > 0) for t in tolerances) or len(set(tolerances)) != len(tolerances):
        parser.error("--tolerances: at least two distinct positive tolerances (the smallest is the reference)")
    if args.count < 1:
        parser.error("--count must be at least 1")
    for path in (args.checkpoint, args.peptide):
        if not os.path.isfile(path):
            parser.error(f"{path}: no such file")
    os.makedirs(args.out, exist_ok=True)
    runs = {}
    for tolerance in tolerances:
        path = os.path.join(args.out, f"tol{tolerance:g}-n{args.count}-seed{args.seed}.h5")
        wall, cpu = run_one(args, tolerance, path)
        runs[tolerance] = read(path)
        runs[tolerance]["wall_seconds"], runs[tolerance]["cpu_seconds"] = wall, cpu
    rows = compare(runs, tolerances)
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        step = runs[min(tolerances)]["checkpoint_step"]
        print(f"{args.checkpoint} (step {step}) on {args.peptide}: {args.count} samples, seed {args.seed}, {args.np} rank(s)")
        print(table(rows, min(tolerances)))


if __name__ == "__main__":
    main()
