#!/usr/bin/env python3
"""ΔF between the φ basins by SNIS and by stratified flow BAR at equal flow budgets (issue 13), as a table.

  python Tools/free_energy_table.py --reference E.json --bar B1.h5 [--bar B2.h5 …] [--snis P.json …] [--json]
  python Tools/free_energy_table.py --md-delta-f 3.77:0.11 --bar …

--reference: any `tbg evaluate --json` output against the MD reference (its md.delta_f_kT, e.g. the
biased test segment reweighted by exp(+V/kT)); or --md-delta-f VALUE:ERROR, that reference's ΔF and
standard error in kT (as the README records it), when the MD data are not at hand. --bar: outputs of `tbg free-energy`; each gives two
rows, SNIS on its proposals and stratified BAR (/samples@free_energy), at the cost of the proposals
plus its reverse integrations plus its latent-chain integrations (the SNIS row of a proposals file that
several outputs share is listed once) (`--flow-chains`: forward
integrations of pCN moves; such a row is "stratified BAR, latent chains"; `--position-draws`: the
restricted draws' integrations with the divergence are in the budget, the position-only draws, each a
forward integration without the divergence, are listed beside it with the run's wall time, and the
row is "stratified BAR, position draws"; `--annealed-chains`: the annealed trajectories' forward
integrations join the latent-chain column and the row is "…, annealed"). --snis: `tbg evaluate --json` of larger proposal pools (`tbg pool`),
whose reweighted ΔF is SNIS at that many flow integrations. The flow's integrations (forward for
proposals, reverse for chain states; the same ODE, the same cost per sample) are the budget: the
target-energy evaluations of the chains are listed too, but on this machine they cost seconds
(README "Speed": tens of thousands per second). Then, per estimator, the mean |ΔF − MD| and how
many runs lie within 0.5 kT of MD.
"""
import argparse
import json
import math
import sys

import h5py


class TableError(Exception):
    pass


def _evaluate(path):
    try:
        with open(path) as fh:
            return json.load(fh)
    except (OSError, json.JSONDecodeError) as error:
        raise TableError(f"{path}: {error}; expected the output of tbg evaluate --json")


def reference(path):
    """(ΔF, standard error) of the MD reference of a tbg evaluate output, kT."""
    try:
        d = _evaluate(path)["md"]["delta_f_kT"]
        return float(d["value"]), float(d["standard_error"])
    except (KeyError, TypeError, ValueError):
        raise TableError(f"{path}: no md.delta_f_kT (value, standard_error): evaluate against a reference with "
                         f"both φ basins (the biased test segment)")


def md_value(text):
    """(ΔF, standard error) from VALUE:ERROR, kT."""
    try:
        value, error = (float(x) for x in text.split(":"))
    except ValueError:
        raise TableError(f"--md-delta-f {text!r}: expected VALUE:ERROR in kT, e.g. 3.77:0.11")
    if not (math.isfinite(value) and math.isfinite(error) and error >= 0):
        raise TableError(f"--md-delta-f {text!r}: expected a finite ΔF and a non-negative standard error")
    return value, error


def _count(samples_path):
    with h5py.File(samples_path, "r") as h:
        return int(h["samples/log_q"].shape[0])


def bar_rows(path):
    """The SNIS and BAR rows of one tbg free-energy output."""
    try:
        with h5py.File(path, "r") as h:
            fe = json.loads(h["samples"].attrs["free_energy"])
    except (OSError, KeyError, json.JSONDecodeError) as error:
        raise TableError(f"{path}: {error}; expected the output of tbg free-energy (/samples@free_energy)")
    try:
        proposals = _count(fe["samples_file"])
    except (OSError, KeyError) as error:
        raise TableError(f"{path}: its proposals {fe.get('samples_file')!r} cannot be read ({error}); "
                         f"run from the folder the free-energy command ran in")
    reverse = int(fe["reverse_integrations"])
    latent = int(fe.get("flow_chain_integrations") or 0)
    annealed = int(fe.get("annealed_integrations") or 0)
    restricted = int(fe.get("restricted_draw_integrations") or 0)
    position = int(fe.get("position_draws") or 0)
    base = {"source": path, "proposals": proposals, "proposals_file": fe["samples_file"]}
    estimator = ("stratified BAR" + (", latent chains" if latent else "") + (", position draws" if position else "")
                 + (", annealed" if annealed else ""))
    latent += annealed   # the latent-space integrations: pCN moves of latent chains or annealed trajectories
    return [dict(base, estimator="SNIS", reverse_integrations=0, latent_integrations=0, restricted_integrations=0, position_draws=0,
                 flow_integrations=proposals, energy_evaluations=proposals, delta_f=fe["snis_delta_f_kT"], error=fe["snis_standard_error_kT"]),
            dict(base, estimator=estimator, reverse_integrations=reverse, latent_integrations=latent,
                 restricted_integrations=restricted, position_draws=position,
                 flow_integrations=proposals + reverse + latent + restricted,
                 energy_evaluations=int(fe["energy_evaluations"]), delta_f=fe["delta_f_kT"], error=fe["standard_error_kT"],
                 wall_seconds=fe.get("wall_seconds"))]


