"""Tools/tolerance_study.py: the same latents at several dopri5 tolerances, compared with the
tightest, on the committed alanine-dipeptide fixture with the shipped AD2 model (real tbg runs)."""
import json
import os

import numpy as np
import pytest

import tolerance_study
from conftest import AD2_FIXTURE, ROOT, private_tbg

MODEL = os.path.join(ROOT, "Configs", "models", "ad2.h5")


def test_kish_ess():
    assert tolerance_study.kish(np.zeros(5)) == pytest.approx(1.0)
    assert tolerance_study.kish(np.array([0.0, -np.inf, -np.inf, -np.inf])) == pytest.approx(0.25)
    assert np.isnan(tolerance_study.kish(np.array([])))


def test_runs_compare_with_the_tightest_and_are_reused(tmp_path, tmp_path_factory, monkeypatch, capsys):
    monkeypatch.setenv("TBG", private_tbg(tmp_path_factory))
    out = tmp_path / "runs"
    argv = ["--checkpoint", MODEL, "--peptide", AD2_FIXTURE, "--count", "3", "--tolerances", "1e-2,1e-4", "--out", str(out), "--json"]
    tolerance_study.main(argv)
    rows = json.loads(capsys.readouterr().out)
    assert [r["tolerance"] for r in rows] == [1e-2, 1e-4]
    loose, tight = rows
    # The reference compared with itself: no error; the loose run: the same samples, fewer evaluations.
    if tight["compared"] > 0:
        assert tight["log_q_error_max"] == 0 and tight["coordinate_error_max_nm"] == 0
    assert loose["evaluations_per_sample"] < tight["evaluations_per_sample"]
    assert all(r["samples"] == 3 and r["cpu_seconds_per_sample"] > 0 for r in rows)
    if loose["compared"] > 0:
        assert loose["log_q_error_max"] > 0
    files = sorted(os.listdir(out))
    assert files == ["tol0.0001-n3-seed1.h5", "tol0.0001-n3-seed1.h5.timing.json", "tol0.01-n3-seed1.h5", "tol0.01-n3-seed1.h5.timing.json"]
    # A second call reuses the runs (no tbg needed) and prints the markdown table.
    monkeypatch.setenv("TBG", "/nonexistent/tbg")
    tolerance_study.main(argv[:-1])
    text = capsys.readouterr().out
    assert "| tolerance | evals/sample | CPU s/sample |" in text and "| 0.01 |" in text


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(SystemExit):
        tolerance_study.main(["--checkpoint", MODEL, "--peptide", AD2_FIXTURE, "--tolerances", "1e-3", "--out", str(tmp_path)])
    with pytest.raises(SystemExit):
        tolerance_study.main(["--checkpoint", str(tmp_path / "missing.h5"), "--peptide", AD2_FIXTURE, "--out", str(tmp_path)])
