#!/usr/bin/env python3
"""Plain MD at a given energy budget, as a samples file that `tbg evaluate` reads like any other.

  python Tools/md_as_samples.py --md data/ad2-test/AD-s201.h5 --evaluations 20000 --out md-20k.h5

The field compares samplers at an equal number of target-energy evaluations (field.md §4). An MD
integrator spends one energy-and-force evaluation per time step, so a budget of B evaluations is
the first B steps of a production run: its first floor(B / steps per frame) saved frames (at least
one), where steps per frame = save_interval_ps / timestep_fs (the generator's /metadata). The
equilibration that preceded production is not counted (it is reported in the output's
/samples@equilibration_steps so a reader can add it).

The output has the MDTraj layout of the input (topology, /openmm_system, /metadata with kind =
"samples") and the per-sample datasets of a tbg sample file (Sampling/SampleFile.swift): energies
from /potentialEnergy, log_weight 0 (MD frames are Boltzmann samples, equally weighted), every
check passed, /samples@sampler = "md", /samples@energy_evaluations = frames × steps per frame.
The input is never modified; the output must be a different path.

Wall time: with --time-steps K, K Langevin steps (the file's /openmm_system, temperature, friction
and time step, OpenMM's CPU platform with 1 thread, from the first frame) are run and timed, and
/samples@wall_seconds holds the measured seconds per step × the budget's steps (the MD row's wall
time on this machine; the file's own trajectory ran on the generator's platform).
"""
import argparse
import json
import os
import sys

import h5py
import numpy as np


def fail(message):
    print(f"md_as_samples: error: {message}", file=sys.stderr)
    sys.exit(2)


