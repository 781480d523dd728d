#!/usr/bin/env python3
"""Write the energy-test fixtures into Tests/Fixtures/energy/ (one small file per peptide).

Each file is a trajectory file in the Tools/FORMAT.md layout (short MD: 5 ps equilibration, 4
frames 1 ps apart, seed 2024) whose ``/reference_energies`` holds OpenMM Reference energies,
per-force energies and total forces for F = 10 position sets, in this order:

  row  label              frame_index  positions
  0-3  md                 0..3         the 4 stored frames (float32 -> float64)
  4-6  displaced-0.05nm   -1           frames 0, 1, 2 + N(0, 0.05 nm) per coordinate
  7    compressed-0.7     -1           frame 3 scaled by 0.7 about its centroid
  8    stretched-1.5      -1           the frame with the largest pair distance, scaled by 1.5 about its
                                       centroid (WW: pairs beyond the 2 nm cutoff of amber14-obc1)
  9    engulf-H           -1           frame 1 with one H moved to 0.004 nm from its bonded heavy atom

Displacements use ``numpy.random.default_rng(DISPLACE_SEED[name])`` (drawn in row order). If a
distortion gives a non-finite Reference energy, the next seed is tried and the script says so.
The engulf hydrogen is the one whose GB sphere is most deeply engulfed by its heavy atom's scaled
sphere (rho_H < s_heavy - r, see tbgdata/distort.py); for GBSAOBCForce (AD) this activates the
extra "engulf" term, for the amber14 CustomGBForce the formula must not change (data.md §6.4).
The script checks this with a numpy GB (tbgdata/gbnumpy.py): the GB energy of the engulf-H entry
must match numpy with the term (GBSAOBCForce) or without it (CustomGBForce) to 1e-9 kJ/mol, and the
other variant must differ by more than 1e-3 kJ/mol.

    .venv/bin/python Tools/make_energy_fixtures.py [--out Tests/Fixtures/energy] [--only AD WW]

Prints a JSON summary (sizes, energy ranges per label, engulf atoms, largest pair distances).
"""
import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import openmm  # noqa: E402

from tbgdata.gbnumpy import gb_energy, gb_parameters  # noqa: E402
from tbgdata.distort import displace, engulf_hydrogen, pick_engulf_hydrogen, scale_about_centroid  # noqa: E402
from tbgdata.h5util import read_fixed_string  # noqa: E402
from tbgdata.md import RunConfig, generate_trajectory, reference_energies  # noqa: E402

MD = dict(production_ps=4.0, equilibration_ps=5.0, save_ps=1.0, seed=2024, reference_frames=4)
ZW = dict(termini="zwitterion", preset="amber14-obc1", atom_order="openmm", **MD)
PEPTIDES = {
    "AD": RunConfig(sequence="A", termini="capped", preset="amber99sbildn-obc2", name="AD", atom_order="amber", **MD),
    "WD": RunConfig(sequence="WD", name="WD", **ZW),  # aromatic Trp + charged Asp
    "KE": RunConfig(sequence="KE", name="KE", **ZW),  # charged Lys / Glu
    "GP": RunConfig(sequence="GP", name="GP", **ZW),  # glycine + proline
    "CM": RunConfig(sequence="CM", name="CM", **ZW),  # sulfur: Cys + Met
    "FY": RunConfig(sequence="FY", name="FY", **ZW),  # aromatic
    "HR": RunConfig(sequence="HR", name="HR", **ZW),  # His (HIE) + Arg
    "WW": RunConfig(sequence="WW", name="WW", **ZW),  # largest dipeptide, 51 atoms
}
DISPLACE_STD_NM = 0.05
DISPLACE_SOURCES = (0, 1, 2)
COMPRESS = (3, 0.7)
STRETCH = (None, 1.5)  # None: the MD frame with the largest pair distance
ENGULF = (1, 0.004)
DISPLACE_SEED = {name: 1000 + k for k, name in enumerate(PEPTIDES)}
MAX_SEED_TRIES = 10

LABELS = (["md"] * 4 + [f"displaced-{DISPLACE_STD_NM:g}nm"] * len(DISPLACE_SOURCES)
          + [f"compressed-{COMPRESS[1]:g}", f"stretched-{STRETCH[1]:g}", "engulf-H"])


def _finite(system_xml: str, pos: np.ndarray) -> bool:
    _n, e, t, f = reference_energies(system_xml, pos)
    return bool(np.all(np.isfinite(e)) and np.all(np.isfinite(t)) and np.all(np.isfinite(f)))


