"""Compiled kernels for NumPy memory (float32, float64), when the ``numba`` extra is installed.

Each kernel writes the output once and reads only what it keeps: kept planes are multiplied,
dropped planes are filled without being read, and the portable element-wise dropout draws its
Philox words in cache-sized chunks, fused with the multiply. They split work over threads with
``prange`` (``set_num_threads``); below 512 KB, and in a process forked after
threads were started (GNU OpenMP is not fork-safe), the same code runs on the calling thread.

Other dtypes and layouts, and everything without numba (or with ``SPATIAL_DROPOUT_NUMBA=0``),
take the NumPy path; both are tested bit for bit against the array-API reference.
"""

from __future__ import annotations

import functools
import os
import threading
import types
from collections.abc import Callable
from typing import Any

import numpy as np

from .._threads import get_num_threads

Array = np.ndarray[Any, Any]

_PARALLEL_BYTES = 512 << 10  # measured crossover ~400 KB (at 512 KB: serial 7.1 us, parallel 6.3)
_PARTS = 64  # plane kernels: work items per call, shared out over the threads
_CHUNK = 2048  # element-wise: words per chunk (a multiple of 4; 8 KB stays in L1)


class _Kernels:
    """The compiled kernels: a serial and a parallel build of each (compiled on first use)."""

    def __init__(self, numba: Any) -> None:
        self.numba = numba
        self.max_threads = int(numba.config.NUMBA_NUM_THREADS)
        serial = functools.partial(_jit, numba.njit, parallel=False)
        self.words = words = serial(_words_into)
        sources = _sources(serial, numba.prange, words)
        self.serial = {k: serial(f) for k, f in sources.items()}
        self.parallel = {
            k: _jit(numba.njit, _renamed(f, "_parallel"), parallel=True) for k, f in sources.items()
        }
        self.forked = False
        self.lock = threading.Lock()

    def run(self, name: str, nbytes: int, threads: int | None, *args: Any) -> None:
        """Run kernel ``name``: the parallel build for large inputs (at ``threads``, default
        ``get_num_threads()``), else the serial one on the calling thread.

        Parallel launches take a lock: each already uses every thread it is given, and
        numba's fallback threading layer (workqueue, where no OpenMP or TBB is found) aborts
        the process on concurrent launches from several Python threads.
        """
        if nbytes < _PARALLEL_BYTES or self.forked:
            self.serial[name](*args)
            return
        n = min(threads or get_num_threads(), self.max_threads)
        if n == 1:
            self.serial[name](*args)
            return
        with self.lock:
            if self.numba.get_num_threads() != n:  # thread-local in numba
                self.numba.set_num_threads(n)
            self.parallel[name](*args)


_state: dict[str, _Kernels | None] = {}


def kernels() -> _Kernels | None:
    """The compiled kernels, or ``None`` without numba or with ``SPATIAL_DROPOUT_NUMBA=0``."""
    if "k" not in _state:
        k = None
        if os.environ.get("SPATIAL_DROPOUT_NUMBA", "1") != "0":
            try:
                import numba
            except ImportError:
                pass
            else:
                k = _Kernels(numba)
        _state["k"] = k
    return _state["k"]


def usable(x: Array) -> bool:
    """Whether the kernels take this array: float32 or float64, C-contiguous."""
    return x.dtype.char in "fd" and bool(x.flags.c_contiguous)


def scale_rows(
    x2: Array, out2: Array | None, words: Array, threshold: int, s: float,
    threads: int | None = None,
) -> bool:  # fmt: skip
    """``out2[i] = x2[i] * s`` where ``words[i] >= threshold``, ``+0.0`` rows elsewhere
    (``out2=None``: into ``x2``; a boolean mask is the uint8 words ``>= 1``); False if the
    kernels do not take these arrays."""
    k = kernels()
    if k is None or not usable(x2) or (out2 is not None and not usable(out2)):
        return False
    thr, scale = words.dtype.type(threshold), x2.dtype.type(s)
    if out2 is None:
        k.run("scale_rows_inplace", x2.nbytes, threads, x2, words, thr, scale)
    else:
        k.run("scale_rows", x2.nbytes, threads, x2, out2, words, thr, scale)
    return True


