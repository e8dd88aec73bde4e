"""How many threads the NumPy and compiled kernels use: a documented knob, and the shared pool."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

from ._validation import check_env, check_threads

_ENV = "SPATIAL_DROPOUT_NUM_THREADS"


class _Threads:
    def __init__(self) -> None:
        self.n: int | None = None
        self.pool: ThreadPoolExecutor | None = None
        self.workers = 0
        self.lock = threading.Lock()

    def reset(self) -> None:  # in a forked child the pool's threads do not exist
        self.pool, self.workers, self.lock = None, 0, threading.Lock()


_state = _Threads()
_local = threading.local()  # a per-thread cap: Dask's workers run their blocks on one thread
_capped = [0]  # blocks under a cap, in any thread: the common call reads no thread-local


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Within the block, this thread's kernels use one thread (no nested pools)."""
    before = getattr(_local, "n", None)
    _local.n = 1
    _capped[0] += 1
    try:
        yield
    finally:
        _capped[0] -= 1
        _local.n = before


def _default() -> int:
    env = os.environ.get(_ENV, "").strip()
    if env:
        return check_env(_ENV, env)
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity else (os.cpu_count() or 1)


def get_num_threads() -> int:
    """Threads the NumPy and compiled kernels split large arrays over.

    Returns
    -------
    int
        What :func:`set_num_threads` set; by default ``$SPATIAL_DROPOUT_NUM_THREADS`` or the
        usable cores.

    Raises
    ------
    ValueError
        ``$SPATIAL_DROPOUT_NUM_THREADS`` is set but is not an integer >= 1.

    Examples
    --------
    >>> import spatial_dropout as sd
    >>> sd.get_num_threads() >= 1
    True
    """
    if _state.n is None:
        _state.n = _default()
    if _capped[0]:
        return getattr(_local, "n", None) or _state.n
    return _state.n


def set_num_threads(n: int) -> None:
    """Set the thread count of the NumPy and compiled kernels, as ``torch.set_num_threads`` does.

    Small arrays always run on the calling thread.

    Parameters
    ----------
    n : int
        Threads, at least 1 (1: the calling thread only).

    Returns
    -------
    None

    Raises
    ------
    ValueError
        ``n`` is not an int >= 1.

    Examples
    --------
    >>> import spatial_dropout as sd
    >>> old = sd.get_num_threads(); sd.set_num_threads(1); sd.get_num_threads()
    1
    >>> sd.set_num_threads(old)
    """
    _state.n = check_threads("set_num_threads", n)


def run_split(task: Callable[[int, int], None], items: int, chunks: int) -> None:
    """Run ``task(start, stop)`` over ``chunks`` contiguous ranges of ``range(items)``.

    The calling thread takes the first, the pool the rest (NumPy's ufuncs release the GIL).
    """
    if chunks <= 1:
        task(0, items)
        return
    bounds = [items * i // chunks for i in range(chunks + 1)]
    pool = _pool(chunks - 1)
    futures = [pool.submit(task, bounds[i], bounds[i + 1]) for i in range(1, chunks)]
    task(bounds[0], bounds[1])
    for future in futures:
        future.result()


def _pool(workers: int) -> ThreadPoolExecutor:
    with _state.lock:
        if _state.pool is None or _state.workers < workers:
            if _state.pool is not None:
                _state.pool.shutdown(wait=False)
            _state.pool = ThreadPoolExecutor(workers, thread_name_prefix="spatial_dropout")
            _state.workers = workers
        return _state.pool


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_state.reset)
