#!/usr/bin/env python3
"""One milestone row of the AD2 campaign's learning curve (README "The AD2 campaign").

  python Tools/campaign_milestone.py --checkpoint CK --samples S.h5 --evaluate E.json --nll N.jsonl \\
      --core-hours 3.2 [--curve Configs/models/ad2-curve.json] [--note "…"] [--replace]
  python Tools/campaign_milestone.py --curve Configs/models/ad2-curve.json      # table and PNG only

Appends the row to the curve (JSON list), then prints the markdown table and draws the curve as a
PNG beside the JSON. Inputs: the checkpoint (step, validation losses), `tbg sample` output
(evaluations per sample, log weights), `tbg evaluate --json` of those samples against the test
trajectory (valid fraction, ESS, energy and torsion W2, ΔF), `tbg nll --json` of test frames.

ESS and W2 columns are the field's two SNIS protocols as `tbg evaluate` reports them (field.md §4,
Evaluation/SNISProtocols.swift): "TBG" (snis_tbg) = Kish ESS over the valid samples (bond graph and
chirality after the mirror fix), W2 over samples resampled by their weights; "clip" (snis_clipped,
Prose/SBG) = every sample whose integration finished, invalid ones kept with their raw energies,
after dropping the top 0.2 % of log weights. For an evaluate output from before the protocols (no
snis_* keys), TBG falls back to the reweighted metrics and clip to the top 0.2 % dropped from the
valid samples' log weights only.
"""
import argparse
import json
import math
import os
import sys

import h5py
import numpy as np

DIMS = 63  # 3(N−1) for alanine dipeptide


def kish(logw):
    logw = np.asarray(logw, float)
    logw = logw[np.isfinite(logw)]
    if logw.size == 0:
        return None
    w = np.exp(logw - logw.max())
    return float(w.sum() ** 2 / (logw.size * (w * w).sum()))


def row_from(a):
    with h5py.File(a.checkpoint, "r") as f:
        config = json.loads(f.attrs["config"])
        step = int(f.attrs["step"])
        val = f["history/validation_loss"][:]
        val_ema = f["history/validation_loss_ema"][:] if "history/validation_loss_ema" in f else []
    scaling = config["model"]["scaling"]
    nll = np.array([json.loads(l)["nll"] for l in open(a.nll) if l.strip()])
    ev = json.load(open(a.evaluate))
    with h5py.File(a.samples, "r") as f:
        s = f["samples"]
        valid = np.asarray(s["topology_ok"][:], bool) & np.asarray(s["chirality_ok"][:], bool)
        logw = np.asarray(s["log_weight"][:], float)[valid]
        evals = float(np.ravel(s.attrs["evaluations_per_sample"])[0]) if "evaluations_per_sample" in s.attrs else None
        rt = np.asarray(s["roundtrip_log_q_error"][:], float) if "roundtrip_log_q_error" in s else np.array([])
    rt = rt[np.isfinite(rt)]
    kept = np.sort(logw[np.isfinite(logw)])
    drop = int(math.ceil(0.002 * kept.size)) if kept.size else 0
    rew = ev["reweighted"]
    tbg = ev.get("snis_tbg") or {}
    clip = ev.get("snis_clipped") or {}
    dF = rew.get("delta_f_kT") or {}
    md_dF = (ev.get("md") or {}).get("delta_f_kT") or {}
    return {
        "step": step, "samples_seen": step * config["data"]["frames_per_peptide"], "core_hours": a.core_hours,
        "validation_loss": float(val[-1]) if len(val) else None,
        "validation_loss_ema": float(val_ema[-1]) if len(val_ema) else None,
        "nll_frames": int(nll.size), "nll": float(nll.mean()),
        "nll_se": float(nll.std(ddof=1) / math.sqrt(nll.size)) if nll.size > 1 else None,
        "nll_bgflow": float(nll.mean()) - 0.5 * DIMS * math.log(2 * math.pi),
        "nll_nm": float(nll.mean()) - DIMS * math.log(scaling),
        "evaluations_per_sample": evals, "samples": int(valid.size),
        "valid_fraction": ev["counts"]["valid_fraction"],
        "ess_tbg": tbg["ess"] if "ess" in tbg else ev["counts"]["ess"],
        "ess_clip": clip["ess"] if "ess" in clip else (kish(kept[:kept.size - drop]) if kept.size else None),
        "energy_w2_clip_kT": clip.get("energy_w2_kT"), "torsion_w2_clip_rad": clip.get("torsion_w2"),
        "protocols": bool(tbg),
        "log_weight_spread": float(np.std(kept)) if kept.size else None,
        "roundtrip_log_q_error_median": float(np.median(rt)) if rt.size else None,
        "energy_w2_kT": tbg["energy_w2_kT"] if "energy_w2_kT" in tbg else rew.get("energy_w2_kT"),
        "torsion_w2_rad": tbg["torsion_w2"] if "torsion_w2" in tbg else rew.get("torus_w2"),
        "delta_f_kT": dF.get("value"), "delta_f_se": dF.get("standard_error"),
        "md_delta_f_kT": md_dF.get("value"), "md_delta_f_se": md_dF.get("standard_error"),
        "delta_f_minus_md_kT": rew.get("delta_f_minus_md_kT"),
        "checkpoint": a.checkpoint, "note": a.note,
    }


