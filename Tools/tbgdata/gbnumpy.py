"""Numpy OBC generalized-Born energy with the "engulf" term switchable (data.md §6.3).

Used by Tools/make_energy_fixtures.py to prove that the ``engulf-H`` fixture frame really
separates the two GB variants: ``GBSAOBCForce`` (amber99sbildn-obc2) must match only *with* the
extra term ``2(1/rho_i - 1/L)`` when ``rho_i < s_j - r``, the amber14 ``CustomGBForce`` (OBC1)
only *without* it. Only the two forces produced by the presets are supported.
"""
from __future__ import annotations

import numpy as np
import openmm

from .distort import GB_OFFSET_NM

PROBE_NM = 0.14


def gb_parameters(system: openmm.System) -> dict:
    """q, rho, s, radius and the constants of the System's GB force (GBSAOBCForce or OBC1 CustomGB)."""
    for f in system.getForces():
        if isinstance(f, openmm.GBSAOBCForce):
            p = np.array([[x if isinstance(x, float) else x._value for x in f.getParticleParameters(i)]
                          for i in range(f.getNumParticles())], dtype=np.float64)
            rho = p[:, 1] - GB_OFFSET_NM
            cutoff = None if f.getNonbondedMethod() == openmm.GBSAOBCForce.NoCutoff else \
                f.getCutoffDistance()._value
            return dict(name="GBSAOBCForce", q=p[:, 0], rho=rho, s=p[:, 2] * rho, k=138.93545764438198,
                        eps_in=f.getSoluteDielectric(), eps_out=f.getSolventDielectric(),
                        c_sa=4 * np.pi * f.getSurfaceAreaEnergy()._value if hasattr(f.getSurfaceAreaEnergy(), "_value")
                        else 4 * np.pi * f.getSurfaceAreaEnergy(),
                        abg=(1.0, 0.8, 4.85), cutoff=cutoff)
        if isinstance(f, openmm.CustomGBForce):
            names = [f.getPerParticleParameterName(k) for k in range(f.getNumPerParticleParameters())]
            p = np.array([f.getParticleParameters(i) for i in range(f.getNumParticles())], dtype=np.float64)
            glob = {f.getGlobalParameterName(k): f.getGlobalParameterDefaultValue(k)
                    for k in range(f.getNumGlobalParameters())}
            cutoff = None if f.getNonbondedMethod() == openmm.CustomGBForce.NoCutoff else f.getCutoffDistance()._value
            return dict(name="CustomGBForce", q=p[:, names.index("charge")], rho=p[:, names.index("or")],
                        s=p[:, names.index("sr")], k=138.935485, eps_in=glob.get("soluteDielectric", 1.0),
                        eps_out=glob.get("solventDielectric", 78.5), c_sa=28.3919551,
                        abg=(0.8, 0.0, 2.909125), cutoff=cutoff)
    raise ValueError("no GB force in the System")


def gb_energy(params: dict, pos: np.ndarray, engulf: bool) -> float:
    """OBC GB energy (kJ/mol) of one frame (N, 3) in nm, with or without the engulf term."""
    q, rho, s, k = params["q"], params["rho"], params["s"], params["k"]
    alpha, beta, gamma = params["abg"]
    rc = params["cutoff"]
    n = len(q)
    d = pos[:, None, :] - pos[None, :, :]
    r = np.sqrt((d * d).sum(-1))
    off = ~np.eye(n, dtype=bool)
    rs = np.where(off, r, 1.0)
    sj = s[None, :]
    rhoi = rho[:, None]
    use = off & (rhoi < rs + sj)
    if rc is not None:
        use &= rs < rc
    U = rs + sj
    L = np.maximum(rhoi, np.abs(rs - sj))
    term = 1 / L - 1 / U + 0.25 * (rs - sj ** 2 / rs) * (1 / U ** 2 - 1 / L ** 2) + 0.5 * np.log(L / U) / rs
    if engulf:
        term = term + np.where(rhoi < sj - rs, 2 * (1 / rhoi - 1 / L), 0.0)
    I = 0.5 * np.where(use, term, 0.0).sum(1)
    psi = rho * I
    R = rho + GB_OFFSET_NM
    B = 1 / (1 / rho - np.tanh(alpha * psi - beta * psi ** 2 + gamma * psi ** 3) / R)
    pref = k * (1 / params["eps_in"] - 1 / params["eps_out"])
    e_self = -0.5 * pref * np.sum(q ** 2 / B)
    iu = np.triu_indices(n, 1)
    rr = r[iu]
    bb = B[iu[0]] * B[iu[1]]
    f = np.sqrt(rr ** 2 + bb * np.exp(-rr ** 2 / (4 * bb)))
    pair = 1 / f
    if rc is not None:
        pair = np.where(rr < rc, pair - 1 / rc, 0.0)
    e_pair = -pref * np.sum(q[iu[0]] * q[iu[1]] * pair)
    e_sa = params["c_sa"] * np.sum((R + PROBE_NM) ** 2 * (R / B) ** 6)
    return float(e_self + e_pair + e_sa)
