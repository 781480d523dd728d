"""The committed energy fixtures Tests/Fixtures/energy/*.h5 (written by Tools/make_energy_fixtures.py).

Checks presence, the labels / frame layout, finiteness, per-force sums, the file contract parts that
are cheap, and recomputes two entries per file with OpenMM Reference (rtol 1e-10).
"""
import json
import os

import h5py
import mdtraj
import numpy as np
import openmm
import pytest

from tbgdata.distort import displace, engulf_hydrogen, pick_engulf_hydrogen, scale_about_centroid
from tbgdata.h5util import read_fixed_string
from tbgdata.md import reference_energies

TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(os.path.dirname(TOOLS), "Tests", "Fixtures", "energy")
EXPECTED = {  # name: (preset, atom_order, sequence, termini)
    "AD": ("amber99sbildn-obc2", "amber", "A", "capped"),
    "WD": ("amber14-obc1", "openmm", "WD", "zwitterion"),
    "KE": ("amber14-obc1", "openmm", "KE", "zwitterion"),
    "GP": ("amber14-obc1", "openmm", "GP", "zwitterion"),
    "CM": ("amber14-obc1", "openmm", "CM", "zwitterion"),
    "FY": ("amber14-obc1", "openmm", "FY", "zwitterion"),
    "HR": ("amber14-obc1", "openmm", "HR", "zwitterion"),
    "WW": ("amber14-obc1", "openmm", "WW", "zwitterion"),
}
LABELS = ["md"] * 4 + ["displaced-0.05nm"] * 3 + ["compressed-0.7", "stretched-1.5", "engulf-H"]
FRAME_INDEX = [0, 1, 2, 3] + [-1] * 6
REF_NODES = {"frame_index", "positions", "energies", "total", "forces", "labels"}
REF_ATTRS = {"force_names", "platform", "precision", "openmm_version", "energy_units", "force_units"}


def _load(name):
    path = os.path.join(FIXTURES, f"{name}.h5")
    assert os.path.isfile(path), f"missing fixture {path}; run Tools/make_energy_fixtures.py"
    with h5py.File(path, "r") as h:
        g = h["reference_energies"]
        d = {k: g[k][...] for k in REF_NODES}
        d["labels_dtype"] = g["labels"].dtype
        d["attrs"] = {k: read_fixed_string(g.attrs[k]) for k in g.attrs}
        d["members"] = set(g.keys())
        d["coordinates"] = h["coordinates"][...]
        d["meta"] = json.loads(read_fixed_string(h["metadata"]))
        d["system_xml"] = read_fixed_string(h["openmm_system"])
    d["path"] = path
    return d


