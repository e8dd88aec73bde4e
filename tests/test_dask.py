"""Dask arrays, through the array-API path: lazy, and the same result whatever the chunking."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import require

da = require("dask.array")
dask = require("dask")

import spatial_dropout as sd  # noqa: E402

X = np.random.default_rng(0).standard_normal((8, 16, 6, 6)).astype(np.float32)


def _no_compute(*args, **kwargs):
    raise AssertionError("computed eagerly")


@pytest.mark.parametrize("chunks", [(8, 16, 6, 6), (2, 4, 3, 3), (1, 16, 6, 6), (8, 1, 6, 6)])
@pytest.mark.parametrize("fn", [sd.dropout2d, sd.dropout])
def test_same_result_whatever_the_chunking_and_lazy(chunks, fn):
    ref = fn(X, 0.3, generator=5)
    d = da.from_array(X, chunks=chunks)
    with dask.config.set(scheduler=_no_compute):
        y = fn(d, 0.3, generator=5)  # builds a graph, computes nothing
    assert isinstance(y, da.Array)
    np.testing.assert_array_equal(y.compute(), ref)


def test_global_stream_and_eval():
    d = da.from_array(X, chunks=(2, 4, 3, 3))
    assert sd.dropout2d(d, 0.3, training=False) is d
    sd.manual_seed(1)
    a = sd.dropout2d(d, 0.5).compute()
    sd.manual_seed(1)
    b = sd.dropout2d(d, 0.5).compute()
    np.testing.assert_array_equal(a, b)
