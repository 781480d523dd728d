"""One peptide -> one MDTraj-HDF5 trajectory file (the contract is Tools/FORMAT.md).

Protocol (data.md §0): build (§2) -> System (preset) -> minimise (tol 1 kJ/mol/nm) -> validate
(trans omega, L-CA, finite energies) -> velocities at T (seeded) -> equilibration -> production,
one frame every ``save_ps``. Then ``/openmm_system``, ``/metadata`` and ``/reference_energies``
(Reference platform, double precision, one force group per Force) are added.

Crash safety (data.md §7): everything is written to ``<out without .h5>.part.h5`` in the same
directory and ``os.replace``d onto the final name only after the file is complete, so a file
under the final name is always complete. On any error the partial file is removed.
"""
from __future__ import annotations

import datetime as _dt
import json
import math
import os
import shlex
import sys
import time
from dataclasses import asdict, dataclass

import h5py
import mdtraj
import numpy as np
import openmm
import openmm.unit as unit

from . import FORMAT_NAME, FORMAT_VERSION, GAS_CONSTANT_KJ_PER_MOL_K
from .bias import BIAS_FORCE_GROUP, BiasConfig, add_frozen_bias, build_bias
from .bias import integer_ratio
from .durable import durable_replace
from .h5util import fixed_bytes, read_fixed_string, set_fixed_attr, write_fixed_string_dataset
from .peptide import HIS_VARIANT, BUILD_PH, build_peptide, check_sequence, validate_structure
from .presets import get_preset, make_platform, openmm_seed

KJ = unit.kilojoule_per_mole
WRITE_BLOCK = 500  # frames buffered in memory between HDF5 appends
MD_LABEL = "md"  # /reference_energies/labels entry of a stored frame
MINIMIZE_TOLERANCE_KJ_MOL_NM = 1.0  # data.md §0: minimise to 1 kJ/mol/nm before velocities


@dataclass
class RunConfig:
    sequence: str
    termini: str = "zwitterion"
    preset: str = "amber14-obc1"
    name: str | None = None
    production_ps: float = 1000.0
    equilibration_ps: float = 100.0
    save_ps: float = 1.0
    timestep_fs: float | None = None  # None -> preset default
    seed: int = 1
    platform: str | None = None  # None -> preset default
    threads: int | None = None  # CPU only; None -> preset default (1)
    atom_order: str = "openmm"
    reference_frames: int = 10
    bias: dict | None = None  # None: plain MD; else BiasConfig fields (tbgdata/bias.py), e.g. {"kind": "metad_phi"}

    def resolved(self) -> "RunConfig":
        """Fill preset defaults and validate everything before any file is touched."""
        p = get_preset(self.preset)
        check_sequence(self.sequence, self.termini, self.atom_order)
        c = RunConfig(**asdict(self))
        c.name = c.name or c.sequence
        c.production_ps, c.equilibration_ps, c.save_ps = map(float, (c.production_ps, c.equilibration_ps, c.save_ps))
        c.seed = int(c.seed)
        c.timestep_fs = float(p.timestep_fs if c.timestep_fs is None else c.timestep_fs)
        c.platform = c.platform or p.default_platform
        if c.threads is None:
            c.threads = p.default_threads or 1
        for key in ("production_ps", "save_ps", "timestep_fs"):
            if not getattr(c, key) > 0:
                raise ValueError(f"{key} must be > 0 (got {getattr(c, key)}) for {c.name!r}")
        if c.equilibration_ps < 0:
            raise ValueError(f"equilibration_ps must be >= 0 (got {c.equilibration_ps}) for {c.name!r}")
        if c.reference_frames < 1:
            raise ValueError(f"reference_frames must be >= 1 (got {c.reference_frames})")
        c.steps_per_frame()
        c.n_frames()
        c.equilibration_steps()
        bias = BiasConfig.from_any(c.bias)
        c.bias = None if bias is None else asdict(bias.resolved(c.timestep_fs))
        return c

    def bias_config(self) -> BiasConfig | None:
        return BiasConfig.from_any(self.bias)

    _ratio = staticmethod(integer_ratio)

    def steps_per_frame(self) -> int:
        return self._ratio(self.save_ps * 1000.0, self.timestep_fs, "save interval / timestep")

    def n_frames(self) -> int:
        return self._ratio(self.production_ps, self.save_ps, "production / save interval")

    def equilibration_steps(self) -> int:
        if self.equilibration_ps == 0:
            return 0
        return self._ratio(self.equilibration_ps * 1000.0, self.timestep_fs, "equilibration / timestep")


