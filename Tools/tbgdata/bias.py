"""A frozen well-tempered metadynamics bias on the first backbone φ (Tools/FORMAT.md §1.7).

Plain MD of alanine dipeptide at 300 K almost never visits φ > 0 (data.md §3: 0 of 10 000 frames in
10 ns). The generator's biased mode therefore

1. **builds** a bias V(φ) by well-tempered metadynamics (``openmm.app.metadynamics``: a
   ``BiasVariable`` on a ``CustomTorsionForce`` and ``Metadynamics(system, [φ], T, γ, h, stride)``),
   starting from the minimised structure, for ``build_ps``;
2. **freezes** it: the final bias grid V (the bias itself, ``Metadynamics._totalBias``, taken through
   the public ``getFreeEnergy() = -γ/(γ-1) V``) becomes a static
   ``CustomCompoundBondForce(4, "bias_phi(dihedral(p1,p2,p3,p4))")`` with a periodic
   ``Continuous1DFunction`` over [-π, π] — the same tabulated function, with the same periodic
   cubic spline, that the metadynamics force used;
3. equilibrates and runs production under that static bias. Every frame then reweights exactly to
   the unbiased ensemble with w ∝ exp(+V(φ)/kT); with γ = 6 the biased φ density is about
   p(φ)^(1/γ), so both φ basins are visited.

The collective variable is MDTraj's first ``compute_phi`` torsion: C of residue 0, N, CA, C of
residue 1 (for ACE-ALA-NME: C(ACE)-N-CA-C(ALA)), found by atom names, never by index.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import openmm
import openmm.unit as unit

BIAS_KINDS = ("metad_phi",)
BIAS_FORCE_GROUP = 1  # the physical forces stay in group 0 (FORMAT.md §1.1)


@dataclass
class BiasConfig:
    """Settings of the biased mode. Defaults suit alanine dipeptide at 300 K (kT = 2.49 kJ/mol):
    γ = 6 gives ΔT = 1500 K, a bias that levels barriers of ~5 kT to ~1 kT in the biased run;
    Gaussians of 1 kJ/mol (0.4 kT) and σ = 0.35 rad every ps fill the αR/β basin in ~100 ps and
    have converged after 2 ns (heights have decayed by exp(-V/kΔT))."""
    kind: str = "metad_phi"
    build_ps: float = 2000.0
    bias_factor: float = 6.0
    height_kj_mol: float = 1.0
    sigma_rad: float = 0.35
    frequency_ps: float = 1.0
    grid_bins: int = 72  # intervals over [-π, π]; the grid has grid_bins + 1 points, first == last

    @staticmethod
    def from_any(value) -> "BiasConfig | None":
        """None, a kind name (``"metad_phi"``: defaults), a dict of fields, or a BiasConfig."""
        if value is None or isinstance(value, BiasConfig):
            return value
        if isinstance(value, str):
            value = {"kind": value}
        if not isinstance(value, dict):
            raise ValueError(f"bias must be null, a kind name or a mapping (got {value!r})")
        known = set(BiasConfig.__dataclass_fields__)
        extra = set(value) - known
        if extra:
            raise ValueError(f"unknown bias setting(s) {sorted(extra)}; known: {sorted(known)}")
        return BiasConfig(**value)

    def resolved(self, timestep_fs: float) -> "BiasConfig":
        c = BiasConfig(**asdict(self))
        if c.kind not in BIAS_KINDS:
            raise ValueError(f"unknown bias kind {c.kind!r}; choose one of {list(BIAS_KINDS)}")
        for key in ("build_ps", "bias_factor", "height_kj_mol", "sigma_rad", "frequency_ps"):
            setattr(c, key, float(getattr(c, key)))
            if not (math.isfinite(getattr(c, key)) and getattr(c, key) > 0):
                raise ValueError(f"bias {key} must be a positive number (got {getattr(c, key)})")
        if c.bias_factor <= 1:
            raise ValueError(f"bias bias_factor must be > 1 for well-tempered metadynamics (got {c.bias_factor})")
        if int(c.grid_bins) != c.grid_bins or c.grid_bins < 8:
            raise ValueError(f"bias grid_bins must be an integer >= 8 (got {c.grid_bins})")
        c.grid_bins = int(c.grid_bins)
        c.build_steps(timestep_fs)
        c.frequency_steps(timestep_fs)
        return c

    def build_steps(self, timestep_fs: float) -> int:
        return integer_ratio(self.build_ps * 1000.0, timestep_fs, "bias build_ps / timestep")

    def frequency_steps(self, timestep_fs: float) -> int:
        return integer_ratio(self.frequency_ps * 1000.0, timestep_fs, "bias frequency_ps / timestep")


def integer_ratio(a: float, b: float, what: str) -> int:
    """a / b as a positive integer, or ValueError naming `what` (shared by md.RunConfig)."""
    r = a / b
    n = int(round(r))
    if n < 1 or abs(r - n) > 1e-6 * max(1.0, r):
        raise ValueError(f"{what}: {a} / {b} = {r} is not a positive integer")
    return n


def phi_atoms(topology) -> tuple[list[int], list[str]]:
    """(indices, labels) of MDTraj's first φ: C(res 0)-N(res 1)-CA(res 1)-C(res 1), by atom name.

    ``topology`` is an OpenMM ``app.Topology``."""
    residues = list(topology.residues())
    if len(residues) < 2:
        raise ValueError("a φ bias needs at least two residues")

    def atom(res, name):
        found = [a for a in res.atoms() if a.name == name]
        if len(found) != 1:
            raise ValueError(f"residue {res.name}{res.index} has {len(found)} atoms named {name!r}; "
                             f"cannot define the φ bias")
        return found[0]

    atoms = [atom(residues[0], "C"), atom(residues[1], "N"), atom(residues[1], "CA"), atom(residues[1], "C")]
    return [a.index for a in atoms], [f"{a.residue.name}{a.residue.index}:{a.name}" for a in atoms]


def grid_phi(bins: int) -> np.ndarray:
    """The bias grid's φ values, radians: bins + 1 points from -π to π (the last repeats the first)."""
    return np.linspace(-math.pi, math.pi, bins + 1)


