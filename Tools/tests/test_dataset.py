"""Dataset builder: spec files, splits by peptide, parallel generation, index.json, resumability."""
import glob
import json
import os
import subprocess
import sys

import pytest

from tbgdata.dataset import DatasetSpec, derive_seed, load_spec, spec_from_sequences
from tbgdata.md import read_metadata

TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(TOOLS)


def _run(out, *extra):
    cmd = [sys.executable, os.path.join(TOOLS, "make_dataset.py"), "--seqs", "GG,AA", "--split-fractions", "1,1,0",
           "--equilibration-ps", "1", "--production-ps", "2", "--save-ps", "0.5", "--reference-frames", "2",
           "--name", "tiny", "--out", str(out), "--jobs", "2", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def test_make_dataset_parallel_and_resumable(tmp_path):
    out = tmp_path / "ds"
    r = _run(out)
    assert r.returncode == 0, r.stderr
    index = json.loads((out / "index.json").read_text())
    assert index["format"] == "tbg-dataset" and index["format_version"] == 1
    assert index["preset"] == "amber14-obc1" and index["termini"] == "zwitterion"
    peps = {p["name"]: p for p in index["peptides"]}
    assert set(peps) == {"GG", "AA"}
    assert sorted(p["split"] for p in peps.values()) == ["train", "validation"]
    assert peps["GG"]["n_atoms"] == 17 and peps["AA"]["n_atoms"] == 23
    for p in peps.values():
        assert set(p) == {"name", "sequence", "file", "split", "n_atoms", "n_frames", "temperature_K",
                          "preset", "termini"}
        assert p["n_frames"] == 4 and p["temperature_K"] == 310.0
        meta = read_metadata(str(out / p["file"]))
        assert meta["seed"] == derive_seed(1, p["name"])
    mtimes = {f: os.path.getmtime(f) for f in glob.glob(str(out / "*.h5"))}
    assert not glob.glob(str(out / "*.part.h5"))
    r2 = _run(out)
    assert r2.returncode == 0, r2.stderr
    assert r2.stderr.count("complete file exists, skipping") == 2
    assert {f: os.path.getmtime(f) for f in glob.glob(str(out / "*.h5"))} == mtimes
    # Different settings must not silently reuse (or clobber) existing files.
    r3 = _run(out, "--seed", "2")
    assert r3.returncode == 2 and "different settings" in r3.stderr


def test_splits_makes_only_those_peptides_and_the_index_keeps_what_exists(tmp_path):
    """--splits validation (as --splits test on a new machine) makes that split's peptide only, with
    the seed a full run gives it; the index lists what exists, so a later full run completes it and
    a --splits run in a finished folder keeps the full index."""
    out = tmp_path / "ds"
    r = _run(out, "--splits", "validation")
    assert r.returncode == 0, r.stderr
    index = json.loads((out / "index.json").read_text())
    assert [p["split"] for p in index["peptides"]] == ["validation"]
    only = index["peptides"][0]["name"]
    assert "leaves out 1 peptide(s)" in r.stderr and "run without --splits" in r.stderr
    assert len(glob.glob(str(out / "*.h5"))) == 1
    mtime = os.path.getmtime(out / f"{only}.h5")
    assert read_metadata(str(out / f"{only}.h5"))["seed"] == derive_seed(1, only)
    r = _run(out)
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("complete file exists, skipping") == 1      # the validation file is reused
    assert os.path.getmtime(out / f"{only}.h5") == mtime
    assert sorted(p["split"] for p in json.loads((out / "index.json").read_text())["peptides"]) == ["train", "validation"]
    r = _run(out, "--splits", "validation")
    assert r.returncode == 0, r.stderr
    assert sorted(p["split"] for p in json.loads((out / "index.json").read_text())["peptides"]) == ["train", "validation"]
    assert "leaves out" not in r.stderr
    r = _run(out, "--splits", "test")                                  # the spec has no test peptide
    assert r.returncode == 2 and "no peptides in the split(s) ['test']" in r.stderr
    r = _run(out, "--splits", "tests")
    assert r.returncode == 2 and "choose among" in r.stderr


@pytest.mark.parametrize("name", ["ad2-quick", "dipeptides-quick", "dipeptides-small"])
def test_committed_specs_are_valid(name):
    spec = load_spec(os.path.join(REPO, "Configs", "datasets", f"{name}.yaml"))
    peps = spec.peptides()
    assert len({n for n, _, _ in peps}) == len(peps)
    if name == "ad2-quick":
        assert peps == [("AD", "A", "train")] and spec.atom_order == "amber" and spec.termini == "capped"
    if name == "dipeptides-small":
        assert 25 <= len(peps) <= 35 and spec.production_ps == 2000
        assert {s for _, _, s in peps} == {"train", "validation", "test"}


def test_splits_are_disjoint_and_deterministic():
    with pytest.raises(ValueError, match="both"):
        DatasetSpec(name="x", preset="amber14-obc1", termini="zwitterion",
                    splits={"train": [("AA", "AA")], "test": [("AA", "AA")]}).peptides()
    seqs = ["AA", "KS", "GP", "CM", "WD", "HY", "EF", "LI", "TV", "NQ"]
    a = spec_from_sequences(seqs, (0.6, 0.2, 0.2), preset="amber14-obc1", termini="zwitterion", seed=3)
    b = spec_from_sequences(list(reversed(seqs)), (0.6, 0.2, 0.2), preset="amber14-obc1", termini="zwitterion", seed=3)
    assert a.peptides() == b.peptides()
    assert [len(a.splits[s]) for s in ("train", "validation", "test")] == [6, 2, 2]
    assert derive_seed(1, "AA") == derive_seed(1, "AA") != derive_seed(1, "KS")


def test_segments_make_one_file_each_and_pool_in_the_index(tmp_path):
    spec_path = tmp_path / "seg.yaml"
    spec_path.write_text("name: seg\npreset: amber99sbildn-obc2\ntermini: capped\natom_order: amber\n"
                         "equilibration_ps: 1\nproduction_ps: 2\nsave_ps: 0.5\nreference_frames: 2\n"
                         "segments: [11, 12]\nsplits:\n  train:\n    - {name: AD, sequence: A}\n")
    out = tmp_path / "ds"
    cmd = [sys.executable, os.path.join(TOOLS, "make_dataset.py"), "--spec", str(spec_path), "--out", str(out), "--jobs", "2"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    entry = json.loads((out / "index.json").read_text())["peptides"][0]
    assert entry["files"] == ["AD-s11.h5", "AD-s12.h5"] and entry["file"] == "AD-s11.h5"
    assert entry["n_frames"] == 8
    assert [read_metadata(str(out / f))["seed"] for f in entry["files"]] == [11, 12]
    r2 = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r2.returncode == 0 and r2.stderr.count("complete file exists, skipping") == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text(spec_path.read_text().replace("segments: [11, 12]", "segments: [11, 11]"))
    with pytest.raises(ValueError, match="segments"):
        load_spec(str(bad))


@pytest.mark.parametrize("name,frames", [("ad2-100ns", 100_000), ("ad2-test", 20_000)])
def test_alanine_dipeptide_campaign_specs(name, frames):
    spec = load_spec(os.path.join(REPO, "Configs", "datasets", f"{name}.yaml"))
    assert spec.peptides()[0][:2] == ("AD", "A") and spec.atom_order == "amber" and spec.preset == "amber99sbildn-obc2"
    assert len(spec.segments) * spec.production_ps / spec.save_ps == frames
