#!/usr/bin/env python3
"""Check trajectory files against the Tools/FORMAT.md contract (recomputes reference energies)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from tbgdata.check import check_trajectory_file  # noqa: E402


def main(argv=None):
    paths = sys.argv[1:] if argv is None else argv
    if not paths:
        print("usage: check_trajectory.py FILE.h5 [...]", file=sys.stderr)
        return 2
    rc = 0
    for p in paths:
        try:
            m = check_trajectory_file(p)
            print(f"OK   {p}: {m['name']} {m['termini']} {m['preset']}, {m['n_frames']} frames x {m['n_atoms']} atoms")
        except Exception as exc:  # report every file, fail at the end
            print(f"FAIL {p}: {exc}")
            rc = 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
