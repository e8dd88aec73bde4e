"""The compiled kernels' source: imported only where numba is installed (see ``_compiled``).

Module-level functions without closures, so that numba's on-disk cache finds them again in the
next process (a closure's cache key pickles its cells, and a captured dispatcher pickles to a
new key in every process). Each kernel is built twice, serial and parallel (``prange``).
"""

from __future__ import annotations

from collections.abc import Callable
from types import FunctionType
from typing import Any

import numba
import numpy as np
from numba import prange

Array = np.ndarray[Any, Any]

_PARTS = 64  # plane kernels: work items per call, shared out over the threads
_IN_ORDER_BYTES = 1024  # in-place plane kernel: rows this long go in order, not partitioned
_CHUNK = 2048  # element-wise: words per chunk (a multiple of 4; 8 KB stays in L1)


def _jit(f: Callable[..., Any], parallel: bool = False, njit: Any = numba.njit) -> Any:
    """``f`` compiled (on first call) without the GIL.

    Cached on disk where numba finds a writable place for it, else compiled in each process.
    """
    try:
        return njit(nogil=True, cache=True, parallel=parallel)(f)
    except RuntimeError:  # numba: "cannot cache function ...: no locator available"
        return njit(nogil=True, parallel=parallel)(f)


def _renamed(f: Callable[..., None], suffix: str) -> Callable[..., None]:
    """A copy of ``f`` under another name.

    Numba's on-disk cache keys on the name, not on ``parallel=``, so the serial and parallel
    builds of one source would share an entry.
    """
    g = FunctionType(f.__code__, f.__globals__, f.__name__ + suffix, None, f.__closure__)
    g.__qualname__ = f.__qualname__ + suffix
    return g


_M0, _M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
_W0, _W1 = np.uint64(0x9E3779B9), np.uint64(0xBB67AE85)
_LO, _SHIFT = np.uint64(0xFFFFFFFF), np.uint64(32)


@_jit
def words_into(first: int, blocks: int, k0: Any, k1: Any, s0: Any, s1: Any, out: Array) -> None:
    """Philox4x32-10 blocks ``first .. first + blocks - 1`` as ``4 * blocks`` words.

    Block ``b`` has counter ``(b, 0, s0, s1)`` under key ``(k0, k1)``; the loop vectorises
    (32x32->64 multiplies).
    """
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


@_jit
def keep_words(xs: Array, os_: Array, w: Array, thr: Any, s: Any, zero: Any) -> None:
    for t in range(xs.shape[0]):
        os_[t] = xs[t] * s if w[t] >= thr else zero


@_jit
def keep_words_inplace(xs: Array, w: Array, thr: Any, s: Any, zero: Any) -> None:
    # Its own loop: on one array LLVM's overlap check would select the scalar loop.
    for t in range(xs.shape[0]):
        xs[t] = xs[t] * s if w[t] >= thr else zero


