"""Every NumPy fast path, bit for bit against the array-API reference path: the NumPy kernels
and, where numba is installed, the compiled ones (serial and parallel builds)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import spatial_dropout as sd
from spatial_dropout._backends import _compiled, _numpy
from spatial_dropout._backends._array_api import ArrayAPIBackend
from spatial_dropout._random._philox import random_words
from spatial_dropout._scale import keep_scale

from conftest import require

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


def _compiled_kernels() -> _compiled._Kernels:
    """The compiled kernels, also where ``SPATIAL_DROPOUT_NUMBA=0`` turned them off."""
    numba = require("numba")
    k = _compiled.kernels()
    if k is None:
        k = _COMPILED.setdefault("k", _compiled._Kernels(numba))
    return k


_COMPILED: dict[str, _compiled._Kernels] = {}
MODES = ["numpy", "numpy-threads", "numpy-runs", "numpy-threads+runs", "compiled",
         "compiled-threads"]  # fmt: skip


@pytest.fixture(params=MODES)
def kernel_mode(request, monkeypatch):
    """Force each branch of the NumPy and compiled kernels on small arrays."""
    old = sd.get_num_threads()
    mode = request.param
    if mode.startswith("numpy"):
        monkeypatch.setitem(_compiled._state, "k", None)
    else:
        monkeypatch.setitem(_compiled._state, "k", _compiled_kernels())
        monkeypatch.setattr(_compiled, "_PARALLEL_BYTES", 1 if "threads" in mode else 1 << 62)
    if "threads" in mode:
        monkeypatch.setattr(_numpy, "_SPLIT_BYTES", 1)
        sd.set_num_threads(3)
    if "runs" in mode:
        monkeypatch.setattr(_numpy, "_RUN_BYTES", 1)
    yield mode
    sd.set_num_threads(old)


CHANNEL_SHAPES = [(3, 7, 5, 4), (40, 3, 2), (5, 9), (2, 3, 4, 5, 6)]
ELEMENTWISE_SIZES = [1, 5, 2049, (1 << 15) + 3, 70_001]


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("inplace", [False, True])
@pytest.mark.parametrize(
    ("kind", "shape"),
    [("dropout2d", s) for s in CHANNEL_SHAPES] + [("dropout", (n,)) for n in ELEMENTWISE_SIZES],
)
def test_mask_kernels_match_reference(kernel_mode, dtype, inplace, kind, shape):
    """``apply_mask`` with a channel mask (plane kernels) or an element-wise one."""
    x = _data(shape, dtype)
    keep = sd.dropout_mask(x, 0.4, kind=kind, generator=sd.Generator(1))
    expected = _reference(x, keep, 0.4)
    work = x.copy()
    out = sd.apply_mask(work, keep, 0.4, inplace=inplace)
    assert (out is work) == inplace
    np.testing.assert_array_equal(out.view(np.uint8), expected.view(np.uint8))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("inplace", [False, True])
@pytest.mark.parametrize("n", [3, 2048, 4099, 70_001])
@pytest.mark.parametrize("generator", ["int", "Generator", "global"])
def test_fused_elementwise_matches_reference(kernel_mode, dtype, inplace, n, generator):
    """One-pass dropout (the mask never stored) draws the mask of the two-step path."""
    x = _data((2, n), dtype)
    seed, stream = 2**40 + 5, 2**33 + 3
    if generator == "global":
        sd.manual_seed(seed)
        keep = sd.dropout_mask(x, 0.3, kind="dropout")
        sd.manual_seed(seed)
        g: object = None
    else:  # the reference path's own Philox, not the compiled one
        counter = 0 if generator == "int" else stream
        keep = np.asarray(REFERENCE.portable_keep(x, x.shape, 0.3, seed, counter))
        g = seed if generator == "int" else sd.Generator(seed, counter=stream)
    work = x.copy()
    out = sd.dropout(work, 0.3, inplace=inplace, generator=g)
    assert (out is work) == inplace
    np.testing.assert_array_equal(out.view(np.uint8), _reference(x, keep, 0.3).view(np.uint8))


def _unaligned(x: np.ndarray) -> np.ndarray:
    raw = np.zeros(x.nbytes + 1, dtype=np.uint8)[1:]
    out = raw.view(x.dtype).reshape(x.shape)
    out[...] = x
    return out


def _read_only(x: np.ndarray) -> np.ndarray:
    x = x.copy()
    x.flags.writeable = False
    return x


ODD_ARRAYS = {
    "big-endian": lambda x: x.astype(x.dtype.newbyteorder(">")),
    "read-only": _read_only,
    "unaligned": _unaligned,
}


@pytest.mark.parametrize("odd", ODD_ARRAYS)
@pytest.mark.parametrize("kind", ["dropout", "dropout2d"])
@pytest.mark.parametrize("generator", [3, None])
def test_odd_arrays_match_reference(kernel_mode, odd, kind, generator):
    """Byte order, read-only memory and alignment: the compiled kernels take what they can and
    leave the rest to NumPy, with the reference's result either way."""
    x = ODD_ARRAYS[odd](_data((4, 6, 5, 5), np.float32))
    sd.manual_seed(4)
    keep = sd.dropout_mask(x, 0.4, kind=kind, generator=generator)
    sd.manual_seed(4)
    out = getattr(sd, kind)(x, 0.4, generator=generator)
    expected = _reference(x.astype(np.float32), keep, 0.4)
    np.testing.assert_array_equal(out.astype(np.float32).view(np.uint8), expected.view(np.uint8))
    np.testing.assert_array_equal(
        sd.apply_mask(x, keep, 0.4).astype(np.float32).view(np.uint8), expected.view(np.uint8)
    )


