"""The cross-library fixture Tests/Fixtures/h5py_types.h5 has exactly the promised content."""
import os

import h5py
import numpy as np
import pytest

FIX = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "Fixtures", "h5py_types.h5")


@pytest.fixture(scope="module")
def h():
    assert os.path.exists(FIX), "run Tools/make_fixtures.py first"
    with h5py.File(FIX, "r") as f:
        yield f


def test_datasets(h):
    d = h["chunked_f32"]
    assert d.dtype == np.float32 and d.chunks == (3, 4, 3) and d.maxshape == (None, 4, 3)
    assert d.compression == "gzip" and d.shuffle
    np.testing.assert_array_equal(d[...], np.arange(120, dtype=np.float32).reshape(10, 4, 3) * 0.5)
    np.testing.assert_array_equal(h["f64"][...], np.linspace(-1, 1, 7))
    assert h["i32"].dtype == np.int32 and list(h["i32"][...]) == [-3, -2, -1, 0, 1, 2, 3]
    assert h["i64"].dtype == np.int64 and list(h["i64"][...]) == [2**40, -5]
    fs = h["grp/fixed_str"]
    assert fs.dtype == np.dtype("S16") and fs[0] == b'{"key": "value"}'
    vs = h["grp/vlen_str"]
    assert vs.id.get_type().is_variable_str()
    assert [s.decode() for s in vs[...]] == ["alpha", "βeta", "Ünïcödé"]


def test_attributes(h):
    assert not h.attrs.get_id("fixed_attr").get_type().is_variable_str()
    assert h.attrs["fixed_attr"] == b"fixed value"
    assert h.attrs.get_id("vlen_attr").get_type().is_variable_str()
    assert h.attrs["vlen_attr"] == "variable value ✓"
    assert h.attrs["int_attr"] == 42 and h.attrs["int_attr"].dtype == np.int64
    assert h.attrs["float_attr"] == 2.5 and h.attrs["float_attr"].dtype == np.float64
    a = h.attrs["f32_array_attr"]
    assert a.dtype == np.float32 and list(a) == [1.5, 2.5, 3.5]