@_jit
def partition(w: Array, thr: Any) -> tuple[Array, int]:
    """Row numbers, kept rows first, and how many are kept.

    Branch-free, so the row loops below never mispredict on a random mask (7x7 planes,
    p = 0.5: 17.9 -> 11.4 us).
    """
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
    # Its own kernel, as keep_words_inplace: scale_rows on (x2, x2) would run scalar loops.
    n = x2.shape[0]
    parts = min(n, _PARTS)
    if x2.shape[1] * x2.itemsize < _IN_ORDER_BYTES:  # short rows: partitioned, as scale_rows
        rows, kept = partition(w, thr)
        for c in prange(parts):
            for q in range(kept * c // parts, kept * (c + 1) // parts):
                xi = x2[rows[q]]
                for t in range(xi.shape[0]):
                    xi[t] = xi[t] * s
            for q in range(kept + (n - kept) * c // parts, kept + (n - kept) * (c + 1) // parts):
                xi = x2[rows[q]]
                for t in range(xi.shape[0]):
                    xi[t] = 0
        return
    # Long rows in order, one branch a row: one linear sweep (3-15% faster than the partition's
    # two; the branch costs nothing against a 1 KB row).
    h = aligned_head(x2)
    for c in prange(parts):
        for i in range(n * c // parts, n * (c + 1) // parts):
            xi = x2[i]
            if w[i] >= thr:
                for t in range(h):
                    xi[t] = xi[t] * s
                xa = xi[h:]
                for t in range(xa.shape[0]):
                    xa[t] = xa[t] * s
            else:
                for t in range(xi.shape[0]):
                    xi[t] = 0


@_jit
def aligned_head(x2: Array) -> int:
    """Leading entries of each row to multiply one by one, so the rest starts on 64 bytes.

    NumPy's large arrays start 16 bytes past a 64-byte boundary: every vector load and store
    of an unsplit row then spans two cache lines. Splitting rows of 1 KB and more took the in
    place kernel from 222 to 185 us on (32, 128, 32, 32) (1 thread, p = 0.2; 2 threads 126 ->
    109 us); shorter rows ran slower split. Rows that are not a multiple of 64 bytes long start
    at different offsets: 0 for them.
    """
    row_bytes = x2.shape[1] * x2.itemsize
    if row_bytes < _IN_ORDER_BYTES or row_bytes % 64:
        return 0
    return ((64 - x2.ctypes.data % 64) % 64) // x2.itemsize


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
    chunks = (x.shape[0] + _CHUNK - 1) // _CHUNK
    parts = min(chunks, _PARTS)  # one word buffer per part, reused over its chunks
    for part in prange(parts):
        w = np.empty(_CHUNK, dtype=np.uint32)
        for c in range(chunks * part // parts, chunks * (part + 1) // parts):
            xs = x[c * _CHUNK : (c + 1) * _CHUNK]
            words_into(c * (_CHUNK // 4), (xs.shape[0] + 3) // 4, k0, k1, s0, s1, w)
            keep_words(xs, out[c * _CHUNK : (c + 1) * _CHUNK], w, thr, s, zero)


def philox_inplace(
    x: Array, k0: Any, k1: Any, s0: Any, s1: Any, thr: Any, s: Any, zero: Any
) -> None:  # its own kernel: the out-of-place one must type with a read-only x
    chunks = (x.shape[0] + _CHUNK - 1) // _CHUNK
    parts = min(chunks, _PARTS)
    for part in prange(parts):
        w = np.empty(_CHUNK, dtype=np.uint32)
        for c in range(chunks * part // parts, chunks * (part + 1) // parts):
            xs = x[c * _CHUNK : (c + 1) * _CHUNK]
            words_into(c * (_CHUNK // 4), (xs.shape[0] + 3) // 4, k0, k1, s0, s1, w)
            keep_words_inplace(xs, w, thr, s, zero)


def window_or(src: Array, b: int, out: Array) -> None:
    """``out[o, j] = any(src[o, j - b + 1 : j + 1])`` on rows of uint8 (0 or 1).

    ``src`` is ``(O, N * I)``, ``out`` ``(O, (N + b - 1) * I)``: a window along the middle axis of
    ``(O, N, I)``. Row ``o`` is ORed in ``b`` times at offsets ``0, I, ..., (b - 1) I``: each pass
    one contiguous, vectorised loop over a row that stays in L1.
    """
    rows, n = src.shape
    inner = (out.shape[1] - n) // (b - 1) if b > 1 else 0
    parts = min(rows, _PARTS)
    for c in prange(parts):
        for o in range(rows * c // parts, rows * (c + 1) // parts):
            si, oi = src[o], out[o]
            for t in range(oi.shape[0]):
                oi[t] = 0
            for k in range(b):
                ok = oi[k * inner : k * inner + n]
                for t in range(n):
                    ok[t] |= si[t]


_SOURCES: dict[str, Callable[..., None]] = {
    "scale_rows": scale_rows,
    "scale_rows_inplace": scale_rows_inplace,
    "select": select,
    "select_inplace": select_inplace,
    "philox": philox,
    "philox_inplace": philox_inplace,
    "window_or": window_or,
}
SERIAL = {name: _jit(f) for name, f in _SOURCES.items()}
# called by the kernels:
HELPERS = (words_into, keep_words, keep_words_inplace, partition, aligned_head)
PARALLEL = {name: _jit(_renamed(f, "_parallel"), parallel=True) for name, f in _SOURCES.items()}
