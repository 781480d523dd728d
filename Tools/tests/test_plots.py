"""Tools/plot_samples.py: the analysis plots of `tbg sample` output against MD.

Three parts: (a) end to end on a real samples file (a small model trained and sampled with the
release `tbg` on the committed alanine-dipeptide fixture; skipped with a reason when the binary is
missing); (b) the weighting, ESS and free-energy helpers against known answers; (c) expected input
errors give exit status 2 and a one-line message naming the file.
"""
import json
import os
import shutil
import subprocess
import sys

import h5py
import numpy as np
import pytest

import plot_samples
from conftest import AD2_FIXTURE as FIXTURE, ROOT, make_ad2_dataset, private_tbg

SCRIPT = os.path.join(ROOT, "Tools", "plot_samples.py")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_END = b"IEND\xaeB`\x82"


def run_script(*args):
    return subprocess.run([sys.executable, SCRIPT, *map(str, args)], capture_output=True, text=True)


# ---------------------------------------------------------------------------------------------
# (a) end to end


@pytest.fixture(scope="module")
def samples_file(tmp_path_factory):
    """Samples of a tiny model trained on the 20-frame fixture, from a private copy of tbg.

    The copy keeps the test independent of a rebuild of .build/release/tbg while it runs. The
    recipe (H 16, L 3, 2500 steps of 8 frames, rk4 with 8 steps, 16 samples) takes ~10 s on one core
    and gives a few valid samples (6 of 16 when written), which the ESS check needs.
    """
    tbg = private_tbg(tmp_path_factory)
    work = tmp_path_factory.mktemp("tbg")
    dataset = make_ad2_dataset(work / "dataset")
    checkpoint = work / "model.h5"
    overrides = ["model.hidden=16", "model.layers=3", f"data.dataset={dataset}", "data.frames_per_peptide=8",
                 "data.window_frames=4", "data.shuffle_windows=4", "data.validation_frames=2",
                 "training.steps=2500", "training.learning_rate=0.005", "training.schedule=epochs", "training.lr_decay_epochs=[800]", "data.stream=windowed",
                 "training.lr_decay_factor=0.2", "training.log_every=2500", "training.validate_every=2500",
                 f"training.checkpoint={checkpoint}"]
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    subprocess.run([tbg, "train", "--mpi", "off"] + [a for o in overrides for a in ("--set", o)],
                   check=True, capture_output=True, env=env)
    out = work / "samples.h5"
    subprocess.run([tbg, "sample", "--mpi", "off", "--checkpoint", checkpoint, "--peptide", FIXTURE, "--count", "16",
                    "--method", "rk4", "--steps", "8", "--out", out], check=True, capture_output=True, env=env)
    return out


def assert_png(path):
    data = open(path, "rb").read()
    assert len(data) > 1000, path
    assert data.startswith(PNG_SIGNATURE), path
    assert data.endswith(PNG_END), path  # complete: the IEND chunk is last


def test_plots_of_real_samples(samples_file, tmp_path):
    out = tmp_path / "plots"
    result = run_script("--md", FIXTURE, "--samples", samples_file, "--out", out, "--bins", 30)
    assert result.returncode == 0, result.stderr

    summary = json.loads((out / "summary.json").read_text())
    for key, name in [("ramachandran", "ramachandran.png"), ("energy", "energy.png"),
                      ("free_energy_phi", "free_energy_phi.png")]:
        assert summary["plots"][key] == str(out / name)
        assert_png(out / name)
    assert sorted(os.listdir(out)) == ["energy.png", "free_energy_phi.png", "ramachandran.png", "summary.json"]

    with h5py.File(samples_file, "r") as f:
        flags = {name: f["samples"][name][:].astype(bool) for name in ("topology_ok", "chirality_ok", "chirality_fixed")}
        ess_in_file = float(f["samples"].attrs["effective_sample_size"])
    valid = flags["topology_ok"] & flags["chirality_ok"]
    assert summary["md_frames"] == 20
    assert summary["samples"] == 16
    assert summary["valid"] == int(valid.sum())
    assert summary["invalid"] == 16 - int(valid.sum())
    assert summary["chirality_fixed"] == int(flags["chirality_fixed"].sum())
    assert summary["temperature_K"] == 300.0
    assert summary["valid"] > 0, "the tiny model gave no valid sample; the recipe in samples_file needs more training"
    assert 0.0 < summary["ess"] <= 1.0
    assert summary["ess"] == pytest.approx(ess_in_file, rel=1e-9)  # the same Kish ESS as tbg sample's
    assert f"{summary['valid']} valid" in result.stdout
    # The phi-basin free energy uses tbg evaluate's default basin; every fixture frame has phi < 0.
    assert summary["phi_positive_basin_rad"] == [0.0, 2.15]
    assert set(summary["delta_f_kT"]) == {"md", "proposal", "reweighted"}
    assert summary["delta_f_kT"]["md"] is None


