#!/usr/bin/env python3
"""Write the small committed test fixtures into Tests/Fixtures/ (each well under 200 kB).

* ad2_capped.h5    ACE-ALA-NME, amber99sbildn-obc2, amber atom order, 20 frames, reference energies on 5
* ks_zwitterion.h5 KS zwitterion, amber14-obc1, 20 frames, reference energies on 5
* vl_zwitterion.h5 VL zwitterion, amber14-obc1, 10 frames: Val Cβ and Leu Cγ carry two graph-equivalent
                   methyls (not stereocentres) beside the true Cα centres, for the chirality tests
* h5py_types.h5    written with h5py only: chunked/compressed, int/float, fixed/vlen strings, attributes,
                   for the Swift HDF5 wrapper's cross-library tests

Short MD (5 ps equilibration, 0.5 ps frames) and fixed seeds, so this runs in well under a minute.
Prints a JSON summary of what it wrote.
"""
import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import h5py  # noqa: E402
import numpy as np  # noqa: E402

from tbgdata.md import RunConfig, generate_trajectory  # noqa: E402

FIXTURE_RUNS = {
    "ad2_capped.h5": RunConfig(sequence="A", termini="capped", preset="amber99sbildn-obc2", name="AD",
                               production_ps=10.0, equilibration_ps=5.0, save_ps=0.5, seed=2024,
                               atom_order="amber", reference_frames=5),
    "ks_zwitterion.h5": RunConfig(sequence="KS", termini="zwitterion", preset="amber14-obc1", name="KS",
                                  production_ps=10.0, equilibration_ps=5.0, save_ps=0.5, seed=2024,
                                  atom_order="openmm", reference_frames=5),
    "vl_zwitterion.h5": RunConfig(sequence="VL", termini="zwitterion", preset="amber14-obc1", name="VL",
                                  production_ps=5.0, equilibration_ps=5.0, save_ps=0.5, seed=2024,
                                  atom_order="openmm", reference_frames=2),
}


def write_h5py_types(path: str) -> dict:
    """Cross-library HDF5 fixture, written with h5py only (no PyTables/MDTraj)."""
    tmp = path + ".tmp"
    with h5py.File(tmp, "w") as f:
        f.create_dataset("chunked_f32", data=np.arange(120, dtype=np.float32).reshape(10, 4, 3) * 0.5,
                         maxshape=(None, 4, 3), chunks=(3, 4, 3), compression="gzip", shuffle=True)
        f.create_dataset("f64", data=np.linspace(-1, 1, 7))
        f.create_dataset("i32", data=np.array([-3, -2, -1, 0, 1, 2, 3], dtype=np.int32))
        f.create_dataset("i64", data=np.array([2**40, -5], dtype=np.int64))
        g = f.create_group("grp")
        g.create_dataset("fixed_str", data=np.array([b'{"key": "value"}'], dtype="S16"))
        g.create_dataset("vlen_str", data=["alpha", "βeta", "Ünïcödé"], dtype=h5py.string_dtype("utf-8"))
        f.attrs["fixed_attr"] = np.bytes_(b"fixed value")
        f.attrs["vlen_attr"] = "variable value ✓"
        f.attrs["int_attr"] = np.int64(42)
        f.attrs["float_attr"] = np.float64(2.5)
        f.attrs["f32_array_attr"] = np.array([1.5, 2.5, 3.5], dtype=np.float32)
    os.replace(tmp, path)
    with h5py.File(path, "r") as f:
        return {"datasets": {n: [list(o.shape), str(o.dtype)] for n, o in _walk(f)},
                "attrs": sorted(f.attrs.keys())}


def _walk(f):
    out = []
    f.visititems(lambda n, o: out.append((n, o)) if isinstance(o, h5py.Dataset) else None)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(HERE), "Tests", "Fixtures"))
    ap.add_argument("--only", nargs="+", choices=sorted(FIXTURE_RUNS) + ["h5py_types.h5"],
                    help="write only these fixtures (default: all)")
    a = ap.parse_args(argv)
    os.makedirs(a.out, exist_ok=True)
    wanted = set(a.only or list(FIXTURE_RUNS) + ["h5py_types.h5"])
    summary = {}
    for fname, cfg in FIXTURE_RUNS.items():
        if fname not in wanted:
            continue
        path = os.path.join(a.out, fname)
        s = generate_trajectory(path, cfg, command=f"make_fixtures.py ({fname})")
        summary[fname] = {"name": s["name"], "sequence": s["sequence"], "termini": s["termini"],
                          "preset": s["preset"], "n_atoms": s["n_atoms"], "n_frames": s["n_frames"],
                          "reference_frames": cfg.reference_frames, "bytes": os.path.getsize(path),
                          "ns_per_day": round(s["ns_per_day"])}
    if "h5py_types.h5" in wanted:
        path = os.path.join(a.out, "h5py_types.h5")
        summary["h5py_types.h5"] = write_h5py_types(path)
        summary["h5py_types.h5"]["bytes"] = os.path.getsize(path)
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
