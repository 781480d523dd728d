"""Distorted molecular geometries for energy tests (Tools/make_energy_fixtures.py, FORMAT.md §1.1).

All functions work on float64 positions in nm of shape (N, 3) and return new arrays; the input
is never modified. The distortions probe the parts of an energy implementation that MD frames
do not reach (data.md §6.4 "stress tests"):

* :func:`displace` -- independent Gaussian displacements per coordinate (bond/angle strain, close
  non-bonded contacts);
* :func:`scale_about_centroid` -- compression (clashes, GB radii overlap) or stretching (pairs
  beyond the 2 nm cutoff of ``amber14-obc1``);
* :func:`engulf_hydrogen` -- one hydrogen moved to a tiny distance from its bonded heavy atom
  along the bond, so that the heavy atom's scaled GB sphere engulfs the hydrogen's
  (rho_H < s_heavy - r): GBSAOBCForce then adds its extra term ``2(1/rho_i - 1/L)``, the
  amber14 CustomGBForce (OBC1 expression) does not (data.md §6.3, §6.4).
"""
from __future__ import annotations

import numpy as np
import openmm

GB_OFFSET_NM = 0.009  # GBSAOBCForce dielectric offset (radius - offset = rho)


def displace(positions: np.ndarray, std_nm: float, rng: np.random.Generator) -> np.ndarray:
    """``positions`` plus independent N(0, std_nm^2) displacements of every coordinate."""
    pos = np.asarray(positions, dtype=np.float64)
    return pos + rng.normal(0.0, std_nm, size=pos.shape)


def scale_about_centroid(positions: np.ndarray, factor: float) -> np.ndarray:
    """Scale all positions by ``factor`` about their (unweighted) centroid."""
    pos = np.asarray(positions, dtype=np.float64)
    c = pos.mean(axis=0)
    return c + factor * (pos - c)


def gb_radii(system: openmm.System):
    """Per-particle ``(rho, s)`` in nm of the System's GB force (offset radius, scaled offset radius).

    ``GBSAOBCForce``: rho = radius - 0.009, s = scale * rho. ``CustomGBForce`` (implicit/obc1.xml):
    the per-particle parameters ``or`` (= rho) and ``sr`` (= s). Returns ``(name, rho, s)``.
    """
    for f in system.getForces():
        if isinstance(f, openmm.GBSAOBCForce):
            rho, s = [], []
            for i in range(f.getNumParticles()):
                _q, r, scale = f.getParticleParameters(i)
                r = r.value_in_unit(openmm.unit.nanometer) if hasattr(r, "value_in_unit") else float(r)
                rho.append(r - GB_OFFSET_NM)
                s.append(float(scale) * (r - GB_OFFSET_NM))
            return "GBSAOBCForce", np.array(rho), np.array(s)
        if isinstance(f, openmm.CustomGBForce):
            names = [f.getPerParticleParameterName(k) for k in range(f.getNumPerParticleParameters())]
            if "or" not in names or "sr" not in names:
                continue
            io, js = names.index("or"), names.index("sr")
            params = np.array([f.getParticleParameters(i) for i in range(f.getNumParticles())], dtype=np.float64)
            return "CustomGBForce", params[:, io].copy(), params[:, js].copy()
    raise ValueError("the System has no GBSAOBCForce and no CustomGBForce with 'or'/'sr' parameters")


def pick_engulf_hydrogen(topology, system: openmm.System, distance_nm: float):
    """The (hydrogen, heavy atom) bond whose hydrogen is most deeply engulfed at ``distance_nm``.

    ``topology`` is an MDTraj or OpenMM topology. The engulf condition for the Born integral of
    the hydrogen i over the heavy atom j is rho_i < s_j - r; the margin ``s_j - r - rho_i`` must
    be positive. Ties go to the lowest hydrogen index. Returns ``(h, heavy, margin_nm, gb_name)``;
    raises ValueError if no hydrogen qualifies.
    """
    name, rho, s = gb_radii(system)
    best = None
    for bond in topology.bonds:
        a, b = (bond[0], bond[1]) if not hasattr(bond, "atom1") else (bond.atom1, bond.atom2)
        for h, x in ((a, b), (b, a)):
            if _is_h(h) and not _is_h(x):
                margin = s[x.index] - distance_nm - rho[h.index]
                key = (round(-margin, 12), h.index)
                if best is None or key < best[0]:
                    best = (key, h.index, x.index, float(margin))
    if best is None or best[3] <= 0:
        raise ValueError(f"no hydrogen is engulfed at {distance_nm} nm ({name}; best margin "
                         f"{None if best is None else best[3]})")
    return best[1], best[2], best[3], name


def _is_h(atom) -> bool:
    el = atom.element
    sym = getattr(el, "symbol", None)
    return sym == "H"


def engulf_hydrogen(positions: np.ndarray, h: int, heavy: int, distance_nm: float) -> np.ndarray:
    """Move atom ``h`` to ``distance_nm`` from ``heavy`` along their current bond vector."""
    pos = np.array(positions, dtype=np.float64, copy=True)
    v = pos[h] - pos[heavy]
    pos[h] = pos[heavy] + distance_nm * v / np.linalg.norm(v)
    return pos
