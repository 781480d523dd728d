#!/usr/bin/env python3
"""Generate one peptide MD trajectory as an MDTraj-HDF5 file (format: Tools/FORMAT.md).

Examples (data.md §0):
  python Tools/generate_trajectory.py --seq AA --termini zwitterion --preset amber14-obc1 --ns 2 --out data/AA.h5
  python Tools/generate_trajectory.py --seq A --termini capped --preset amber99sbildn-obc2 \\
      --atom-order amber --name AD --ns 2 --out data/AD.h5
"""
import argparse
import json
import os
import shlex
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from tbgdata.md import RunConfig, generate_trajectory  # noqa: E402
from tbgdata.presets import PRESETS  # noqa: E402


def _bias_arg(text):
    if text is None or not text.strip().startswith("{"):
        return text
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SystemExit(f"error: --bias is not a kind name or a JSON object: {exc}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seq", required=True, help="one-letter sequence, e.g. A (with --termini capped) or KS")
    ap.add_argument("--termini", choices=["capped", "zwitterion"], default="zwitterion")
    ap.add_argument("--preset", choices=sorted(PRESETS), default="amber14-obc1")
    ap.add_argument("--name", default=None, help="peptide name stored in metadata (default: the sequence)")
    length = ap.add_mutually_exclusive_group()
    length.add_argument("--ns", type=float, default=None, help="production length in ns (default 1)")
    length.add_argument("--production-ps", type=float, default=None, help="production length in ps")
    ap.add_argument("--equilibration-ps", type=float, default=100.0)
    ap.add_argument("--save-ps", type=float, default=1.0, help="frame interval in ps")
    ap.add_argument("--timestep-fs", type=float, default=None, help="default: preset (1 fs); 0.5 = Timewarp")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--platform", choices=["Reference", "CPU"], default=None, help="default: preset's")
    ap.add_argument("--threads", type=int, default=None, help="CPU platform threads (default 1)")
    ap.add_argument("--atom-order", choices=["openmm", "amber"], default="openmm")
    ap.add_argument("--reference-frames", type=int, default=10,
                    help="frames with Reference-platform per-force energies (default 10)")
    ap.add_argument("--bias", default=None,
                    help="biased mode: 'metad_phi' (defaults) or a JSON object of its settings, e.g. "
                         "'{\"kind\": \"metad_phi\", \"build_ps\": 2000, \"bias_factor\": 6}' (Tools/FORMAT.md §1.7)")
    ap.add_argument("--out", required=True, help="output .h5 file (written atomically)")
    ap.add_argument("--overwrite", action="store_true",
                    help="replace an existing --out once the new run is complete (without it an existing file is refused before the MD starts)")
    a = ap.parse_args(argv)
    # The writer normalises the path (missing/../x.h5 is x.h5): check what it will write.
    if os.path.isdir(a.out) or os.path.isdir(os.path.abspath(a.out)):
        print(f"error: --out {a.out} is a folder; give a file name (.h5)", file=sys.stderr)
        return 2
    if (os.path.lexists(a.out) or os.path.lexists(os.path.abspath(a.out))) and not a.overwrite:
        print(f"error: --out {a.out} exists already and is not replaced: choose another --out, remove it, or pass --overwrite",
              file=sys.stderr)
        return 2
    prod = a.production_ps if a.production_ps is not None else 1000.0 * (a.ns if a.ns is not None else 1.0)
    cfg = RunConfig(sequence=a.seq, termini=a.termini, preset=a.preset, name=a.name, production_ps=prod,
                    equilibration_ps=a.equilibration_ps, save_ps=a.save_ps, timestep_fs=a.timestep_fs,
                    seed=a.seed, platform=a.platform, threads=a.threads, atom_order=a.atom_order,
                    reference_frames=a.reference_frames, bias=_bias_arg(a.bias))
    command = shlex.join([os.path.basename(sys.argv[0])] + (sys.argv[1:] if argv is None else list(argv)))
    try:
        s = generate_trajectory(a.out, cfg, command=command)
    except (ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {s['file']}: {s['n_frames']} frames, {s['n_atoms']} atoms, {s['ns_per_day']:.0f} ns/day")
    return 0


if __name__ == "__main__":
    sys.exit(main())
