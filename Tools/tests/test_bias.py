"""The generator's biased mode (tbgdata/bias.py, Tools/FORMAT.md §1.7): a short real run (2 ps of
metadynamics, 5 ps of production under the frozen bias) and the contract of what it stores."""
import json
import math
import os

import h5py
import mdtraj
import numpy as np
import openmm
import openmm.unit as u
import pytest

from tbgdata.bias import BiasConfig, add_frozen_bias, interpolate_bias
from tbgdata.check import check_trajectory_file
from tbgdata.dataset import _matches, load_spec
from tbgdata.h5util import read_fixed_string
from tbgdata.md import RunConfig, generate_trajectory

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Gaussians every 0.1 ps at 2 kJ/mol so that 2 ps of building gives a bias of several kJ/mol.
SHORT_BIAS = {"kind": "metad_phi", "build_ps": 2.0, "frequency_ps": 0.1, "height_kj_mol": 2.0}
CONFIG = RunConfig(sequence="A", termini="capped", preset="amber99sbildn-obc2", name="AD", atom_order="amber",
                   equilibration_ps=1.0, production_ps=5.0, save_ps=0.5, reference_frames=4, seed=5, bias=SHORT_BIAS)
KJ = u.kilojoule_per_mole


@pytest.fixture(scope="module")
def biased(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("biased") / "AD-biased.h5")
    generate_trajectory(path, CONFIG, command="pytest biased")
    return path


def test_bias_energy_is_the_frozen_grid_at_each_frames_phi(biased):
    traj = mdtraj.load(biased)
    assert traj.n_frames == 10 and traj.n_atoms == 22
    with h5py.File(biased, "r") as h:
        v = h["bias_energy"][...]
        assert h["bias_energy"].dtype == np.float64
        assert read_fixed_string(h["bias_energy"].attrs["units"]) == "kilojoules_per_mole"
        grid_phi, grid = h["bias/grid_phi"][...], h["bias/grid_energy"][...]
        attrs = h["bias"].attrs
        assert read_fixed_string(attrs["kind"]) == "metad_phi" and read_fixed_string(attrs["cv"]) == "phi"
        assert list(attrs["cv_atoms"]) == [4, 6, 8, 14]  # amber order: C(ACE), N, CA, C(ALA)
        assert json.loads(read_fixed_string(attrs["cv_atom_labels"])) == ["ACE0:C", "ALA1:N", "ALA1:CA", "ALA1:C"]
        assert (attrs["bias_factor"], attrs["height_kj_mol"], attrs["sigma_rad"], attrs["build_ps"],
                attrs["temperature_K"], attrs["grid_bins"]) == (6.0, 2.0, 0.35, 2.0, 300.0, 72)
        meta = json.loads(read_fixed_string(h["metadata"]))
    assert np.all(np.isfinite(v)) and v.shape == (10,)
    np.testing.assert_allclose(grid_phi, np.linspace(-math.pi, math.pi, 73))
    assert grid[0] == grid[-1] and grid.max() > 5.0  # 20 Gaussians of up to 2 kJ/mol were deposited
    idx, phi = mdtraj.compute_phi(traj)
    assert idx[0].tolist() == [4, 6, 8, 14]
    np.testing.assert_allclose(interpolate_bias(grid, phi[:, 0]), v, rtol=0, atol=1e-4)
    assert meta["bias"]["kind"] == "metad_phi" and meta["bias"]["cv_atoms"] == [4, 6, 8, 14]
    assert meta["bias"]["build_ps"] == 2.0 and meta["bias"]["bias_factor"] == 6.0


