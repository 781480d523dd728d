#!/usr/bin/env python3
"""One milestone row of the transferable model's learning curve (README "The transferable model").

  python Tools/transferable_milestone.py --checkpoint CK --core-hours 1.2 \\
      --peptide KS data/runs/dipeptides-milestone/step-6682/KS/samples.h5 data/runs/dipeptides-milestone/step-6682/KS/evaluate.json \\
      [--peptide WD …] [--curve Configs/models/dipeptides-curve.json] [--note "…"]
  python Tools/transferable_milestone.py --curve Configs/models/dipeptides-curve.json    # table only

Appends the row (one entry per held-out test peptide) to the curve (a JSON list) and prints the
markdown table. A row for a step the curve has already is completed instead of repeated: the new
peptides' entries replace theirs or are added (a milestone can be run peptide by peptide, or run
again after a stop), the held-out NLL is recomputed over all of them, and --core-hours and --note
replace the old ones. Inputs: the checkpoint (step; samples seen from --samples-seen, which the
milestone script takes from `tbg inspect`, or else step × global batch from its dataset's index), and per test
peptide the `tbg sample` output and `tbg evaluate --json --nll-checkpoint` of those samples against
the peptide's MD (valid fraction, NLL of MD frames, and ESS, energy W2 in kT and torsion W2 in rad
under the field's two SNIS protocols, field.md §4: "TBG" = snis_tbg, valid samples only; "clip" =
snis_clipped, Prose/SBG, invalid samples kept with their raw energies and the top 0.2 % of log
weights dropped. Evaluate outputs from before the protocols fall back to the reweighted metrics
for TBG and have no clip values). Held-out NLL is the mean over the test peptides of
their NLL per dimension (÷ 3(N−1)), model units, so peptides of different sizes weigh the same.
"""
import argparse
import json
import math
import os
import sys

import h5py
import numpy as np


def f(x, digits=2, percent=False):
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    return f"{100 * x:.{digits}f} %" if percent else f"{x:.{digits}f}"


def peptide_entry(name, samples_path, evaluate_path):
    with open(evaluate_path) as fh:
        ev = json.load(fh)
    with h5py.File(samples_path, "r") as h:
        count = int(h["samples/log_q"].shape[0])
        evals = float(np.ravel(h["samples"].attrs.get("evaluations_per_sample", float("nan")))[0])
    nll = ev.get("nll") or {}
    rew = ev.get("reweighted") or {}
    tbg = ev.get("snis_tbg") or {}
    clip = ev.get("snis_clipped") or {}
    return {"peptide": name, "samples": count, "valid_fraction": ev["counts"]["valid_fraction"],
            "ess": tbg["ess"] if "ess" in tbg else ev["counts"]["ess"],
            "energy_w2_kT": tbg["energy_w2_kT"] if "energy_w2_kT" in tbg else rew.get("energy_w2_kT"),
            "torsion_w2_rad": tbg["torsion_w2"] if "torsion_w2" in tbg else rew.get("torus_w2"),
            "ess_clip": clip.get("ess"), "energy_w2_clip_kT": clip.get("energy_w2_kT"), "torsion_w2_clip_rad": clip.get("torsion_w2"),
            "proposal_energy_w2_kT": (ev.get("proposal") or {}).get("energy_w2_kT"),
            "nll_per_dimension": nll.get("mean_per_dimension"), "nll": nll.get("mean"), "nll_frames": nll.get("frames"),
            "evaluations_per_sample": evals}


