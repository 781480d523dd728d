#!/usr/bin/env python3
"""tbg against PyTorch, side by side in one run (issue 14's targets), as ratios.

    .venv-torch/bin/python Tools/reference/compare_torch.py [--model ad2|2aa] [--rounds 3] [--ranks 1 2] [--train-batch B]
        [--sample-batch 64 256] [--skip-train | --skip-sample]

Each round runs, for every rank count r, `tbg bench train` (r MPI ranks) then
`Tools/reference/bench_torch.py` (r threads, both formulations, `edge_index` and `dense`), and on
one core `tbg bench sample` (v + exact divergence, per-sample evaluations/s) then the PyTorch
brute-force trace. Alternating A B A B in one run keeps the two sides under the same load, so the
ratio is meaningful even on a busy host; absolute figures are not. The PyTorch side is the stronger
formulation of each round. Prints a Markdown table of the per-round medians and the median ratio,
with the CPU model, the kernel variant tbg ran, OpenBLAS's kernel (and an OPENBLAS_CORETYPE that forced
it: `--openblas-from-cpu` removes it for tbg) and the torch version; `--json OUT` keeps everything.

Sizes: ad2 is H 64, L 5, 22 atoms, one-hot width 21 (+ t), batch 256. 2aa is H 128, L 9, 36 atoms,
width 76, batch 400; PyTorch pads to 51 atoms as the original transferable TBG, tbg runs unpadded
(what each program does for a 36-atom dipeptide).

Needs a torch environment (`python3 -m venv .venv-torch && .venv-torch/bin/pip install torch numpy`;
never a test dependency) and a release build of tbg. MPI as root: the script sets the variables.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench_torch import cpu_model  # noqa: E402  (the same CPU name the PyTorch side reports)
ROOT = os.path.dirname(os.path.dirname(HERE))
SIZES = {
    "ad2": {"tbg": [], "torch": ["--model", "ad2"]},
    "2aa": {"tbg": ["--atoms", "36", "--hidden", "128", "--layers", "9", "--feature-width", "76"],
            "torch": ["--model", "2aa"]},
}
TRAIN_BATCH = {"ad2": 256, "2aa": 400}


def run_json(cmd: list, env: dict) -> dict:
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        sys.exit(f"compare_torch: {' '.join(cmd)} failed (exit {r.returncode}):\n{r.stderr[-2000:]}")
    lines = [line for line in r.stdout.splitlines() if line.startswith("{")]
    if not lines:
        sys.exit(f"compare_torch: {' '.join(cmd)} printed no JSON:\n{r.stdout[-2000:]}")
    return json.loads(lines[-1])


def memory_gib() -> float:
    """This machine's memory in GiB (0 where /proc/meminfo is not there)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return 0.0


