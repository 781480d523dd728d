#!/usr/bin/env python3
"""Write the PSIS fixture for the Swift `ParetoSmoothing` (Sources/Evaluation/ParetoSmoothing.swift).

    .venv-torch/bin/python Tools/reference/make_psis_fixture.py [--out Tests/Fixtures/psis/psislw.h5]

ArviZ's `psislw(log_weights, reff=1.0, normalize=False)` (arviz 0.23.4; Vehtari et al., JMLR 25(72),
2024) on log weights of known tail shapes, each case a group /<name> with
  log_weights (S,)           the input (finite, or -inf for a zero weight)
  smoothed_log_weights (S,)  ArviZ's output (unnormalised)
  attrs: khat (float64; +inf where ArviZ found too short a tail), description (bytes)
Cases: a Gaussian log weight (light tail, k about 0), Pareto weights of shape 1/alpha for alpha 3, 1.5,
0.8 (k about 0.33, 0.67, 1.25) at S = 64 and 1000, S = 20 (too short a tail: k = +inf), S = 21, zero weights, ties, and the 63 αL
restricted draws' log weights of a real alanine-dipeptide run (k about 1.5, README "ΔF by stratified
flow BAR") stored as literal values so that no data file is needed.
"""
from __future__ import annotations

import argparse
import os
import warnings

import h5py
import numpy as np

warnings.filterwarnings("ignore", category=FutureWarning)
import arviz  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "..", "..", "Tests", "Fixtures", "psis", "psislw.h5")


# log w of the 63 restricted draws in alanine dipeptide's alpha-L stratum, data/runs/fe-draws/bar-s13-s14.h5
# (step-46 317 model, seed 1314; README "Position draws at 1 024 proposals"): one draw 3.4 nats above the rest.
ALPHA_L_S13_S14 = np.array([
    -48.545236, -60.376762, -48.681472, -49.328922, -183.492393, -52.344965, -62.165004, -64.015961,
    -80.947937, -73.175606, -53.949058, -93.186187, -60.542592, -51.342217, -70.974994, -58.227511,
    -51.414729, -61.368353, -50.331642, -47.030743, -61.067457, -76.836418, -80.971167, -58.293145,
    -53.351687, -56.291721, -126.485318, -70.109073, -64.823848, -51.262031, -55.008466, -52.062922,
    -58.327519, -71.208735, -73.314794, -55.314708, -46.461471, -56.112988, -49.945543, -46.770840,
    -77.009312, -57.335952, -51.726800, -58.114381, -74.509327, -58.355996, -65.410270, -111.682966,
    -68.186491, -51.070681, -57.197164, -71.662044, -49.780180, -55.677807, -81.273300, -42.034183,
    -53.434119, -45.423063, -50.405706, -58.607732, -54.363762, -83.470626, -162.939789
])


def cases() -> dict[str, tuple[np.ndarray, str]]:
    rng = np.random.default_rng(20261203)
    out = {}
    out["gaussian_1000"] = (rng.standard_normal(1000) * 1.5 - 40.0, "log w ~ N(-40, 1.5^2), S = 1000")
    for alpha in (3.0, 1.5, 0.8):
        for s in (64, 1000):
            # Pareto(alpha) weights: log w = log(U^(-1/alpha)) = -log(U)/alpha.
            u = rng.uniform(size=s)
            out[f"pareto_alpha{alpha}_{s}"] = (-np.log(u) / alpha + 3.0, f"w Pareto, alpha {alpha} (k = {1/alpha:.3f}), S = {s}")
    out["short_20"] = (rng.standard_normal(20), "S = 20: a tail of 4, too short to fit (k = +inf)")
    out["shortest_21"] = (rng.standard_normal(21), "S = 21: the shortest tail that is fitted (5)")
    zero = np.concatenate([-np.log(rng.uniform(size=60)) / 1.2, np.full(20, -np.inf)])
    out["zero_weights_80"] = (zero, "60 Pareto(1.2) log weights and 20 zero weights (log -inf), which count in S")
    out["alanine_dipeptide_alpha_l"] = (ALPHA_L_S13_S14, "the 63 restricted draws in alpha-L of an alanine-dipeptide run (k about 1.5)")
    out["ties_100"] = (np.round(rng.standard_normal(100), 1), "S = 100 rounded to 0.1: ties at the cut-off")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=DEFAULT_OUT)
    args = parser.parse_args()
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with h5py.File(args.out, "w") as f:
        f.attrs["arviz_version"] = arviz.__version__
        for name, (lw, description) in cases().items():
            smoothed, k = arviz.psislw(lw.copy(), reff=1.0, normalize=False)
            g = f.create_group(name)
            g.create_dataset("log_weights", data=lw)
            g.create_dataset("smoothed_log_weights", data=np.asarray(smoothed))
            g.attrs["khat"] = float(k)
            g.attrs["description"] = description.encode()
            print(f"{name}: S = {len(lw)}, khat = {float(k):.4f}")


if __name__ == "__main__":
    main()