def time_md(src, meta, steps):
    """Seconds per Langevin step of the file's System on OpenMM's CPU platform, 1 thread."""
    import time

    import openmm
    from openmm import unit

    system = openmm.XmlSerializer.deserialize(src["openmm_system"][0].decode())
    friction = meta.get("friction_per_ps", 1.0)
    integrator = openmm.LangevinMiddleIntegrator(meta["temperature_K"] * unit.kelvin, friction / unit.picosecond,
                                                 meta["timestep_fs"] * unit.femtosecond)
    integrator.setRandomNumberSeed(1)
    context = openmm.Context(system, integrator, openmm.Platform.getPlatformByName("CPU"), {"Threads": "1"})
    context.setPositions(np.asarray(src["coordinates"][0], float) * unit.nanometer)
    integrator.step(10)
    start = time.perf_counter()
    integrator.step(steps)
    return (time.perf_counter() - start) / steps


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--md", required=True, help="an unbiased MD trajectory of Tools/generate_trajectory.py")
    ap.add_argument("--evaluations", type=int, required=True, help="energy budget B (integration steps)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--overwrite", action="store_true", help="replace an existing --out (without it an existing file is refused)")
    ap.add_argument("--time-steps", type=int, default=0, help="time this many OpenMM steps for /samples@wall_seconds (0: none)")
    a = ap.parse_args(argv)
    if a.evaluations < 1:
        fail("--evaluations must be at least 1")
    if not os.path.isfile(a.md):
        fail(f"{a.md}: no such file; expected an MD trajectory of Tools/generate_trajectory.py")
    # The output may not be the input under any name: same path, a symlink either way, a hard link.
    if os.path.realpath(a.out) == os.path.realpath(a.md) or (os.path.exists(a.out) and os.path.samefile(a.out, a.md)):
        fail(f"--out {a.out} is the input {a.md} (the same file); outputs never overwrite inputs")
    # Work on the normalised path (missing/../x.h5 is x.h5), which is what gets written.
    a.out = os.path.abspath(a.out)
    if os.path.isdir(a.out):
        fail(f"--out {a.out} is a folder; give a file name (.h5)")
    if os.path.lexists(a.out) and not a.overwrite:
        fail(f"--out {a.out} exists already and is not replaced: choose another --out, remove it, or pass --overwrite")
    out_dir = os.path.dirname(os.path.abspath(a.out))
    if not os.path.isdir(out_dir) or not os.access(out_dir, os.W_OK):
        fail(f"--out {a.out}: the folder {out_dir} does not exist or is not writable")
    try:
        source = h5py.File(a.md, "r")
    except OSError as error:
        fail(f"{a.md}: not an HDF5 file ({error}); expected an MD trajectory of Tools/generate_trajectory.py")
    with source as src:
        for name in ("coordinates", "potentialEnergy", "topology", "openmm_system", "metadata"):
            if name not in src:
                fail(f"{a.md}: missing /{name}; expected a trajectory of Tools/generate_trajectory.py")
        if "bias_energy" in src:
            fail(f"{a.md}: a biased run (/bias_energy); plain MD at a budget must be unbiased")
        meta = json.loads(src["metadata"][0])
        for key in ("save_interval_ps", "timestep_fs", "kT_kJ_per_mol"):
            if not isinstance(meta.get(key), (int, float)) or meta[key] <= 0:
                fail(f"{a.md}: /metadata has no positive {key}")
        steps_per_frame = int(round(1000.0 * meta["save_interval_ps"] / meta["timestep_fs"]))
        total = src["coordinates"].shape[0]
        frames = max(1, min(total, a.evaluations // steps_per_frame))
        if a.evaluations > total * steps_per_frame:
            fail(f"{a.md}: holds {total} frames ({total * steps_per_frame} steps); the budget {a.evaluations} is longer")
        units = src["potentialEnergy"].attrs.get("units", b"kilojoules_per_mole")
        if (units.decode() if isinstance(units, bytes) else units) != "kilojoules_per_mole":
            fail(f"{a.md}: /potentialEnergy units are {units!r}; expected kilojoules_per_mole")
        energy = np.asarray(src["potentialEnergy"][:frames], float)
        kT = float(meta["kT_kJ_per_mol"])
        wall = time_md(src, meta, a.time_steps) * frames * steps_per_frame if a.time_steps > 0 else None
        meta.update({"kind": "samples", "n_frames": frames, "source_md_file": a.md})
        tmp = a.out + ".partial"
        with h5py.File(tmp, "w") as out:
            for key, value in src.attrs.items():
                out.attrs[key] = value
            for name in ("topology", "openmm_system"):
                src.copy(src[name], out, name)
            for name in ("coordinates", "time", "potentialEnergy", "kineticEnergy"):
                if name in src:
                    d = out.create_dataset(name, data=src[name][:frames])
                    for key, value in src[name].attrs.items():
                        d.attrs[key] = value
            out.create_dataset("metadata", data=np.array([json.dumps(meta, sort_keys=True).encode()]))
            s = out.create_group("samples")
            n = frames
            s["index"] = np.arange(n, dtype=np.int64)
            s["energy_kj_mol"] = energy
            s["energy_kj_mol"].attrs["units"] = "kilojoules_per_mole"
            s["energy_kT"] = energy / kT
            s["log_weight"] = np.zeros(n)
            for flag in ("integration_ok", "topology_ok", "chirality_ok"):
                s[flag] = np.ones(n, np.uint8)
            s["chirality_fixed"] = np.zeros(n, np.uint8)
            s.attrs["kT_kJ_per_mol"] = [kT]
            s.attrs["energy_evaluations"] = [np.int64(frames * steps_per_frame)]
            s.attrs["equilibration_steps"] = [np.int64(round(1000.0 * meta.get("equilibration_ps", 0) / meta["timestep_fs"]))]
            s.attrs["sampler"] = "md"
            s.attrs["source_md_file"] = os.path.abspath(a.md)
            if wall is not None:
                s.attrs["wall_seconds"] = [wall]
        os.replace(tmp, a.out)
    print(f"md_as_samples: {a.out}: the first {frames} frames of {a.md} ({frames * steps_per_frame} steps of {meta['timestep_fs']} fs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