def test_stored_system_is_unbiased_and_gives_potential_energy(biased):
    with h5py.File(biased, "r") as h:
        system_xml = read_fixed_string(h["openmm_system"])
        xyz = h["coordinates"][...].astype(np.float64)
        pe, v = h["potentialEnergy"][...], h["bias_energy"][...]
        grid = h["bias/grid_energy"][...]
    system = openmm.XmlSerializer.deserialize(system_xml)
    names = [f.__class__.__name__ for f in system.getForces()]
    assert "CustomCompoundBondForce" not in names and "CustomCVForce" not in names
    reference = openmm.Platform.getPlatformByName("Reference")
    ctx = openmm.Context(system, openmm.VerletIntegrator(1e-3), reference)
    biased_system = openmm.XmlSerializer.deserialize(system_xml)
    add_frozen_bias(biased_system, [4, 6, 8, 14], grid)
    ctx_b = openmm.Context(biased_system, openmm.VerletIntegrator(1e-3), reference)
    for k in range(xyz.shape[0]):
        ctx.setPositions(xyz[k])
        ctx_b.setPositions(xyz[k])
        e = ctx.getState(getEnergy=True).getPotentialEnergy().value_in_unit(KJ)
        e_b = ctx_b.getState(getEnergy=True).getPotentialEnergy().value_in_unit(KJ)
        assert e == pytest.approx(pe[k], abs=2e-3)  # float32 storage of a double-precision run
        assert e_b - e == pytest.approx(v[k], abs=1e-4)


def test_biased_file_honours_the_whole_contract(biased):
    meta = check_trajectory_file(biased)  # incl. Reference energies vs /potentialEnergy and the bias checks
    assert meta["bias"]["weights"] == "w = exp(+bias_energy / kT)"


def test_biased_run_is_reproducible_from_its_seed(biased, tmp_path):
    """Reference platform, seeded build and production: the same seed gives the same bias and frames."""
    again = str(tmp_path / "again.h5")
    generate_trajectory(again, CONFIG, command="pytest biased")
    with h5py.File(biased, "r") as a, h5py.File(again, "r") as b:
        for node in ("bias/grid_energy", "bias_energy", "coordinates"):
            np.testing.assert_array_equal(a[node][...], b[node][...], err_msg=node)


def test_bad_bias_settings_fail_before_any_run(tmp_path):
    out = tmp_path / "x.h5"
    for bias, message in (({"kind": "metad_psi"}, "unknown bias kind 'metad_psi'"),
                          ({"kind": "metad_phi", "bias_factor": 1.0}, "bias_factor must be > 1"),
                          ({"kind": "metad_phi", "hieght_kj_mol": 1.0}, r"unknown bias setting\(s\) \['hieght_kj_mol'\]"),
                          ({"kind": "metad_phi", "frequency_ps": 0.0005}, "frequency_ps / timestep"),
                          ({"kind": "metad_phi", "sigma_rad": float("nan")}, "sigma_rad must be a positive number")):
        cfg = RunConfig(sequence="A", termini="capped", preset="amber99sbildn-obc2", bias=bias)
        with pytest.raises(ValueError, match=message):
            generate_trajectory(str(out), cfg)
    assert os.listdir(tmp_path) == []


def test_dataset_reuse_compares_the_bias_settings(biased):
    with h5py.File(biased, "r") as h:
        meta = json.loads(read_fixed_string(h["metadata"]))
    same = RunConfig(**{**CONFIG.__dict__}).resolved()
    assert _matches(meta, same) == []
    other = RunConfig(**{**CONFIG.__dict__, "bias": {**SHORT_BIAS, "bias_factor": 8.0}}).resolved()
    assert any(d.startswith("bias:") for d in _matches(meta, other))
    unbiased = RunConfig(**{**CONFIG.__dict__, "bias": None}).resolved()
    assert any(d.startswith("bias:") for d in _matches(meta, unbiased))


def test_ad2_biased_spec():
    spec = load_spec(os.path.join(REPO, "Configs", "datasets", "ad2-biased.yaml"))
    assert spec.peptides()[0][:2] == ("AD", "A") and spec.atom_order == "amber" and spec.preset == "amber99sbildn-obc2"
    bias = BiasConfig.from_any(spec.bias).resolved(1.0)
    assert bias.kind == "metad_phi" and bias.bias_factor > 1
    assert 2 <= len(spec.segments) <= 4 and spec.production_ps == 10_000