# ---------------------------------------------------------------------------------------------
# (b) helpers against known answers


def test_valid_mask_needs_both_checks():
    mask = plot_samples.valid_mask([1, 1, 0, 0], [1, 0, 1, 0])
    assert mask.tolist() == [True, False, False, False]


def test_uniform_weights_have_ess_one():
    valid = np.ones(10, dtype=bool)
    weights = plot_samples.importance_weights(np.full(10, -1234.5), valid)
    np.testing.assert_allclose(weights, 0.1)
    assert plot_samples.normalised_ess(weights, valid) == pytest.approx(1.0)


def test_one_dominant_weight_gives_ess_one_over_n():
    valid = np.ones(10, dtype=bool)
    weights = plot_samples.importance_weights(np.r_[0.0, np.full(9, -50.0)], valid)
    assert weights[0] == pytest.approx(1.0)
    assert plot_samples.normalised_ess(weights, valid) == pytest.approx(0.1, rel=1e-12)


def test_invalid_samples_are_excluded():
    # The invalid sample has by far the largest log weight; it must not take any weight.
    valid = np.array([True, True, True, False])
    weights = plot_samples.importance_weights([0.0, 0.0, 0.0, 50.0], valid)
    np.testing.assert_allclose(weights, [1 / 3, 1 / 3, 1 / 3, 0.0])
    assert plot_samples.normalised_ess(weights, valid) == pytest.approx(1.0)


def test_valid_samples_without_finite_weight_count_as_zero_weight():
    # As in tbg sample: clashes (-inf) and nan are weight 0 but still among the valid samples.
    valid = np.ones(4, dtype=bool)
    weights = plot_samples.importance_weights([0.0, 0.0, -np.inf, np.nan], valid)
    np.testing.assert_allclose(weights, [0.5, 0.5, 0.0, 0.0])
    assert plot_samples.normalised_ess(weights, valid) == pytest.approx(0.5)


def test_no_usable_sample_gives_zero_weights_and_ess():
    weights = plot_samples.importance_weights([0.0, -np.inf], [False, True])
    assert weights.tolist() == [0.0, 0.0]
    assert plot_samples.normalised_ess(weights, [False, True]) == 0.0
    assert plot_samples.normalised_ess(np.zeros(0), np.zeros(0, dtype=bool)) == 0.0


def test_retargeting_log_weights_to_another_temperature():
    shifted = plot_samples.retarget_log_weights([0.0, 0.0], [1.0, 2.0], kT_file=1.0, kT_target=2.0)
    np.testing.assert_allclose(shifted, [0.5, 1.0])  # + u (1/1 - 1/2)
    same = plot_samples.retarget_log_weights([-np.inf, -3.0], [np.inf, 2.0], kT_file=2.5, kT_target=2.5)
    assert same[0] == -np.inf and same[1] == -3.0  # no -inf + inf = nan at the same temperature


