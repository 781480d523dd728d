"""Small h5py helpers that enforce the *fixed-length string* rule (data.md §9.3).

The Swift side reads with serial libhdf5 1.10.8 and only handles fixed-length strings; h5py turns
Python ``str`` into variable-length strings, so every string goes through :func:`fixed_bytes`.
"""
from __future__ import annotations

import json

import h5py
import numpy as np


def fixed_bytes(text: str | bytes) -> np.bytes_:
    """A numpy fixed-length bytes scalar (HDF5 ``H5T_STRING``, fixed size, ASCII/UTF-8 bytes)."""
    if isinstance(text, str):
        text = text.encode("utf-8")
    if len(text) == 0:
        text = b" "  # zero-size HDF5 string types are not allowed
    return np.bytes_(text)


def write_fixed_string_dataset(group: h5py.Group, name: str, text: str | bytes) -> h5py.Dataset:
    """Dataset of shape (1,) and dtype ``S<len>``, like MDTraj's ``/topology``."""
    b = fixed_bytes(text)
    arr = np.array([b], dtype=f"S{len(b)}")
    return group.create_dataset(name, data=arr)


def set_fixed_attr(obj, name: str, text: str | bytes) -> None:
    obj.attrs[name] = fixed_bytes(text)


def read_fixed_string(obj) -> str:
    """Read a (1,)-shaped fixed string dataset or a scalar string attribute as ``str``."""
    v = obj[()] if isinstance(obj, h5py.Dataset) else obj
    if isinstance(v, np.ndarray):
        v = v.reshape(-1)[0]
    if isinstance(v, bytes):
        return v.rstrip(b"\0").decode("utf-8")
    return str(v)


def read_json_dataset(obj) -> object:
    return json.loads(read_fixed_string(obj))
