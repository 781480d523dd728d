#!/usr/bin/env python3
"""Energy-evaluation benchmark: tbg (Swift) against OpenMM through Python, on the same frames.

    .venv/bin/python Tools/bench_energy.py [--tbg .build/release/tbg] [--frames 10000]
        [--openmm-frames 2000] [--forces] [--json OUT.json] [FILE.h5 ...]

Default files: Tests/Fixtures/energy/AD.h5 and Tests/Fixtures/energy/WW.h5. For each file the
evaluation frames are the file's ``/coordinates`` cycled (frame k = coordinates[k % T]) up to
``--frames``, as float64 nm.

* OpenMM, as a Python user would call it: one Context per platform, built from a fresh
  deserialized copy of ``/openmm_system`` with a VerletIntegrator, and a loop of
  ``context.setPositions(x)`` + ``context.getState(getEnergy=True[, getForces=True])``.
  Platforms: Reference, CPU Threads=1, CPU Threads=2. Each is warmed up on ``--warmup`` frames
  (not timed) and then timed on the first ``--openmm-frames`` frames (default 2000, at most
  ``--frames``); energies/s = timed frames / wall seconds (so a prefix is scaled to a rate).
* tbg: ``TBG bench energy FILE --frames N --threads T --json [--forces]`` for T = 1 and 2; the
  command prints one JSON object with ``energies_per_second`` and ``checksum_kj_mol`` (sum of all
  frame energies). A third, cheap call with ``--frames M --threads 1`` (M = OpenMM frames) gives a
  checksum over the same prefix that OpenMM Reference evaluated; the relative difference is
  printed as a cross-check that both sides evaluated the same frames. If the executable is
  missing or fails, the OpenMM numbers are still printed.
* ``--repeats R`` times everything R times and keeps the fastest (useful on a busy machine).

Ratios in the table: tbg / best OpenMM CPU and tbg / OpenMM Reference (energies/s).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import openmm  # noqa: E402
import openmm.unit as unit  # noqa: E402

from tbgdata.h5util import read_fixed_string  # noqa: E402

KJ = unit.kilojoule_per_mole
DEFAULT_FILES = [os.path.join("Tests", "Fixtures", "energy", "AD.h5"), os.path.join("Tests", "Fixtures", "energy", "WW.h5")]
PLATFORMS = [("OpenMM Reference", "Reference", {}), ("OpenMM CPU 1 thread", "CPU", {"Threads": "1"}),
             ("OpenMM CPU 2 threads", "CPU", {"Threads": "2"})]


def _resolve(path: str) -> str:
    """``path`` as given if it exists, else relative to the repository root."""
    if os.path.isabs(path) or os.path.exists(path):
        return path
    alt = os.path.join(REPO, path)
    return alt if os.path.exists(alt) else path


def load_frames(path: str, n: int):
    """(system_xml, frames (n, N, 3) float64): ``/coordinates`` cycled up to n frames."""
    with h5py.File(path, "r") as h:
        coords = np.asarray(h["coordinates"][...], dtype=np.float64)
        system_xml = read_fixed_string(h["openmm_system"])
    idx = np.arange(n) % coords.shape[0]
    return system_xml, np.ascontiguousarray(coords[idx])


def time_openmm(system_xml: str, frames: np.ndarray, platform: str, props: dict, forces: bool, warmup: int,
                repeats: int = 1):
    """Time ``setPositions`` + ``getState`` over ``frames`` (best of ``repeats`` passes on one Context)."""
    system = openmm.XmlSerializer.deserialize(system_xml)
    ctx = openmm.Context(system, openmm.VerletIntegrator(0.001), openmm.Platform.getPlatformByName(platform), props)
    for k in range(min(warmup, len(frames))):
        ctx.setPositions(frames[k])
        ctx.getState(getEnergy=True, getForces=forces)
    energies = np.empty(len(frames))
    passes = []
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        for k in range(len(frames)):
            ctx.setPositions(frames[k])
            st = ctx.getState(getEnergy=True, getForces=forces)
            energies[k] = st.getPotentialEnergy().value_in_unit(KJ)
        passes.append(time.perf_counter() - t0)
    sec = min(passes)
    used = ctx.getPlatform().getPropertyValue(ctx, "Threads") if platform == "CPU" else None
    del ctx
    return {"platform": platform, "threads": int(used) if used else None, "frames": len(frames),
            "seconds": sec, "energies_per_second": len(frames) / sec, "seconds_per_pass": passes,
            "energy_sum_kj_mol": float(energies.sum()), "finite": bool(np.all(np.isfinite(energies)))}


def run_tbg(tbg: str, path: str, frames: int, threads: int, forces: bool, timeout: float):
    """Run ``tbg bench energy``; returns (result dict or None, error message or None)."""
    cmd = [tbg, "bench", "energy", path, "--frames", str(frames), "--threads", str(threads), "--json"]
    if forces:
        cmd.append("--forces")
    if not os.path.isfile(tbg) or not os.access(tbg, os.X_OK):
        return None, f"tbg executable {tbg!r} not found (build it with `swift build -c release`)"
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, f"`{' '.join(cmd)}` timed out after {timeout:.0f} s"
    if p.returncode != 0:
        err = [ln.strip() for ln in (p.stderr or p.stdout).splitlines() if ln.strip()]
        msg = next((ln for ln in err if "error" in ln.lower()), err[0] if err else "no output")
        return None, f"`{' '.join(cmd)}` failed (exit {p.returncode}): {msg}"
    objs = [ln for ln in p.stdout.splitlines() if ln.strip().startswith("{")]
    try:
        if len(objs) != 1:
            raise ValueError(f"expected one JSON line on stdout, got {len(objs)}")
        res = json.loads(objs[0])
        float(res["energies_per_second"]), float(res["checksum_kj_mol"])
    except (ValueError, KeyError, TypeError) as exc:
        return None, f"`{' '.join(cmd)}` printed no usable JSON ({exc}): {p.stdout.strip()[:200]!r}"
    return res, None


def bench_file(path: str, a) -> dict:
    n = a.frames
    m = min(a.openmm_frames, n)
    system_xml, frames = load_frames(path, n)
    natoms = frames.shape[1]
    out = {"file": path, "atoms": natoms, "frames": n, "openmm_frames": m, "forces": a.forces, "repeats": a.repeats,
           "openmm": {}, "tbg": {}, "messages": []}
    for label, plat, props in PLATFORMS:
        print(f"  timing {label} on {m} frames ...", file=sys.stderr, flush=True)
        out["openmm"][label] = time_openmm(system_xml, frames[:m], plat, props, a.forces, a.warmup, a.repeats)
    for t in (1, 2):
        runs = []
        for _ in range(max(1, a.repeats)):
            res, err = run_tbg(a.tbg, path, n, t, a.forces, a.timeout)
            if err:
                break
            runs.append(res)
        best = max(runs, key=lambda x: float(x["energies_per_second"])) if runs and not err else None
        if best is not None:
            best = dict(best, energies_per_second_per_run=[float(x["energies_per_second"]) for x in runs])
        out["tbg"][f"tbg {t} thread{'s' if t > 1 else ''}"] = best
        if err:
            out["messages"].append(err)
            break  # the other calls would fail the same way
    ref_sum = out["openmm"]["OpenMM Reference"]["energy_sum_kj_mol"]
    check = {"frames": m, "openmm_reference_sum_kj_mol": ref_sum, "tbg_sum_kj_mol": None, "relative_difference": None}
    if out["tbg"].get("tbg 1 thread"):
        if m == n:
            res = out["tbg"]["tbg 1 thread"]
        else:
            res, err = run_tbg(a.tbg, path, m, 1, a.forces, a.timeout)
            if err:
                out["messages"].append(err)
        if res:
            s = float(res["checksum_kj_mol"])
            check["tbg_sum_kj_mol"] = s
            check["relative_difference"] = abs(s - ref_sum) / max(abs(ref_sum), 1e-300)
    out["checksum"] = check
    return out


def print_table(r: dict) -> None:
    om = r["openmm"]
    cpu_best = max(om["OpenMM CPU 1 thread"]["energies_per_second"], om["OpenMM CPU 2 threads"]["energies_per_second"])
    ref = om["OpenMM Reference"]["energies_per_second"]
    what = "energies + forces" if r["forces"] else "energies"
    print(f"\n{r['file']}: {r['atoms']} atoms, {r['frames']} frames ({what})")
    if r["openmm_frames"] < r["frames"]:
        print(f"  OpenMM timed on the first {r['openmm_frames']} frames and scaled to energies/s")
    if r["repeats"] > 1:
        print(f"  best of {r['repeats']} runs each")
    print(f"  {'':24s}{'energies/s':>14s}{'/ OpenMM CPU best':>19s}{'/ OpenMM Reference':>20s}")
    for label, res in r["tbg"].items():
        if res:
            e = float(res["energies_per_second"])
            print(f"  {label:24s}{e:14.0f}{e / cpu_best:19.2f}{e / ref:20.2f}")
        else:
            print(f"  {label:24s}{'n/a':>14s}")
    if "tbg 2 threads" not in r["tbg"]:
        print(f"  {'tbg 2 threads':24s}{'n/a':>14s}")
    for label, res in om.items():
        print(f"  {label:24s}{res['energies_per_second']:14.0f}")
    c = r["checksum"]
    if c["tbg_sum_kj_mol"] is not None:
        print(f"  energy sum over {c['frames']} frames: OpenMM Reference {c['openmm_reference_sum_kj_mol']:.6f}, "
              f"tbg {c['tbg_sum_kj_mol']:.6f} kJ/mol, relative difference {c['relative_difference']:.2e}")
    else:
        print(f"  energy sum over {c['frames']} frames: OpenMM Reference {c['openmm_reference_sum_kj_mol']:.6f} kJ/mol "
              f"(no tbg checksum)")
    for msg in r["messages"]:
        print(f"  note: {msg}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="*", help="trajectory files (default: AD.h5 and WW.h5 of Tests/Fixtures/energy)")
    ap.add_argument("--tbg", default=os.path.join(".build", "release", "tbg"), help="tbg executable")
    ap.add_argument("--frames", type=int, default=10000, help="frames evaluated by tbg (default 10000)")
    ap.add_argument("--openmm-frames", type=int, default=2000,
                    help="frames timed for each OpenMM platform, a prefix of --frames (default 2000)")
    ap.add_argument("--warmup", type=int, default=50, help="untimed OpenMM warm-up frames (default 50)")
    ap.add_argument("--repeats", type=int, default=1,
                    help="time every OpenMM platform and tbg run this many times and keep the fastest (default 1)")
    ap.add_argument("--forces", action="store_true", help="also compute forces (getForces=True / tbg --forces)")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds allowed per tbg call")
    ap.add_argument("--json", metavar="OUT", help="also write all numbers to this JSON file")
    a = ap.parse_args(argv)
    if a.frames < 1 or a.openmm_frames < 1:
        ap.error("--frames and --openmm-frames must be >= 1")
    a.tbg = _resolve(a.tbg)
    files = [_resolve(f) for f in (a.files or DEFAULT_FILES)]
    results = []
    for path in files:
        print(f"benchmarking {path}", file=sys.stderr, flush=True)
        r = bench_file(path, a)
        print_table(r)
        results.append(r)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"openmm_version": openmm.__version__, "tbg": a.tbg, "frames": a.frames,
                       "openmm_frames": a.openmm_frames, "warmup": a.warmup, "forces": a.forces,
                       "results": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
