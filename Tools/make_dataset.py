#!/usr/bin/env python3
"""Generate a dataset folder (one MDTraj-HDF5 file per peptide + index.json), resumably.

  python Tools/make_dataset.py --spec Configs/datasets/dipeptides-quick.yaml --out data/dipeptides-quick --jobs 2
  python Tools/make_dataset.py --seqs KS,AA,GP,CM,WD --split-fractions 0.6,0.2,0.2 \\
      --preset amber14-obc1 --termini zwitterion --ns 0.05 --out data/mini --jobs 2

Re-running the same command skips peptides whose files are complete (data.md §7). `--splits test`
makes only the test peptides (a spec's seeds depend on the peptide's name only, so they are the
files a full run makes), e.g. to evaluate a shipped model on a new machine:

  python Tools/make_dataset.py --spec Configs/datasets/dipeptides-campaign.yaml --out data/dipeptides-campaign --splits test --jobs 2
"""
import argparse
import os
import shlex
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from tbgdata.dataset import load_spec, make_dataset, spec_from_sequences  # noqa: E402
from tbgdata.presets import PRESETS  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--spec", help="dataset spec YAML (Configs/datasets/*.yaml)")
    src.add_argument("--seqs", help="comma-separated sequences, or @file with one per line")
    ap.add_argument("--out", required=True, help="dataset folder")
    ap.add_argument("--jobs", type=int, default=1, help="parallel processes (one per core)")
    ap.add_argument("--splits", help="comma-separated splits to make (train, validation, test; default all), e.g. "
                                     "test alone to evaluate a shipped model on a new machine; the index lists "
                                     "the peptides made so far")
    g = ap.add_argument_group("only with --seqs")
    g.add_argument("--name", default="dataset")
    g.add_argument("--split-fractions", default="1,0,0", help="train,validation,test fractions (by peptide)")
    g.add_argument("--preset", choices=sorted(PRESETS), default="amber14-obc1")
    g.add_argument("--termini", choices=["capped", "zwitterion"], default="zwitterion")
    g.add_argument("--atom-order", choices=["openmm", "amber"], default="openmm")
    length = g.add_mutually_exclusive_group()
    length.add_argument("--ns", type=float, default=None)
    length.add_argument("--production-ps", type=float, default=None)
    g.add_argument("--equilibration-ps", type=float, default=100.0)
    g.add_argument("--save-ps", type=float, default=1.0)
    g.add_argument("--timestep-fs", type=float, default=None)
    g.add_argument("--seed", type=int, default=1)
    g.add_argument("--reference-frames", type=int, default=10)
    a = ap.parse_args(argv)
    command = shlex.join([os.path.basename(sys.argv[0])] + (sys.argv[1:] if argv is None else list(argv)))
    try:
        if a.spec:
            spec = load_spec(a.spec)
        else:
            if a.seqs.startswith("@"):
                with open(a.seqs[1:]) as fh:
                    seqs = [ln.split("#")[0].strip() for ln in fh]
            else:
                seqs = a.seqs.split(",")
            fr = tuple(float(x) for x in a.split_fractions.split(","))
            prod = a.production_ps if a.production_ps is not None else 1000.0 * (a.ns if a.ns is not None else 1.0)
            spec = spec_from_sequences(seqs, fr, name=a.name, preset=a.preset, termini=a.termini,
                                       atom_order=a.atom_order, production_ps=prod,
                                       equilibration_ps=a.equilibration_ps, save_ps=a.save_ps,
                                       timestep_fs=a.timestep_fs, seed=a.seed, reference_frames=a.reference_frames)
        splits = None if a.splits is None else [x.strip() for x in a.splits.split(",") if x.strip()]
        index = make_dataset(spec, a.out, jobs=a.jobs, command=command, splits=splits)
    except (ValueError, RuntimeError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    counts = {s: sum(p["split"] == s for p in index["peptides"]) for s in ("train", "validation", "test")}
    print(f"dataset {index['name']}: {len(index['peptides'])} peptides {counts} in {os.path.abspath(a.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
