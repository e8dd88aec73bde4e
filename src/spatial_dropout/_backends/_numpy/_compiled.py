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
import sys
import threading
from typing import Any

import numpy as np

from ..._threads import get_num_threads

Array = np.ndarray[Any, Any]
_OFF = ("0", "false", "no", "off")


class Kernels:
    """The compiled kernels: a serial and a parallel build of each (compiled on first use)."""

    def __init__(self, numba: Any) -> None:
        from . import _numba_kernels as nk  # imports numba

        self.numba = numba
        self.max_threads = int(numba.config.NUMBA_NUM_THREADS)
        self.words, self.serial, self.parallel = nk.words_into, nk.SERIAL, nk.PARALLEL
        self.forked = _forked[0]  # created in a child forked after OpenMP started (torch's)
        self.lock = threading.Lock()

    def run(
        self, name: str, nbytes: int, threads: int | None, parallel_bytes: int, *args: Any
    ) -> None:
        """Run kernel ``name``, serial or parallel.

        The parallel build runs inputs of ``parallel_bytes`` and more (at ``threads``, default
        ``get_num_threads()``), the serial one anything else, on this thread.

        Parallel launches take a lock: each already uses every thread it is given, and
        numba's fallback threading layer (workqueue, where no OpenMP or TBB is found) aborts
        the process on concurrent launches from several Python threads.
        """
        if nbytes < parallel_bytes or self.forked:
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


_state: dict[str, Kernels | None] = {}
_creating = threading.Lock()
_forked = [False]  # this process was forked: GNU OpenMP's threads (numba's, torch's) are gone


def kernels() -> Kernels | None:
    """The compiled kernels, or ``None``.

    ``None`` without numba, or with ``SPATIAL_DROPOUT_NUMBA`` set to ``0``, ``false``, ``no`` or
    ``off``.
    """
    if "k" not in _state:
        with _creating:  # one Kernels (and one launch lock) even when threads race to it
            if "k" not in _state:
                _state["k"] = _load()
    return _state["k"]


def _load() -> Kernels | None:
    if os.environ.get("SPATIAL_DROPOUT_NUMBA", "1").strip().lower() in _OFF:
        return None
    try:
        import numba
    except ImportError:
        return None
    k = Kernels(numba)
    if not _check_caches(k):
        return None
    # Numba's first dispatch imports numpy.ma lazily; done here, under the lock a fork waits
    # for, no child is forked while another thread holds that module's import lock.
    import numpy.ma  # noqa: F401

    return k


def _check_caches(k: Kernels) -> bool:
    """Read every kernel's on-disk cache index; rewrite one that cannot be read.

    An emptied or damaged index made every call raise ``EOFError``, in every later process too.
    False, for the NumPy kernels in this process, where a damaged index cannot be rewritten.
    """
    from . import _numba_kernels as nk

    dispatchers = [*k.serial.values(), *k.parallel.values(), *nk.HELPERS]
    for dispatcher in dispatchers:
        cache = getattr(dispatcher, "_cache", None)
        cache_file = getattr(cache, "_cache_file", None)
        if cache is None or cache_file is None:  # compiled per process: nothing on disk
            continue
        try:
            cache_file._load_index()
        except Exception:
            try:
                cache.flush()  # an empty, valid index: the kernel compiles and caches again
            except OSError:
                return False
    return True


def usable(x: Array) -> bool:
    """Whether the kernels take this array: float32/float64, native byte order, C order."""
    return x.dtype.char in "fd" and x.dtype.isnative and bool(x.flags.c_contiguous)


# Across fork, the forking thread holds the locks that another thread could hold half-way:
# ours around importing numba (a child forked then hung on the module's import lock), then
# numba's compiler lock (a child forked while another thread compiled a kernel hung on it).
_held: list[Any] = []


def _before_fork() -> None:
    _creating.acquire()
    module = sys.modules.get("numba.core.compiler_lock")
    lock = getattr(module, "global_compiler_lock", None)
    if lock is not None:
        lock.acquire()
        _held.append(lock)


def _after_fork_in_parent() -> None:
    while _held:
        _held.pop().release()
    _creating.release()


def after_fork_in_child() -> None:
    global _creating
    while _held:
        _held.pop().release()  # an RLock of this thread, which continues in the child
    _creating = threading.Lock()
    _forked[0] = True
    k = _state.get("k")
    if k is not None:
        k.forked = True
        k.lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_before_fork,
        after_in_parent=_after_fork_in_parent,
        after_in_child=after_fork_in_child,
    )
