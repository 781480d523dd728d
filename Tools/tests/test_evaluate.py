"""`tbg evaluate` against independent numpy/mdtraj reimplementations on the committed fixture.

The reference is the alanine-dipeptide fixture (20 real frames) with frames 0-5 mirrored (x -> -x,
which flips the sign of every dihedral), so that both phi basins are populated; the samples are a
shuffled subset of those frames with topology/chirality failures and random log weights, written in
the layout of `tbg sample`. phi/psi come from mdtraj.compute_phi/psi (atom indices; angles in float64
with mdtraj's formula), everything else is recomputed here with numpy: valid-sample counts, ESS,
exact 1-D energy W1/W2, Ramachandran JSD, the phi-basin free energy and, by brute force over all
permutations (M = 7), the torus W2. Uses a private copy of $TBG, else of the newer of
.build-eval/release/tbg and .build/release/tbg; skipped with a reason when none is built.
"""
import itertools
import json
import os
import shutil
import subprocess

import h5py
import mdtraj
import numpy as np
import pytest

from conftest import AD2_FIXTURE as FIXTURE, ROOT, private_tbg

EVAL_BUILD = os.path.join(ROOT, ".build-eval", "release", "tbg")
MAIN_BUILD = os.path.join(ROOT, ".build", "release", "tbg")
KT = 300 * 0.00831446261815324
MIRRORED = 6
SAMPLE_FRAMES = [13, 2, 7, 19, 0, 5, 11, 3, 16, 9, 1, 4, 18, 8]


@pytest.fixture(scope="module")
def tbg(tmp_path_factory):
    built = [path for path in (EVAL_BUILD, MAIN_BUILD) if os.path.exists(path)]
    if "TBG" in os.environ or not built:
        return private_tbg(tmp_path_factory)
    copy = tmp_path_factory.mktemp("bin") / "tbg"
    shutil.copy2(max(built, key=os.path.getmtime), copy)
    return str(copy)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    work = tmp_path_factory.mktemp("evaluate")
    reference = str(work / "md.h5")
    shutil.copy(FIXTURE, reference)
    with h5py.File(reference, "r+") as f:
        xyz = f["coordinates"][:]
        xyz[:MIRRORED] *= -1
        f["coordinates"][:] = xyz
    rng = np.random.default_rng(7)
    n = len(SAMPLE_FRAMES)
    with h5py.File(reference, "r") as md:
        energies = md["potentialEnergy"][:].astype(np.float64)[SAMPLE_FRAMES]
        columns = {
            "index": np.arange(n, dtype=np.int64),
            "energy_kj_mol": energies,
            "log_weight": rng.normal(0.0, 1.5, n),
            "topology_ok": np.ones(n, np.uint8),
            "chirality_ok": np.ones(n, np.uint8),
            "chirality_fixed": np.zeros(n, np.uint8),
        }
        columns["topology_ok"][[2, 9]] = 0
        columns["chirality_ok"][5] = 0
        columns["chirality_fixed"][[0, 6]] = 1
        columns["energy_kj_mol"][2] = np.inf
        columns["log_weight"][[2, 5, 9]] = -np.inf
        columns["energy_kT"] = columns["energy_kj_mol"] / KT
        samples = str(work / "samples.h5")
        with h5py.File(samples, "w") as out:
            out.create_dataset("coordinates", data=md["coordinates"][:][SAMPLE_FRAMES])
            out["coordinates"].attrs["units"] = "nanometers"   # mdtraj.load needs the units
            out.create_dataset("time", data=np.arange(n, dtype=np.float32))
            out["time"].attrs["units"] = "picoseconds"
            for name in ["topology", "metadata", "openmm_system"]:
                out.create_dataset(name, data=md[name][:])
            group = out.create_group("samples")
            for name, values in columns.items():
                group.create_dataset(name, data=values)
            group.attrs["kT_kJ_per_mol"] = KT
    return reference, samples, columns


