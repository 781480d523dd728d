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


def _evaluated(tmp_path, name, m, seed, energy, torsion):
    path = tmp_path / f"{name}-M{m}-s{seed}.json"
    path.write_text(json.dumps({"settings": {"seed": seed, "max_points": m},
                                "snis_tbg": {"resampled": m, "energy_w2_kT": energy, "torsion_w2": torsion}}))
    return str(path)


def test_pairings_with_snis_at_the_same_m_and_seed(tmp_path, capsys):
    argv = _row(tmp_path, "snis", "flow", 4000, 1.0, 0.05, 4.5)
    for seed, (snis, run) in enumerate((((1.0, 0.5), (0.75, 0.625)), ((0.5, 0.25), (0.625, 0.125)), ((2.0, 0.5), (1.5, None))), start=1):
        argv += ["--paired", "smc", str(seed), _evaluated(tmp_path, "snis", 384, seed, *snis), _evaluated(tmp_path, "smc", 384, seed, *run)]
    assert sampler_table.main(argv) == 0
    text = capsys.readouterr().out
    assert "| smc | 384 | 1, 2, 3 | 1.00 / 0.500, 0.50 / 0.250, 2.00 / 0.500 | 0.75 / 0.625, 0.62 / 0.125, 1.50 / – | 2 of 3, 1 of 2 |" in text
    # A pairing at different M or seeds is refused, naming the files.
    other = ["--paired", "smc", "1", _evaluated(tmp_path, "snis", 768, 1, 1.0, 0.5), _evaluated(tmp_path, "smc", 384, 1, 1.0, 0.5)]
    with pytest.raises(SystemExit) as stop:
        sampler_table.main(_row(tmp_path, "snis", "flow", 4000, 1.0, 0.05, 4.5) + other)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "snis-M768-s1.json has M = 768" in err and "same --max-points" in err
    seeds = ["--paired", "smc", "2", _evaluated(tmp_path, "snis", 384, 1, 1.0, 0.5), _evaluated(tmp_path, "smc", 384, 1, 1.0, 0.5)]
    with pytest.raises(SystemExit):
        sampler_table.main(_row(tmp_path, "snis", "flow", 4000, 1.0, 0.05, 4.5) + seeds)
    assert "expected 2 in both" in capsys.readouterr().err


def test_pairings_refuse_files_that_are_not_evaluations_and_repeated_seeds(tmp_path, capsys):
    snis, run = _evaluated(tmp_path, "snis", 384, 1, 1.0, 0.5), _evaluated(tmp_path, "smc", 384, 1, 0.5, None)
    not_object = tmp_path / "list.json"
    not_object.write_text("[1, 2]")
    no_protocol = tmp_path / "empty.json"
    no_protocol.write_text("{}")
    base = _row(tmp_path, "snis", "flow", 4000, 1.0, 0.05, 4.5)
    for paired, message in ((["--paired", "smc", "1", snis, str(not_object)], "list.json: not a JSON object"),
                            (["--paired", "smc", "1", str(no_protocol), run], "empty.json: no snis_tbg.resampled"),
                            (["--paired", "smc", "1", snis, run, "--paired", "smc", "1", snis, run], "each seed once")):
        with pytest.raises(SystemExit) as stop:
            sampler_table.main(base + paired)
        assert stop.value.code == 2
        assert message in capsys.readouterr().err