@pytest.mark.parametrize("n", [1, 4, 7, 4097])
@pytest.mark.parametrize(("seed", "stream"), [(0, 0), (2**64 - 1, 2**64 - 1), (2**35 + 9, 2**32)])
def test_compiled_words_match_reference_philox(n, seed, stream, monkeypatch):
    monkeypatch.setitem(_compiled._state, "k", _compiled_kernels())
    np.testing.assert_array_equal(
        _compiled.words(n, seed, stream), random_words(np, n, seed, stream)
    )


def test_portable_masks_beyond_the_philox_counter_are_refused(kernel_mode):
    """2**34 entries exhaust the 32-bit block counter: an error, never a wrapped mask (a
    broadcast view, so nothing of that size is allocated)."""
    huge = np.broadcast_to(np.float32(1), (2**34 + 4,))
    with pytest.raises(ValueError, match=r"at most 2\*\*34 mask entries"):
        sd.dropout_mask(huge, 0.5, kind="dropout", generator=1)


def test_global_stream_channel_and_elementwise_paths(kernel_mode):
    x = _data((4, 6, 3, 3), np.float32)
    sd.manual_seed(5)
    y = sd.dropout2d(x, 0.5)
    sd.manual_seed(5)
    keep = sd.dropout_mask(x, 0.5)
    np.testing.assert_array_equal(y.view(np.uint8), _reference(x, keep, 0.5).view(np.uint8))


def test_kernels_from_many_threads_at_once(kernel_mode):
    """Concurrent calls (parallel builds included) each get their own, correct result."""
    from concurrent.futures import ThreadPoolExecutor

    x = _data((16, 8, 16, 16), np.float32)
    expected = [sd.dropout2d(x, 0.5, generator=i) for i in range(16)]
    expected += [sd.dropout(x, 0.5, generator=i) for i in range(16)]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda i: sd.dropout2d(x, 0.5, generator=i), range(16)))
        got += list(pool.map(lambda i: sd.dropout(x, 0.5, generator=i), range(16)))
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_array_equal(a.view(np.uint8), b.view(np.uint8))


