"""Durable replacement of a finished temporary file onto its final name (issue 16).

``os.replace`` alone makes the new name appear atomically, but after a crash of the machine the
rename can be on disk before the file's data: an empty or truncated file under the final name. So
the file is fsynced before the rename and its folder after it, as tbg's HDF5File.writeAtomically does.
"""
from __future__ import annotations

import os


def durable_replace(tmp: str, final: str) -> None:
    """fsync ``tmp``, rename it onto ``final`` (same filesystem), then fsync the folder of ``final``."""
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, final)
    folder = os.open(os.path.dirname(os.path.abspath(final)), os.O_RDONLY)
    try:
        os.fsync(folder)
    except OSError as exc:   # filesystems that cannot sync a directory (EINVAL)
        if exc.errno != 22:
            raise
    finally:
        os.close(folder)