def test_sizes():
    files = [f for f in os.listdir(FIXTURES) if f.endswith(".h5")]
    assert sorted(files) == sorted(f"{n}.h5" for n in EXPECTED)
    sizes = {f: os.path.getsize(os.path.join(FIXTURES, f)) for f in files}
    assert all(s < 125_000 for s in sizes.values()), sizes
    assert sum(sizes.values()) < 1_000_000, sizes


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_layout(name):
    d = _load(name)
    preset, order, seq, termini = EXPECTED[name]
    meta = d["meta"]
    assert (meta["preset"], meta["atom_order"], meta["sequence"], meta["termini"]) == (preset, order, seq, termini)
    traj = mdtraj.load(d["path"])
    N = traj.n_atoms
    assert traj.n_frames == 4 and meta["n_frames"] == 4 and meta["n_atoms"] == N
    assert d["members"] == REF_NODES and set(d["attrs"]) == REF_ATTRS
    assert d["attrs"]["platform"] == "Reference" and d["attrs"]["precision"] == "double"
    assert [x.decode() for x in d["labels"]] == LABELS and d["labels_dtype"].kind == "S"
    assert d["frame_index"].dtype == np.int32 and list(d["frame_index"]) == FRAME_INDEX
    pos = d["positions"]
    assert pos.dtype == np.float64 and pos.shape == (10, N, 3)
    np.testing.assert_array_equal(pos[:4], d["coordinates"].astype(np.float64))
    names = json.loads(d["attrs"]["force_names"])
    E, total, F = d["energies"], d["total"], d["forces"]
    assert E.shape == (10, len(names)) and total.shape == (10,) and F.shape == (10, N, 3)
    assert E.dtype == total.dtype == F.dtype == np.float64
    assert np.all(np.isfinite(E)) and np.all(np.isfinite(total)) and np.all(np.isfinite(F))
    np.testing.assert_allclose(E.sum(1), total, rtol=1e-12, atol=1e-9)
    assert np.all(E[:, names.index("CMMotionRemover")] == 0.0)
    gb = "GBSAOBCForce" if preset == "amber99sbildn-obc2" else "CustomGBForce"
    assert gb in names

    # The distortions are what the labels say.
    md = d["coordinates"].astype(np.float64)
    for row in range(4, 7):  # displaced: residual from some MD frame ~ N(0, 0.05^2)
        resid = min((pos[row] - md[k] for k in range(4)), key=lambda r: np.abs(r).max())
        assert 0.03 < resid.std() < 0.07 and np.abs(resid.mean()) < 0.02
    for row, factor in ((7, 0.7), (8, 1.5)):
        src = [k for k in range(4) if np.allclose(pos[row], scale_about_centroid(md[k], factor), rtol=0, atol=1e-12)]
        assert src, f"{name}: row {row} is not an MD frame scaled by {factor}"
    diff = np.abs(pos[9] - md[1]).max(axis=1)
    moved = np.nonzero(diff > 0)[0]
    assert moved.size == 1
    h = int(moved[0])
    system = openmm.XmlSerializer.deserialize(d["system_xml"])
    h2, heavy, margin, gbname = pick_engulf_hydrogen(traj.topology, system, 0.004)
    assert h == h2 and margin > 0 and gbname == gb
    assert abs(np.linalg.norm(pos[9, h] - pos[9, heavy]) - 0.004) < 1e-12
    np.testing.assert_array_equal(pos[9], engulf_hydrogen(md[1], h, heavy, 0.004))

    # Stretched frames of the bigger molecules have pairs beyond the 2 nm cutoff.
    if name == "WW":
        r = np.linalg.norm(pos[8][:, None] - pos[8][None], axis=-1)
        assert r.max() > 2.0


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_recompute_two_entries(name):
    """An MD frame and a distorted one (rotating through the distortion kinds) agree with Reference."""
    d = _load(name)
    rows = [sorted(EXPECTED).index(name) % 4, 4 + sorted(EXPECTED).index(name) % 6]
    names, e, t, f = reference_energies(d["system_xml"], d["positions"][rows])
    assert names == json.loads(d["attrs"]["force_names"])
    np.testing.assert_allclose(e, d["energies"][rows], rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(t, d["total"][rows], rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(f, d["forces"][rows], rtol=1e-10, atol=1e-8)


def test_distort_helpers():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 3))
    y = displace(x, 0.05, np.random.default_rng(1))
    assert y.shape == x.shape and 0.04 < (y - x).std() < 0.06
    z = scale_about_centroid(x, 0.7)
    np.testing.assert_allclose(z.mean(0), x.mean(0), atol=1e-14)
    np.testing.assert_allclose(z - z.mean(0), 0.7 * (x - x.mean(0)), atol=1e-14)
    w = engulf_hydrogen(x, 3, 5, 0.004)
    assert abs(np.linalg.norm(w[3] - w[5]) - 0.004) < 1e-15
    assert np.array_equal(np.delete(w, 3, 0), np.delete(x, 3, 0))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_full_contract(name):
    """Tools/FORMAT.md contract incl. recomputing every entry on Reference (all 10 take < 0.1 s)."""
    from tbgdata.check import check_trajectory_file
    check_trajectory_file(os.path.join(FIXTURES, f"{name}.h5"))


@pytest.mark.parametrize("name", ["AD", "WW"])
def test_engulf_frame_separates_gb_variants(name):
    """GBSAOBCForce matches numpy only with the engulf term, the OBC1 CustomGBForce only without."""
    from tbgdata.gbnumpy import gb_energy, gb_parameters
    d = _load(name)
    p = gb_parameters(openmm.XmlSerializer.deserialize(d["system_xml"]))
    col = json.loads(d["attrs"]["force_names"]).index(p["name"])
    for row in range(10):
        ref = d["energies"][row, col]
        with_term, without = gb_energy(p, d["positions"][row], True), gb_energy(p, d["positions"][row], False)
        good, other = (with_term, without) if p["name"] == "GBSAOBCForce" else (without, with_term)
        assert abs(good - ref) < 1e-9 * max(1.0, abs(ref))
        if LABELS[row] == "engulf-H":
            assert abs(other - ref) > 0.1
