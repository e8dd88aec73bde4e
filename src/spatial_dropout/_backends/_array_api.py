"""The array-API reference path: every backend's oracle, and the backend of any other library.

A backend answers a few questions about an array and runs two kernels. This class answers them
with the Python array API standard alone; a framework's file subclasses it and overrides only
what a measurement or the framework's semantics (autograd, default generator) calls for.
"""

from __future__ import annotations

import math
from typing import Any

import array_api_compat as compat

from .. import _validation as v
from .._random import Generator, default_generator, random_words
from .._random._generator import check_seed
from .._random._philox import word
from .._scale import drop_threshold

_MASK32 = 0xFFFFFFFF


class ArrayAPIBackend:
    """Any array whose namespace array-api-compat knows, or that has ``__array_namespace__``."""

    name = "array-API"

    @staticmethod
    def matches(x: object) -> bool:
        if type(x).__module__ == "numpy":  # NumPy scalars are not arrays
            return False
        return hasattr(x, "__array_namespace__") or compat.is_array_api_obj(x)

    # --- questions about the input -------------------------------------------------------
    def namespace(self, x: Any) -> Any:
        return compat.array_namespace(x)

    def is_floating(self, x: Any) -> bool:
        return bool(self.namespace(x).isdtype(x.dtype, "real floating"))

    def mantissa(self, x: Any) -> int:
        """Explicit mantissa bits of the dtype: 52, 23, 10 or 7 (bfloat16)."""
        finfo = self.namespace(x).finfo(x.dtype)
        return round(-math.log2(float(finfo.eps)))

    def size(self, x: Any) -> int:
        return math.prod(int(d) for d in x.shape)

    def why_not_writeable(self, x: Any) -> str | None:
        """``None`` if ``x`` can be written in place, else what it is, for the error message."""
        if compat.is_writeable_array(x):
            return None
        return f"a {v.type_name(x)}"

    # --- the mask ------------------------------------------------------------------------
    def word_dtype(self, xp: Any) -> Any:
        return xp.uint32

    def keep_mask(
        self, fn: str, x: Any, shape: tuple[int, ...], p: float, generator: object
    ) -> Any:
        """A boolean array of ``shape`` on ``x``'s device: ``True`` where entries are kept."""
        stream = self.portable_stream(default_generator if generator is None else generator)
        if stream is None:
            return self.native_keep(fn, x, shape, p, generator)
        return self.portable_keep(x, shape, p, *stream)

    def portable_stream(self, generator: object) -> tuple[int, int] | None:
        """``(seed, counter)`` of this call for an int or a ``Generator`` (reserving the
        counter), or ``None`` for a native generator."""
        if isinstance(generator, int) and not isinstance(generator, bool):
            return check_seed(generator), 0  # a fresh Generator(seed)
        if isinstance(generator, Generator):
            return self.next_stream(generator)
        return None

    def fused(
        self, fn: str, x: Any, shape: tuple[int, ...], p: float, generator: object,
        scale: float, inplace: bool,
    ) -> Any:  # fmt: skip
        """The whole dropout in one pass where a backend has such a kernel, else ``None``."""
        return None

    def next_stream(self, generator: Generator) -> tuple[int, int]:
        return generator.next_stream()

    def portable_keep(
        self, x: Any, shape: tuple[int, ...], p: float, seed: int, stream: int
    ) -> Any:
        xp = self.namespace(x)
        n = math.prod(shape)
        threshold = drop_threshold(p)
        if threshold > _MASK32:  # p rounds to 1: nothing is kept
            return xp.zeros(shape, dtype=xp.bool, device=compat.device(x))
        words = random_words(
            xp, n, seed, stream, dtype=self.word_dtype(xp), device=compat.device(x)
        )
        return xp.reshape(words >= word(xp, threshold, words), shape)

    def native_keep(
        self, fn: str, x: Any, shape: tuple[int, ...], p: float, generator: object
    ) -> Any:
        v.bad_generator(fn, generator, self.name)

    # --- the kernels ---------------------------------------------------------------------
    def apply_keep(self, x: Any, keep: Any, scale: float, inplace: bool) -> Any:
        """``x * scale`` where ``keep``, exactly ``+0.0`` elsewhere (``keep`` broadcasts)."""
        xp = self.namespace(x)
        zero = xp.zeros((), dtype=x.dtype, device=compat.device(x))
        return self._store(x, xp.where(keep, x * scale, zero), inplace)

    def apply_alpha(
        self, x: Any, keep: Any, consts: tuple[float, float, float], inplace: bool
    ) -> Any:
        """Alpha dropout: ``x * a + b_keep`` where ``keep``, exactly ``b_drop`` elsewhere."""
        a, b_keep, b_drop = consts
        xp = self.namespace(x)
        dropped = xp.full((), b_drop, dtype=x.dtype, device=compat.device(x))
        return self._store(x, xp.where(keep, x * a + b_keep, dropped), inplace)

    def zeros(self, x: Any, inplace: bool) -> Any:
        xp = self.namespace(x)
        return self._store(x, xp.zeros_like(x), inplace)

    def _store(self, x: Any, result: Any, inplace: bool) -> Any:
        if not inplace:
            return result
        x[...] = result
        return x
