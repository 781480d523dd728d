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
