"""Shared by the tests: ``tbgdata`` importable from the repository root, the committed
alanine-dipeptide fixture, a one-peptide dataset folder around it, and the built tbg binary."""
import json
import os
import shutil
import sys

import pytest

TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if TOOLS not in sys.path:
    sys.path.insert(0, TOOLS)

ROOT = os.path.dirname(TOOLS)
AD2_FIXTURE = os.path.join(ROOT, "Tests", "Fixtures", "ad2_capped.h5")
BUILT_TBG = os.environ.get("TBG", os.path.join(ROOT, ".build", "release", "tbg"))


def make_ad2_dataset(folder):
    """A dataset folder (index.json) whose one training peptide is the 20-frame AD fixture."""
    folder.mkdir(parents=True, exist_ok=True)
    os.symlink(AD2_FIXTURE, folder / "AD.h5")
    (folder / "index.json").write_text(json.dumps({
        "format": "tbg-dataset", "format_version": 1,
        "peptides": [{"name": "AD", "file": "AD.h5", "split": "train", "n_atoms": 22, "n_frames": 20}]}))
    return folder


def private_tbg(tmp_path_factory):
    """A copy of the release binary (tests stay independent of a rebuild while they run); skips
    the test with a reason when it is not built."""
    if not os.path.exists(BUILT_TBG):
        pytest.skip(f"{BUILT_TBG} is not built (swift build -c release)")
    copy = tmp_path_factory.mktemp("bin") / "tbg"
    shutil.copy2(BUILT_TBG, copy)
    return str(copy)