def build_bias(system_xml: str, topology, positions, cfg: BiasConfig, temperature_K: float, integrator,
               platform, props, velocity_seed: int, log=lambda m: None, tag: str = "") -> dict:
    """Run well-tempered metadynamics on φ from ``positions``; return the frozen grid and the final
    state (positions, velocities) for production.

    The system is a fresh copy of ``system_xml`` with the metadynamics ``CustomCVForce`` added;
    ``integrator`` is a fresh integrator used only here."""
    from openmm.app import Simulation
    from openmm.app.metadynamics import BiasVariable, Metadynamics

    dt_fs = integrator.getStepSize().value_in_unit(unit.femtosecond)
    system = openmm.XmlSerializer.deserialize(system_xml)
    indices, labels = phi_atoms(topology)
    cv = openmm.CustomTorsionForce("theta")
    cv.addTorsion(*indices, [])
    variable = BiasVariable(cv, -math.pi, math.pi, cfg.sigma_rad, periodic=True, gridWidth=cfg.grid_bins + 1)
    meta = Metadynamics(system, [variable], temperature_K * unit.kelvin, cfg.bias_factor,
                        cfg.height_kj_mol * unit.kilojoule_per_mole, cfg.frequency_steps(dt_fs), saveFrequency=None)
    sim = Simulation(topology, system, integrator, platform, props)
    sim.context.setPositions(positions)
    sim.context.setVelocitiesToTemperature(temperature_K * unit.kelvin, velocity_seed)
    n = cfg.build_steps(dt_fs)
    chunk = max(cfg.frequency_steps(dt_fs), int(round(100_000 / dt_fs)))  # log every 100 ps
    done = 0
    while done < n:
        k = min(chunk, n - done)
        meta.step(sim, k)
        done += k
        grid = _bias_grid(meta, cfg.bias_factor)
        log(f"{tag} bias build {done * dt_fs / 1000:.0f}/{cfg.build_ps:.0f} ps: V from {grid.min():.2f} to "
            f"{grid.max():.2f} kJ/mol, φ = {meta.getCollectiveVariables(sim)[0]:+.2f} rad")
    grid = _bias_grid(meta, cfg.bias_factor)
    if grid.shape != (cfg.grid_bins + 1,) or not np.all(np.isfinite(grid)):
        raise RuntimeError(f"{tag} metadynamics bias grid has shape {grid.shape} or non-finite values")
    grid[-1] = grid[0]  # periodic: OpenMM's table needs first == last (Metadynamics keeps it so)
    state = sim.context.getState(getPositions=True, getVelocities=True)
    return {"grid_energy": grid, "grid_phi": grid_phi(cfg.grid_bins), "atoms": indices, "atom_labels": labels,
            "positions": state.getPositions(asNumpy=True), "velocities": state.getVelocities(asNumpy=True)}


def _bias_grid(meta, bias_factor: float) -> np.ndarray:
    """The deposited bias V on the grid, kJ/mol, from the public ``getFreeEnergy()``:
    F = -γ/(γ-1) V in well-tempered metadynamics, so V = -(γ-1)/γ F (= ``Metadynamics._totalBias``)."""
    free_energy = np.asarray(meta.getFreeEnergy().value_in_unit(unit.kilojoule_per_mole), dtype=np.float64)
    return -(bias_factor - 1.0) / bias_factor * free_energy.reshape(-1)


def add_frozen_bias(system: openmm.System, atoms, grid_energy: np.ndarray) -> openmm.CustomCompoundBondForce:
    """Add V(φ) = periodic cubic spline through ``grid_energy`` on [-π, π] to ``system`` in force
    group BIAS_FORCE_GROUP; return the force. A 4-particle ``CustomCompoundBondForce`` with
    ``dihedral(p1,p2,p3,p4)`` (the same angle as a torsion's ``theta``): unlike CustomTorsionForce
    it takes tabulated functions, and unlike CustomCVForce it needs no inner context per step."""
    force = openmm.CustomCompoundBondForce(4, "bias_phi(dihedral(p1,p2,p3,p4))")
    force.addTabulatedFunction("bias_phi", openmm.Continuous1DFunction(
        [float(v) for v in grid_energy], -math.pi, math.pi, True))
    force.addBond(list(atoms), [])
    force.setForceGroup(BIAS_FORCE_GROUP)
    system.addForce(force)
    return force


def interpolate_bias(grid_energy: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """V at ``phi`` (radians) by the periodic cubic spline through the grid, as OpenMM's periodic
    ``Continuous1DFunction`` (for checks and analysis; the run itself uses OpenMM's)."""
    from scipy.interpolate import CubicSpline
    spline = CubicSpline(grid_phi(len(grid_energy) - 1), grid_energy, bc_type="periodic")
    return spline(np.mod(np.asarray(phi) + math.pi, 2 * math.pi) - math.pi)
