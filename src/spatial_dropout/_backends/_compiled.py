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

import os
import threading
from typing import Any

import numpy as np

from .._threads import get_num_threads

Array = np.ndarray[Any, Any]

_PARALLEL_BYTES = 512 << 10  # measured crossover ~400 KB (at 512 KB: serial 7.1 us, parallel 6.3)


class _Kernels:
    """The compiled kernels: a serial and a parallel build of each (compiled on first use)."""

    def __init__(self, numba: Any) -> None:
        from . import _numba_kernels as nk  # imports numba

        self.numba = numba
        self.max_threads = int(numba.config.NUMBA_NUM_THREADS)
        self.words, self.serial, self.parallel = nk.words_into, nk.SERIAL, nk.PARALLEL
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
    """Whether the kernels take this array: float32 or float64 in native byte order,
    C-contiguous."""
    return x.dtype.char in "fd" and x.dtype.isnative and bool(x.flags.c_contiguous)


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
    x: Array, out: Array | None, seed: int, stream: int, threshold: int, s: float
) -> bool:
    """Fused portable element-wise dropout (``out=None``: into ``x``): entry ``i`` is kept iff
    Philox word ``i`` of ``(seed, stream)`` is ``>= threshold`` (the mask of
    ``random_words``), never materialised."""
    k = kernels()
    if k is None or not usable(x) or (out is not None and not usable(out)):
        return False
    consts = (*_split(seed), *_split(stream), np.uint32(threshold), x.dtype.type(s),
              x.dtype.type(0))  # fmt: skip
    if out is None:
        k.run("philox_inplace", x.nbytes, None, x, *consts)
    else:
        k.run("philox", x.nbytes, None, x, out, *consts)
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


def _split(v: int) -> tuple[np.uint64, np.uint64]:
    """The low and high words of ``v``, typed uint64: with uint32 arguments numba's mixed
    uint32/uint64 arithmetic made the Philox loop 2.4x slower (0.58 against 0.25 ns a word)."""
    return np.uint64(v & 0xFFFFFFFF), np.uint64((v >> 32) & 0xFFFFFFFF)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=after_fork_in_child)