def test_tbg_inspect_reads_the_generated_bias(biased, tmp_path_factory):
    """The Swift reader on a real biased file: the same V range and the Kish ESS of exp(+V/kT)."""
    import subprocess
    from conftest import private_tbg
    tbg = private_tbg(tmp_path_factory)
    r = subprocess.run([tbg, "inspect", "--json", biased], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)["bias"]
    with h5py.File(biased, "r") as h:
        v = h["bias_energy"][...]
        kT = json.loads(read_fixed_string(h["metadata"]))["kT_kJ_per_mol"]
    w = np.exp((v - v.max()) / kT)
    assert report["kind"] == "metad_phi" and report["cv"] == "phi" and report["cv_atoms"] == [4, 6, 8, 14]
    np.testing.assert_allclose(report["energy_range_kj_mol"], [v.min(), v.max()], rtol=1e-12)
    assert report["ess"] == pytest.approx(w.sum() ** 2 / (w ** 2).sum() / len(w), rel=1e-12)


def test_biased_dataset_spec_makes_biased_files_and_resumes(tmp_path):
    """The spec's bias applies to plain seeds; a {seed, bias} segment overrides it (here: unbiased),
    so one index entry pools biased and unbiased files."""
    from tbgdata.dataset import make_dataset
    spec_path = tmp_path / "b.yaml"
    spec_path.write_text("name: b\npreset: amber99sbildn-obc2\ntermini: capped\natom_order: amber\n"
                         "equilibration_ps: 0.5\nproduction_ps: 1\nsave_ps: 0.5\nreference_frames: 1\n"
                         "segments: [21, {seed: 22, bias: null}]\n"
                         "bias: {kind: metad_phi, build_ps: 1, frequency_ps: 0.1}\n"
                         "splits:\n  train:\n    - {name: AD, sequence: A}\n")
    spec = load_spec(str(spec_path))
    logs = []
    index = make_dataset(spec, str(tmp_path / "ds"), jobs=2, log=logs.append)
    entry = index["peptides"][0]
    assert entry["files"] == ["AD-s21.h5", "AD-s22.h5"] and entry["biased_files"] == ["AD-s21.h5"]
    assert entry["n_frames"] == 4
    with h5py.File(tmp_path / "ds" / "AD-s21.h5", "r") as h:
        assert h["bias_energy"].shape == (2,) and np.all(np.isfinite(h["bias_energy"][...]))
        assert json.loads(read_fixed_string(h["metadata"]))["bias"]["build_ps"] == 1.0
    with h5py.File(tmp_path / "ds" / "AD-s22.h5", "r") as h:
        assert "bias_energy" not in h and "bias" not in json.loads(read_fixed_string(h["metadata"]))
    make_dataset(spec, str(tmp_path / "ds"), log=logs.append)
    assert sum("complete file exists, skipping" in m for m in logs) == 2
    for text, message in (("kind: metad_phi,", r"bias: unknown bias setting\(s\) \['sigma'\]"),
                          ("{seed: 22, bias: null}", r"segment seed 22: bias: unknown bias kind 'x'"),
                          ("[21, {seed: 22, bias: null}]", "distinct integer seeds")):
        replacement = {"kind: metad_phi,": "kind: metad_phi, sigma: 0.3,", "{seed: 22, bias: null}": "{seed: 22, bias: x}",
                       "[21, {seed: 22, bias: null}]": "[21, {seed: 21}]"}[text]
        bad = tmp_path / "bad.yaml"
        bad.write_text(spec_path.read_text().replace(text, replacement))
        with pytest.raises(ValueError, match=message):
            load_spec(str(bad))


@pytest.mark.parametrize("name", ["ad2-biased", "ad2-pooled"])
def test_ad2_spec_bias_settings_resolve(name):
    from tbgdata.dataset import _segment_files
    spec = load_spec(os.path.join(REPO, "Configs", "datasets", f"{name}.yaml"))
    files = _segment_files(spec, "AD", "A")
    biased = [f for f, cfg in files if cfg.bias is not None]
    assert len(biased) == 2 and all(cfg.bias["build_ps"] == 2000.0 for f, cfg in files if cfg.bias)
    if name == "ad2-pooled":
        unbiased = [f for f, cfg in files if cfg.bias is None]
        assert unbiased == [f"AD-s{s}.h5" for s in range(101, 111)]  # the ad2-100ns segments, reusable
