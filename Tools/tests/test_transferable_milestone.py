"""Tools/transferable_milestone.py: a milestone row from a checkpoint, sample files and evaluate JSON."""
import json
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
import transferable_milestone  # noqa: E402


def _inputs(tmp_path, name, valid, ess, nll_per_dim, protocols=None):
    samples = tmp_path / f"{name}.h5"
    with h5py.File(samples, "w") as f:
        f["samples/log_q"] = np.zeros(7)
        f["samples"].attrs["evaluations_per_sample"] = [61.5]
    evaluate = tmp_path / f"{name}.json"
    output = {
        "counts": {"valid_fraction": valid, "ess": ess},
        "proposal": {"energy_w2_kT": 40.0}, "reweighted": {"energy_w2_kT": 12.5, "torus_w2": 0.75},
        "nll": {"mean": nll_per_dim * 60, "mean_per_dimension": nll_per_dim, "frames": 20}}
    output.update(protocols or {})
    evaluate.write_text(json.dumps(output))
    return [name, str(samples), str(evaluate)]


def _checkpoint(tmp_path, peptides, step):
    """A checkpoint-shaped HDF5 file (step, config naming a dataset) and that dataset's index.json,
    whose peptides are (name, split) pairs."""
    dataset = tmp_path / "set"
    dataset.mkdir()
    (dataset / "index.json").write_text(json.dumps({"peptides": [{"name": n, "split": s} for n, s in peptides]}))
    checkpoint = tmp_path / "model.h5"
    with h5py.File(checkpoint, "w") as f:
        f.attrs["config"] = json.dumps({"data": {"dataset": str(dataset), "frames_per_peptide": 10}})
        f.attrs["step"] = step
    return dataset, checkpoint


def test_row_and_table(tmp_path, capsys):
    _, checkpoint = _checkpoint(tmp_path, [("AA", "train"), ("GP", "train"), ("KS", "test")], 1200)
    curve = tmp_path / "curve.json"
    argv = ["--checkpoint", str(checkpoint), "--core-hours", "1.5", "--curve", str(curve),
            "--peptide", *_inputs(tmp_path, "KS", 0.5, 0.02, -1.0, protocols={
                "snis_tbg": {"ess": 0.03, "energy_w2_kT": 9.5, "torsion_w2": 0.5},
                "snis_clipped": {"ess": 0.04, "energy_w2_kT": 11.0, "torsion_w2": 0.625}}),
            "--peptide", *_inputs(tmp_path, "WD", 0.25, None, -2.0)]
    assert transferable_milestone.main(argv) == 0
    rows = json.loads(curve.read_text())
    assert len(rows) == 1
    row = rows[0]
    assert row["samples_seen"] == 1200 * 10 * 2          # step × frames per peptide × training peptides
    assert row["heldout_nll_per_dimension"] == -1.5      # mean over the test peptides
    assert [p["peptide"] for p in row["peptides"]] == ["KS", "WD"]
    # KS has the SNIS protocols of tbg evaluate: they are the ESS and W2 columns.
    assert row["peptides"][0]["samples"] == 7 and row["peptides"][0]["torsion_w2_rad"] == 0.5
    assert row["peptides"][0]["ess_clip"] == 0.04
    # WD's evaluate output predates them: the reweighted metrics stand in for TBG, clip is empty.
    assert row["peptides"][1]["torsion_w2_rad"] == 0.75 and row["peptides"][1]["ess_clip"] is None
    table = capsys.readouterr().out
    assert "| 1200 | 2.40e+04 | 1.5 | -1.500 | KS | 7 | 50.0 % | 3.00 % / 4.00 % | 9.50 / 11.00 | 0.500 / 0.625 | 61.5 |" in table
    assert "| | | | | WD | 7 | 25.0 % | – / – | 12.50 / – | 0.750 / – |" in table
    # A second call without --checkpoint only prints the table.
    assert transferable_milestone.main(["--curve", str(curve)]) == 0
    assert len(json.loads(curve.read_text())) == 1


def test_same_step_completes_the_row(tmp_path):
    """A second milestone call at the same step (a peptide run later, or a rerun after a stop)
    replaces or adds peptides in that step's row rather than appending a duplicate row."""
    _, checkpoint = _checkpoint(tmp_path, [("AA", "train")], 500)
    curve = tmp_path / "curve.json"
    base = ["--checkpoint", str(checkpoint), "--curve", str(curve)]
    assert transferable_milestone.main(base + ["--core-hours", "1.0", "--peptide", *_inputs(tmp_path, "KS", 0.5, 0.02, -1.0),
                                               "--peptide", *_inputs(tmp_path, "WD", 0.5, 0.02, -2.0)]) == 0
    # RV later, and KS again with a new evaluation.
    (tmp_path / "later").mkdir()
    assert transferable_milestone.main(base + ["--core-hours", "1.25", "--note", "RV added",
                                               "--peptide", *_inputs(tmp_path / "later", "RV", 0.25, 0.01, -4.0),
                                               "--peptide", *_inputs(tmp_path / "later", "KS", 0.75, 0.02, -3.0)]) == 0
    rows = json.loads(curve.read_text())
    assert len(rows) == 1
    row = rows[0]
    assert sorted(p["peptide"] for p in row["peptides"]) == ["KS", "RV", "WD"]
    ks = next(p for p in row["peptides"] if p["peptide"] == "KS")
    assert ks["valid_fraction"] == 0.75
    assert row["heldout_nll_per_dimension"] == (-3.0 - 2.0 - 4.0) / 3
    assert row["core_hours"] == 1.25 and row["note"] == "RV added"
    # Another step is a new row.
    with h5py.File(checkpoint, "a") as f:
        f.attrs["step"] = 900
    assert transferable_milestone.main(base + ["--core-hours", "2.0", "--peptide", *_inputs(tmp_path, "KS", 0.5, 0.02, -1.0)]) == 0
    assert [r["step"] for r in json.loads(curve.read_text())] == [500, 900]


def test_samples_seen_from_the_checkpoint_when_the_dataset_is_not_its_training_set(tmp_path):
    """A dataset folder remade with only the test peptides (to evaluate on a fresh machine) must not
    turn the row's samples seen into 0: --samples-seen (the milestone script passes `tbg inspect`'s)
    is used as given, and without it such an index is refused, naming the file."""
    dataset, checkpoint = _checkpoint(tmp_path, [("KS", "test")], 500)
    curve = tmp_path / "curve.json"
    base = ["--checkpoint", str(checkpoint), "--curve", str(curve), "--core-hours", "1.0",
            "--peptide", *_inputs(tmp_path, "KS", 0.5, 0.02, -1.0)]
    try:
        transferable_milestone.main(base)
        raise AssertionError("an index without training peptides was accepted")
    except SystemExit as exc:
        assert "no training peptides" in str(exc) and str(dataset / "index.json") in str(exc)
    assert not curve.exists()                              # nothing written
    assert transferable_milestone.main(base + ["--samples-seen", "115000"]) == 0
    assert json.loads(curve.read_text())[0]["samples_seen"] == 115000
