"""Every NumPy fast path, bit for bit against the array-API reference path: the NumPy kernels
and, where numba is installed, the compiled ones (serial and parallel builds)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import spatial_dropout as sd
from spatial_dropout._backends._numpy import _compiled, _cpu
from spatial_dropout._random._philox import random_words
from spatial_dropout._scale import drop_threshold, keep_scale

from conftest import bits, expected, reference_mask, require


def _data(shape, dtype) -> np.ndarray:
    x = (np.random.default_rng(0).standard_normal(shape) * 5).astype(dtype)
    flat = x.reshape(-1)
    flat[::7] = np.inf
    flat[::11] = np.nan
    flat[::13] = -0.0
    return x


def _compiled_kernels() -> _compiled.Kernels:
    """The compiled kernels, also where ``SPATIAL_DROPOUT_NUMBA=0`` turned them off."""
    numba = require("numba")
    return _compiled.kernels() or _COMPILED.setdefault("k", _compiled.Kernels(numba))


_COMPILED: dict[str, _compiled.Kernels] = {}
# Each mode reaches one branch of the kernels on small arrays: thresholds are parameters.
SMALL = _cpu.Tuning(split_bytes=1, run_bytes=1 << 62, parallel_bytes=1 << 62)
MODES = {
    "numpy": (False, _cpu.Tuning(split_bytes=1 << 62, run_bytes=1 << 62)),
    "numpy-threads": (False, _cpu.Tuning(split_bytes=1, run_bytes=1 << 62)),
    "numpy-runs": (False, _cpu.Tuning(split_bytes=1 << 62, run_bytes=1)),
    "numpy-threads+runs": (False, _cpu.Tuning(split_bytes=1, run_bytes=1)),
    "compiled": (True, _cpu.Tuning(parallel_bytes=1 << 62)),
    "compiled-threads": (True, _cpu.Tuning(parallel_bytes=1)),
}


@pytest.fixture(params=list(MODES))
def mode(request) -> tuple[_compiled.Kernels | None, _cpu.Tuning]:
    compiled, tuning = MODES[request.param]
    old = sd.get_num_threads()
    sd.set_num_threads(3 if "threads" in request.param else old)
    yield (_compiled_kernels() if compiled else None), tuning
    sd.set_num_threads(old)


def _usable(k, x):
    return k if k is not None and _compiled.usable(x) else None


# short rows (the compiled kernels' flat loops) and rows of 1 KB and more (their row loops)
CHANNEL_SHAPES = [(3, 7, 5, 4), (40, 3, 2), (5, 9), (2, 3, 4, 5, 6), (4, 5, 16, 17)]
ELEMENTWISE_SIZES = [1, 5, 2049, (1 << 15) + 3, 70_001]


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("inplace", [False, True])
@pytest.mark.parametrize(
    ("words", "shape"),
    [(True, s) for s in CHANNEL_SHAPES[:2]] + [(False, s) for s in CHANNEL_SHAPES],
)
def test_scale_rows_matches_reference(mode, dtype, inplace, words, shape):
    """Channel kernels, from a boolean mask or from random words and a threshold."""
    k, tuning = mode
    x = _data(shape, dtype)
    rows = reference_mask("dropout2d", shape, 0.4, 1).size
    keep = reference_mask("dropout2d", shape, 0.4, 1).reshape(-1)
    w = random_words(np, rows, 1, 0)
    assert (w >= drop_threshold(0.4)).tolist() == keep.tolist()
    s = keep_scale(0.4, {2: 10, 4: 23, 8: 52}[x.itemsize])
    want = expected("dropout2d", x, 0.4, 1)
    work = x.copy()
    x2 = work.reshape(rows, -1)
    out2 = x2 if inplace else np.empty_like(x2)
    s_typed = x.dtype.type(s)
    if words:
        _cpu.scale_rows(x2, out2, w, drop_threshold(0.4), s_typed, _usable(k, x2), tuning)
    else:
        _cpu.scale_rows(x2, out2, keep, None, s_typed, _usable(k, x2), tuning)
    np.testing.assert_array_equal(bits(out2), bits(want))
    assert (out2 is x2) == inplace


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("offset", [0, 1, 2, 4, 7, 15])  # entries past a 64-byte boundary
@pytest.mark.parametrize("row", [256, 257, 320])  # 1 KB+ rows: split at 64 bytes where aligned
@pytest.mark.parametrize("parallel", [False, True])
def test_in_place_rows_split_at_an_alignment_match_reference(dtype, offset, row, parallel):
    """The in-place compiled kernel multiplies a row's head apart from its aligned rest."""
    k = _compiled_kernels()
    rows = 24
    buf = np.empty(rows * row + 64, dtype=dtype)
    start = (-(buf.ctypes.data % 64) // buf.itemsize) % (64 // buf.itemsize) + offset
    x2 = buf[start : start + rows * row].reshape(rows, row)
    x2[...] = _data((rows, row), dtype)
    x2[0] = -np.inf  # a dropped row of -inf and NaN still comes out +0.0
    x2[1] = np.nan
    w = random_words(np, rows, 5, 0)
    threshold = drop_threshold(0.4)
    s = x2.dtype.type(1.25)
    want = np.where((w >= threshold)[:, None], x2 * s, 0).astype(dtype)
    tuning = _cpu.Tuning(parallel_bytes=1 if parallel else 1 << 62)
    _cpu.scale_rows(x2, x2, w, threshold, s, k, tuning, threads=2)
    np.testing.assert_array_equal(bits(x2), bits(want))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("inplace", [False, True])
@pytest.mark.parametrize("n", ELEMENTWISE_SIZES)
def test_select_matches_reference(mode, dtype, inplace, n):
    k, tuning = mode
    x = _data((n,), dtype)
    keep = reference_mask("dropout", x.shape, 0.4, 1)
    s = x.dtype.type(keep_scale(0.4, {2: 10, 4: 23, 8: 52}[x.itemsize]))
    work = x.copy()
    out = work if inplace else np.empty_like(work)
    _cpu.select(work, out, keep, None, s, _usable(k, work), tuning)
    np.testing.assert_array_equal(bits(out), bits(expected("dropout", x, 0.4, 1)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("inplace", [False, True])
@pytest.mark.parametrize("n", [3, 2048, 4099, 70_001])
@pytest.mark.parametrize("parallel", [False, True])
def test_fused_philox_matches_reference(dtype, inplace, n, parallel):
    """One-pass dropout (the mask never stored) draws the reference's mask."""
    k = _compiled_kernels()
    x = _data((n,), dtype)
    seed, counter = 2**40 + 5, 2**33 + 3
    s = keep_scale(0.3, 23 if dtype == np.float32 else 52)
    work = x.copy()
    out = work if inplace else np.empty_like(work)
    tuning = _cpu.Tuning(parallel_bytes=1 if parallel else 1 << 62)
    _cpu.philox_dropout(work, out, seed, counter, drop_threshold(0.3), s, k, tuning)
    np.testing.assert_array_equal(bits(out), bits(expected("dropout", x, 0.3, seed, counter)))


@pytest.mark.parametrize("kind", ["dropout", "dropout2d"])
@pytest.mark.parametrize("generator", ["int", "Generator", "global"])
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_public_paths_match_reference(kind, generator, dtype):
    """The NumPy backend's choice of kernel (compiled or not) never changes a result."""
    x = _data((4, 6, 5, 5), dtype)
    seed = 2**40 + 5
    counter = 0 if generator == "int" else 1
    for inplace in (False, True):
        work = x.copy()
        g: object = seed
        if generator == "global":
            sd.manual_seed(seed).next_stream()  # the global stream at counter 1
            g = None
        elif generator == "Generator":
            g = sd.Generator(seed, counter=counter)
        out = getattr(sd, kind)(work, 0.3, inplace=inplace, generator=g)
        assert (out is work) == inplace
        np.testing.assert_array_equal(bits(out), bits(expected(kind, x, 0.3, seed, counter)))


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
def test_odd_arrays_match_reference(odd, kind, generator):
    """Byte order, read-only memory and alignment: the compiled kernels take what they can and
    leave the rest to NumPy, with the reference's result either way."""
    data = _data((4, 6, 5, 5), np.float32)
    x = ODD_ARRAYS[odd](data)
    want = expected(kind, data, 0.4, 3 if generator else 4)
    sd.manual_seed(4)
    out = getattr(sd, kind)(x, 0.4, generator=generator)
    np.testing.assert_array_equal(bits(out.astype(np.float32)), bits(want))
    keep = reference_mask(kind, x.shape, 0.4, 3 if generator else 4)
    np.testing.assert_array_equal(bits(sd.apply_mask(x, keep, 0.4).astype(np.float32)), bits(want))


@pytest.mark.parametrize("n", [1, 4, 7, 4097])
@pytest.mark.parametrize(("seed", "stream"), [(0, 0), (2**64 - 1, 2**64 - 1), (2**35 + 9, 2**32)])
def test_compiled_words_match_reference_philox(n, seed, stream):
    np.testing.assert_array_equal(
        _cpu.words(n, seed, stream, _compiled_kernels()), random_words(np, n, seed, stream)
    )


@pytest.mark.parametrize("generator", [1, None])
def test_portable_masks_beyond_the_philox_counter_are_refused(generator):
    """2**34 entries exhaust the 32-bit block counter: an error naming the function, never a
    wrapped mask (a broadcast view, so nothing of that size is allocated)."""
    huge = np.broadcast_to(np.float32(1), (2**34 + 4,))
    with pytest.raises(ValueError, match=r"^dropout_mask\(\): .* at most 2\*\*34 mask entries"):
        sd.dropout_mask(huge, 0.5, kind="dropout", generator=generator)
    with pytest.raises(ValueError, match=r"^dropout\(\): .* at most 2\*\*34 mask entries"):
        sd.dropout(huge, 0.5, generator=generator)


@pytest.mark.parametrize("parallel_bytes", [1, 1 << 62])
def test_kernels_from_many_threads_at_once(parallel_bytes, monkeypatch):
    """Concurrent calls (parallel builds included) each get their own, correct result."""
    from concurrent.futures import ThreadPoolExecutor

    monkeypatch.setattr(_cpu, "DEFAULT", _cpu.Tuning(parallel_bytes=parallel_bytes))
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
from spatial_dropout._backends._numpy import _compiled, _cpu
_cpu.DEFAULT = _cpu.Tuning(parallel_bytes=1)
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
    done = subprocess.run(
        [sys.executable, "-c", _FORK_CHILD], env=env, capture_output=True, text=True, timeout=240
    )
    assert done.stdout.strip() == "ok", done.stderr


_CONCURRENT = """
import numpy as np, numba, spatial_dropout as sd
from concurrent.futures import ThreadPoolExecutor
from spatial_dropout._backends._numpy import _cpu
_cpu.DEFAULT = _cpu.Tuning(parallel_bytes=1)
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
    done = subprocess.run(
        [sys.executable, "-c", _CONCURRENT], env=env, capture_output=True, text=True, timeout=240
    )
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

    from spatial_dropout._backends._numpy import _numba_kernels

    f = _numba_kernels._jit(lambda a: a + 1, njit=njit)
    assert f(1) == 2
    assert calls == [
        {"nogil": True, "cache": True, "parallel": False},
        {"nogil": True, "parallel": False},
    ]


_CACHED = """
import numpy as np, spatial_dropout as sd
from spatial_dropout._backends._numpy import _compiled, _cpu
_cpu.DEFAULT = _cpu.Tuning(parallel_bytes=1 << 16)
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
    code = "from spatial_dropout._backends._numpy import _compiled; print(_compiled.kernels())"
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
    if r["jax_eager"]:  # JAX installed
        targets += ["JAX jit", "JAX eager: first call", "JAX eager (4, 512, 7, 7)"]
        assert r["jax_eager"][0]["first_call_ms"] > 0
        assert len(r["jax_eager"][0]["first_calls_ms"]) == 3  # three new shapes, their median
        targets.append("the median of three")
    for target in targets:
        assert target in text
    assert r["memory"]["in_place"] < 0.1
    assert r["memory"]["out_of_place"] < 1.1


@pytest.mark.parametrize("compiled", ["numpy", "compiled", "compiled-threads"])
@pytest.mark.parametrize(
    ("shape", "block"),
    [
        ((3, 4, 9, 11), (1, 1, 3, 5)),
        ((2, 1, 6), (1, 1, 6)),
        ((2, 3, 4, 5, 6), (1, 1, 2, 3, 4)),
        ((5, 7), (7, 1)),
        ((0, 3, 4), (1, 2, 2)),
    ],
)
@pytest.mark.parametrize("rate", [0.0, 0.05, 0.5, 1.0])
def test_window_maximum_matches_the_engines(compiled, shape, block, rate):
    from spatial_dropout._plan import window_any

    k = None if compiled == "numpy" else _compiled_kernels()
    tuning = _cpu.Tuning(parallel_bytes=1 if compiled == "compiled-threads" else 1 << 62)
    dropped = np.random.default_rng(7).random(shape) < rate
    got = _cpu.window_or(dropped, block, k, tuning)
    assert got.dtype == np.bool_
    np.testing.assert_array_equal(got, window_any(dropped, block))