def make_extra(name: str, info: dict):
    """The ``extra_reference`` hook of :func:`generate_trajectory` for peptide ``name``."""

    def extra(coords: np.ndarray, topology, system: openmm.System):
        system_xml = openmm.XmlSerializer.serialize(system)
        if coords.shape[0] != 4:
            raise RuntimeError(f"{name}: expected 4 MD frames, got {coords.shape[0]}")
        seed = DISPLACE_SEED[name]
        for attempt in range(MAX_SEED_TRIES):
            rng = np.random.default_rng(seed + attempt)
            disp = np.stack([displace(coords[k], DISPLACE_STD_NM, rng) for k in DISPLACE_SOURCES])
            if _finite(system_xml, disp):
                break
            print(f"[{name}] displacement seed {seed + attempt} gives a non-finite energy; trying the next",
                  file=sys.stderr)
        else:
            raise RuntimeError(f"{name}: no finite displaced frames after {MAX_SEED_TRIES} seeds")
        info["displace_seed"] = seed + attempt
        comp = scale_about_centroid(coords[COMPRESS[0]], COMPRESS[1])
        src = int(np.argmax([_max_pair(x) for x in coords])) if STRETCH[0] is None else STRETCH[0]
        info["stretch_source_frame"] = src
        stretch = scale_about_centroid(coords[src], STRETCH[1])
        h, heavy, margin, gb = pick_engulf_hydrogen(topology, system, ENGULF[1])
        eng = engulf_hydrogen(coords[ENGULF[0]], h, heavy, ENGULF[1])
        atoms = list(topology.atoms)
        info["engulf"] = {"hydrogen": h, "heavy_atom": heavy,
                          "atoms": f"{atoms[h].residue}-{atoms[h].name} / {atoms[heavy].residue}-{atoms[heavy].name}",
                          "distance_nm": ENGULF[1], "margin_nm": round(margin, 6), "gb_force": gb}
        extra_pos = np.concatenate([disp, comp[None], stretch[None], eng[None]])
        return extra_pos, LABELS[4:]

    return extra


def _max_pair(pos: np.ndarray) -> float:
    d = np.linalg.norm(pos[:, None, :] - pos[None, :, :], axis=-1)
    return float(d.max())


def summarize(path: str, info: dict) -> dict:
    with h5py.File(path, "r") as h:
        g = h["reference_energies"]
        labels = [x.decode() for x in g["labels"][...]]
        total = g["total"][...]
        pos = g["positions"][...]
        names = json.loads(read_fixed_string(g.attrs["force_names"]))
        energies = g["energies"][...]
        fmax = np.abs(g["forces"][...]).max(axis=(1, 2))
    by_label = {}
    for lab in dict.fromkeys(labels):
        rows = [i for i, x in enumerate(labels) if x == lab]
        by_label[lab] = {"total_kJ_mol": [round(float(total[i]), 3) for i in rows],
                         "max_abs_force": [float(f"{fmax[i]:.4g}") for i in rows],
                         "max_pair_nm": [round(_max_pair(pos[i]), 3) for i in rows]}
    with h5py.File(path, "r") as h:
        system = openmm.XmlSerializer.deserialize(read_fixed_string(h["openmm_system"]))
    gbp = gb_parameters(system)
    gb_col = names.index(gbp["name"])
    row = labels.index("engulf-H")
    ref = float(energies[row, gb_col])
    with_term, without = gb_energy(gbp, pos[row], True), gb_energy(gbp, pos[row], False)
    good, other = (with_term, without) if gbp["name"] == "GBSAOBCForce" else (without, with_term)
    if abs(good - ref) > 1e-9 or abs(other - ref) < 1e-3:
        raise RuntimeError(f"{path}: engulf-H frame does not separate the GB variants: Reference {ref}, "
                           f"numpy with engulf term {with_term}, without {without}")
    info["engulf"].update({"gb_reference_kJ_mol": round(ref, 6), "numpy_with_engulf_term": round(with_term, 6),
                           "numpy_without_engulf_term": round(without, 6)})
    out = {"bytes": os.path.getsize(path), "n_atoms": int(pos.shape[1]), "entries": len(labels),
           "force_names": names, "by_label": by_label}
    out.update(info)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(HERE), "Tests", "Fixtures", "energy"))
    ap.add_argument("--only", nargs="*", choices=sorted(PEPTIDES), help="regenerate only these peptides")
    a = ap.parse_args(argv)
    os.makedirs(a.out, exist_ok=True)
    summary = {}
    for name in a.only or PEPTIDES:
        cfg = PEPTIDES[name]
        path = os.path.join(a.out, f"{name}.h5")
        info = {}
        generate_trajectory(path, cfg, command=f"make_energy_fixtures.py ({name})",
                            extra_reference=make_extra(name, info))
        summary[name] = summarize(path, info)
        print(f"[{name}] {summary[name]['bytes']} bytes", file=sys.stderr, flush=True)
    total = sum(os.path.getsize(os.path.join(a.out, f)) for f in os.listdir(a.out) if f.endswith(".h5"))
    summary["_total_bytes"] = total
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