def angles(path):
    traj = mdtraj.load(path)
    (phi_atoms,), mdtraj_phi = mdtraj.compute_phi(traj)
    (psi_atoms,), mdtraj_psi = mdtraj.compute_psi(traj)
    xyz = traj.xyz.astype(np.float64)

    def dihedral(quartet):   # mdtraj's _dihedral, in float64
        b1, b2, b3 = (xyz[:, quartet[k + 1]] - xyz[:, quartet[k]] for k in range(3))
        c1, c2 = np.cross(b2, b3), np.cross(b1, b2)
        return np.arctan2((b1 * c1).sum(-1) * np.sqrt((b2 * b2).sum(-1)), (c1 * c2).sum(-1))

    phi, psi = dihedral(phi_atoms), dihedral(psi_atoms)
    np.testing.assert_allclose(phi, mdtraj_phi[:, 0], atol=1e-5)   # mdtraj's own (float32) values
    np.testing.assert_allclose(psi, mdtraj_psi[:, 0], atol=1e-5)
    return list(phi_atoms), list(psi_atoms), phi, psi


def transport_cost_1d(a, b, wb, p):
    """Exact integral of |F^-1 - G^-1|^p over (0, 1) for weighted 1-D samples (a uniform)."""
    a = np.sort(a)
    order = np.argsort(b, kind="stable")
    b, wb = np.asarray(b)[order], np.asarray(wb)[order] / np.sum(wb)
    ca, cb = np.arange(1, len(a) + 1) / len(a), np.cumsum(wb)
    ca[-1] = cb[-1] = 1.0
    breaks = np.unique(np.concatenate([[0.0], ca, cb]))
    mid = (breaks[:-1] + breaks[1:]) / 2
    qa = a[np.minimum(np.searchsorted(ca, mid), len(a) - 1)]
    qb = b[np.minimum(np.searchsorted(cb, mid), len(b) - 1)]
    return float(np.sum(np.diff(breaks) * np.abs(qa - qb) ** p))


def jsd(phi_a, psi_a, phi_b, psi_b, wb, bins=36, eps=1e-10):
    def histogram(phi, psi, w):
        index = lambda x: np.floor((x + np.pi) / (2 * np.pi) * bins).astype(int) % bins
        h = np.zeros((bins, bins))
        np.add.at(h, (index(phi), index(psi)), w)
        return (h.ravel() / h.sum() + eps) / (1 + bins * bins * eps)

    p, q = histogram(phi_a, psi_a, np.ones(len(phi_a))), histogram(phi_b, psi_b, wb)
    m = (p + q) / 2
    return float(0.5 * np.sum(p * np.log2(p / m)) + 0.5 * np.sum(q * np.log2(q / m)))


def delta_f(phi, w):
    positive = (phi > 0) & (phi < 2.15)   # tbg evaluate's default --phi-basin 0:2.15
    return float(-np.log(np.sum(w[positive]) / np.sum(w[~positive])))


def torus_w2_brute_force(a, b):
    def cost(x, y):
        d = np.abs(x - y)
        d = np.minimum(d, 2 * np.pi - d)
        return (d ** 2).sum(-1)

    costs = cost(a[:, None, :], b[None, :, :])
    rows = np.arange(len(a))
    best = min(costs[rows, list(p)].mean() for p in itertools.permutations(range(len(b))))
    return float(np.sqrt(best))


