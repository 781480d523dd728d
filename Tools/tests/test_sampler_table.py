"""Tools/sampler_table.py: the equal-budget table of samplers from tbg evaluate outputs."""
import json

import pytest

import sampler_table


def _row(tmp_path, name, sampler, evaluations, seconds, ess, delta_f):
    evaluate = tmp_path / f"{name}.json"
    evaluate.write_text(json.dumps({
        "sampler": sampler, "energy_evaluations": evaluations, "counts": {"valid": 100},
        "snis_tbg": {"ess": ess, "energy_w2_kT": 1.25, "torsion_w2": 0.5, "resampled": 100},
        "reweighted": {"delta_f_kT": None if delta_f is None else {"value": delta_f, "standard_error": 0.25}},
        "md": {"delta_f_kT": {"value": 3.75, "standard_error": 0.125}}}))
    wall = tmp_path / f"{name}.seconds"
    wall.write_text(f"{seconds}\n")
    return ["--row", name, str(evaluate), str(wall)]


def test_rows_and_the_md_reference(tmp_path, capsys):
    out = tmp_path / "table.md"
    argv = _row(tmp_path, "snis", "flow", 4000, 1200.4, 0.05, 4.5) + _row(tmp_path, "md-small", "md", 4000, 0.8, 1.0, None)
    assert sampler_table.main(argv + ["--out", str(out)]) == 0
    text = out.read_text()
    assert "| snis | flow | 4000 | 1200.4 | 100 | 5.00 % | 100 | 1.25 | 0.500 | 4.50 ± 0.25 | 0.75 |" in text
    assert "| md-small | md | 4000 | 0.8 | 100 | 100.00 % | 100 | 1.25 | 0.500 | – | – |" in text
    assert "Reference ΔF (biased MD, reweighted by exp(+V/kT)): 3.75 ± 0.12 kT." in text
    assert capsys.readouterr().out.strip() == text.strip()


def test_bad_rows_name_the_row_and_file(tmp_path, capsys):
    good = _row(tmp_path, "snis", "flow", 4000, 1.0, 0.05, 4.5)
    (tmp_path / "bad.seconds").write_text("abc")
    for argv, message in ((["--row", "x", str(tmp_path / "none.json"), good[3]], "none.json"),
                          (["--row", "y", good[2], str(tmp_path / "bad.seconds")], "expected one number")):
        with pytest.raises(SystemExit) as stop:
            sampler_table.main(argv)
        assert stop.value.code == 2
        err = capsys.readouterr().err
        assert message in err and "row " in err