def row_from(a):
    with h5py.File(a.checkpoint, "r") as h:
        config = json.loads(h.attrs["config"])
        step = int(h.attrs["step"])
    peptides = [peptide_entry(name, s, e) for name, s, e in a.peptide]
    if a.samples_seen is not None:
        seen = a.samples_seen
    else:
        # Older checkpoints record no training peptides: step × frames per peptide × the training
        # peptides of the dataset's index (which must then be the one it trained on).
        index = os.path.join(config["data"]["dataset"], "index.json")
        try:
            with open(index) as fh:
                train = sum(p["split"] == "train" for p in json.load(fh)["peptides"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise SystemExit(f"error: cannot count the training peptides of {a.checkpoint} from {index} ({exc}); "
                             f"pass --samples-seen (`tbg inspect --json CHECKPOINT` gives samples_seen)")
        if train == 0:
            raise SystemExit(f"error: {index} has no training peptides, so it is not the set {a.checkpoint} trained on; "
                             f"pass --samples-seen (`tbg inspect --json CHECKPOINT` gives samples_seen)")
        seen = step * config["data"]["frames_per_peptide"] * train
    nlls = [p["nll_per_dimension"] for p in peptides if p["nll_per_dimension"] is not None]
    return {"step": step, "samples_seen": seen, "core_hours": a.core_hours,
            "heldout_nll_per_dimension": sum(nlls) / len(nlls) if nlls else None,
            "peptides": peptides, "note": a.note or ""}


def merge_row(rows, row):
    """Adds `row` to `rows`, or completes the row of the same step (see the module docstring).
    Returns "added" or "updated"."""
    old = next((r for r in rows if r["step"] == row["step"]), None)
    if old is None:
        rows.append(row)
        return "added"
    names = {p["peptide"] for p in row["peptides"]}
    old["peptides"] = [p for p in old["peptides"] if p["peptide"] not in names] + row["peptides"]
    nlls = [p["nll_per_dimension"] for p in old["peptides"] if p["nll_per_dimension"] is not None]
    old["heldout_nll_per_dimension"] = sum(nlls) / len(nlls) if nlls else None
    old["samples_seen"], old["core_hours"] = row["samples_seen"], row["core_hours"]
    if row["note"]:
        old["note"] = row["note"]
    return "updated"


def table(rows):
    out = ["| step | samples seen | core-hours | held-out NLL / dim | peptide | samples | valid | ESS TBG / clip | energy W2 TBG / clip (kT) | torsion W2 TBG / clip (rad) | evals/sample |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        for k, p in enumerate(r["peptides"]):
            head = (f"| {r['step']} | {r['samples_seen']:.2e} | {f(r['core_hours'], 1)} | {f(r['heldout_nll_per_dimension'], 3)} "
                    if k == 0 else "| | | | ")
            out.append(head + f"| {p['peptide']} | {p['samples']} | {f(p['valid_fraction'], 1, True)} | {f(p['ess'], 2, True)} / {f(p.get('ess_clip'), 2, True)} | "
                       f"{f(p['energy_w2_kT'])} / {f(p.get('energy_w2_clip_kT'))} | {f(p['torsion_w2_rad'], 3)} / {f(p.get('torsion_w2_clip_rad'), 3)} | {f(p['evaluations_per_sample'], 1)} |")
    return "\n".join(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint")
    ap.add_argument("--core-hours", type=float)
    ap.add_argument("--peptide", nargs=3, action="append", default=[], metavar=("NAME", "SAMPLES", "EVALUATE"))
    ap.add_argument("--curve", default="Configs/models/dipeptides-curve.json")
    ap.add_argument("--note")
    ap.add_argument("--samples-seen", type=int,
                    help="training samples the checkpoint has seen (`tbg inspect --json`'s samples_seen); "
                         "default: step x frames per peptide x the training peptides of its dataset's index.json")
    a = ap.parse_args(argv)
    rows = json.load(open(a.curve)) if os.path.exists(a.curve) else []
    if a.checkpoint:
        if a.core_hours is None or not a.peptide:
            ap.error("a new row needs --core-hours and at least one --peptide")
        row = row_from(a)
        what = merge_row(rows, row)
        print(f"{what} the row of step {row['step']} in {a.curve}", file=sys.stderr)
        tmp = a.curve + ".part"
        with open(tmp, "w") as fh:
            json.dump(rows, fh, indent=1)
        os.replace(tmp, a.curve)
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
