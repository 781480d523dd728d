"""Check that a trajectory file honours the contract in Tools/FORMAT.md.

Used by the tests and by ``python Tools/check_trajectory.py FILE...``. Recomputes the reference
energies from ``/openmm_system`` + ``/reference_energies/positions`` on the Reference platform.
"""
from __future__ import annotations

import json

import h5py
import mdtraj
import numpy as np

from . import FORMAT_NAME, FORMAT_VERSION, GAS_CONSTANT_KJ_PER_MOL_K
from .h5util import read_fixed_string
from .md import reference_energies

METADATA_KEYS = {
    "format", "format_version", "name", "sequence", "termini", "preset", "forcefield", "nonbonded_method",
    "nonbonded_cutoff_nm", "temperature_K", "kT_kJ_per_mol", "friction_per_ps", "timestep_fs", "integrator",
    "constraints", "remove_cm_motion", "save_interval_ps", "equilibration_ps", "production_ps", "n_frames",
    "n_atoms", "seed", "platform", "threads", "openmm_version", "mdtraj_version", "atom_order",
    "his_variant", "pH", "masses_amu", "created", "command",
}
# Keys a file may add (FORMAT.md §1.3): the biased mode's settings, hydrogen mass repartitioning, and
# the record of a prepared one-frame file (Tools/prepare_peptide.py).
OPTIONAL_METADATA_KEYS = {"bias", "hydrogen_mass_amu", "source", "source_pdb", "minimized_energy_kj_mol"}
REQUIRED_NODES = ("coordinates", "time", "topology", "potentialEnergy", "kineticEnergy", "openmm_system",
                  "metadata", "reference_energies/frame_index", "reference_energies/positions",
                  "reference_energies/energies", "reference_energies/total", "reference_energies/forces")
REF_ATTRS = {"force_names", "platform", "precision", "openmm_version", "energy_units", "force_units"}


class ContractError(AssertionError):
    pass


def _req(cond, msg):
    if not cond:
        raise ContractError(msg)


def variable_length_strings(h: h5py.File) -> list:
    """Names of every variable-length string dataset or attribute in the file (should be none)."""
    bad = []

    def attrs(name, obj):
        for k in obj.attrs:
            t = obj.attrs.get_id(k).get_type()
            if isinstance(t, h5py.h5t.TypeStringID) and t.is_variable_str():
                bad.append(f"{name or '/'}@{k}")
        if isinstance(obj, h5py.Dataset):
            t = obj.id.get_type()
            if isinstance(t, h5py.h5t.TypeStringID) and t.is_variable_str():
                bad.append(name)

    attrs("", h)
    h.visititems(attrs)
    return bad