def minimise(context: openmm.Context) -> tuple:
    """Local energy minimisation to ``MINIMIZE_TOLERANCE`` (no step limit), in place; returns the
    minimised positions (N, 3) in nm (float64) and the potential energy in kJ/mol."""
    openmm.LocalEnergyMinimizer.minimize(context, MINIMIZE_TOLERANCE_KJ_MOL_NM * KJ / unit.nanometer, 0)
    state = context.getState(getPositions=True, getEnergy=True)
    positions = np.asarray(state.getPositions(asNumpy=True).value_in_unit(unit.nanometer), dtype=np.float64)
    return positions, state.getPotentialEnergy().value_in_unit(KJ)


def part_path(out: str) -> str:
    """Temporary name next to the final file (``*.part.h5`` is git-ignored)."""
    base = out[:-3] if out.endswith(".h5") else out
    return base + ".part.h5"


def _log_default(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def reference_energies(system_xml: str, positions: np.ndarray):
    """Per-Force energies, total energy and total forces on the OpenMM Reference platform.

    Each Force gets its own force group (System order) and is evaluated with
    ``getState(getEnergy=True, getForces=True, groups={g})``; the total comes from all groups.
    Returns (force_names, energies (F,K), total (F,), forces (F,N,3)), float64, kJ/mol and kJ/mol/nm.
    """
    system = openmm.XmlSerializer.deserialize(system_xml)
    forces = system.getForces()
    if len(forces) > 32:
        raise ValueError("more than 32 forces; cannot give each its own force group")
    for g, f in enumerate(forces):
        f.setForceGroup(g)
    names = [f.__class__.__name__ for f in forces]
    ctx = openmm.Context(system, openmm.VerletIntegrator(0.001 * unit.picosecond),
                         openmm.Platform.getPlatformByName("Reference"))
    nf, n = positions.shape[0], positions.shape[1]
    energies = np.zeros((nf, len(forces)), dtype=np.float64)
    total = np.zeros(nf, dtype=np.float64)
    frc = np.zeros((nf, n, 3), dtype=np.float64)
    for i in range(nf):
        ctx.setPositions(positions[i])
        for g in range(len(forces)):
            st = ctx.getState(getEnergy=True, getForces=True, groups={g})
            energies[i, g] = st.getPotentialEnergy().value_in_unit(KJ)
        st = ctx.getState(getEnergy=True, getForces=True)
        total[i] = st.getPotentialEnergy().value_in_unit(KJ)
        frc[i] = st.getForces(asNumpy=True).value_in_unit(KJ / unit.nanometer)
    del ctx
    return names, energies, total, frc


def reference_frame_indices(n_frames: int, k: int) -> np.ndarray:
    """F = min(k, T) distinct frame rows spread evenly from the first to the last frame."""
    f = min(k, n_frames)
    if f == 1:
        return np.array([n_frames - 1], dtype=np.int32)
    return np.round(np.linspace(0, n_frames - 1, f)).astype(np.int32)


def write_reference_group(h: h5py.File, system_xml: str, positions: np.ndarray, frame_index: np.ndarray,
                          labels: list | None = None, tag: str = "") -> h5py.Group:
    """Evaluate ``positions`` (F, N, 3) on the Reference platform and write ``/reference_energies``.

    ``frame_index`` holds the ``/coordinates`` row of each entry, or -1 for positions that are not
    a stored frame (distorted frames). ``labels`` (optional, one short ASCII string per entry)
    is written as the fixed-length bytes dataset ``labels``. Positions are stored exactly as given
    (float64) and are exactly what was evaluated.
    """
    positions = np.ascontiguousarray(positions, dtype=np.float64)
    frame_index = np.asarray(frame_index, dtype=np.int32)
    if positions.ndim != 3 or positions.shape[0] != frame_index.shape[0]:
        raise ValueError(f"{tag} positions {positions.shape} do not match frame_index {frame_index.shape}")
    if labels is not None and len(labels) != positions.shape[0]:
        raise ValueError(f"{tag} {len(labels)} labels for {positions.shape[0]} entries")
    names, energies, total, forces = reference_energies(system_xml, positions)
    if not (np.all(np.isfinite(energies)) and np.all(np.isfinite(total)) and np.all(np.isfinite(forces))):
        bad = sorted(set(np.nonzero(~np.isfinite(total) | ~np.all(np.isfinite(energies), axis=1))[0].tolist()))
        raise RuntimeError(f"{tag} non-finite reference energies or forces (entries {bad})")
    g = h.create_group("reference_energies")
    g.create_dataset("frame_index", data=frame_index)
    g.create_dataset("positions", data=positions)
    g.create_dataset("energies", data=energies)
    g.create_dataset("total", data=total)
    g.create_dataset("forces", data=forces)
    if labels is not None:
        enc = [fixed_bytes(x) for x in labels]
        g.create_dataset("labels", data=np.array(enc, dtype=f"S{max(len(b) for b in enc)}"))
    for key, val in (("force_names", json.dumps(names)), ("platform", "Reference"), ("precision", "double"),
                     ("openmm_version", openmm.__version__), ("energy_units", "kJ/mol"),
                     ("force_units", "kJ/mol/nm")):
        set_fixed_attr(g, key, val)
    return g


def generate_trajectory(out: str, config: RunConfig, command: str | None = None, log=_log_default,
                        extra_reference=None) -> dict:
    """Run one simulation and write ``out`` atomically. Returns a summary dict (incl. ns/day).

    ``extra_reference``, if given, is called as ``extra_reference(coordinates, topology, system)``
    with the stored frames (float32 cast to float64, (T, N, 3)), the MDTraj topology and the
    OpenMM System, and returns ``(positions (E, N, 3) float64, labels list[str] of length E)``:
    the positions are evaluated after the F regular reference frames with ``frame_index`` -1, and
    ``/reference_energies/labels`` gets ``"md"`` for the F regular frames followed by the E labels.
    """
    cfg = config.resolved()
    out = os.path.abspath(out)
    command = command if command is not None else shlex.join(sys.argv)
    summary = write_atomically(out, lambda tmp: _run(tmp, cfg, command, log, extra_reference))
    summary["file"] = out
    return summary


def write_atomically(out: str, write):
    """Call ``write(tmp)`` to fill the temporary ``*.part.h5`` next to ``out``, then durably rename
    it onto ``out`` (fsync file, rename, fsync folder). On any error the partial file is removed and
    a previous ``out`` stays untouched. Returns what ``write`` returns."""
    out = os.path.abspath(out)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    tmp = part_path(out)
    if os.path.exists(tmp):
        os.remove(tmp)  # stale leftover of an interrupted run
    try:
        result = write(tmp)
        durable_replace(tmp, out)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return result


def append_frames(f, coordinates, time_ps, potential_kj_mol, kinetic_kj_mol) -> None:
    """Append frames to an open ``mdtraj.formats.HDF5TrajectoryFile`` with the dtypes of
    FORMAT.md §1.1 (float32; nm, ps, kJ/mol)."""
    f.write(coordinates=np.asarray(coordinates, dtype=np.float32),
            time=np.asarray(time_ps, dtype=np.float32),
            potentialEnergy=np.asarray(potential_kj_mol, dtype=np.float32),
            kineticEnergy=np.asarray(kinetic_kj_mol, dtype=np.float32))


def stored_frames(h: h5py.File, n_frames: int, n_atoms: int, tag: str = "") -> np.ndarray:
    """The frames MDTraj wrote, as float64 (T, N, 3); refuses a wrong shape or a non-finite value."""
    stored = np.asarray(h["coordinates"][...], dtype=np.float64)
    if stored.shape != (n_frames, n_atoms, 3) or not np.all(np.isfinite(stored)):
        raise RuntimeError(f"{tag} trajectory has bad shape {stored.shape} or non-finite coordinates")
    return stored


def trajectory_metadata(cfg: RunConfig, *, n_frames: int, n_atoms: int, masses: list, threads: int,
                        command: str, pH: float = BUILD_PH) -> dict:
    """The ``/metadata`` object of FORMAT.md §1.3 for a resolved ``cfg`` (callers add optional keys)."""
    preset = get_preset(cfg.preset)
    return {
        "format": FORMAT_NAME, "format_version": FORMAT_VERSION,
        "name": cfg.name, "sequence": cfg.sequence, "termini": cfg.termini, "preset": cfg.preset,
        "forcefield": list(preset.forcefield_files),
        "nonbonded_method": preset.nonbonded_method,
        "nonbonded_cutoff_nm": preset.nonbonded_cutoff_nm,
        "temperature_K": preset.temperature_K,
        "kT_kJ_per_mol": GAS_CONSTANT_KJ_PER_MOL_K * preset.temperature_K,
        "friction_per_ps": preset.friction_per_ps,
        "timestep_fs": cfg.timestep_fs,
        "integrator": "LangevinMiddleIntegrator",
        "constraints": None, "remove_cm_motion": True,
        "save_interval_ps": cfg.save_ps, "equilibration_ps": cfg.equilibration_ps,
        "production_ps": cfg.production_ps, "n_frames": n_frames, "n_atoms": n_atoms,
        "seed": cfg.seed, "platform": cfg.platform, "threads": threads,
        "openmm_version": openmm.__version__, "mdtraj_version": mdtraj.__version__,
        "atom_order": cfg.atom_order, "his_variant": HIS_VARIANT, "pH": float(pH),
        "masses_amu": masses,
        "created": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": command,
    }


def system_masses(system: openmm.System) -> list:
    """Particle masses in Da (``masses_amu``)."""
    return [system.getParticleMass(i).value_in_unit(unit.dalton) for i in range(system.getNumParticles())]


def finish_trajectory_file(h: h5py.File, system_xml: str, metadata: dict, ref_positions: np.ndarray,
                           frame_index: np.ndarray, labels: list | None = None, tag: str = "") -> None:
    """Add ``/openmm_system``, ``/metadata``, ``/reference_energies`` and the root ``title`` to a file
    whose frames MDTraj has written and closed (its first write resets ``title``)."""
    write_fixed_string_dataset(h, "openmm_system", system_xml)
    write_fixed_string_dataset(h, "metadata", json.dumps(metadata))
    write_reference_group(h, system_xml, ref_positions, frame_index, labels, tag)
    set_fixed_attr(h, "title", f"{metadata['name']} {metadata['termini']} {metadata['preset']}")


def _run(path: str, cfg: RunConfig, command: str, log, extra_reference=None) -> dict:
    preset = get_preset(cfg.preset)
    tag = f"[{cfg.name}]"
    ff = preset.forcefield()
    pep = build_peptide(cfg.sequence, cfg.termini, cfg.atom_order, forcefield=ff, seed=cfg.seed)
    system = preset.create_system(pep.topology, ff)
    system_xml = openmm.XmlSerializer.serialize(system)
    platform, props, threads = make_platform(cfg.platform, cfg.threads)
    integrator = preset.integrator(cfg.seed, cfg.timestep_fs)
    context = openmm.Context(system, integrator, platform, props)
    context.setPositions(pep.positions)
    minimized, minimized_energy = minimise(context)
    validate_structure(pep.topology, minimized, f"{cfg.name} ({cfg.sequence}, {cfg.termini}) after minimisation",
                       {"potential": minimized_energy})
    n_eq, spf, n_frames = cfg.equilibration_steps(), cfg.steps_per_frame(), cfg.n_frames()
    bias_cfg = cfg.bias_config()
    log(f"{tag} {cfg.sequence} {cfg.termini} {cfg.preset}: {pep.n_atoms} atoms, platform {cfg.platform}"
        f"{' threads=%d' % threads if cfg.platform == 'CPU' else ''}, dt {cfg.timestep_fs} fs, "
        f"{'' if bias_cfg is None else 'bias %s built over %g ps, ' % (bias_cfg.kind, bias_cfg.build_ps)}"
        f"equilibration {cfg.equilibration_ps} ps, production {cfg.production_ps} ps ({n_frames} frames)")
    t0 = time.perf_counter()
    bias = None
    physical_groups = {f.getForceGroup() for f in system.getForces()}
    if bias_cfg is None:
        context.setVelocitiesToTemperature(preset.temperature_K * unit.kelvin, openmm_seed(cfg.seed + 1))
    else:
        # Biased mode (tbgdata/bias.py): well-tempered metadynamics from the minimised structure, then
        # equilibration and production of a fresh context under the frozen bias (force group 1).
        if BIAS_FORCE_GROUP in physical_groups:
            raise RuntimeError(f"{tag} the System already uses force group {BIAS_FORCE_GROUP}, reserved for the bias")
        del context, integrator
        bias = build_bias(system_xml, pep.topology, minimized, bias_cfg, preset.temperature_K,
                          preset.integrator(cfg.seed + 2, cfg.timestep_fs), platform, props,
                          openmm_seed(cfg.seed + 1), log, tag)
        log(f"{tag} bias built: {_ns_per_day(bias_cfg.build_steps(cfg.timestep_fs), cfg.timestep_fs, time.perf_counter() - t0):.0f} ns/day")
        biased_system = openmm.XmlSerializer.deserialize(system_xml)
        add_frozen_bias(biased_system, bias["atoms"], bias["grid_energy"])
        integrator = preset.integrator(cfg.seed, cfg.timestep_fs)
        context = openmm.Context(biased_system, integrator, platform, props)
        context.setPositions(bias["positions"])
        context.setVelocities(bias["velocities"])
    t_eq0 = time.perf_counter()
    chunk = max(1, int(round(10_000 / cfg.timestep_fs)))  # 10 ps per call keeps Ctrl-C responsive
    done = 0
    while done < n_eq:
        k = min(chunk, n_eq - done)
        integrator.step(k)
        done += k
    t_eq = time.perf_counter() - t_eq0
    if n_eq:
        log(f"{tag} equilibration done: {_ns_per_day(n_eq, cfg.timestep_fs, t_eq):.0f} ns/day")

    mdtop = mdtraj.Topology.from_openmm(pep.topology)
    buf_x, buf_t, buf_pe, buf_ke = [], [], [], []
    bias_energy = np.zeros(n_frames if bias is not None else 0, dtype=np.float64)
    t1 = time.perf_counter()
    next_report = max(1, n_frames // 10)
    with mdtraj.formats.HDF5TrajectoryFile(path, "w") as f:
        f.topology = mdtop
        for k in range(n_frames):
            integrator.step(spf)
            # /potentialEnergy is the physical (unbiased) energy: the bias is in its own force group.
            st = context.getState(getPositions=True, getEnergy=True, groups=physical_groups)
            if bias is not None:
                bias_energy[k] = context.getState(getEnergy=True, groups={BIAS_FORCE_GROUP}) \
                    .getPotentialEnergy().value_in_unit(KJ)
            buf_x.append(st.getPositions(asNumpy=True).value_in_unit(unit.nanometer))
            buf_t.append((k + 1) * cfg.save_ps)
            buf_pe.append(st.getPotentialEnergy().value_in_unit(KJ))
            buf_ke.append(st.getKineticEnergy().value_in_unit(KJ))
            if len(buf_x) >= WRITE_BLOCK or k == n_frames - 1:
                append_frames(f, buf_x, buf_t, buf_pe, buf_ke)
                buf_x, buf_t, buf_pe, buf_ke = [], [], [], []
            if (k + 1) % next_report == 0 or k == n_frames - 1:
                el = time.perf_counter() - t1
                log(f"{tag} production {k + 1}/{n_frames} frames, "
                    f"{_ns_per_day((k + 1) * spf, cfg.timestep_fs, el):.0f} ns/day")
    t_prod = time.perf_counter() - t1
    del context, integrator

    # Extra nodes with h5py, after MDTraj closed the file (MDTraj's first write() resets `title`).
    with h5py.File(path, "r+") as h:
        stored = stored_frames(h, n_frames, pep.n_atoms, tag)
        idx = reference_frame_indices(n_frames, cfg.reference_frames)
        ref_pos = stored[idx]
        labels = None
        if extra_reference is not None:
            extra_pos, extra_labels = extra_reference(stored, mdtop, system)
            labels = [MD_LABEL] * len(idx) + list(extra_labels)
            extra_pos = np.asarray(extra_pos, dtype=np.float64).reshape(-1, pep.n_atoms, 3)
            ref_pos = np.concatenate([ref_pos, extra_pos], axis=0)
            idx = np.concatenate([idx, np.full(extra_pos.shape[0], -1, dtype=np.int32)])
        meta = trajectory_metadata(cfg, n_frames=n_frames, n_atoms=pep.n_atoms, masses=system_masses(system),
                                   threads=threads, command=command, pH=pep.pH)
        if bias is not None:
            meta["bias"] = dict(bias_cfg.__dict__, cv="phi", cv_atoms=bias["atoms"], cv_atom_labels=bias["atom_labels"],
                                temperature_K=preset.temperature_K, force_group=BIAS_FORCE_GROUP,
                                weights="w = exp(+bias_energy / kT)")
            if not np.all(np.isfinite(bias_energy)):
                raise RuntimeError(f"{tag} non-finite bias energies")
            write_bias(h, bias, bias_cfg, bias_energy, preset.temperature_K)
        finish_trajectory_file(h, system_xml, meta, ref_pos, idx, labels, tag)

    speed = _ns_per_day(n_frames * spf, cfg.timestep_fs, t_prod)
    log(f"{tag} done: {n_frames} frames, production {speed:.0f} ns/day, wall {time.perf_counter() - t0:.1f} s")
    return {"name": cfg.name, "sequence": cfg.sequence, "termini": cfg.termini, "preset": cfg.preset,
            "n_atoms": pep.n_atoms, "n_frames": n_frames, "temperature_K": preset.temperature_K,
            "ns_per_day": speed, "seconds": time.perf_counter() - t0}


def write_bias(h: h5py.File, bias: dict, cfg: BiasConfig, bias_energy: np.ndarray, temperature_K: float) -> None:
    """``/bias_energy`` (per frame, kJ/mol) and the frozen grid ``/bias/grid_phi``, ``/bias/grid_energy``
    with the settings as attributes (FORMAT.md §1.7)."""
    d = h.create_dataset("bias_energy", data=np.asarray(bias_energy, dtype=np.float64))
    set_fixed_attr(d, "units", "kilojoules_per_mole")
    g = h.create_group("bias")
    set_fixed_attr(g.create_dataset("grid_phi", data=bias["grid_phi"]), "units", "radians")
    set_fixed_attr(g.create_dataset("grid_energy", data=bias["grid_energy"]), "units", "kilojoules_per_mole")
    set_fixed_attr(g, "kind", cfg.kind)
    set_fixed_attr(g, "cv", "phi")
    g.attrs["cv_atoms"] = np.asarray(bias["atoms"], dtype=np.int32)
    set_fixed_attr(g, "cv_atom_labels", json.dumps(bias["atom_labels"]))
    set_fixed_attr(g, "interpolation", "periodic cubic spline on [-pi, pi] (OpenMM Continuous1DFunction)")
    for key, val in (("bias_factor", cfg.bias_factor), ("height_kj_mol", cfg.height_kj_mol),
                     ("sigma_rad", cfg.sigma_rad), ("build_ps", cfg.build_ps), ("frequency_ps", cfg.frequency_ps),
                     ("temperature_K", temperature_K)):
        g.attrs[key] = np.float64(val)
    g.attrs["grid_bins"] = np.int32(cfg.grid_bins)


def _ns_per_day(steps: int, dt_fs: float, seconds: float) -> float:
    return steps * dt_fs * 1e-6 / max(seconds, 1e-9) * 86400.0


def read_metadata(path: str) -> dict:
    with h5py.File(path, "r") as h:
        return json.loads(read_fixed_string(h["metadata"]))


def is_complete(path: str) -> bool:
    """True if ``path`` is a finished trajectory file (all nodes present, frame count matches)."""
    try:
        with h5py.File(path, "r") as h:
            meta = json.loads(read_fixed_string(h["metadata"]))
            return (meta.get("format") == FORMAT_NAME
                    and h["coordinates"].shape[0] == meta["n_frames"]
                    and "openmm_system" in h and "reference_energies/total" in h
                    and (meta.get("bias") is None or "bias_energy" in h))
    except Exception:
        return False
