"""Known-answer tests of the field's two SNIS protocols in `tbg evaluate` (snis_tbg, snis_clipped;
field.md §4, README "Evaluation") against an independent numpy/scipy computation.

The files are synthetic but in the real layouts: the reference is the alanine-dipeptide fixture tiled
to 2000 frames (frames 0-5 mirrored so that both phi basins are populated, Gaussian noise on every
frame, random potential energies); the samples are 1000 noisy fixture frames in the layout of
`tbg sample`, with bond-graph, chirality and integration failures, an undecided isomorphism search,
random energies and log q, and the raw energy and log weight of every sample, such that some of the
largest raw log weights belong to invalid samples. Checked here, with `--list-resampled`:
- the clip: numpy.quantile (linear, its default) of the finite raw log weights at 1 - 0.002, the
  samples strictly above it dropped (Prose/SBG), and how many that is for 1000 samples;
- the Kish ESS of each protocol's set;
- that the resampled indices lie in the protocol's set, carry positive weight, and follow the
  weights (chi-square over deciles of the weight);
- energy W2 = sqrt(emd2_1d) of the resampled energies against the MD frames' energies, in kT;
- torsion W2 = exact OT (scipy.optimize.linear_sum_assignment) on every (phi, psi) with the
  minimal-angle periodic cost, radians; angles from mdtraj's quartets and dihedral formula.
"""
import json
import shutil
import subprocess

import h5py
import mdtraj
import numpy as np
import pytest

from conftest import AD2_FIXTURE as FIXTURE, private_tbg

optimize = pytest.importorskip("scipy.optimize")

KT = 300 * 0.00831446261815324
N_SAMPLES = 1000
MD_FRAMES = 2000


@pytest.fixture(scope="module")
def tbg(tmp_path_factory):
    return private_tbg(tmp_path_factory)


def write_like_fixture(path, source, coordinates, potential=None):
    """An MDTraj-layout file with `source`'s topology, metadata and system and new coordinates."""
    n = len(coordinates)
    with h5py.File(path, "w") as out:
        out.create_dataset("coordinates", data=coordinates.astype(np.float32))
        out["coordinates"].attrs["units"] = "nanometers"
        out.create_dataset("time", data=np.arange(n, dtype=np.float32))
        out["time"].attrs["units"] = "picoseconds"
        for name in ["topology", "metadata", "openmm_system"]:
            out.create_dataset(name, data=source[name][:])
        if potential is not None:
            out.create_dataset("potentialEnergy", data=potential.astype(np.float32))
            out["potentialEnergy"].attrs["units"] = "kilojoules_per_mole"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    work = tmp_path_factory.mktemp("protocols")
    rng = np.random.default_rng(12)
    with h5py.File(FIXTURE, "r") as source:
        xyz = source["coordinates"][:].astype(np.float64)
        xyz[:6] *= -1   # mirrored frames: phi > 0
        md_xyz = xyz[np.arange(MD_FRAMES) % len(xyz)] + rng.normal(0, 0.004, (MD_FRAMES, 22, 3))
        md_energy = rng.normal(-50.0, 8.0, MD_FRAMES)
        reference = str(work / "md.h5")
        write_like_fixture(reference, source, md_xyz, md_energy)

        n = N_SAMPLES
        sample_xyz = xyz[rng.integers(0, len(xyz), n)] + rng.normal(0, 0.01, (n, 22, 3))
        topology_ok = rng.random(n) > 0.15
        chirality_ok = topology_ok & (rng.random(n) > 0.05)
        integration_ok = np.ones(n, bool)
        integration_ok[[3, 500]] = False
        topology_ok[[3, 500]] = chirality_ok[[3, 500]] = False
        exhausted = np.zeros(n, bool)
        exhausted[np.flatnonzero(~topology_ok & integration_ok)[:4]] = True
        raw_energy = rng.normal(-45.0, 2.5, n)      # kJ/mol: about 1 kT of spread, an ESS near 0.3
        log_q = rng.normal(0.0, 0.5, n)
        # Some of the largest raw log weights are invalid samples (kept by snis_clipped only).
        invalid = np.flatnonzero(~(topology_ok & chirality_ok) & integration_ok)
        log_q[invalid[:3]] -= 4.0
        raw_energy[invalid[5]] = np.inf             # an overlap: weight 0
        raw_energy[~integration_ok] = np.nan
        sample_xyz[~integration_ok] = 0.0
        raw_log_weight = -raw_energy / KT - log_q
        raw_log_weight[~integration_ok] = np.nan
        valid = topology_ok & chirality_ok
        energy = np.where(valid, raw_energy, np.inf)
        log_weight = np.where(valid, raw_log_weight, -np.inf)
        columns = {
            "index": np.arange(n, dtype=np.int64),
            "energy_kj_mol": energy, "energy_kT": energy / KT, "log_q": log_q, "log_weight": log_weight,
            "integration_ok": integration_ok.astype(np.uint8), "topology_ok": topology_ok.astype(np.uint8),
            "chirality_ok": chirality_ok.astype(np.uint8), "chirality_fixed": (valid & (rng.random(n) < 0.3)).astype(np.uint8),
            "isomorphism_budget_exhausted": exhausted.astype(np.uint8),
            "raw_energy": raw_energy, "raw_log_weight": raw_log_weight,
        }
        samples = str(work / "samples.h5")
        write_like_fixture(samples, source, sample_xyz)
        with h5py.File(samples, "r+") as out:
            group = out.create_group("samples")
            for name, values in columns.items():
                group.create_dataset(name, data=values)
            group["raw_energy"].attrs["units"] = "kilojoules_per_mole"
            group["raw_log_weight"].attrs["units"] = "dimensionless"
            group.attrs["kT_kJ_per_mol"] = KT
        # The same file as an older tbg sample wrote it: no raw energies, no finer failure flags.
        old = str(work / "old-samples.h5")
        shutil.copy(samples, old)
        with h5py.File(old, "r+") as out:
            for name in ["raw_energy", "raw_log_weight", "isomorphism_budget_exhausted", "integration_ok"]:
                del out["samples"][name]
    return reference, samples, old, columns, md_energy


