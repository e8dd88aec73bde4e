"""NumPy: the default backend. Its kernels are the CPU kernels of ``_cpu.py``.

A C-contiguous float32/float64 input in native byte order takes the compiled kernels where numba
is installed: one call that reads the mask's words (never a boolean mask) and writes the output
once; element-wise with the portable stream, the Philox words are drawn inside it. Other
C-contiguous inputs take the NumPy kernels; anything else (strided views, alpha dropout) the
general broadcast path. Every path is tested bit for bit against the array-API reference.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np

from .. import _validation as v
from .._random._philox import key_and_stream
from .._random._source import Native, Portable, Source
from .._scale import Transform, drop_threshold, keeps_nothing
from .._shapes import may_overlap
from . import _compiled, _cpu
from . import _reference as ref
from ._compiled import Kernels
from ._contract import MAX_ENTRIES

Array = np.ndarray[Any, Any]

_MANTISSA: dict[np.dtype[Any], int] = {}


def _mantissa(dtype: np.dtype[Any]) -> int:
    """Mantissa bits of a supported float dtype (cached per dtype).

    -1 for another float format (float8), 0 for anything else.
    """
    m = _MANTISSA.get(dtype)
    if m is None:
        name = str(dtype.name)
        if name == "bfloat16":  # ml_dtypes
            m = 7
        elif dtype.kind == "f" and name.startswith(("float16", "float32", "float64", "longdouble",
                                                    "float96", "float128")):  # fmt: skip
            m = min(int(np.finfo(dtype).nmant), 52)  # long double: scaled as float64
        elif dtype.kind == "f" or name.startswith("float"):  # ml_dtypes' float8, float4...
            m = -1
        else:
            m = 0
        _MANTISSA[dtype] = m
    return m


class NumPyBackend:
    """``numpy.ndarray``: the global stream for ``generator=None``; ``numpy.random.Generator``."""

    name = "numpy.ndarray"
    default_stream: Literal["global", "native"] = "global"
    max_entries = MAX_ENTRIES

    @staticmethod
    def matches(x: object) -> bool:
        return isinstance(x, np.ndarray) and not isinstance(x, np.matrix)

    def mantissa(self, x: Any) -> int:
        return _mantissa(x.dtype)

    def size(self, x: Any) -> int:
        return int(x.size)

    def why_not_writeable(self, x: Any) -> str | None:
        if not x.flags.writeable:
            return "a read-only numpy.ndarray"
        if not (x.flags.c_contiguous or x.flags.f_contiguous) and may_overlap(
            x.shape, x.strides, x.itemsize
        ):  # as_strided views: the result would depend on the order of the writes
            return "a numpy.ndarray view whose elements overlap in memory"
        return None

    def can_advance(self, x: Any) -> bool:
        return True

    def native_source(self, generator: object) -> Source | None:
        return Native(generator) if isinstance(generator, np.random.Generator) else None

    def is_mask(self, x: Any, mask: object) -> bool:
        return isinstance(mask, np.ndarray) and mask.dtype == np.bool_

    def mask(self, fn: str, x: Any, shape: tuple[int, ...], p: float, source: Source) -> Any:
        return self._mask(fn, shape, p, source, _cpu.compiled_for())

    def _mask(
        self, fn: str, shape: tuple[int, ...], p: float, source: Source, k: Kernels | None
    ) -> Any:
        if isinstance(source, Native):
            return source.generator.random(shape) >= p
        if not isinstance(source, Portable):
            v.bad_generator(fn, source, self.name)
        threshold = drop_threshold(p)
        if keeps_nothing(threshold):
            source.take()
            return np.zeros(shape, dtype=bool)
        words = _cpu.words(math.prod(shape), *source.take(), k)
        return (words >= threshold).reshape(shape)

    def mask_region(
        self, fn: str, x: Any, shape: tuple[int, ...], starts: tuple[Any, ...],
        box: tuple[int, ...], p: float, source: Source,
    ) -> Any:  # fmt: skip
        if not isinstance(source, Portable):
            v.bad_generator(fn, source, self.name)
        seed, counter = source.take()
        threshold = drop_threshold(p)
        k = _cpu.compiled_for()
        span = _cpu.span(shape, starts, box)
        if span is not None and k is not None and not keeps_nothing(threshold):
            # the compiled words of the run of indices that holds the box, then the box's
            first, n = span
            words = _cpu.words(n, seed, counter, k, start=first)
            if n == math.prod(box):
                return (words >= threshold).reshape(box)
            index = ref.region_index(np, shape, starts, box, dtype=np.int64) - first
            return words[index] >= threshold
        key, stream = key_and_stream(seed, counter)
        return ref.keep_mask_region(np, shape, starts, box, threshold, key, stream,
                                    dtype=np.uint64)  # fmt: skip

    def dropout(
        self, fn: str, x: Any, shape: tuple[int, ...], p: float, source: Source, t: Transform,
        inplace: bool,
    ) -> Any:  # fmt: skip
        threshold = drop_threshold(p)
        kw = _cpu.compiled_for()  # decided once a call: for the words, and for x's memory
        k = kw if kw is not None and _compiled.usable(x) else None
        elementwise = shape == x.shape
        rows = None if elementwise or k is None else _cpu.planes(x.shape, shape)
        if (
            t.alpha or k is None or not isinstance(source, Portable) or keeps_nothing(threshold)
            or (rows is None and not elementwise)
        ):  # fmt: skip
            return self._apply(x, self._mask(fn, shape, p, source, kw), t, inplace, k)
        # the compiled kernels: one call that reads the mask's words, never a boolean mask
        out = x if inplace else np.empty_like(x)
        seed, counter = source.take()
        if elementwise:
            x1 = x.reshape(-1)  # the kernels run in place when given one object twice
            _cpu.philox_dropout(x1, x1 if inplace else out.reshape(-1), seed, counter, threshold,
                                t.a, k)  # fmt: skip
        else:
            words = _cpu.words(math.prod(shape), seed, counter, k)
            x2 = x.reshape(rows, -1)
            out2 = x2 if inplace else out.reshape(rows, -1)
            _cpu.scale_rows(x2, out2, words, threshold, t.a, k)
        return out

    def apply(self, x: Any, keep: Any, t: Transform, inplace: bool) -> Any:
        return self._apply(x, keep, t, inplace, _cpu.compiled_for(x))

    def _apply(
        self, x: Any, keep: Any, t: Transform, inplace: bool, k: Kernels | None,
        threads: int | None = None,
    ) -> Any:  # fmt: skip
        out = x if inplace else np.empty_like(x)
        if t.alpha:
            a, b_keep, b_drop = (np.asarray(c, dtype=x.dtype) for c in (t.a, t.b_keep, t.b_drop))
            with np.errstate(over="ignore", invalid="ignore"):  # p next to 1 in float16: as
                np.multiply(x, a, out=out)  # PyTorch, a overflows to inf (no warning there)
                np.add(out, b_keep, out=out)
            _cpu.fill_where(out, keep, b_drop)
            return out
        # a Python float is a "weak" scalar for NumPy's own float dtypes (NEP 50), and exact
        s: Any = t.a if x.dtype.kind == "f" else np.asarray(t.a, dtype=x.dtype)
        rows = _cpu.planes(x.shape, keep.shape) if x.flags.c_contiguous else None
        if rows is None:
            np.multiply(x, s, out=out)
            _cpu.fill_where(out, keep, 0)
            return out
        x2, keep1 = x.reshape(rows, -1), keep.reshape(-1)
        out2 = x2 if inplace else out.reshape(rows, -1)  # one object twice: in place
        if x2.shape[1] == 1 and x.itemsize in (2, 4, 8):  # an element-wise mask
            x1 = x2.reshape(-1)
            _cpu.select(x1, x1 if inplace else out2.reshape(-1), keep1, None, s, k,
                        threads=threads)  # fmt: skip
        else:
            _cpu.scale_rows(x2, out2, keep1, None, s, k, threads=threads)
        return out

    def zeros(self, x: Any, inplace: bool) -> Any:
        if not inplace:
            return np.zeros_like(x)
        x[...] = 0
        return x

    def full(self, x: Any, shape: tuple[int, ...], value: bool) -> Any:
        return np.full(shape, value, dtype=bool)