_FORK_CHILD = """
import multiprocessing as mp, numpy as np, spatial_dropout as sd
from spatial_dropout._backends import _compiled
_compiled._PARALLEL_BYTES = 1
x = np.ones((64, 8, 8), dtype=np.float32)
a = sd.dropout1d(x, 0.5, generator=3)  # starts the parallel kernels' threads

def child(q):
    q.put((_compiled.kernels().forked, sd.dropout1d(x, 0.5, generator=3).tolist()))

q = mp.get_context("fork").Queue()
proc = mp.get_context("fork").Process(target=child, args=(q,))
proc.start()
forked, b = q.get(timeout=60)
proc.join(timeout=60)
assert forked and np.array_equal(a, np.array(b, dtype=np.float32)), "child differs"
print("ok")
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_compiled_kernels_work_in_a_forked_child():
    """GNU OpenMP's threads do not survive fork: a child runs the serial builds, same result."""
    require("numba")
    env = {**os.environ, "SPATIAL_DROPOUT_NUMBA": "1"}
    done = subprocess.run([sys.executable, "-c", _FORK_CHILD], env=env, capture_output=True,
                          text=True, timeout=240)  # fmt: skip
    assert done.stdout.strip() == "ok", done.stderr


_CONCURRENT = """
import numpy as np, numba, spatial_dropout as sd
from concurrent.futures import ThreadPoolExecutor
from spatial_dropout._backends import _compiled
_compiled._PARALLEL_BYTES = 1
x = np.ones((64, 64, 64), dtype=np.float32)
with ThreadPoolExecutor(4) as pool:
    list(pool.map(lambda i: sd.dropout1d(x, 0.5, generator=i), range(200)))
print("ok", numba.threading_layer())
"""


def test_concurrent_parallel_launches_on_workqueue_layer():
    """numba's fallback layer aborts the process on concurrent parallel launches; ours take
    a lock."""
    require("numba")
    env = {**os.environ, "SPATIAL_DROPOUT_NUMBA": "1", "NUMBA_THREADING_LAYER": "workqueue"}
    done = subprocess.run([sys.executable, "-c", _CONCURRENT], env=env, capture_output=True,
                          text=True, timeout=240)  # fmt: skip
    assert done.stdout.strip() == "ok workqueue", done.stderr


def test_kernels_compile_without_a_writable_cache():
    """Where numba finds no place to cache (a read-only install, no writable home), the kernels
    are compiled in each process instead of failing."""
    numba = require("numba")
    calls = []

    def njit(**flags):
        calls.append(flags)
        if flags.get("cache"):
            raise RuntimeError("cannot cache function 'f': no locator available for file 'x'")
        return numba.njit(**flags)

    from spatial_dropout._backends import _numba_kernels

    f = _numba_kernels._jit(lambda a: a + 1, njit=njit)
    assert f(1) == 2
    assert calls == [{"nogil": True, "cache": True, "parallel": False},
                     {"nogil": True, "parallel": False}]  # fmt: skip


_CACHED = """
import numpy as np, spatial_dropout as sd
from spatial_dropout._backends import _compiled
_compiled._PARALLEL_BYTES = 1 << 16
x = np.ones((8, 64, 16, 16), dtype=np.float32)
for a in (x, x[:1, :4]):
    sd.dropout2d(a, 0.5, generator=1); sd.dropout2d(a.copy(), 0.5, inplace=True)
    sd.dropout(a, 0.5, generator=1); sd.dropout(a, 0.5)
k = _compiled.kernels()
used = [*k.serial.values(), *k.parallel.values(), k.words]
print(sum(sum(f.stats.cache_misses.values()) for f in used),
      sum(sum(f.stats.cache_hits.values()) for f in used))
"""


def test_compiled_kernels_are_found_in_the_disk_cache_by_the_next_process(tmp_path):
    """A second process loads every kernel from numba's cache instead of compiling it again
    (a kernel that closes over another dispatcher never hits: its key changes per process)."""
    require("numba")
    env = {**os.environ, "SPATIAL_DROPOUT_NUMBA": "1", "NUMBA_CACHE_DIR": str(tmp_path)}
    command = [sys.executable, "-c", _CACHED]
    runs = [
        subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
        for _ in range(2)
    ]
    (first_misses, _), (misses, hits) = (map(int, r.stdout.split()) for r in runs)
    assert first_misses > 0, runs[0].stderr
    assert (misses, hits) == (0, first_misses), runs[1].stderr


def test_numba_can_be_turned_off():
    env = {**os.environ, "SPATIAL_DROPOUT_NUMBA": "0"}
    code = "from spatial_dropout._backends import _compiled; print(_compiled.kernels())"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.stdout.strip() == "None", done.stderr


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
