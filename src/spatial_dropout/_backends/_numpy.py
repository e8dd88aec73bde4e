"""NumPy: the default backend, with native kernels that write the output once.

The kernel for a channel mask views a C-contiguous input as ``(planes, plane size)``, multiplies
all of it by ``s`` into the output, then writes zeros over the dropped planes ("mulzero"; on
planes of 32 KB and more, runs of dropped planes are filled without being read). Inputs of
several MB are split by planes over a thread pool (ufuncs release the GIL). Anything else takes
a general broadcast path. Every path is tested bit for bit against the array-API reference.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import array_api_compat.numpy as xp_numpy
import numpy as np

from .._random._generator import numpy_words
from .._random._philox import MAX_ENTRIES
from .._scale import drop_threshold
from .._threads import get_num_threads, run_split
from . import _compiled
from ._array_api import _MASK32, ArrayAPIBackend

Array = np.ndarray[Any, Any]

_MANTISSA: dict[np.dtype[Any], int] = {}
_SPLIT_BYTES = 8 << 20  # below this, waking another thread costs more than it saves
_RUN_BYTES = 32 << 10  # planes this large are zeroed by runs, without reading them


def _mantissa(dtype: np.dtype[Any]) -> int:
    """Mantissa bits of a floating dtype, 0 for anything else (cached per dtype)."""
    m = _MANTISSA.get(dtype)
    if m is None:
        if str(dtype.name) == "bfloat16":  # ml_dtypes
            m = 7
        elif dtype.kind == "f":
            m = min(int(np.finfo(dtype).nmant), 52)  # long double: scaled as float64
        else:
            m = 0
        _MANTISSA[dtype] = m
    return m


class NumPyBackend(ArrayAPIBackend):
    name = "numpy.ndarray"

    @staticmethod
    def matches(x: object) -> bool:
        return isinstance(x, np.ndarray)

    def namespace(self, x: Any) -> Any:
        return xp_numpy

    def is_floating(self, x: Any) -> bool:
        return _mantissa(x.dtype) > 0

    def mantissa(self, x: Any) -> int:
        return _mantissa(x.dtype)

    def size(self, x: Any) -> int:
        return int(x.size)

    def why_not_writeable(self, x: Any) -> str | None:
        return None if x.flags.writeable else "a read-only numpy.ndarray"

    def keep_mask(
        self, fn: str, x: Any, shape: tuple[int, ...], p: float, generator: object
    ) -> Any:
        if generator is None:  # the global stream, through NumPy's PCG64: one C call
            threshold = drop_threshold(p)
            if threshold > _MASK32:
                return np.zeros(shape, dtype=bool)
            return (_global_words(math.prod(shape)) >= threshold).reshape(shape)
        return super().keep_mask(fn, x, shape, p, generator)

    def portable_keep(
        self, x: Any, shape: tuple[int, ...], p: float, seed: int, stream: int
    ) -> Any:
        threshold = drop_threshold(p)
        n = math.prod(shape)
        compiled = threshold <= _MASK32 and n <= MAX_ENTRIES  # else: the reference's way
        words = _compiled.words(n, seed, stream) if compiled else None
        if words is None:
            return super().portable_keep(x, shape, p, seed, stream)
        return (words >= threshold).reshape(shape)

    def fused(
        self, fn: str, x: Any, shape: tuple[int, ...], p: float, generator: object,
        scale: float, inplace: bool,
    ) -> Any:  # fmt: skip
        """With the compiled kernels: one call that reads the mask's words (never a boolean
        mask) and writes the output once; element-wise, the Philox words are drawn in it."""
        if _compiled.kernels() is None or not _compiled.usable(x):
            return None
        threshold = drop_threshold(p)
        elementwise = shape == x.shape
        planes = None if elementwise else _planes(x, shape)
        if threshold > _MASK32 or (planes is None and not elementwise):
            return None
        n = math.prod(shape)
        if generator is None:
            words = _global_words(n)
        else:
            if n > MAX_ENTRIES:  # the reference path raises the error
                return None
            stream = self.portable_stream(generator)
            if stream is None:  # a native generator
                return None
            if elementwise:
                out = x if inplace else np.empty_like(x)
                into = None if inplace else out.reshape(-1)
                _compiled.philox_dropout(x.reshape(-1), into, *stream, threshold, scale)
                return out
            words = _compiled.words(n, *stream)  # type: ignore[assignment]
        out = x if inplace else np.empty_like(x)
        if elementwise:
            into = None if inplace else out.reshape(-1)
            _compiled.select(x.reshape(-1), into, words, threshold, scale)
        else:
            into = None if inplace else out.reshape(planes, -1)
            _compiled.scale_rows(x.reshape(planes, -1), into, words, threshold, scale)
        return out

    def native_keep(
        self, fn: str, x: Any, shape: tuple[int, ...], p: float, generator: object
    ) -> Any:
        if isinstance(generator, np.random.Generator):
            return generator.random(shape) >= p
        return super().native_keep(fn, x, shape, p, generator)

    def apply_keep(self, x: Any, keep: Any, scale: float, inplace: bool) -> Any:
        out = x if inplace else np.empty_like(x)
        # a Python float is a "weak" scalar for NumPy's own float dtypes (NEP 50), and exact
        s: Any = scale if x.dtype.kind == "f" else np.asarray(scale, dtype=x.dtype)
        if keep.shape == x.shape and x.itemsize in _BITS and x.flags.c_contiguous:
            flat = x.reshape(-1)
            _elementwise(flat, flat if inplace else out.reshape(-1), keep.reshape(-1), s)
            return out
        planes = _planes(x, keep.shape)
        if planes is None:
            np.multiply(x, s, out=out)
            _fill_dropped(out, keep, 0)
        else:
            x2 = x.reshape(planes, -1)
            out2 = x2 if inplace else out.reshape(planes, -1)
            mulzero(x2, out2, keep.reshape(-1), s, get_num_threads())
        return out

    def apply_alpha(
        self, x: Any, keep: Any, consts: tuple[float, float, float], inplace: bool
    ) -> Any:
        a, b_keep, b_drop = (np.asarray(c, dtype=x.dtype) for c in consts)
        out = x if inplace else np.empty_like(x)
        np.multiply(x, a, out=out)
        np.add(out, b_keep, out=out)
        _fill_dropped(out, keep, b_drop)
        return out

    def zeros(self, x: Any, inplace: bool) -> Any:
        if not inplace:
            return np.zeros_like(x)
        x[...] = 0
        return x


def _planes(x: Array, shape: tuple[int, ...]) -> int | None:
    """The number of planes if ``x`` is C-contiguous and the mask's ``shape`` is
    ``(a, b, ..., 1, 1)``."""
    if not x.flags.c_contiguous or x.ndim == 0:
        return None
    if len(shape) == 4 and shape[2:] == (1, 1) and shape[:2] == x.shape[:2]:
        return shape[0] * shape[1]  # (N, C, 1, 1): the common case, at once
    lead = len(shape)
    while lead and shape[lead - 1] == 1:
        lead -= 1
    if shape[:lead] != x.shape[:lead]:
        return None
    return int(math.prod(x.shape[:lead]))


def mulzero(x2: Array, out2: Array, keep: Array, s: Any, threads: int) -> None:
    """``out2 = x2 * s`` on kept rows, ``+0.0`` on dropped rows; split over up to ``threads``
    threads if large. ``out2`` may be ``x2`` (in place)."""
    if _compiled.kernels() is not None:
        into = None if out2 is x2 else out2
        if _compiled.scale_rows(x2, into, keep.view(np.uint8), 1, s, threads):
            return
    drop = ~keep
    plane_bytes = x2.shape[1] * x2.itemsize
    by_runs = plane_bytes >= _RUN_BYTES
    if x2.nbytes < _SPLIT_BYTES and not by_runs:  # the small case, without closures
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

    run_split(task, x2.shape[0], min(threads, x2.shape[0], max(1, x2.nbytes // _SPLIT_BYTES)))


def _by_runs(x2: Array, out2: Array, keep: Array, s: Any, start: int, stop: int) -> None:
    """Multiply each run of kept rows, fill each run of dropped rows: dropped rows are not read."""
    k = keep[start:stop]
    edges = np.flatnonzero(k[1:] != k[:-1]) + 1
    bounds = [0, *edges.tolist(), len(k)]
    for a, b in itertools.pairwise(bounds):
        rows = slice(start + a, start + b)
        if k[a]:
            np.multiply(x2[rows], s, out=out2[rows])
        else:
            out2[rows] = 0


_BITS = {2: np.uint16, 4: np.uint32, 8: np.uint64}
_CHUNK = 1 << 15  # elements per chunk: the temporaries stay in the L2 cache


def _elementwise(x: Array, out: Array, keep: Array, s: Any) -> None:
    """``x * s`` where ``keep``, ``+0.0`` elsewhere, for a mask as large as the input.

    Branch-free: the product's bits are ANDed with all-ones or all-zeros words. (``copyto``
    with ``where=``, ``putmask`` and ``np.where`` branch per element and, on a random mask,
    mispredict half the time: 10-20x slower.) Chunked so the temporaries stay in cache.
    ``out`` may be ``x`` (in place).
    """
    into = None if out is x else out
    if _compiled.kernels() is not None and _compiled.select(x, into, keep.view(np.uint8), 1, s):
        return
    bits = _BITS[x.itemsize]
    for start in range(0, x.size, _CHUNK):
        part = slice(start, start + _CHUNK)
        words = keep[part].astype(bits)
        np.negative(words, out=words)  # True -> all ones, False -> 0 (unsigned wrap-around)
        o = out[part]
        np.multiply(x[part], s, out=o)
        np.bitwise_and(o.view(bits), words, out=o.view(bits))


def _global_words(n: int) -> Array:
    """``n`` 32-bit words of the global stream (NumPy's PCG64: one C call)."""
    raw: Array = numpy_words((n + 1) // 2)  # type: ignore[assignment]
    return raw.view(np.uint32)[:n]


def _fill_dropped(out: Array, keep: Array, value: Any) -> None:
    """Write ``value`` where ``keep`` (broadcast to ``out``) is False."""
    if keep.all():
        return
    np.copyto(out, value, where=~keep)
