"""Every NumPy fast path, bit for bit against the array-API reference path."""

from __future__ import annotations

import numpy as np
import pytest

import spatial_dropout as sd
from spatial_dropout._backends import _numpy
from spatial_dropout._backends._array_api import ArrayAPIBackend
from spatial_dropout._scale import keep_scale

REFERENCE = ArrayAPIBackend()


def _reference(x: np.ndarray, keep: np.ndarray, p: float) -> np.ndarray:
    s = keep_scale(p, {2: 10, 4: 23, 8: 52}[x.itemsize])
    return np.asarray(REFERENCE.apply_keep(x, keep, s, False))


def _data(shape, dtype) -> np.ndarray:
    x = (np.random.default_rng(0).standard_normal(shape) * 5).astype(dtype)
    flat = x.reshape(-1)
    flat[::7] = np.inf
    flat[::11] = np.nan
    flat[::13] = -0.0
    return x


@pytest.fixture(params=["small", "threads", "runs", "threads+runs"])
def kernel_mode(request, monkeypatch):
    """Force each branch of the NumPy kernel on small arrays."""
    old = sd.get_num_threads()
    if "threads" in request.param:
        monkeypatch.setattr(_numpy, "_SPLIT_BYTES", 1)
        sd.set_num_threads(3)
    if "runs" in request.param:
        monkeypatch.setattr(_numpy, "_RUN_BYTES", 1)
    yield request.param
    sd.set_num_threads(old)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("inplace", [False, True])
@pytest.mark.parametrize("shape", [(3, 7, 5, 4), (40, 3, 2), (5, 9), (2, 3, 4, 5, 6)])
def test_channel_kernels_match_reference(kernel_mode, dtype, inplace, shape):
    x = _data(shape, dtype)
    keep = sd.dropout_mask(x, 0.4, generator=sd.Generator(1))
    expected = _reference(x, keep, 0.4)
    work = x.copy()
    out = sd.apply_mask(work, keep, 0.4, inplace=inplace)
    assert (out is work) == inplace
    np.testing.assert_array_equal(out.view(np.uint8), expected.view(np.uint8))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 5, (1 << 15) + 3, 70_001])
def test_elementwise_kernel_matches_reference(dtype, n):
    x = _data((n,), dtype)
    keep = sd.dropout_mask(x, 0.3, kind="dropout", generator=sd.Generator(2))
    np.testing.assert_array_equal(
        sd.apply_mask(x, keep, 0.3).view(np.uint8), _reference(x, keep, 0.3).view(np.uint8)
    )


def test_global_stream_channel_and_elementwise_paths():
    x = _data((4, 6, 3, 3), np.float32)
    sd.manual_seed(5)
    y = sd.dropout2d(x, 0.5)
    sd.manual_seed(5)
    keep = sd.dropout_mask(x, 0.5)
    np.testing.assert_array_equal(y.view(np.uint8), _reference(x, keep, 0.5).view(np.uint8))


def test_set_num_threads_validates():
    with pytest.raises(ValueError, match=r"`n` must be an int >= 1; got 0"):
        sd.set_num_threads(0)


def test_bench_runs_and_reports_every_target(capsys):
    from spatial_dropout import _bench

    r = _bench.run(reps=1, shapes=[(2, 4, 8, 8)], ps=(0.5,), progress=False)
    text = capsys.readouterr().out
    targets = ["ideal / ours", "element-wise", "small", "memory"]
    if r["torch"] is not None:
        targets += ["geometric mean", "torch backend"]
    for target in targets:
        assert target in text
    assert r["memory"]["in_place"] < 0.1
    assert r["memory"]["out_of_place"] < 1.1