def select(
    x: Array, out: Array | None, words: Array, threshold: int, s: float, threads: int | None = None
) -> bool:
    """Element-wise: ``x * s`` where ``words >= threshold``, else ``+0.0`` (1-D arrays of one
    size; ``out=None``: into ``x``). A boolean mask is the uint8 words ``>= 1``."""
    k = kernels()
    if k is None or not usable(x) or (out is not None and not usable(out)):
        return False
    thr, scale, zero = words.dtype.type(threshold), x.dtype.type(s), x.dtype.type(0)
    if out is None:
        k.run("select_inplace", x.nbytes, threads, x, words, thr, scale, zero)
    else:
        k.run("select", x.nbytes, threads, x, out, words, thr, scale, zero)
    return True


def philox_dropout(
    x: Array, out: Array, seed: int, stream: int, threshold: int, s: float
) -> bool:  # out may be x: each chunk is read before it is written
    """Fused portable element-wise dropout: entry ``i`` is kept iff Philox word ``i`` of
    ``(seed, stream)`` is ``>= threshold`` (the mask of ``random_words``), never materialised."""
    k = kernels()
    if k is None or not usable(x) or not usable(out):
        return False
    key, ctr = _split(seed), _split(stream)
    thr, scale, zero = np.uint32(threshold), x.dtype.type(s), x.dtype.type(0)
    k.run("philox", x.nbytes, None, x, out, *key, *ctr, thr, scale, zero)
    return True


def words(n: int, seed: int, stream: int) -> Array | None:
    """The first ``n`` words of ``random_words(np, n, seed, stream)``, compiled; or None."""
    k = kernels()
    if k is None:
        return None
    blocks = (n + 3) // 4
    out = np.empty(4 * blocks, dtype=np.uint32)
    k.words(0, blocks, *_split(seed), *_split(stream), out)
    return out[:n]


def after_fork_in_child() -> None:
    k = _state.get("k")
    if k is not None:
        k.forked = True
        k.lock = threading.Lock()


def _jit(njit: Any, f: Callable[..., Any], parallel: bool) -> Any:
    """``f`` compiled (on first call) without the GIL, cached on disk where numba finds a
    writable place for it, else compiled afresh in each process."""
    try:
        return njit(nogil=True, cache=True, parallel=parallel)(f)
    except RuntimeError:  # numba: "cannot cache function ...: no locator available"
        return njit(nogil=True, parallel=parallel)(f)


def _renamed(f: Callable[..., None], suffix: str) -> Callable[..., None]:
    """A copy of ``f`` under another name: numba's on-disk cache keys on the name, not on
    ``parallel=``, so the serial and parallel builds of one source would share an entry."""
    g = types.FunctionType(f.__code__, f.__globals__, f.__name__ + suffix, None, f.__closure__)
    g.__qualname__ = f.__qualname__ + suffix
    return g


def _split(v: int) -> tuple[np.uint64, np.uint64]:
    """The low and high words of ``v``, typed uint64: with uint32 arguments numba's mixed
    uint32/uint64 arithmetic made the Philox loop 2.4x slower (0.58 against 0.25 ns a word)."""
    return np.uint64(v & 0xFFFFFFFF), np.uint64((v >> 32) & 0xFFFFFFFF)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=after_fork_in_child)


# --- the kernels' Python source, compiled by numba ------------------------------------------

_M0, _M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
_W0, _W1 = np.uint64(0x9E3779B9), np.uint64(0xBB67AE85)
_LO, _SHIFT = np.uint64(0xFFFFFFFF), np.uint64(32)


def _words_into(first: int, blocks: int, k0: Any, k1: Any, s0: Any, s1: Any, out: Array) -> None:
    """Philox4x32-10 blocks ``first .. first + blocks - 1`` of counter ``(b, 0, s0, s1)`` under
    key ``(k0, k1)``, as ``4 * blocks`` words (the loop vectorises: 32x32->64 multiplies)."""
    for j in range(blocks):
        c0, c1, c2, c3 = np.uint32(first + j), np.uint32(0), np.uint32(s0), np.uint32(s1)
        ka, kb = np.uint32(k0), np.uint32(k1)
        for _ in range(10):
            p0 = np.uint64(c0) * _M0
            p1 = np.uint64(c2) * _M1
            c0, c1, c2, c3 = (
                np.uint32((p1 >> _SHIFT) ^ c1 ^ ka),
                np.uint32(p1 & _LO),
                np.uint32((p0 >> _SHIFT) ^ c3 ^ kb),
                np.uint32(p0 & _LO),
            )
            ka, kb = np.uint32(ka + _W0), np.uint32(kb + _W1)
        out[4 * j], out[4 * j + 1], out[4 * j + 2], out[4 * j + 3] = c0, c1, c2, c3


