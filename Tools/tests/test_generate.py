"""End-to-end trajectory generation: file contract (Tools/FORMAT.md), reference energies, atomicity."""
import glob
import json
import os
import subprocess
import sys

import h5py
import mdtraj
import numpy as np
import openmm
import openmm.unit as u
import pytest

import tbgdata.md as mdmod
from tbgdata.check import METADATA_KEYS, check_trajectory_file, variable_length_strings
from tbgdata.h5util import read_fixed_string
from tbgdata.md import RunConfig, generate_trajectory, is_complete, part_path

TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(TOOLS)
TINY = dict(equilibration_ps=1.0, production_ps=3.0, save_ps=0.5, reference_frames=4, seed=5)
RUNS = {
    "AD": RunConfig(sequence="A", termini="capped", preset="amber99sbildn-obc2", name="AD", atom_order="amber", **TINY),
    "KS": RunConfig(sequence="KS", termini="zwitterion", preset="amber14-obc1", **TINY),
}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("traj")
    out = {}
    for key, cfg in RUNS.items():
        out[key] = str(d / f"{key}.h5")
        generate_trajectory(out[key], cfg, command=f"pytest {key}")
    return out


@pytest.mark.parametrize("key", sorted(RUNS))
def test_file_contract(files, key):
    path, cfg = files[key], RUNS[key]
    traj = mdtraj.load(path)
    assert traj.n_frames == 6 and traj.xyz.dtype == np.float32
    meta = check_trajectory_file(path)  # full contract incl. Reference recomputation
    assert set(meta) == METADATA_KEYS
    assert meta["sequence"] == cfg.sequence and meta["termini"] == cfg.termini and meta["preset"] == cfg.preset
    assert meta["n_frames"] == 6 and meta["constraints"] is None and meta["remove_cm_motion"] is True
    assert meta["command"] == f"pytest {key}"
    assert not os.path.exists(part_path(path))
    with h5py.File(path, "r") as h:
        assert not variable_length_strings(h)
        assert h.attrs.get_id("title").get_type().get_size() == len(f"{meta['name']} {cfg.termini} {cfg.preset}")
        g = h["reference_energies"]
        assert list(g["frame_index"][...]) == [0, 2, 3, 5]
        names = json.loads(read_fixed_string(g.attrs["force_names"]))
    if cfg.preset == "amber99sbildn-obc2":
        assert meta["platform"] == "Reference" and meta["nonbonded_cutoff_nm"] is None
        assert "GBSAOBCForce" in names and traj.topology.atom(0).name == "CH3" and traj.topology.atom(6).name == "N"
    else:
        assert meta["platform"] == "CPU" and meta["threads"] == 1 and meta["nonbonded_cutoff_nm"] == 2.0
        assert "CustomGBForce" in names and traj.topology.atom(traj.n_atoms - 1).name == "OXT"


@pytest.mark.parametrize("key", sorted(RUNS))
def test_reference_energies_recomputed_independently(files, key):
    """Fresh Reference context from /openmm_system, one force group per Force, rtol 1e-10."""
    with h5py.File(files[key], "r") as h:
        system = openmm.XmlSerializer.deserialize(h["openmm_system"][0].decode())
        g = h["reference_energies"]
        pos, energies, total, forces = (g[k][...] for k in ("positions", "energies", "total", "forces"))
    for i, f in enumerate(system.getForces()):
        f.setForceGroup(i)
    ctx = openmm.Context(system, openmm.VerletIntegrator(1e-3), openmm.Platform.getPlatformByName("Reference"))
    for fr in range(pos.shape[0]):
        ctx.setPositions(pos[fr])
        for i in range(system.getNumForces()):
            e = ctx.getState(getEnergy=True, groups={i}).getPotentialEnergy().value_in_unit(u.kilojoule_per_mole)
            assert e == pytest.approx(energies[fr, i], rel=1e-10, abs=1e-10)
        st = ctx.getState(getEnergy=True, getForces=True)
        assert st.getPotentialEnergy().value_in_unit(u.kilojoule_per_mole) == pytest.approx(total[fr], rel=1e-10)
        np.testing.assert_allclose(st.getForces(asNumpy=True).value_in_unit(u.kilojoule_per_mole / u.nanometer),
                                   forces[fr], rtol=1e-10, atol=1e-8)
    np.testing.assert_allclose(energies.sum(axis=1), total, rtol=1e-12)