def snis_row(path):
    ev = _evaluate(path)
    try:
        d = ev["reweighted"]["delta_f_kT"]
        proposals = int(ev["counts"]["samples"])
    except (KeyError, TypeError):
        raise TableError(f"{path}: no reweighted.delta_f_kT or counts.samples; expected tbg evaluate --json of a tbg sample pool")
    return {"source": path, "estimator": "SNIS", "proposals": proposals, "reverse_integrations": 0, "latent_integrations": 0,
            "restricted_integrations": 0, "position_draws": 0, "flow_integrations": proposals, "energy_evaluations": ev.get("energy_evaluations", proposals),
            "delta_f": d.get("value"), "error": d.get("standard_error")}


def fmt(x, digits=2):
    return "–" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"


def table(rows, md):
    value, se = md
    out = [f"Reference ΔF (MD): {value:.2f} ± {se:.2f} kT", "",
           "| estimator | proposals | reverse integrations | latent-chain or annealed integrations | restricted draws | flow integrations | "
           "position-only draws | energy evaluations | wall s | ΔF (kT) | ΔF − MD (kT) | source |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        diff = None if r["delta_f"] is None else r["delta_f"] - value
        wall = r.get("wall_seconds")
        out.append(f"| {r['estimator']} | {r['proposals']} | {r['reverse_integrations']} | {r['latent_integrations']} | "
                   f"{r['restricted_integrations']} | {r['flow_integrations']} | {r['position_draws']} | "
                   f"{r['energy_evaluations']:.3g} | {fmt(wall, 0) if wall is not None else '–'} | {fmt(r['delta_f'])} ± {fmt(r['error'])} | "
                   f"{fmt(diff)} | `{r['source']}` |")
    out += ["", "| estimator, flow integrations | runs | mean abs(ΔF − MD) (kT) | within 0.5 kT |", "|---|---|---|---|"]
    # One group per estimator and proposal count: runs of one recipe, whose budgets may differ by a
    # few integrations (the latent chains' start checks); the label gives their range.
    groups = {}
    for r in rows:
        groups.setdefault((r["estimator"], r["proposals"], r["position_draws"]), []).append(r)
    for (estimator, _, position), members in sorted(groups.items(), key=lambda kv: (min(r["flow_integrations"] for r in kv[1]), kv[0][0])):
        budgets = sorted({r["flow_integrations"] for r in members})
        budget = str(budgets[0]) if len(budgets) == 1 else f"{budgets[0]}–{budgets[-1]}"
        if position:
            budget += f" + {position} position-only"
        errors = [abs(r["delta_f"] - value) for r in members if r["delta_f"] is not None and math.isfinite(r["delta_f"])]
        mean = sum(errors) / len(errors) if errors else None
        out.append(f"| {estimator}, {budget} | {len(members)} | {fmt(mean)} | {sum(e <= 0.5 for e in errors)} of {len(members)} |")
    return "\n".join(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ref = ap.add_mutually_exclusive_group(required=True)
    ref.add_argument("--reference", metavar="EVALUATE_JSON")
    ref.add_argument("--md-delta-f", metavar="VALUE:ERROR", help="the MD reference's ΔF and its standard error, kT")
    ap.add_argument("--bar", action="append", default=[], metavar="FREE_ENERGY_H5")
    ap.add_argument("--snis", action="append", default=[], metavar="EVALUATE_JSON")
    ap.add_argument("--json", action="store_true", help="print the rows as JSON instead of the table")
    a = ap.parse_args(argv)
    if not a.bar and not a.snis:
        ap.error("give at least one --bar or --snis")
    try:
        md = reference(a.reference) if a.reference else md_value(a.md_delta_f)
        rows = [r for path in a.bar for r in bar_rows(path)] + [snis_row(path) for path in a.snis]
        # Several free-energy runs on one proposals file (e.g. with and without latent chains) share
        # its SNIS estimate: listed once.
        seen = set()
        rows = [r for r in rows if not (r["estimator"] == "SNIS" and "proposals_file" in r
                                        and (r["proposals_file"] in seen or seen.add(r["proposals_file"])))]
    except TableError as error:
        print(f"free_energy_table: error: {error}", file=sys.stderr)
        return 2
    print(json.dumps({"reference": md, "rows": rows}, indent=1) if a.json else table(rows, md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
