"""NumPy: the default backend. Its kernels are the CPU kernels of ``_cpu.py``.

A C-contiguous float32/float64 input in native byte order takes the compiled kernels where numba
is installed: one call that reads the mask's words (never a boolean mask) and writes the output
once; element-wise with the portable stream, the Philox words are drawn inside it. Other
C-contiguous inputs take the NumPy kernels; anything else (strided views, alpha dropout) the
general broadcast path. Every path is tested bit for bit against the array-API reference.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..._random._source import Native, Source, Stream
from ..._scale import Transform
from ..._shapes import may_overlap
from ..._variants import Shape
from .. import _reference as ref
from .._contract import Defaults
from . import _compiled, _cpu

if TYPE_CHECKING:
    from ..._plan import Plan

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
        elif dtype.kind == "f" and name.startswith(
            ("float16", "float32", "float64", "longdouble", "float96", "float128")
        ):
            m = min(int(np.finfo(dtype).nmant), 52)  # long double: scaled as float64
        elif dtype.kind == "f" or name.startswith("float"):  # ml_dtypes' float8, float4...
            m = -1
        else:
            m = 0
        _MANTISSA[dtype] = m
    return m


class NumPyBackend(Defaults):
    """``numpy.ndarray``: the global stream for ``generator=None``; ``numpy.random.Generator``."""

    name = "numpy.ndarray"
    default_stream: Literal["global", "native"] = "global"

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

    window_any = staticmethod(_cpu.window_any)

    def native_source(self, generator: object) -> Source | None:
        return Native(generator) if isinstance(generator, np.random.Generator) else None

    def native_keep(
        self, fn: str, x: Any, shape: Shape, rate: float, generator: Any, drops: bool = False
    ) -> Any:
        return generator.random(shape) >= rate  # (dropped where below rate: the same draw)

    def is_mask(self, x: Any, mask: object) -> bool:
        return isinstance(mask, np.ndarray) and mask.dtype == np.bool_

    def portable_keep(
        self,
        x: Any,
        shape: Shape,
        starts: tuple[Any, ...],
        box: Shape,
        threshold: int,
        stream: Stream,
    ) -> Any:
        seed, counter = stream.seed, stream.counter
        k = _cpu.compiled_for()
        if box == shape:  # the whole mask (a shared axis reads index 0: starts are zeros)
            return (_cpu.words(math.prod(shape), seed, counter, k) >= threshold).reshape(shape)
        span = _cpu.span(shape, starts, box)
        if span is not None and k is not None:
            # the compiled words of the run of indices that holds the box, then the box's
            first, n = span
            words = _cpu.words(n, seed, counter, k, start=first)
            if n == math.prod(box):
                return (words >= threshold).reshape(box)
            index = ref.region_index(np, shape, starts, box, dtype=np.int64) - first
            return words[index] >= threshold
        return ref.keep_mask_region(
            np, shape, starts, box, threshold, stream.key, stream.counter_words, dtype=np.uint64
        )

    def fused(self, x: Any, plan: Plan, drawn: Stream | Any, t: Transform | None) -> Any:
        """The compiled kernels: one call that reads the mask's words, never a boolean mask."""
        k = _compiled.kernels()  # decided once a call: for the words, and for x's memory
        if (
            k is None
            or t is None
            or not _compiled.usable(x)
            or not plan.portable
            or plan.keeps_nothing
            or not plan.whole
            or not t.constant
            or t.alpha
        ):
            return None
        shape, threshold = plan.shape, plan.threshold
        elementwise = shape == x.shape
        rows = None if elementwise else _cpu.planes(x.shape, shape)
        if rows is None and not elementwise:
            return None
        out = x if plan.inplace else np.empty_like(x)
        seed, counter = drawn.seed, drawn.counter
        if elementwise:
            x1 = x.reshape(-1)  # the kernels run in place when given one object twice
            out1 = x1 if plan.inplace else out.reshape(-1)
            _cpu.philox_dropout(x1, out1, seed, counter, threshold, t.a, k)
        else:
            words = _cpu.words(math.prod(shape), seed, counter, k)
            x2 = x.reshape(rows, -1)
            out2 = x2 if plan.inplace else out.reshape(rows, -1)
            _cpu.scale_rows(x2, out2, words, threshold, t.a, k)
        return out

    def apply(self, x: Any, keep: Any, t: Transform, inplace: bool) -> Any:
        k = _cpu.compiled_for(x)
        out = x if inplace else np.empty_like(x)
        if t.alpha:
            a, b_keep, b_drop = (np.asarray(c, dtype=x.dtype) for c in (t.a, t.b_keep, t.b_drop))
            with np.errstate(over="ignore", invalid="ignore"):  # p next to 1 in float16: as
                np.multiply(x, a, out=out)  # PyTorch, a overflows to inf (no warning there)
                np.add(out, b_keep, out=out)
            _cpu.fill_where(out, keep, b_drop)
            return out
        # a Python float is a "weak" scalar for NumPy's own float dtypes (NEP 50), and exact
        s: Any = t.a if x.dtype.kind == "f" and t.constant else np.asarray(t.a, dtype=x.dtype)
        rows = _cpu.planes(x.shape, keep.shape) if x.flags.c_contiguous and t.constant else None
        if rows is None:
            np.multiply(x, s, out=out)
            _cpu.fill_where(out, keep, 0)
            return out
        x2, keep1 = x.reshape(rows, -1), keep.reshape(-1)
        out2 = x2 if inplace else out.reshape(rows, -1)  # one object twice: in place
        if x2.shape[1] == 1 and x.itemsize in (2, 4, 8):  # an element-wise mask
            x1 = x2.reshape(-1)
            _cpu.select(x1, x1 if inplace else out2.reshape(-1), keep1, None, s, k)
        else:
            _cpu.scale_rows(x2, out2, keep1, None, s, k)
        return out

    def zeros(self, x: Any, inplace: bool) -> Any:
        if not inplace:
            return np.zeros_like(x)
        x[...] = 0
        return x

    def full(self, x: Any, shape: Shape, value: bool) -> Any:
        return np.full(shape, value, dtype=bool)
