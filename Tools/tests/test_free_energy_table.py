"""Tools/free_energy_table.py: SNIS and stratified-BAR rows from tbg free-energy and tbg evaluate outputs."""
import json
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import free_energy_table  # noqa: E402


def _pool(path, n):
    with h5py.File(path, "w") as h:
        h["samples/log_q"] = np.zeros(n)
    return str(path)


def _bar(path, pool, bar, snis, latent=None, draws=None):
    with h5py.File(path, "w") as h:
        h["samples/log_q"] = np.zeros(4)
        extra = {} if latent is None else {"flow_chain_integrations": latent}
        if draws is not None:
            extra.update(position_draws=draws[0], restricted_draw_integrations=draws[1])
        h["samples"].attrs["free_energy"] = json.dumps({
            **extra, "samples_file": pool, "reverse_integrations": 256, "energy_evaluations": 7_000_000,
            "delta_f_kT": bar, "standard_error_kT": 0.4, "snis_delta_f_kT": snis, "snis_standard_error_kT": 1.0,
            "wall_seconds": 300.0})
    return str(path)


def _evaluate(path, md=None, reweighted=None, samples=1024):
    out = {"counts": {"samples": samples}, "energy_evaluations": samples}
    if md is not None:
        out["md"] = {"delta_f_kT": {"value": md, "standard_error": 0.1}}
    if reweighted is not None:
        out["reweighted"] = {"delta_f_kT": {"value": reweighted, "standard_error": 0.9}}
    path.write_text(json.dumps(out))
    return str(path)


def test_rows_budgets_and_summary(tmp_path, capsys):
    reference = _evaluate(tmp_path / "ref.json", md=3.77)
    bars = [_bar(tmp_path / f"bar{k}.h5", _pool(tmp_path / f"pool{k}.h5", 512), bar, snis, latent)
            for k, (bar, snis, latent) in enumerate([(4.0, 9.0, None), (3.0, 4.5, 0), (3.6, 9.0, 258), (4.5, 9.0, 264)])]
    pooled = _evaluate(tmp_path / "pool.json", reweighted=4.17, samples=1536)
    argv = ["--reference", reference, "--snis", pooled] + [x for b in bars for x in ("--bar", b)]
    assert free_energy_table.main(argv) == 0
    out = capsys.readouterr().out
    assert "Reference ΔF (MD): 3.77 ± 0.10 kT" in out
    # each free-energy output: SNIS at its proposals, BAR at proposals + reverse integrations
    # (older outputs without flow_chain_integrations: none)
    assert "| SNIS | 512 | 0 | 0 | 0 | 512 | 0 | 512 | – | 9.00 ± 1.00 | 5.23 |" in out
    assert "| stratified BAR | 512 | 256 | 0 | 0 | 768 | 0 | 7e+06 | 300 | 4.00 ± 0.40 | 0.23 |" in out
    assert "| SNIS | 1536 | 0 | 0 | 0 | 1536 | 0 | 1.54e+03 | – | 4.17 ± 0.90 | 0.40 |" in out
    # with latent chains: their forward integrations are part of the budget, and the row says so
    assert "| stratified BAR, latent chains | 512 | 256 | 258 | 0 | 1026 | 0 | 7e+06 | 300 | 3.60 ± 0.40 | -0.17 |" in out
    # one recipe's runs form one group, their budgets shown as a range: |−0.17| and |0.73|
    assert "| stratified BAR, latent chains, 1026–1032 | 2 | 0.45 | 1 of 2 |" in out
    # the summary groups by estimator and budget: |0.23| and |-0.77|; |5.23| and |0.73|
    assert "| stratified BAR, 768 | 2 | 0.50 | 1 of 2 |" in out
    assert "| SNIS, 512 | 4 | 4.11 | 0 of 4 |" in out
    assert "| SNIS, 1536 | 1 | 0.40 | 1 of 1 |" in out
    # a second free-energy output on the first pool (say, with latent chains): its SNIS row is not repeated
    again = _bar(tmp_path / "again.h5", str(tmp_path / "pool0.h5"), 3.9, 9.0, 264)
    assert free_energy_table.main(argv + ["--bar", again]) == 0
    out = capsys.readouterr().out
    assert "| SNIS, 512 | 4 | 4.11 | 0 of 4 |" in out
    assert "| stratified BAR, latent chains, 1026–1032 | 3 | 0.34 | 2 of 3 |" in out
    assert free_energy_table.main(argv + ["--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert [r["flow_integrations"] for r in rows] == [512, 768, 512, 768, 512, 1026, 512, 1032, 1536]


def test_inputs_that_are_not_what_they_should_be_are_named(tmp_path, capsys):
    no_md = _evaluate(tmp_path / "no-md.json", reweighted=4.0)
    pool = _evaluate(tmp_path / "pool.json", reweighted=4.0)
    assert free_energy_table.main(["--reference", no_md, "--snis", pool]) == 2
    assert "no-md.json: no md.delta_f_kT" in capsys.readouterr().err
    reference = _evaluate(tmp_path / "ref.json", md=3.77)
    not_bar = _pool(tmp_path / "plain.h5", 8)
    assert free_energy_table.main(["--reference", reference, "--bar", not_bar]) == 2
    assert "plain.h5" in capsys.readouterr().err
    lost = _bar(tmp_path / "lost.h5", str(tmp_path / "gone.h5"), 4.0, 5.0)
    assert free_energy_table.main(["--reference", reference, "--bar", lost]) == 2
    assert "gone.h5" in capsys.readouterr().err


def test_position_draws_and_a_reference_value(tmp_path, capsys):
    """Restricted draws are in the flow budget, position-only draws beside it; --md-delta-f stands for the reference."""
    bars = [_bar(tmp_path / f"bar{k}.h5", _pool(tmp_path / f"pool{k}.h5", 512), bar, 9.0, draws=(8192, 128))
            for k, bar in enumerate([3.9, 3.3])]
    assert free_energy_table.main(["--md-delta-f", "3.77:0.11"] + [x for b in bars for x in ("--bar", b)]) == 0
    out = capsys.readouterr().out
    assert "Reference ΔF (MD): 3.77 ± 0.11 kT" in out
    assert "| stratified BAR, position draws | 512 | 256 | 0 | 128 | 896 | 8192 | 7e+06 | 300 | 3.90 ± 0.40 | 0.13 |" in out
    # |0.13| and |−0.47|
    assert "| stratified BAR, position draws, 896 + 8192 position-only | 2 | 0.30 | 2 of 2 |" in out
    for bad in ["3.77", "x:0.1", "3.77:-1", "nan:0.1"]:
        assert free_energy_table.main(["--md-delta-f", bad, "--bar", bars[0]]) == 2
        assert "--md-delta-f" in capsys.readouterr().err
