#!/usr/bin/env python3
"""The table of samplers at equal target-energy budgets (issue 13, field.md §4-5), from tbg evaluate.

  python Tools/sampler_table.py --row snis E1.json W1.seconds --row smc E2.json W2.seconds … \
      [--paired smc 1 SNIS_M_S1.json SMC_M_S1.json …] [--out table.md]

Each row: a name, the `tbg evaluate --json` output of that sampler's samples against the MD
reference, and a file holding its wall time in seconds (for a sampler on top of a flow pool, the
pool's sampling time, or its share, included). Columns: the sampler (flow = SNIS on tbg sample's
proposals, smc, mcmc, md), the target-energy evaluations the samples cost (/samples@energy_evaluations),
wall time, samples, ESS, energy W2 (kT) and torsion W2 (rad) of the snis_tbg protocol (samples
resampled by their weights against as many MD frames; for equally weighted samples simply the
samples), and the reweighted ΔF between 0 < φ < 2.15 rad and the rest (kT) with its standard error
and its difference from the MD reference's. (The unweighted proposal's metrics are left out: every
sampler here claims the Boltzmann distribution.)

A W2 between M samples and M MD frames is biased upward at small M and moves with the seed (which
draws SNIS's resampled set and, for a biased reference, the M MD frames), so rows of different M
are not comparable as they stand. Each `--paired NAME SEED SNIS_JSON RUN_JSON` is one pairing: tbg
evaluate of the SNIS pool and of run NAME at the same --max-points M and --seed (hence the same MD
frames); a second table lists them per run, with how often the run's W2 is below SNIS's.
"""
import argparse
import json
import math
import sys


def f(v, d=2, pct=False):
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    return f"{100 * v:.{d}f} %" if pct else f"{v:.{d}f}"


class RowError(Exception):
    pass


def _evaluation(path, what):
    """The `tbg evaluate --json` object in PATH; RowError naming WHAT and the file otherwise."""
    try:
        with open(path) as fh:
            ev = json.load(fh)
    except (OSError, json.JSONDecodeError) as error:
        raise RowError(f"{what}: {path}: {error}; expected the output of tbg evaluate --json")
    if not isinstance(ev, dict):
        raise RowError(f"{what}: {path}: not a JSON object; expected the output of tbg evaluate --json")
    return ev


def row(name, evaluate_path, seconds_path):
    ev = _evaluation(evaluate_path, f"row {name}")
    try:
        with open(seconds_path) as fh:
            seconds = float(fh.read().strip())
    except (OSError, ValueError) as error:
        raise RowError(f"row {name}: {seconds_path}: {error}; expected one number, the wall time in seconds")
    tbg = ev.get("snis_tbg") or {}
    rew = ev.get("reweighted") or {}
    dF = rew.get("delta_f_kT") or {}
    md = (ev.get("md") or {}).get("delta_f_kT") or {}
    return {"name": name, "sampler": ev.get("sampler"), "evaluations": ev.get("energy_evaluations"), "seconds": seconds,
            "samples": ev["counts"]["valid"], "ess": tbg.get("ess"), "energy_w2": tbg.get("energy_w2_kT"),
            "torsion_w2": tbg.get("torsion_w2"), "resampled": tbg.get("resampled"),
            "delta_f": dF.get("value"), "delta_f_se": dF.get("standard_error"),
            "md_delta_f": md.get("value"), "md_delta_f_se": md.get("standard_error")}