def test_free_energy_of_a_known_histogram():
    # counts 4, 2, 1, 0 in four unit bins -> F = 0, ln 2, ln 4, gap; 9 is outside and dropped
    values = [0.5] * 4 + [1.5, 1.9] + [2.0] + [9.0]
    np.testing.assert_allclose(plot_samples.free_energy([values], [0, 1, 2, 3, 4]),
                               [0.0, np.log(2), np.log(4), np.nan])
    # 2-D, weighted: (0.5, 2.5) carries e, (2.5, 0.5) carries 1, the right edge 3 is in the last bin
    grid = plot_samples.free_energy([[0.5, 2.5, 3.0], [2.5, 0.5, 3.0]], [0, 1, 2, 3], log_weights=[1.0, 0.0, -np.inf])
    expected = np.full((3, 3), np.nan)
    expected[0, 2], expected[2, 0] = 0.0, 1.0
    np.testing.assert_allclose(grid, expected)
    assert np.isnan(plot_samples.free_energy([[]], [0, 1, 2])).all()


def test_free_energy_of_tiny_weights_does_not_underflow_to_a_gap():
    # exp(-1000) is 0 in floating point; the bin still holds a sample and must show F = 1000.
    np.testing.assert_allclose(plot_samples.free_energy([[0.5, 2.5]], [0, 1, 2, 3], log_weights=[0.0, -1000.0]),
                               [0.0, np.nan, 1000.0])


def test_reweighted_histogram_recovers_a_boltzmann_free_energy():
    # Uniform proposal on [-2, 2], target exp(-u) with u = x²: F(x) must come out as x² - min.
    rng = np.random.default_rng(7)
    x = rng.uniform(-2, 2, 400_000)
    edges = np.linspace(-2, 2, 21)
    centres = 0.5 * (edges[1:] + edges[:-1])
    free = plot_samples.free_energy([x], edges, log_weights=-x**2)  # log q is a constant
    np.testing.assert_allclose(free, centres**2 - np.min(centres**2), atol=0.03)


def _fixture_with_samples(path):
    """The fixture as a `tbg sample` output: every frame valid, equal log weights."""
    shutil.copy(FIXTURE, path)
    with h5py.File(path, "a") as f:
        n = f["coordinates"].shape[0]
        g = f.create_group("samples")
        g["energy_kj_mol"] = f["potentialEnergy"][...].astype(np.float64)
        g["log_weight"] = np.zeros(n)
        for name in ("topology_ok", "chirality_ok"):
            g[name] = np.ones(n, np.uint8)
        g["chirality_fixed"] = np.zeros(n, np.uint8)
        g.attrs["kT_kJ_per_mol"] = 300 * 0.00831446261815324
    return path


def _biased_md(path, bias):
    shutil.copy(FIXTURE, path)
    with h5py.File(path, "a") as f:
        f["bias_energy"] = np.asarray(bias, dtype=np.float64)
    return path


def test_biased_md_is_plotted_reweighted(tmp_path):
    """A biased MD file (/bias_energy) weights its frames by exp(+V/kT) in every MD histogram."""
    kT = 300 * 0.00831446261815324
    bias = 0.7 * np.arange(20)
    md = _biased_md(tmp_path / "md.h5", bias)
    samples = _fixture_with_samples(tmp_path / "samples.h5")
    trajectory = plot_samples.read_md(str(md), 1, need_temperature=True)
    a = plot_samples.analyse(trajectory, plot_samples.read_samples(str(samples)), kT, 300.0, [])
    w = np.exp(bias / kT)
    np.testing.assert_allclose(a.md_weights, w / w.sum(), rtol=1e-12)
    edges = np.linspace(-180, 180, 13)
    # F(phi) of the MD is the weighted histogram's, not the frame count's.
    counts = np.histogram(a.md_phi, edges, weights=w)[0]
    expected = np.where(counts > 0, -np.log(np.where(counts > 0, counts, 1) / counts.max()), np.nan)
    np.testing.assert_allclose(plot_samples.free_energy([a.md_phi], edges, a.md_log_weights), expected, rtol=1e-12, atol=1e-12)
    result = run_script("--md", md, "--samples", samples, "--out", tmp_path / "plots", "--bins", "12")
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "plots" / "summary.json").read_text())
    assert summary["md_weighted_by_bias"] is True
    assert summary["md_bias_ess"] == pytest.approx(w.sum() ** 2 / (w ** 2).sum() / 20, rel=1e-12)
    plain = run_script("--md", FIXTURE, "--samples", samples, "--out", tmp_path / "plain", "--bins", "12")
    assert plain.returncode == 0, plain.stderr
    summary = json.loads((tmp_path / "plain" / "summary.json").read_text())
    assert summary["md_weighted_by_bias"] is False and summary["md_bias_ess"] is None


