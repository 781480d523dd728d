"""Tools/md_as_samples.py: plain MD at an energy budget as a samples file that tbg evaluate reads."""
import json
import os
import subprocess

import h5py
import mdtraj
import numpy as np
import pytest

import md_as_samples
from conftest import AD2_FIXTURE, private_tbg


def test_the_first_frames_of_the_budget_with_equal_weights(tmp_path):
    out = tmp_path / "md.h5"
    # The fixture saves every 0.5 ps at 1 fs: 500 steps per frame; 2600 steps hold 5 whole frames.
    assert md_as_samples.main(["--md", AD2_FIXTURE, "--evaluations", "2600", "--out", str(out)]) == 0
    with h5py.File(AD2_FIXTURE, "r") as src, h5py.File(out, "r") as f:
        np.testing.assert_array_equal(f["coordinates"][:], src["coordinates"][:5])
        s = f["samples"]
        np.testing.assert_array_equal(s["energy_kj_mol"][:], src["potentialEnergy"][:5])
        assert s["log_weight"][:].tolist() == [0.0] * 5
        assert s["topology_ok"][:].tolist() == [1] * 5 and s["chirality_fixed"][:].tolist() == [0] * 5
        assert int(s.attrs["energy_evaluations"][0]) == 2500
        assert int(s.attrs["equilibration_steps"][0]) == 5000
        assert s.attrs["sampler"] == "md"
        assert json.loads(f["metadata"][0])["kind"] == "samples"
        assert "wall_seconds" not in s.attrs
    assert mdtraj.load(str(out)).n_frames == 5


def test_timed_openmm_steps_give_the_wall_time(tmp_path):
    out = tmp_path / "md.h5"
    assert md_as_samples.main(["--md", AD2_FIXTURE, "--evaluations", "1000", "--out", str(out), "--time-steps", "200"]) == 0
    with h5py.File(out, "r") as f:
        wall = float(f["samples"].attrs["wall_seconds"][0])
    # 1000 steps of a 22-atom implicit-solvent system on one core: well under a second, but not free.
    assert 1e-5 < wall < 5


def test_bad_budgets_and_paths_are_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        md_as_samples.main(["--md", AD2_FIXTURE, "--evaluations", "20001", "--out", str(tmp_path / "x.h5")])
    assert stop.value.code == 2
    assert "holds 20 frames (10000 steps); the budget 20001 is longer" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        md_as_samples.main(["--md", AD2_FIXTURE, "--evaluations", "500", "--out", AD2_FIXTURE])
    assert "outputs never overwrite inputs" in capsys.readouterr().err


def test_an_existing_output_is_replaced_only_with_overwrite(tmp_path, capsys):
    out = tmp_path / "md.h5"
    out.write_bytes(b"an earlier result")
    with pytest.raises(SystemExit) as stop:
        md_as_samples.main(["--md", AD2_FIXTURE, "--evaluations", "1000", "--out", str(out)])
    assert stop.value.code == 2
    assert "exists already and is not replaced" in capsys.readouterr().err
    assert out.read_bytes() == b"an earlier result"
    # Through a folder that does not exist, missing/../md.h5 is md.h5 all the same.
    with pytest.raises(SystemExit):
        md_as_samples.main(["--md", AD2_FIXTURE, "--evaluations", "1000", "--out", str(tmp_path / "missing" / ".." / "md.h5")])
    assert "exists already and is not replaced" in capsys.readouterr().err
    # A folder is refused up front, with --overwrite too.
    with pytest.raises(SystemExit):
        md_as_samples.main(["--md", AD2_FIXTURE, "--evaluations", "1000", "--out", str(tmp_path), "--overwrite"])
    assert "is a folder" in capsys.readouterr().err
    assert out.read_bytes() == b"an earlier result"
    assert md_as_samples.main(["--md", AD2_FIXTURE, "--evaluations", "1000", "--out", str(out), "--overwrite"]) == 0
    with h5py.File(out, "r") as f:
        assert f["coordinates"].shape[0] == 2


def test_the_input_is_never_overwritten_through_a_link(tmp_path, capsys):
    copy = tmp_path / "md.h5"
    copy.write_bytes(open(AD2_FIXTURE, "rb").read())
    before = copy.read_bytes()
    (tmp_path / "link.h5").symlink_to(copy)
    os.link(copy, tmp_path / "hard.h5")
    for md, out in (("link.h5", "md.h5"), ("md.h5", "link.h5"), ("hard.h5", "md.h5")):
        with pytest.raises(SystemExit) as stop:
            md_as_samples.main(["--md", str(tmp_path / md), "--evaluations", "1000", "--out", str(tmp_path / out)])
        assert stop.value.code == 2
        assert "outputs never overwrite inputs" in capsys.readouterr().err
    assert copy.read_bytes() == before


def test_missing_and_foreign_inputs_and_missing_folders_get_clear_errors(tmp_path, capsys):
    text = tmp_path / "notes.txt"
    text.write_text("not hdf5")
    cases = [(str(tmp_path / "none.h5"), str(tmp_path / "o.h5"), "no such file"),
             (str(text), str(tmp_path / "o.h5"), "not an HDF5 file"),
             (AD2_FIXTURE, str(tmp_path / "nodir" / "o.h5"), "does not exist or is not writable")]
    for md, out, message in cases:
        with pytest.raises(SystemExit) as stop:
            md_as_samples.main(["--md", md, "--evaluations", "1000", "--out", out])
        assert stop.value.code == 2
        assert message in capsys.readouterr().err


def test_tbg_evaluate_reads_it_as_the_md_sampler(tmp_path, tmp_path_factory):
    tbg = private_tbg(tmp_path_factory)
    out = tmp_path / "md.h5"
    md_as_samples.main(["--md", AD2_FIXTURE, "--evaluations", "5000", "--out", str(out)])
    result = subprocess.run([tbg, "evaluate", "--samples", str(out), "--reference", AD2_FIXTURE, "--json"],
                            capture_output=True, text=True, check=True)
    report = json.loads(result.stdout)
    assert report["sampler"] == "md"
    assert report["energy_evaluations"] == 5000
    assert report["counts"]["valid"] == 10
    assert report["snis_tbg"]["ess"] == pytest.approx(1.0)
