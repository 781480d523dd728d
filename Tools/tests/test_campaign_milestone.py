"""Tools/campaign_milestone.py: an AD2 learning-curve row from a checkpoint, samples, evaluate JSON and NLLs."""
import json
import math

import h5py
import numpy as np

import campaign_milestone


def _inputs(tmp_path, protocols):
    checkpoint = tmp_path / "model.h5"
    with h5py.File(checkpoint, "w") as f:
        f.attrs["config"] = json.dumps({"model": {"scaling": 10.0}, "data": {"frames_per_peptide": 256}})
        f.attrs["step"] = 4000
        f["history/validation_loss"] = np.array([1.5, 1.25])
        f["history/validation_loss_ema"] = np.array([1.5, 1.125])
    samples = tmp_path / "samples.h5"
    with h5py.File(samples, "w") as f:
        f["samples/topology_ok"] = np.array([1, 1, 1, 0], np.uint8)
        f["samples/chirality_ok"] = np.array([1, 1, 1, 1], np.uint8)
        f["samples/log_weight"] = np.array([0.0, 0.0, math.log(2.0), -np.inf])
        f["samples/roundtrip_log_q_error"] = np.array([0.01, 0.03, np.nan, np.nan])
        f["samples"].attrs["evaluations_per_sample"] = [55.5]
    evaluate = tmp_path / "evaluate.json"
    output = {"counts": {"valid_fraction": 0.75, "ess": 0.5},
              "reweighted": {"energy_w2_kT": 12.5, "torus_w2": 0.75, "delta_f_kT": {"value": 4.0, "standard_error": 0.5}},
              "md": {"delta_f_kT": {"value": 3.77, "standard_error": 0.25}}}
    output.update(protocols)
    evaluate.write_text(json.dumps(output))
    nll = tmp_path / "nll.jsonl"
    nll.write_text("\n".join(json.dumps({"nll": v}) for v in (-10.0, -12.0)) + "\n")
    return ["--checkpoint", str(checkpoint), "--samples", str(samples), "--evaluate", str(evaluate), "--nll", str(nll),
            "--core-hours", "2.5"]


def test_row_takes_the_snis_protocols_of_tbg_evaluate(tmp_path, capsys):
    curve = tmp_path / "curve.json"
    protocols = {"snis_tbg": {"ess": 0.04, "energy_w2_kT": 9.5, "torsion_w2": 0.5},
                 "snis_clipped": {"ess": 0.06, "energy_w2_kT": 11.0, "torsion_w2": 0.625}}
    assert campaign_milestone.main(_inputs(tmp_path, protocols) + ["--curve", str(curve)]) == 0
    (row,) = json.loads(curve.read_text())
    assert row["step"] == 4000 and row["samples_seen"] == 4000 * 256
    assert row["nll"] == -11.0 and math.isclose(row["nll_se"], 1.0)
    assert math.isclose(row["nll_nm"], -11.0 - 63 * math.log(10.0))
    assert (row["ess_tbg"], row["ess_clip"]) == (0.04, 0.06)
    assert (row["energy_w2_kT"], row["energy_w2_clip_kT"]) == (9.5, 11.0)
    assert (row["torsion_w2_rad"], row["torsion_w2_clip_rad"]) == (0.5, 0.625)
    assert row["md_delta_f_kT"] == 3.77 and row["delta_f_kT"] == 4.0
    assert math.isclose(row["roundtrip_log_q_error_median"], 0.02)
    table = capsys.readouterr().out
    assert ("| 4000 | 1.02e+06 | 2.5 | 1.250 / 1.125 | -11.00 ± 1.00 | ") in table
    assert "| 75.0 % (4) | 4.00 % / 6.00 % | 9.50 / 11.00 | 0.500 / 0.625 | 4.00 ± 0.50 | 3.77 ± 0.25 |" in table
    assert (tmp_path / "curve.png").exists()


def test_an_evaluate_output_without_protocols_falls_back(tmp_path, capsys):
    curve = tmp_path / "curve.json"
    assert campaign_milestone.main(_inputs(tmp_path, {}) + ["--curve", str(curve)]) == 0
    (row,) = json.loads(curve.read_text())
    assert row["ess_tbg"] == 0.5 and row["energy_w2_kT"] == 12.5 and row["torsion_w2_rad"] == 0.75
    # clip: the top 0.2 % (here one of three) of the valid log weights dropped: weights 1, 1 → ESS 1.
    assert row["ess_clip"] == 1.0
    assert row["energy_w2_clip_kT"] is None
    assert "| 50.00 % / 100.00 % | 12.50 / – | 0.750 / – |" in capsys.readouterr().out


def test_a_second_row_of_one_step_is_refused_unless_it_replaces_the_first(tmp_path, capsys):
    curve = tmp_path / "curve.json"
    inputs = _inputs(tmp_path, {"snis_tbg": {"ess": 0.04}})
    assert campaign_milestone.main(inputs + ["--curve", str(curve)]) == 0
    first = curve.read_text()
    # The same step again (the model re-evaluated on a pool of more samples): refused, curve unchanged.
    assert campaign_milestone.main(inputs + ["--curve", str(curve)]) == 2
    assert "has a row for step 4000 already" in capsys.readouterr().err
    assert curve.read_text() == first
    (tmp_path / "evaluate.json").write_text(json.dumps({**json.loads((tmp_path / "evaluate.json").read_text()),
                                                        "snis_tbg": {"ess": 0.07}}))
    assert campaign_milestone.main(inputs + ["--curve", str(curve), "--replace"]) == 0
    assert "replacing the row of step 4000" in capsys.readouterr().err
    (row,) = json.loads(curve.read_text())
    assert row["ess_tbg"] == 0.07
