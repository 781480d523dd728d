#!/usr/bin/env python3
"""The AD2 training-recipe table from the outputs of Jobs/recipes.sh (README "Training recipes").

  python Tools/recipe_table.py data/runs/recipes            # markdown table on stdout, table.json beside
  python Tools/recipe_table.py --best 2 data/runs/recipes   # the two best recipe folders by NLL (nm)
  python Tools/recipe_table.py --scaling data/ad2-100ns     # 1/std (per nm) of the centred training frames

NLL conventions (method.md §8.5), D = 3(N−1) = 63: normalised = ½|z|² + (D/2) ln 2π − Δ in model
units (what `tbg nll` prints); bgflow = normalised − (D/2) ln 2π (TBG's −127.06); nm = normalised
− D ln(scaling), which compares recipes whose coordinate scaling differs.
"""
import argparse
import glob
import json
import math
import os
import sys

import h5py
import numpy as np


def scaling_of_dataset(folder):
    index = json.load(open(os.path.join(folder, "index.json")))
    sums, count = 0.0, 0
    for entry in index["peptides"]:
        if entry["split"] != "train":
            continue
        for name in entry.get("files", [entry["file"]]):
            with h5py.File(os.path.join(folder, name), "r") as f:
                x = f["coordinates"][:].astype(np.float64)
            x -= x.mean(axis=1, keepdims=True)
            sums += float((x * x).sum())
            count += x.size
    return 1.0 / math.sqrt(sums / count)


def recipe_row(folder):
    name = os.path.basename(folder.rstrip("/"))
    row = {"recipe": name}
    ck = os.path.join(folder, "checkpoint.h5")
    if not os.path.exists(ck):
        return None
    with h5py.File(ck, "r") as f:
        config = json.loads(f.attrs["config"])
        row["step"] = int(f.attrs["step"])
        row["validation_loss"] = float(f["history/validation_loss"][-1]) if len(f["history/validation_loss"]) else None
        ema = f["history/validation_loss_ema"] if "history/validation_loss_ema" in f else []
        row["validation_loss_ema"] = float(ema[-1]) if len(ema) else None
        row["skipped_steps"] = int(f.attrs.get("skipped_steps", 0))
    scaling = config["model"]["scaling"]
    row["scaling"] = scaling
    row["samples_seen"] = row["step"] * config["data"]["frames_per_peptide"]
    seconds = os.path.join(folder, "train_seconds")
    row["train_seconds"] = sum(float(x) for x in open(seconds).read().split()) if os.path.exists(seconds) else None
    nll_file = os.path.join(folder, "nll.jsonl")
    if os.path.exists(nll_file):
        values = np.array([json.loads(line)["nll"] for line in open(nll_file) if line.strip()])
        dims = 63
        row["nll_frames"] = int(values.size)
        row["nll"] = float(values.mean())
        row["nll_se"] = float(values.std(ddof=1) / math.sqrt(values.size)) if values.size > 1 else None
        row["nll_bgflow"] = row["nll"] - 0.5 * dims * math.log(2 * math.pi)
        row["nll_nm"] = row["nll"] - dims * math.log(scaling)
    for path in sorted(glob.glob(os.path.join(folder, "samples-*.h5")), key=lambda p: int(p.rsplit("-", 1)[1][:-3])):
        with h5py.File(path, "r") as f:
            s = f["samples"]
            n = int(s["index"].shape[0])
            valid = np.asarray(s["topology_ok"][:], bool) & np.asarray(s["chirality_ok"][:], bool)
            entry = {"count": n, "valid_fraction": float(valid.mean()),
                     "ess": float(s.attrs["effective_sample_size"][()]) if "effective_sample_size" in s.attrs else None,
                     "evaluations_per_sample": float(s.attrs["evaluations_per_sample"][()]) if "evaluations_per_sample" in s.attrs else None}
        row.setdefault("samples", {})[str(n)] = entry
    return row


def fmt(value, digits=3):
    return "–" if value is None else f"{value:.{digits}f}"


def table(rows):
    lines = ["| recipe | samples seen | wall time (1 core) | validation loss (raw / EMA) | test NLL normalised ± se | bgflow | nm | dopri5 evaluations/sample | valid fraction | ESS |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        evals = next((s["evaluations_per_sample"] for s in r.get("samples", {}).values() if s["evaluations_per_sample"]), None)
        big = max(r.get("samples", {}).values(), key=lambda s: s["count"], default=None)
        quality = (f"{big['valid_fraction']:.3f} ({big['count']})", f"{100 * big['ess']:.2f} %") if big and big["count"] >= 200 else ("–", "–")
        wall = f"{r['train_seconds'] / 60:.0f} min" if r.get("train_seconds") else "–"
        lines.append(f"| {r['recipe']} | {r['samples_seen']:.3g} | {wall} | {fmt(r['validation_loss'])} / {fmt(r['validation_loss_ema'])} | "
                     f"{fmt(r.get('nll'), 2)} ± {fmt(r.get('nll_se'), 2)} | {fmt(r.get('nll_bgflow'), 2)} | {fmt(r.get('nll_nm'), 2)} | "
                     f"{fmt(evals, 1)} | {quality[0]} | {quality[1]} |")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder")
    ap.add_argument("--best", type=int, default=None, help="print the K best recipe names by NLL in nm")
    ap.add_argument("--scaling", action="store_true", help="FOLDER is a dataset: print 1/std of its centred training frames")
    a = ap.parse_args(argv)
    if a.scaling:
        print(f"{scaling_of_dataset(a.folder):.4f}")
        return 0
    rows = [r for r in (recipe_row(d) for d in sorted(glob.glob(os.path.join(a.folder, "*/")))) if r]
    if not rows:
        print(f"error: no recipe runs in {a.folder}", file=sys.stderr)
        return 2
    if a.best:
        ranked = sorted((r for r in rows if r.get("nll_nm") is not None), key=lambda r: r["nll_nm"])
        print("\n".join(r["recipe"] for r in ranked[:a.best]))
        return 0
    with open(os.path.join(a.folder, "table.json"), "w") as fh:
        json.dump(rows, fh, indent=1)
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