def check_trajectory_file(path: str, rtol: float = 1e-10) -> dict:
    """Raise :class:`ContractError` on any deviation; return the metadata on success."""
    traj = mdtraj.load(path)
    with h5py.File(path, "r") as h:
        for node in REQUIRED_NODES:
            _req(node in h, f"{path}: missing /{node}")
        meta = json.loads(read_fixed_string(h["metadata"]))
        missing, unknown = METADATA_KEYS - set(meta), set(meta) - METADATA_KEYS - OPTIONAL_METADATA_KEYS
        _req(not missing and not unknown, f"{path}: metadata lacks keys {sorted(missing)} or has unknown keys {sorted(unknown)}")
        _req(meta["format"] == FORMAT_NAME and meta["format_version"] == FORMAT_VERSION, f"{path}: bad format tag")
        T, N = meta["n_frames"], meta["n_atoms"]
        _req(traj.n_frames == T and traj.n_atoms == N, f"{path}: mdtraj sees {traj} but metadata says {T}x{N}")
        _req(h["coordinates"].shape == (T, N, 3) and h["coordinates"].dtype == np.float32, f"{path}: coordinates")
        for k in ("time", "potentialEnergy", "kineticEnergy"):
            _req(h[k].shape == (T,) and h[k].dtype == np.float32, f"{path}: /{k} shape/dtype")
        np.testing.assert_allclose(h["time"][...], meta["save_interval_ps"] * np.arange(1, T + 1), rtol=1e-6)
        _req(len(meta["masses_amu"]) == N, f"{path}: masses_amu length")
        _req(abs(meta["kT_kJ_per_mol"] - GAS_CONSTANT_KJ_PER_MOL_K * meta["temperature_K"]) < 1e-12, "kT")
        for k in ("topology", "openmm_system", "metadata"):
            _req(h[k].shape == (1,) and h[k].dtype.kind == "S", f"{path}: /{k} must be (1,) fixed-length bytes")
        bad = variable_length_strings(h)
        _req(not bad, f"{path}: variable-length strings present: {bad}")
        title = read_fixed_string(h.attrs["title"])
        _req(title == f"{meta['name']} {meta['termini']} {meta['preset']}", f"{path}: title {title!r}")

        if meta.get("bias") is not None:
            _check_bias(path, h, meta, traj)
        g = h["reference_energies"]
        _req(set(g.attrs) == REF_ATTRS, f"{path}: reference_energies attrs {set(g.attrs)}")
        names = json.loads(read_fixed_string(g.attrs["force_names"]))
        _req(read_fixed_string(g.attrs["platform"]) == "Reference", "platform attr")
        _req(read_fixed_string(g.attrs["precision"]) == "double", "precision attr")
        idx = g["frame_index"][...]
        F = idx.shape[0]
        stored = idx >= 0  # -1: positions that are not a row of /coordinates (distorted frames)
        rows = idx[stored]
        _req(g["frame_index"].dtype == np.int32 and F >= 1 and 1 <= rows.size <= T
             and np.all(np.diff(rows) > 0) and rows[-1] < T and np.all(idx[~stored] == -1)
             and np.all(stored[:rows.size]),
             f"{path}: frame_index {idx}")
        pos = g["positions"][...]
        _req(pos.dtype == np.float64 and pos.shape == (F, N, 3), f"{path}: positions shape/dtype")
        _req(np.array_equal(pos[stored], h["coordinates"][...][rows].astype(np.float64)),
             f"{path}: reference positions are not the stored float32 frames")
        if "labels" in g:
            lab = g["labels"]
            _req(lab.dtype.kind == "S" and lab.shape == (F,), f"{path}: labels must be (F,) fixed-length bytes")
            _req(all(x == b"md" for x in lab[...][stored]), f"{path}: stored frames must be labelled 'md'")
        energies, total, forces = g["energies"][...], g["total"][...], g["forces"][...]
        _req(energies.dtype == total.dtype == forces.dtype == np.float64, "reference dtypes must be float64")
        _req(energies.shape == (F, len(names)) and total.shape == (F,) and forces.shape == (F, N, 3), "ref shapes")
        system_xml = read_fixed_string(h["openmm_system"])
        pe = h["potentialEnergy"][...][rows].astype(np.float64)

    names2, e2, t2, f2 = reference_energies(system_xml, pos)
    _req(names2 == names, f"{path}: force_names {names} != System {names2}")
    np.testing.assert_allclose(energies, e2, rtol=rtol, atol=1e-9, err_msg=f"{path}: per-force energies")
    np.testing.assert_allclose(total, t2, rtol=rtol, atol=1e-9, err_msg=f"{path}: total")
    np.testing.assert_allclose(forces, f2, rtol=rtol, atol=1e-8, err_msg=f"{path}: forces")
    np.testing.assert_allclose(energies.sum(1), total, rtol=1e-12, atol=1e-9, err_msg=f"{path}: sum != total")
    cm = [i for i, n in enumerate(names) if n == "CMMotionRemover"]
    _req(all(np.all(energies[:, i] == 0.0) for i in cm), f"{path}: CMMotionRemover column must be 0")
    # Stored float32 energies come from the simulation platform (CPU: single/mixed precision, data.md §9.7).
    np.testing.assert_allclose(pe, total[stored], rtol=0, atol=1e-2, err_msg=f"{path}: /potentialEnergy vs Reference")
    return meta


def _check_bias(path: str, h: h5py.File, meta: dict, traj) -> None:
    """Biased-mode nodes (FORMAT.md §1.7): /bias_energy per frame, finite, kJ/mol, equal to the frozen
    grid interpolated at each stored frame's φ (recomputed by MDTraj)."""
    from .bias import interpolate_bias
    T = meta["n_frames"]
    for node in ("bias_energy", "bias/grid_phi", "bias/grid_energy"):
        _req(node in h, f"{path}: biased file (metadata.bias) lacks /{node}")
    v = h["bias_energy"][...]
    _req(v.shape == (T,) and np.all(np.isfinite(v)), f"{path}: /bias_energy must be {T} finite values")
    _req(read_fixed_string(h["bias_energy"].attrs["units"]) == "kilojoules_per_mole", f"{path}: /bias_energy units")
    grid_phi, grid = h["bias/grid_phi"][...], h["bias/grid_energy"][...]
    _req(grid.shape == grid_phi.shape and grid[0] == grid[-1] and np.isclose(grid_phi[0], -np.pi)
         and np.isclose(grid_phi[-1], np.pi), f"{path}: /bias grid must be periodic over [-pi, pi]")
    atoms = [int(x) for x in h["bias"].attrs["cv_atoms"]]
    phi_idx, phi = mdtraj.compute_phi(traj)
    _req(atoms == [int(x) for x in phi_idx[0]] == meta["bias"]["cv_atoms"],
         f"{path}: bias cv_atoms {atoms} are not MDTraj's first phi {phi_idx[0].tolist()}")
    # float32 coordinates move phi by ~1e-6 rad; the bias slope is at most a few tens of kJ/mol/rad.
    np.testing.assert_allclose(interpolate_bias(grid, phi[:, 0]), v, rtol=0, atol=1e-3,
                               err_msg=f"{path}: /bias_energy vs the grid at each frame's phi")