def table(rows):
    out = ["| run | sampler | energy evaluations | wall (s) | valid samples | ESS | M | energy W2 (kT) | torsion W2 (rad) | ΔF (kT) | ΔF − MD (kT) |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        dF = "–" if r["delta_f"] is None else f"{r['delta_f']:.2f} ± {f(r['delta_f_se'])}"
        diff = None if r["delta_f"] is None or r["md_delta_f"] is None else r["delta_f"] - r["md_delta_f"]
        out.append(f"| {r['name']} | {r['sampler']} | {r['evaluations']} | {r['seconds']:.1f} | {r['samples']} | {f(r['ess'], 2, True)} | "
                   f"{r['resampled'] if r['resampled'] is not None else '–'} | {f(r['energy_w2'])} | {f(r['torsion_w2'], 3)} | {dF} | {f(diff)} |")
    md = next((r for r in rows if r["md_delta_f"] is not None), None)
    if md:
        out.append("")
        out.append(f"Reference ΔF (biased MD, reweighted by exp(+V/kT)): {md['md_delta_f']:.2f} ± {f(md['md_delta_f_se'])} kT.")
    return "\n".join(out)


def _w2s(path, what):
    ev = _evaluation(path, what)
    tbg = ev.get("snis_tbg") or {}
    m, seed = tbg.get("resampled"), (ev.get("settings") or {}).get("seed")
    if not isinstance(m, int) or isinstance(m, bool) or not isinstance(seed, int) or isinstance(seed, bool):
        raise RowError(f"{what}: {path}: no snis_tbg.resampled and settings.seed; expected the output of tbg evaluate --json")
    return m, seed, tbg.get("energy_w2_kT"), tbg.get("torsion_w2")


def pairs(entries):
    """The paired table's groups from (name, seed, snis_json, run_json) entries: one per run and M."""
    groups = {}
    for name, seed, snis_path, run_path in entries:
        what = f"pairing {name} seed {seed}"
        try:
            seed = int(seed)
        except ValueError:
            raise RowError(f"{what}: the seed must be an integer")
        m_snis, seed_snis, e_snis, t_snis = _w2s(snis_path, what)
        m_run, seed_run, e_run, t_run = _w2s(run_path, what)
        if m_snis != m_run:
            raise RowError(f"{what}: {snis_path} has M = {m_snis}, {run_path} M = {m_run}; a pairing needs the same --max-points")
        if seed_snis != seed or seed_run != seed:
            raise RowError(f"{what}: {snis_path} was evaluated with --seed {seed_snis}, {run_path} with {seed_run}; expected {seed} in both")
        members = groups.setdefault((name, m_run), [])
        if any(member[0] == seed for member in members):
            raise RowError(f"{what}: a second pairing of {name} at M = {m_run} with seed {seed}; each seed once")
        members.append((seed, e_snis, t_snis, e_run, t_run))
    return [(name, m, sorted(members, key=lambda member: member[0])) for (name, m), members in groups.items()]


def _below(members, snis_index, run_index):
    compared = [m for m in members if m[snis_index] is not None and m[run_index] is not None]
    return f"{sum(m[run_index] < m[snis_index] for m in compared)} of {len(compared)}"


def pair_table(groups):
    out = ["Each run against SNIS on the same pool at the run's M and seed (the same MD frames); energy W2 (kT) / torsion W2 (rad):",
           "",
           "| run | M | seeds | SNIS | run | run below SNIS (energy, torsion) |",
           "|---|---|---|---|---|---|"]
    for name, m, members in groups:
        seeds = ", ".join(str(s[0]) for s in members)
        snis = ", ".join(f"{f(s[1])} / {f(s[2], 3)}" for s in members)
        run = ", ".join(f"{f(s[3])} / {f(s[4], 3)}" for s in members)
        out.append(f"| {name} | {m} | {seeds} | {snis} | {run} | {_below(members, 1, 3)}, {_below(members, 2, 4)} |")
    return "\n".join(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--row", nargs=3, action="append", metavar=("NAME", "EVALUATE_JSON", "SECONDS_FILE"), required=True)
    ap.add_argument("--paired", nargs=4, action="append", default=[], metavar=("NAME", "SEED", "SNIS_JSON", "RUN_JSON"))
    ap.add_argument("--out")
    a = ap.parse_args(argv)
    try:
        text = table([row(*r) for r in a.row])
        if a.paired:
            text += "\n\n" + pair_table(pairs(a.paired))
    except RowError as error:
        ap.error(str(error))
    if a.out:
        with open(a.out + ".tmp", "w") as fh:
            fh.write(text + "\n")
        import os
        os.replace(a.out + ".tmp", a.out)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