def torch_run(python: str, args: list, env: dict) -> dict:
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "torch.json")
        r = subprocess.run([python, os.path.join(HERE, "bench_torch.py"), *args, "--json", out],
                           capture_output=True, text=True, env=env)
        if r.returncode != 0:
            hint = ""
            if r.returncode == -signal.SIGKILL:
                # The kernel's OOM killer: the padded 2aa step at batch 400 needs more than 24 GB.
                hint = (f"\nit was killed (SIGKILL), most likely out of memory ({memory_gib():.0f} GiB here): "
                        "run again with a smaller --train-batch (64 fits 24 GiB for --model 2aa)")
            sys.exit(f"compare_torch: bench_torch.py {' '.join(args)} failed:\n{r.stderr[-2000:]}{hint}")
        with open(out) as f:
            return json.load(f)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", choices=sorted(SIZES), default="ad2")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--ranks", type=int, nargs="+", default=[1, 2], help="tbg ranks = PyTorch threads")
    ap.add_argument("--train-steps", type=int, default=10)
    ap.add_argument("--train-batch", type=int,
                    help="training batch of both sides (default: the model's, 256 or 400; the padded 2aa PyTorch run "
                         "at 400 needs more than 24 GB)")
    ap.add_argument("--sample-batch", type=int, nargs="+", default=[64],
                    help="samples per timed exact-divergence evaluation (both sides); several: each in every round")
    ap.add_argument("--skip-sample", action="store_true")
    ap.add_argument("--skip-train", action="store_true")
    ap.add_argument("--tbg", default=os.path.join(ROOT, ".build", "release", "tbg"))
    ap.add_argument("--torch-python", default=sys.executable)
    ap.add_argument("--json", metavar="OUT")
    ap.add_argument("--openblas-from-cpu", action="store_true",
                    help="run tbg without OPENBLAS_CORETYPE, so that OpenBLAS picks its kernels for this CPU "
                         "(a host that sets OPENBLAS_CORETYPE=Haswell gives an AVX-512 CPU AVX2 GEMMs)")
    args = ap.parse_args()
    if not os.access(args.tbg, os.X_OK):
        sys.exit(f"compare_torch: no tbg at {args.tbg} (swift build -c release)")
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1")
    forced_core = env.get("OPENBLAS_CORETYPE")
    if args.openblas_from_cpu:
        env.pop("OPENBLAS_CORETYPE", None)   # OpenBLAS detects the CPU itself (PyTorch's MKL/oneDNN always do)
    size = SIZES[args.model]
    train_batch = args.train_batch or TRAIN_BATCH[args.model]
    rows = {}  # (task, ranks) -> list of (tbg, torch_best, torch_impl)
    kernels = None
    openblas_core = None
    for round_ in range(args.rounds):
        for ranks in ([] if args.skip_train else args.ranks):
            cmd = [args.tbg, "bench", "train", *size["tbg"], "--batch", str(train_batch),
                   "--steps", str(args.train_steps), "--json"]
            cmd = (["mpirun", "-np", str(ranks)] + cmd) if ranks > 1 else cmd + ["--mpi", "off"]
            t = run_json(cmd, env)
            kernels = t.get("kernels", kernels)
            openblas_core = t.get("openblas_core") or openblas_core
            p = torch_run(args.torch_python, [*size["torch"], "--threads", str(ranks), "--skip-sample", "--batch", str(train_batch),
                                              "--train-steps", str(args.train_steps)], env)
            best = max(p["train"], key=lambda r: r["samples_per_s"])
            rows.setdefault(("train samples/s", ranks), []).append((t["samples_per_second"], best["samples_per_s"], best["impl"]))
            print(f"round {round_ + 1} train {ranks} rank(s): tbg {t['samples_per_second']:.1f}, "
                  f"torch {best['impl']} {best['samples_per_s']:.1f} samples/s", flush=True)
        for sample_batch in ([] if args.skip_sample else args.sample_batch):
            s = run_json([args.tbg, "bench", "sample", *size["tbg"], "--batch", str(sample_batch),
                          "--repeats", "2", "--adaptive", "0", "--json", "--mpi", "off"], env)
            kernels = s.get("kernels", kernels)
            p = torch_run(args.torch_python, [*size["torch"], "--threads", "1", "--skip-train",
                                              "--sample-impl", "dense", "edge_index",
                                              "--sample-batch", str(sample_batch)], env)
            best = max(p["sample"], key=lambda r: r["sample_evals_per_s"])
            openblas_core = s.get("openblas_core") or openblas_core
            rows.setdefault((f"exact-divergence evaluations/s per sample, batch {sample_batch}", 1), []).append(
                (s["evaluations_per_second"], best["sample_evals_per_s"], best["impl"]))
            print(f"round {round_ + 1} sample 1 core, batch {sample_batch}: tbg {s['evaluations_per_second']:.2f}, "
                  f"torch {best['impl']} {best['sample_evals_per_s']:.2f} evaluations/s", flush=True)

    torch_version = p["torch"]
    blas = f"OpenBLAS core {openblas_core}" + (
        f" (OPENBLAS_CORETYPE={forced_core} in the environment{', removed for tbg' if args.openblas_from_cpu else ''})" if forced_core else "")
    print(f"\nCPU: {cpu_model()} ({os.cpu_count()} cores); tbg kernels {kernels}, {blas}; torch {torch_version}; "
          f"model {args.model}, training batch {train_batch}; {args.rounds} interleaved rounds; load average {os.getloadavg()[0]:.1f}")
    print("\n| task | ranks = threads | tbg (median) | PyTorch, stronger formulation (median) | ratio (median of rounds) |")
    print("|---|---|---|---|---|")
    table = []
    for (task, ranks), values in rows.items():
        ratios = [a / b for a, b, _ in values]
        impls = sorted({impl for _, _, impl in values})
        entry = {"task": task, "ranks": ranks, "tbg": statistics.median(a for a, _, _ in values),
                 "torch": statistics.median(b for _, b, _ in values), "torch_impls": impls,
                 "ratio": statistics.median(ratios), "ratios": ratios}
        table.append(entry)
        print(f"| {task} | {ranks} | {entry['tbg']:.2f} | {entry['torch']:.2f} ({'/'.join(impls)}) | "
              f"{entry['ratio']:.2f}× (rounds {', '.join(f'{r:.2f}' for r in ratios)}) |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"cpu_model": cpu_model(), "kernels": kernels, "openblas_core": openblas_core,
                       "openblas_coretype_environment": forced_core, "openblas_from_cpu": args.openblas_from_cpu,
                       "torch": torch_version, "model": args.model,
                       "train_batch": train_batch, "rounds": args.rounds, "table": table}, f, indent=2)


if __name__ == "__main__":
    main()