def f(v, d=3, pct=False):
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    return f"{100 * v:.{d}f} %" if pct else f"{v:.{d}f}"


def table(rows):
    out = ["| step | samples seen | core-hours | val. loss (raw / EMA) | test NLL ± se | bgflow | evals/sample | valid | ESS TBG / clip | energy W2 TBG / clip (kT) | torsion W2 TBG / clip (rad) | ΔF (kT) | MD ΔF (kT) |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        dF = "–" if r["delta_f_kT"] is None else f"{r['delta_f_kT']:.2f} ± {f(r['delta_f_se'], 2)}"
        mdF = "–" if r["md_delta_f_kT"] is None else f"{r['md_delta_f_kT']:.2f} ± {f(r['md_delta_f_se'], 2)}"
        out.append(f"| {r['step']} | {r['samples_seen']:.3g} | {f(r['core_hours'], 1)} | {f(r['validation_loss'])} / {f(r['validation_loss_ema'])} | "
                   f"{f(r['nll'], 2)} ± {f(r['nll_se'], 2)} | {f(r['nll_bgflow'], 2)} | {f(r['evaluations_per_sample'], 1)} | "
                   f"{f(r['valid_fraction'], 1, True)} ({r['samples']}) | {f(r['ess_tbg'], 2, True)} / {f(r['ess_clip'], 2, True)} | "
                   f"{f(r['energy_w2_kT'], 2)} / {f(r.get('energy_w2_clip_kT'), 2)} | {f(r['torsion_w2_rad'], 3)} / {f(r.get('torsion_w2_clip_rad'), 3)} | {dF} | {mdF} |")
    return "\n".join(out)


def plot(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    x = [r["samples_seen"] for r in rows]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    axes[0].plot(x, [r["nll"] for r in rows], "o-")
    # TBG + full's published AD2 NLL, −127.06 in the bgflow convention, normalised (method.md §8.5).
    axes[0].axhline(-127.06 + 0.5 * DIMS * math.log(2 * math.pi), color="grey", lw=0.8, ls=":", label="TBG+full paper")
    axes[0].legend(fontsize=8)
    axes[0].set_ylabel("test NLL (normalised, Å)")
    axes[1].plot(x, [100 * (r["ess_tbg"] or 0) for r in rows], "o-", label="TBG")
    axes[1].plot(x, [100 * (r["ess_clip"] or 0) for r in rows], "s--", label="0.2 % clip")
    axes[1].axhline(6.03, color="grey", lw=0.8, ls=":", label="TBG+full paper")
    axes[1].set_ylabel("ESS (%)")
    axes[1].legend(fontsize=8)
    axes[2].plot(x, [r["valid_fraction"] for r in rows], "o-")
    axes[2].set_ylabel("valid fraction")
    from matplotlib.ticker import NullFormatter
    for ax in axes:
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())  # the minor labels of a short log axis overlap
        ax.set_xlabel("training samples")
    fig.suptitle("AD2 campaign")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint")
    ap.add_argument("--samples")
    ap.add_argument("--evaluate")
    ap.add_argument("--nll")
    ap.add_argument("--core-hours", type=float)
    ap.add_argument("--note", default="")
    ap.add_argument("--replace", action="store_true",
                    help="the new row replaces the curve's row of the same step (the same model re-evaluated, "
                         "e.g. with more samples pooled by tbg pool) instead of being refused")
    ap.add_argument("--curve", default="Configs/models/ad2-curve.json")
    a = ap.parse_args(argv)
    rows = json.load(open(a.curve)) if os.path.exists(a.curve) else []
    if a.checkpoint:
        missing = [k for k in ("samples", "evaluate", "nll", "core_hours") if getattr(a, k) is None]
        if missing:
            ap.error("a new row needs --samples, --evaluate, --nll and --core-hours")
        row = row_from(a)
        same = [r for r in rows if r["step"] == row["step"]]
        if same and not a.replace:
            print(f"error: {a.curve} has a row for step {row['step']} already ({same[0]['samples']} samples); "
                  "pass --replace to replace it with this evaluation", file=sys.stderr)
            return 2
        if same:
            print(f"replacing the row of step {row['step']} ({same[0]['samples']} samples) with {row['samples']} samples",
                  file=sys.stderr)
        rows = [r for r in rows if r["step"] != row["step"]] + [row]
        rows.sort(key=lambda r: r["step"])
        os.makedirs(os.path.dirname(a.curve) or ".", exist_ok=True)
        with open(a.curve + ".tmp", "w") as fh:
            json.dump(rows, fh, indent=1)
        os.replace(a.curve + ".tmp", a.curve)
    if not rows:
        print(f"error: {a.curve} has no rows", file=sys.stderr)
        return 2
    plot(rows, os.path.splitext(a.curve)[0] + ".png")
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