def run(tbg, *args):
    result = subprocess.run([tbg, "evaluate", *map(str, args), "--json"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_metrics_match_numpy_and_mdtraj(tbg, files):
    reference, samples, columns = files
    phi_atoms, psi_atoms, md_phi, md_psi = angles(reference)
    _, _, s_phi, s_psi = angles(samples)
    with h5py.File(reference, "r") as f:
        md_energy = f["potentialEnergy"][:].astype(np.float64) / KT
    out = run(tbg, "--samples", samples, "--reference", reference, "--max-points", 7)
    assert out["phi_atoms"] == phi_atoms and out["psi_atoms"] == psi_atoms

    valid = (columns["topology_ok"] == 1) & (columns["chirality_ok"] == 1)
    log_w = columns["log_weight"][valid]
    w = np.exp(log_w - log_w.max())
    w /= w.sum()
    counts = out["counts"]
    assert (counts["samples"], counts["valid"], counts["topology_failures"], counts["chirality_failures"]) == (14, 11, 2, 1)
    assert counts["chirality_fixes"] == 2
    assert counts["ess"] == pytest.approx(1 / np.sum(w ** 2) / 11, abs=1e-12)

    md = out["md"]
    assert md["energy_mean_kT"] == pytest.approx(md_energy.mean(), abs=1e-9)
    assert md["energy_median_kT"] == pytest.approx(np.median(md_energy), abs=1e-9)
    # Mirrored frames land at phi = 2.05 ... 2.57: only those below 2.15 are the positive basin, the
    # others are the beta tail past 2.15 (issue 16); 2 of the 6 here.
    positive = int(np.sum((md_phi > 0) & (md_phi < 2.15)))
    assert 0 < positive < MIRRORED and np.sum(md_phi > 0) == MIRRORED
    assert md["delta_f_kT"]["value"] == pytest.approx(-np.log(positive / (20 - positive)), abs=1e-12)
    assert md["delta_f_kT"]["value"] == pytest.approx(delta_f(md_phi, np.ones(20)), abs=1e-12)
    assert md["delta_f_kT"]["standard_error"] > 0

    energies = columns["energy_kT"][valid]
    phi, psi = s_phi[valid], s_psi[valid]
    for name, weights in [("proposal", np.ones(11)), ("reweighted", w)]:
        result = out[name]
        assert result["energy_w1_kT"] == pytest.approx(transport_cost_1d(md_energy, energies, weights, 1), abs=1e-9), name
        assert result["energy_w2_kT"] == pytest.approx(np.sqrt(transport_cost_1d(md_energy, energies, weights, 2)), abs=1e-9), name
        assert result["energy_mean_kT"] == pytest.approx(np.average(energies, weights=weights), abs=1e-9), name
        assert result["jsd_bits"] == pytest.approx(jsd(md_phi, md_psi, phi, psi, weights), abs=1e-9), name
        assert result["delta_f_kT"]["value"] == pytest.approx(delta_f(phi, weights), abs=1e-9), name
        assert result["delta_f_minus_md_kT"]["value"] == pytest.approx(delta_f(phi, weights) - md["delta_f_kT"]["value"], abs=1e-9)
        assert result["torus_points"] == 7 and result["torus_certified"] is True
    assert out["proposal"]["energy_median_kT"] == pytest.approx(np.median(energies), abs=1e-9)

    # Torus W2 (TS truncation): MD frames 0, 2, ..., 12 (stride 20 // 7) against the first 7 valid samples.
    assert md["torus_stride"] == 2
    a = np.stack([md_phi, md_psi], -1)[0:14:2]
    b = np.stack([phi, psi], -1)[:7]
    expected = torus_w2_brute_force(a, b)
    assert out["proposal"]["torus_w2"] ** 2 == pytest.approx(expected ** 2, abs=1e-6)
    assert out["proposal"]["torus_w2"] ** 2 >= expected ** 2 - 1e-12


def test_torus_w2_matches_scipy_on_all_valid_samples(tbg, files):
    optimize = pytest.importorskip("scipy.optimize")
    reference, samples, columns = files
    _, _, md_phi, md_psi = angles(reference)
    _, _, s_phi, s_psi = angles(samples)
    valid = (columns["topology_ok"] == 1) & (columns["chirality_ok"] == 1)
    out = run(tbg, "--samples", samples, "--reference", reference)
    a = np.stack([md_phi, md_psi], -1)[:11]   # M = 11 valid samples, stride 20 // 11 = 1
    b = np.stack([s_phi[valid], s_psi[valid]], -1)
    d = np.abs(a[:, None, :] - b[None, :, :])
    costs = (np.minimum(d, 2 * np.pi - d) ** 2).sum(-1)
    rows, cols = optimize.linear_sum_assignment(costs)
    assert out["proposal"]["torus_points"] == 11
    assert out["proposal"]["torus_w2"] ** 2 == pytest.approx(costs[rows, cols].mean(), abs=1e-6)