def test_invalid_sequence_writes_nothing(tmp_path):
    out = tmp_path / "bad.h5"
    with pytest.raises(ValueError, match=r"unknown residue letter 'X' in sequence 'AX'"):
        generate_trajectory(str(out), RunConfig(sequence="AX", **TINY))
    r = subprocess.run([sys.executable, os.path.join(TOOLS, "generate_trajectory.py"), "--seq", "AX",
                        "--out", str(out)], capture_output=True, text=True)
    assert r.returncode == 2 and "unknown residue letter 'X'" in r.stderr
    assert os.listdir(tmp_path) == []


def test_existing_out_is_refused_before_the_md_without_overwrite(tmp_path):
    out = tmp_path / "AD.h5"
    out.write_bytes(b"previous complete file")
    r = subprocess.run([sys.executable, os.path.join(TOOLS, "generate_trajectory.py"), "--seq", "A", "--termini", "capped",
                        "--out", str(out)], capture_output=True, text=True)
    assert r.returncode == 2
    assert f"--out {out} exists already and is not replaced" in r.stderr and "--overwrite" in r.stderr
    assert out.read_bytes() == b"previous complete file"
    # ... also through a folder that does not exist (the writer normalises the path), and a folder
    # as --out is refused before the MD even with --overwrite.
    for target, extra, message in ((str(tmp_path / "missing" / ".." / "AD.h5"), [], "exists already"),
                                   (str(tmp_path), ["--overwrite"], "is a folder")):
        r = subprocess.run([sys.executable, os.path.join(TOOLS, "generate_trajectory.py"), "--seq", "A", "--termini", "capped",
                            "--out", target] + extra, capture_output=True, text=True)
        assert r.returncode == 2 and message in r.stderr, r.stderr
    assert out.read_bytes() == b"previous complete file"
    assert sorted(os.listdir(tmp_path)) == ["AD.h5"]


def test_failure_mid_run_leaves_no_file_and_keeps_old(tmp_path, monkeypatch):
    out = tmp_path / "AD.h5"
    out.write_bytes(b"previous complete file")

    def boom(*a, **k):
        raise RuntimeError("simulated crash while computing reference energies")

    monkeypatch.setattr(mdmod, "reference_energies", boom)
    cfg = RunConfig(sequence="A", termini="capped", preset="amber99sbildn-obc2", **TINY)
    with pytest.raises(RuntimeError, match="simulated crash"):
        generate_trajectory(str(out), cfg)
    assert out.read_bytes() == b"previous complete file"
    assert sorted(os.listdir(tmp_path)) == ["AD.h5"]
    assert not is_complete(str(out))


def test_committed_fixtures_honour_contract():
    fixdir = os.path.join(REPO, "Tests", "Fixtures")
    for name, n_atoms in (("ad2_capped.h5", 22), ("ks_zwitterion.h5", 36)):
        path = os.path.join(fixdir, name)
        assert os.path.exists(path), f"{path} missing: run Tools/make_fixtures.py"
        assert os.path.getsize(path) < 200_000
        meta = check_trajectory_file(path)
        assert meta["n_frames"] == 20 and meta["n_atoms"] == n_atoms
        with h5py.File(path, "r") as h:
            assert h["reference_energies/frame_index"].shape == (5,)


def _tbg_binary():
    for cand in (".build/release/tbg", ".build/debug/tbg"):
        p = os.path.join(REPO, cand)
        if os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    return None


def test_tbg_inspect_reads_generated_files(files):
    exe = _tbg_binary()
    if exe is None:
        pytest.skip("no tbg executable at .build/release/tbg or .build/debug/tbg (build the Swift package first)")
    for path in list(files.values()) + sorted(glob.glob(os.path.join(REPO, "Tests", "Fixtures", "*_*.h5"))):
        if path.endswith("h5py_types.h5"):
            continue
        r = subprocess.run([exe, "inspect", path], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, f"tbg inspect {path} failed:\n{r.stdout}\n{r.stderr}"
