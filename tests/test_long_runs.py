"""Long runs hold memory flat: many small calls and many large ones, per backend.

Python allocations are traced (tracemalloc) over the second half of the run, after the first
half warmed every cache; the process's resident size (RSS, from /proc) is compared likewise.
"""

from __future__ import annotations

import gc
import tracemalloc

import numpy as np
import pytest

import spatial_dropout as sd

from conftest import FACTORIES, Kind

# calls per run (small, large): fewer where a call costs more (JAX, Dask's graphs, strict)
RUNS = {
    Kind.NUMPY: (100_000, 1_000),
    Kind.TORCH: (100_000, 1_000),
    Kind.JAX: (20_000, 500),
    Kind.JAX_JIT: (20_000, 500),
    Kind.ARRAY_API_STRICT: (10_000, 100),
    Kind.DASK: (1_000, 200),
}
SMALL, LARGE = (2, 8, 4, 4), (16, 64, 32, 32)  # 1 KB and 4 MB of float32


def _rss() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096
    except OSError:
        return 0


def _clear_dask_caches(kind: Kind) -> None:
    """Dask's own bounded LRU caches: every graph key's name (100,000 entries) and chunk sums.

    Each call has new keys (its counter is in the token), so these fill up to their bound; what
    is left after clearing them is what a call keeps.
    """
    if kind is Kind.DASK:
        import dask.utils

        dask.utils.key_split.cache_clear()
        dask.utils._cumsum.cache_clear()


@pytest.mark.parametrize("kind", list(RUNS), ids=lambda k: k.value)
@pytest.mark.parametrize("size", ["small", "large"])
def test_memory_stays_flat(kind, size):
    backend = FACTORIES[kind]()
    calls = RUNS[kind][0 if size == "small" else 1]
    x = backend.asarray(np.ones(SMALL if size == "small" else LARGE, dtype=np.float32))
    g = sd.Generator(1)
    if kind is Kind.JAX_JIT:
        import jax

        f = jax.jit(lambda a, k: sd.dropout2d(a, 0.5, key=k))
        keys = [jax.random.key(i) for i in range(64)]

        def call(i: int) -> object:
            return f(x, keys[i % 64])
    elif kind is Kind.DASK:

        def call(i: int) -> object:
            return sd.dropout2d(x, 0.5, generator=g).compute(scheduler="sync")
    else:

        def call(i: int) -> object:
            return sd.dropout2d(x, 0.5, generator=g)

    for i in range(calls // 2):  # warm: caches, pools, compiled code
        call(i)
    _clear_dask_caches(kind)
    gc.collect()
    tracemalloc.start()
    before, rss0 = tracemalloc.take_snapshot(), _rss()
    for i in range(calls // 2, calls):
        call(i)
    _clear_dask_caches(kind)
    gc.collect()
    after, rss1 = tracemalloc.take_snapshot(), _rss()
    tracemalloc.stop()
    grown = sum(s.size_diff for s in after.compare_to(before, "filename"))
    print(f"{kind.value} {size}: {calls} calls, traced +{grown} B, RSS +{(rss1 - rss0) >> 10} KiB")
    assert grown < 256 << 10  # Python objects: no per-call leak (256 B a call would be 12 MB)
    assert grown < 512 * (calls // 2)  # and under 512 B a call, however few the calls
    assert rss1 - rss0 < 64 << 20  # allocator noise only, far below one large input per call
