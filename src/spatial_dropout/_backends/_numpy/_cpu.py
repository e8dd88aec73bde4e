"""The CPU kernels, on NumPy memory: NumPy arrays, and CPU tensors through their NumPy view.

One caller decides once per call whether the compiled kernels take its arrays
(:func:`compiled_for`) and passes the answer down as ``k``; with ``k=None`` every kernel runs as
NumPy code. Each kernel writes the output once and reads only what it keeps:

- channel masks (:func:`scale_rows`): the input viewed as ``(planes, plane size)``; kept planes
  are multiplied, dropped planes filled with ``+0.0``. Compiled: kept and dropped planes are
  partitioned first and dropped ones are never read. NumPy: multiply all, then zero the dropped
  planes ("mulzero"); planes of ``run_bytes`` and more are handled by runs (dropped ones not
  read), and inputs of ``split_bytes`` and more are split over threads.
- element-wise masks (:func:`select`): compiled, a branch-free select; NumPy, the product's bits
  ANDed with all-ones or all-zeros words in cache-sized chunks.
- the portable element-wise dropout (:func:`philox_dropout`, compiled only): the Philox words
  are drawn in L1-sized chunks and fused with the multiply; the mask is never stored.

A mask is given as 32-bit random ``words`` and a ``threshold`` (kept where ``words >=
threshold``), or as a boolean ``keep`` (``threshold=None``). Every path is tested bit for bit
against the array-API reference (``_reference.py``).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..._random import _philox_numpy
from ..._threads import get_num_threads, run_split
from . import _compiled
from ._compiled import Kernels

Array = np.ndarray[Any, Any]


@dataclass(frozen=True)
class Tuning:
    """Size thresholds of the kernels, in bytes (tests pass small ones to reach every branch).

    Attributes
    ----------
    split_bytes : int
        NumPy kernels: inputs this large are split over threads (below, waking one costs more).
    run_bytes : int
        NumPy kernels: planes this large are zeroed by runs, without being read.
    parallel_bytes : int
        Compiled kernels: inputs this large take the parallel build (crossover ~400 KB).
    """

    split_bytes: int = 8 << 20
    run_bytes: int = 32 << 10
    parallel_bytes: int = 512 << 10


DEFAULT = Tuning()  # what a kernel called without ``tuning`` uses
_BITS = {2: np.uint16, 4: np.uint32, 8: np.uint64}
_CHUNK = 1 << 15  # NumPy element-wise kernel: elements per chunk (temporaries stay in L2)


def compiled_for(*arrays: Array) -> Kernels | None:
    """The compiled kernels if they are installed and take every one of ``arrays``."""
    k = _compiled.kernels()
    if k is None or not all(_compiled.usable(a) for a in arrays):
        return None
    return k


def planes(shape: tuple[int, ...], mshape: tuple[int, ...]) -> int | None:
    """How many planes a C-contiguous array of ``shape`` has under a mask of ``mshape``.

    That is, if the mask (aligned to the trailing axes, as NumPy broadcasts) is ``(a, b, ..., 1,
    ..., 1)`` with its leading axes equal to the array's: then plane ``i`` shares mask entry ``i``.
    Else None.

    >>> planes((8, 3, 4, 4), (8, 3, 1, 1)), planes((4, 4, 4, 4), (4, 4)), planes((5, 6), (1,))
    (24, None, 1)
    """
    if len(mshape) == 4 and mshape[2] == mshape[3] == 1 and mshape[:2] == shape[:2]:
        return mshape[0] * mshape[1]  # (N, C, 1, 1): the common case, at once
    if len(mshape) > len(shape):
        return None
    full = (1,) * (len(shape) - len(mshape)) + tuple(mshape)
    lead = len(full)
    while lead and full[lead - 1] == 1:
        lead -= 1
    if full[:lead] != shape[:lead]:
        return None
    return math.prod(shape[:lead])


def words(n: int, seed: int, counter: int, k: Kernels | None, start: int = 0) -> Array:
    """Words ``start .. start + n - 1`` of the stream ``(seed, counter)``: compiled, else NumPy.

    (``start`` needs the compiled kernels.)
    """
    if k is None:
        return _philox_numpy.words(n, seed, counter)
    first, last = start // 4, (start + n + 3) // 4
    buf = np.empty(4 * (last - first), dtype=np.uint32)
    k.words(first, last - first, *_split(seed), *_split(counter), buf)
    return buf[start - 4 * first : start - 4 * first + n]


def span(
    shape: tuple[int, ...], starts: tuple[Any, ...], box: tuple[int, ...]
) -> tuple[int, int] | None:
    """``(first, n)``: the run of flat indices in ``shape`` that holds the box at ``starts``.

    None for traced starts, or where the run is over 8 times the box (and 4096 entries): then
    computing the box's words one by one costs less.

    >>> span((8, 4, 1, 1), (2, 0, 0, 0), (3, 4, 1, 1))
    (8, 12)
    >>> span((8, 4, 1, 1), (2, 1, 0, 0), (3, 2, 1, 1))
    (9, 10)
    """
    if not all(isinstance(s, int) for s in starts):
        return None
    first = last = 0
    stride = 1
    for d in range(len(shape) - 1, -1, -1):
        first += starts[d] * stride
        last += (starts[d] + box[d] - 1) * stride
        stride *= shape[d]
    n = last - first + 1
    return (first, n) if n <= max(8 * math.prod(box), 4096) else None


def scale_rows(
    x2: Array,
    out2: Array,
    words: Array,
    threshold: int | None,
    s: Any,
    k: Kernels | None,
    tuning: Tuning | None = None,
    threads: int | None = None,
) -> None:
    """``out2[i] = x2[i] * s`` for kept rows ``i``, ``+0.0`` rows elsewhere.

    ``out2`` may be ``x2`` (in place). ``threads`` defaults to :func:`get_num_threads`.
    """
    threads = threads or get_num_threads()
    tuning = tuning or DEFAULT
    if k is not None:
        w, thr = _words_and_threshold(words, threshold)
        scale = x2.dtype.type(s)
        if out2 is x2:
            k.run(
                "scale_rows_inplace", x2.nbytes, threads, tuning.parallel_bytes, x2, w, thr, scale
            )
        else:
            k.run("scale_rows", x2.nbytes, threads, tuning.parallel_bytes, x2, out2, w, thr, scale)
        return
    keep = _keep(words, threshold)
    drop = ~keep
    by_runs = x2.shape[1] * x2.itemsize >= tuning.run_bytes
    if x2.nbytes < tuning.split_bytes and not by_runs:  # the small case, without closures
        np.multiply(x2, s, out=out2)
        out2[drop] = 0
        return

    def task(start: int, stop: int) -> None:
        if by_runs:
            _by_runs(x2, out2, keep, s, start, stop)
            return
        np.multiply(x2[start:stop], s, out=out2[start:stop])
        rows = drop[start:stop]
        if rows.any():
            out2[start:stop][rows] = 0

    chunks = min(threads, x2.shape[0], max(1, x2.nbytes // tuning.split_bytes))
    run_split(task, x2.shape[0], chunks)


def select(
    x: Array,
    out: Array,
    words: Array,
    threshold: int | None,
    s: Any,
    k: Kernels | None,
    tuning: Tuning | None = None,
    threads: int | None = None,
) -> None:
    """Element-wise on 1-D arrays: ``x * s`` where kept, else ``+0.0``; ``out`` may be ``x``."""
    tuning = tuning or DEFAULT
    if k is not None:
        w, thr = _words_and_threshold(words, threshold)
        scale, zero, nb = x.dtype.type(s), x.dtype.type(0), tuning.parallel_bytes
        if out is x:
            k.run("select_inplace", x.nbytes, threads, nb, x, w, thr, scale, zero)
        else:
            k.run("select", x.nbytes, threads, nb, x, out, w, thr, scale, zero)
        return
    keep = _keep(words, threshold)
    bits = _BITS[x.itemsize]
    for start in range(0, x.size, _CHUNK):
        part = slice(start, start + _CHUNK)
        mask = keep[part].astype(bits)
        np.negative(mask, out=mask)  # True -> all ones, False -> 0 (unsigned wrap-around)
        o = out[part]
        np.multiply(x[part], s, out=o)
        np.bitwise_and(o.view(bits), mask, out=o.view(bits))


def philox_dropout(
    x: Array,
    out: Array,
    seed: int,
    counter: int,
    threshold: int,
    s: Any,
    k: Kernels,
    tuning: Tuning | None = None,
) -> None:
    """Compiled, fused portable element-wise dropout on 1-D arrays (``out`` may be ``x``).

    Entry ``i`` is kept iff word ``i`` of ``(seed, counter)`` is ``>= threshold``.
    """
    tuning = tuning or DEFAULT
    consts = (
        *_split(seed),
        *_split(counter),
        np.uint32(threshold),
        x.dtype.type(s),
        x.dtype.type(0),
    )
    if out is x:
        k.run("philox_inplace", x.nbytes, None, tuning.parallel_bytes, x, *consts)
    else:
        k.run("philox", x.nbytes, None, tuning.parallel_bytes, x, out, *consts)


def window_any(dropped: Array, block: tuple[int, ...]) -> Array:
    """The window maximum of a boolean mask (``Backend.window_any``): separable, one pass per axis.

    Along an axis of length ``n`` and window ``b`` the result is ``n + b - 1`` long, each entry
    the OR of the ``b`` entries that end at it: ``b`` shifted ORs into zeros, compiled where numba
    is installed (rows of uint8, vectorised), else NumPy's.

    >>> window_any(np.array([[False, True, False]]), (1, 2)).astype(int)
    array([[0, 1, 1, 0]])
    """
    return window_or(dropped, block, _compiled.kernels())


def window_or(
    dropped: Array, block: tuple[int, ...], k: Kernels | None, tuning: Tuning = DEFAULT
) -> Array:
    """:func:`window_any` with the kernels ``k`` (None: NumPy's) and ``tuning`` given."""
    out = np.ascontiguousarray(dropped, dtype=bool)
    for axis, b in enumerate(block):
        if b <= 1:
            continue
        shape = out.shape
        n, rows = shape[axis], math.prod(shape[:axis])
        grown = np.zeros((*shape[:axis], n + b - 1, *shape[axis + 1 :]), dtype=bool)
        if k is not None and out.size:
            src, dst = out.reshape(rows, -1).view(np.uint8), grown.reshape(rows, -1).view(np.uint8)
            k.run("window_or", out.size, None, tuning.parallel_bytes, src, b, dst)
        else:
            for j in range(b):
                grown[(slice(None),) * axis + (slice(j, j + n),)] |= out
        out = grown
    return out


def fill_where(out: Array, keep: Array, value: Any) -> None:
    """Write ``value`` where ``keep`` (broadcast to ``out``) is False."""
    if not keep.all():
        np.copyto(out, value, where=~keep)


def _keep(words: Array, threshold: int | None) -> Array:
    return words if threshold is None else words >= threshold


def _words_and_threshold(words: Array, threshold: int | None) -> tuple[Array, Any]:
    """The compiled kernels read words and a threshold: a boolean mask is uint8 words ``>= 1``."""
    if threshold is None:
        return words.view(np.uint8), np.uint8(1)
    return words, words.dtype.type(threshold)


def _by_runs(x2: Array, out2: Array, keep: Array, s: Any, start: int, stop: int) -> None:
    """Multiply each run of kept rows, fill each run of dropped rows: dropped rows are not read."""
    kp = keep[start:stop]
    edges = np.flatnonzero(kp[1:] != kp[:-1]) + 1
    for a, b in itertools.pairwise([0, *edges.tolist(), len(kp)]):
        rows = slice(start + a, start + b)
        if kp[a]:
            np.multiply(x2[rows], s, out=out2[rows])
        else:
            out2[rows] = 0


def _split(v: int) -> tuple[int, int]:
    """The low and high 32-bit words of ``v``, as Python ints.

    Numba types them int64, which
    runs the Philox loops as fast as uint64 scalars did (250 us per 2**20 words either way) and
    costs 0.9 us less per call to build.
    """
    return v & 0xFFFFFFFF, (v >> 32) & 0xFFFFFFFF