def _sources(njit: Any, prange: Any, words_into: Any) -> dict[str, Callable[..., None]]:
    """The kernels, closed over ``prange`` (``numba.prange``) and the compiled Philox."""

    @njit  # type: ignore[untyped-decorator]
    def keep_words(xs: Array, os_: Array, w: Array, thr: Any, s: Any, zero: Any) -> None:
        for t in range(xs.shape[0]):
            os_[t] = xs[t] * s if w[t] >= thr else zero

    @njit  # type: ignore[untyped-decorator]
    def keep_words_inplace(xs: Array, w: Array, thr: Any, s: Any, zero: Any) -> None:
        # Its own loop: on one array LLVM's overlap check would select the scalar loop.
        for t in range(xs.shape[0]):
            xs[t] = xs[t] * s if w[t] >= thr else zero

    @njit  # type: ignore[untyped-decorator]
    def partition(w: Array, thr: Any) -> tuple[Array, int]:
        """Row numbers, kept rows first, and how many are kept: branch-free, so the row loops
        below never mispredict on a random mask (7x7 planes, p = 0.5: 17.9 -> 11.4 us)."""
        n = w.shape[0]
        rows = np.empty(n, dtype=np.int64)
        kept, dropped = 0, n
        for i in range(n):
            keep = w[i] >= thr
            rows[kept if keep else dropped - 1] = i
            kept += keep
            dropped -= 1 - keep
        return rows, kept

    # One parallel loop over parts; each part takes an equal share of the kept rows and of the
    # dropped rows, so every thread gets the same mix of multiplies and fills.
    def scale_rows(x2: Array, out2: Array, w: Array, thr: Any, s: Any) -> None:
        rows, kept = partition(w, thr)
        n, parts = rows.shape[0], min(rows.shape[0], _PARTS)
        for c in prange(parts):
            for q in range(kept * c // parts, kept * (c + 1) // parts):
                xi, oi = x2[rows[q]], out2[rows[q]]
                for t in range(xi.shape[0]):
                    oi[t] = xi[t] * s
            for q in range(kept + (n - kept) * c // parts, kept + (n - kept) * (c + 1) // parts):
                oi = out2[rows[q]]
                for t in range(oi.shape[0]):
                    oi[t] = 0

    def scale_rows_inplace(x2: Array, w: Array, thr: Any, s: Any) -> None:
        rows, kept = partition(w, thr)
        n, parts = rows.shape[0], min(rows.shape[0], _PARTS)
        for c in prange(parts):
            for q in range(kept * c // parts, kept * (c + 1) // parts):
                xi = x2[rows[q]]
                for t in range(xi.shape[0]):
                    xi[t] = xi[t] * s
            for q in range(kept + (n - kept) * c // parts, kept + (n - kept) * (c + 1) // parts):
                xi = x2[rows[q]]
                for t in range(xi.shape[0]):
                    xi[t] = 0

    def select(x: Array, out: Array, w: Array, thr: Any, s: Any, zero: Any) -> None:
        n = x.shape[0]
        for c in prange((n + _CHUNK - 1) // _CHUNK):
            a = c * _CHUNK
            keep_words(x[a : a + _CHUNK], out[a : a + _CHUNK], w[a : a + _CHUNK], thr, s, zero)

    def select_inplace(x: Array, w: Array, thr: Any, s: Any, zero: Any) -> None:
        n = x.shape[0]
        for c in prange((n + _CHUNK - 1) // _CHUNK):
            a = c * _CHUNK
            keep_words_inplace(x[a : a + _CHUNK], w[a : a + _CHUNK], thr, s, zero)

    def philox(
        x: Array, out: Array, k0: Any, k1: Any, s0: Any, s1: Any, thr: Any, s: Any, zero: Any
    ) -> None:
        n = x.shape[0]
        chunks = (n + _CHUNK - 1) // _CHUNK
        parts = min(chunks, 64)  # one word buffer per part, reused over its chunks
        inplace = x.ctypes.data == out.ctypes.data
        for part in prange(parts):
            w = np.empty(_CHUNK, dtype=np.uint32)
            for c in range(chunks * part // parts, chunks * (part + 1) // parts):
                a = c * _CHUNK
                xs = x[a : a + _CHUNK]
                words_into(a // 4, (xs.shape[0] + 3) // 4, k0, k1, s0, s1, w)
                if inplace:
                    keep_words_inplace(xs, w, thr, s, zero)
                else:
                    keep_words(xs, out[a : a + _CHUNK], w, thr, s, zero)

    return {"scale_rows": scale_rows, "scale_rows_inplace": scale_rows_inplace,
            "select": select, "select_inplace": select_inplace, "philox": philox}  # fmt: skip