def torsions(path):
    """Every phi, then every psi (mdtraj's quartets), in float64 with mdtraj's dihedral formula."""
    traj = mdtraj.load(path)
    quartets = list(mdtraj.compute_phi(traj)[0]) + list(mdtraj.compute_psi(traj)[0])
    xyz = traj.xyz.astype(np.float64)

    def dihedral(q):
        b1, b2, b3 = (xyz[:, q[k + 1]] - xyz[:, q[k]] for k in range(3))
        c1, c2 = np.cross(b2, b3), np.cross(b1, b2)
        return np.arctan2((b1 * c1).sum(-1) * np.sqrt((b2 * b2).sum(-1)), (c1 * c2).sum(-1))

    return np.stack([dihedral(q) for q in quartets], -1)


def run(tbg, *args):
    result = subprocess.run([tbg, "evaluate", *map(str, args)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout


def normalised(log_w):
    log_w = np.where(np.isnan(log_w), -np.inf, log_w)
    w = np.exp(log_w - log_w.max())
    return w / w.sum()


def check_protocol(report, members, log_w, energies_kT, sample_torsions, md_torsions, md_energy_kT):
    """The ESS, the resampling and both W2s of one protocol's report, recomputed."""
    members = np.asarray(members)
    w = normalised(log_w[members])
    assert report["samples"] == len(members)
    assert report["ess"] == pytest.approx(1.0 / np.sum(w ** 2) / len(members), rel=1e-10)
    m = min(10_000, len(md_energy_kT), len(members))
    assert report["resampled"] == m
    drawn = np.asarray(report["resampled_indices"])
    frames = np.asarray(report["md_frame_indices"])
    assert len(drawn) == m and len(frames) == m
    assert np.array_equal(frames, np.arange(m) * (len(md_energy_kT) // m))
    weight_of = dict(zip(members.tolist(), w))
    assert all(weight_of.get(i, 0.0) > 0 for i in drawn), "every draw is a member with positive weight"
    # Draws follow the weights: chi-square over 5 groups of members with equal total weight.
    order = np.argsort(w)
    groups = np.minimum((np.cumsum(w[order]) * 5).astype(int), 4)
    group_of = dict(zip(members[order].tolist(), groups))
    observed = np.bincount([group_of[i] for i in drawn], minlength=5)
    expected = np.array([w[order][groups == g].sum() for g in range(5)]) * m
    chi2 = float(np.sum((observed - expected) ** 2 / expected))
    assert chi2 < 20.5, (observed, expected)   # 4 degrees of freedom: p < 0.0004

    # Energy W2: sqrt(emd2_1d) of equal-size uniform sets = sorted matching.
    a, b = np.sort(md_energy_kT[frames]), np.sort(energies_kT[drawn])
    assert report["energy_w2_kT"] == pytest.approx(np.sqrt(np.mean((a - b) ** 2)), rel=1e-9)

    # Torsion W2: exact OT with the periodic cost on every (phi, psi).
    x, y = md_torsions[frames], sample_torsions[drawn]
    d = np.abs(x[:, None, :] - y[None, :, :])
    costs = (np.minimum(d, 2 * np.pi - d) ** 2).sum(-1)
    rows, cols = optimize.linear_sum_assignment(costs)
    exact = costs[rows, cols].mean()
    assert report["torsion_dimensions"] == x.shape[1]
    assert report["torsion_w2"] ** 2 == pytest.approx(exact, abs=1e-6)
    assert report["torsion_w2"] ** 2 >= exact - 1e-9
    assert report["torsion_certified"] is True


def test_both_protocols_match_numpy_and_scipy(tbg, files):
    reference, samples, _, c, md_energy = files
    out = json.loads(run(tbg, "--samples", samples, "--reference", reference, "--json", "--list-resampled", "--bootstrap", "5"))
    md_torsions, sample_torsions = torsions(reference), torsions(samples)
    md_energy_kT = md_energy.astype(np.float32).astype(np.float64) / KT
    valid = (c["topology_ok"] == 1) & (c["chirality_ok"] == 1)

    # Counts: the undecided isomorphism searches apart from the proven non-isomorphic graphs.
    counts = out["counts"]
    failures = int(np.sum(c["topology_ok"] == 0))
    assert counts["topology_failures"] == failures
    assert counts["integration_failures"] == 2
    assert counts["isomorphism_budget_exhausted"] == 4
    assert counts["not_isomorphic"] == failures - 2 - 4

    tbg_report = out["snis_tbg"]
    assert tbg_report["dropped_invalid"] == N_SAMPLES - int(valid.sum())
    assert tbg_report["kept_invalid"] == 0 and tbg_report["clipped"] == 0 and tbg_report["clip_fraction"] is None
    assert tbg_report["ess"] == pytest.approx(out["counts"]["ess"], rel=1e-12)
    check_protocol(tbg_report, np.flatnonzero(valid), c["log_weight"], c["energy_kT"], sample_torsions, md_torsions, md_energy_kT)

    # The clip: the (1 - 0.002) linear quantile of the finite raw log weights; strictly above is dropped.
    raw = c["raw_log_weight"]
    finite = np.isfinite(raw)
    threshold = np.quantile(raw[finite], 1 - 0.002)
    dropped = finite & (raw > threshold)
    # 997 finite log weights: h = 996 * 0.998 = 994.008, so the two largest lie above the quantile.
    assert finite.sum() == 997 and dropped.sum() == 2
    clipped = out["snis_clipped"]
    assert clipped["clip_fraction"] == 0.002
    assert clipped["clipped"] == 2
    assert clipped["log_weight_threshold"] == pytest.approx(threshold, rel=1e-12)
    members = np.flatnonzero(~dropped)
    assert clipped["zero_weights"] == 3   # two failed integrations, one infinite energy
    kept_invalid = int(np.sum(~valid[members] & (c["integration_ok"][members] == 1)))
    assert clipped["kept_invalid"] == kept_invalid and kept_invalid > 100
    assert np.any(~valid[members][np.argsort(raw[members])[-20:]]), "invalid samples among the top weights"
    check_protocol(clipped, members, raw, c["raw_energy"] / KT, sample_torsions, md_torsions, md_energy_kT)


def test_clip_fraction_option(tbg, files):
    reference, samples, _, c, _ = files
    raw = c["raw_log_weight"]
    finite = raw[np.isfinite(raw)]
    out = json.loads(run(tbg, "--samples", samples, "--reference", reference, "--json", "--bootstrap", "0", "--clip-fraction", "0.01"))
    assert out["snis_clipped"]["clipped"] == int(np.sum(finite > np.quantile(finite, 0.99)))
    assert out["settings"]["clip_fraction"] == 0.01
    assert out["snis_clipped"]["resampled_indices"] is None   # only with --list-resampled
    none = json.loads(run(tbg, "--samples", samples, "--reference", reference, "--json", "--bootstrap", "0", "--clip-fraction", "0"))
    assert none["snis_clipped"]["clipped"] == 0
    bad = subprocess.run([tbg, "evaluate", "--samples", samples, "--reference", reference, "--clip-fraction", "1"],
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "--clip-fraction must be in [0, 1)" in bad.stderr


def test_old_sample_file_reports_what_it_cannot_compute(tbg, files):
    reference, _, old, c, _ = files
    out = json.loads(run(tbg, "--samples", old, "--reference", reference, "--json", "--bootstrap", "0"))
    clipped = out["snis_clipped"]
    assert clipped["energy_w2_kT"] is None and clipped["torsion_w2"] is None and clipped["ess"] is None
    assert "no /samples/raw_energy" in clipped["reason"]
    assert out["snis_tbg"]["energy_w2_kT"] is not None and out["snis_tbg"]["reason"] is None
    assert out["counts"]["isomorphism_budget_exhausted"] is None and out["counts"]["not_isomorphic"] is None
    text = run(tbg, "--samples", old, "--reference", reference, "--bootstrap", "0")
    assert "snis_clipped: the samples file has no /samples/raw_energy" in text
    assert "SNIS protocol" in text and "torsion W2" in text


def test_text_report_shows_both_protocols(tbg, files):
    reference, samples, _, _, _ = files
    text = run(tbg, "--samples", samples, "--reference", reference, "--bootstrap", "0")
    table = [line for line in text.splitlines() if "snis_tbg" in line or "energy W2 (kT)" in line or "top 0.2 %" in line]
    assert any("snis_tbg" in line and "snis_clipped" in line for line in table), text
    assert any("top 0.2 % log weights dropped" in line and "(log w >" in line for line in table), text
    assert "4 isomorphism budget exhausted" in text