def test_bad_bias_energy_is_exit_2_naming_file_and_dataset(tmp_path):
    samples = _fixture_with_samples(tmp_path / "samples.h5")
    for name, bias in (("short.h5", np.zeros(19)), ("nan.h5", np.r_[np.zeros(19), np.nan])):
        md = _biased_md(tmp_path / name, bias)
        result = run_script("--md", md, "--samples", samples, "--out", tmp_path / "plots")
        assert_input_error(result, str(md), "/bias_energy", "one finite bias energy")


# ---------------------------------------------------------------------------------------------
# (c) expected input errors


def assert_input_error(result, *fragments):
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("plot_samples.py: error: ")
    for fragment in fragments:
        assert fragment in result.stderr


def test_missing_file_is_exit_2_naming_it(tmp_path):
    missing = tmp_path / "no-such-samples.h5"
    result = run_script("--md", FIXTURE, "--samples", missing, "--out", tmp_path / "plots")
    assert_input_error(result, str(missing), "no such file", "tbg sample")
    assert not (tmp_path / "plots").exists()


def test_missing_dataset_is_exit_2_naming_file_and_dataset(tmp_path):
    # An MD file passed as the samples file: a real HDF5 trajectory without the /samples datasets.
    result = run_script("--md", FIXTURE, "--samples", FIXTURE, "--out", tmp_path / "plots")
    assert_input_error(result, FIXTURE, "missing dataset /samples/")


def test_md_file_without_energies_or_temperature(tmp_path, capsys):
    broken = tmp_path / "md.h5"
    shutil.copy(FIXTURE, broken)
    with h5py.File(broken, "a") as f:
        del f["metadata"]
    assert plot_samples.main(["--md", str(broken), "--samples", FIXTURE, "--out", str(tmp_path / "o")]) == 2
    assert f"{broken}: no temperature_K in /metadata" in capsys.readouterr().err
    with h5py.File(broken, "a") as f:
        del f["potentialEnergy"]
    assert plot_samples.main(["--md", str(broken), "--samples", FIXTURE, "--out", str(tmp_path / "o"),
                              "--temperature", "300"]) == 2
    assert f"{broken}: missing dataset /potentialEnergy" in capsys.readouterr().err


def test_phi_basin_free_energy_keeps_the_beta_tail_out_of_the_positive_basin():
    # degrees: C7ax at 70, alpha_R at -70, the beta basin at -150 and its tail wrapped past 180 to 150-175.
    phi = np.array([70.0, 75.0, -70.0, -80.0, -150.0, 150.0, 166.0, 175.0])
    assert plot_samples.basin_free_energy(phi, None, (0.0, 2.15)) == pytest.approx(-np.log(2 / 6))
    assert plot_samples.basin_free_energy(phi, None, (0.0, np.pi)) == pytest.approx(-np.log(5 / 3))
    weights = np.where((phi > 0) & (phi < np.degrees(2.15)), 3.0, 1.0)
    assert plot_samples.basin_free_energy(phi, weights, (0.0, 2.15)) == pytest.approx(-np.log(6 / 6))
    assert plot_samples.basin_free_energy(np.array([-70.0, -80.0]), None, (0.0, 2.15)) is None
    assert plot_samples.phi_basin("-3.14159:0") == (-3.14159, 0.0)


@pytest.mark.parametrize("value", ["2.15", "1:0", "0:4", "a:b"])
def test_bad_phi_basin_is_exit_2(capsys, value):
    with pytest.raises(SystemExit) as stop:
        plot_samples.main(["--md", FIXTURE, "--samples", FIXTURE, "--out", "x", "--phi-basin", value])
    assert stop.value.code == 2
    assert "--phi-basin" in capsys.readouterr().err


def test_bad_option_is_exit_2(capsys):
    with pytest.raises(SystemExit) as stop:
        plot_samples.main(["--md", FIXTURE, "--samples", FIXTURE, "--out", "x", "--bins", "0"])
    assert stop.value.code == 2
    assert "--bins" in capsys.readouterr().err
