"""NumPy: the default backend. Native kernels write the output once ("multiply, then zero")."""

from __future__ import annotations

from typing import Any

import array_api_compat.numpy as xp_numpy
import numpy as np

from ._array_api import ArrayAPIBackend


def _is_bfloat16(dtype: np.dtype[Any]) -> bool:
    return str(dtype.name) == "bfloat16"


class NumPyBackend(ArrayAPIBackend):
    name = "numpy.ndarray"

    @staticmethod
    def matches(x: object) -> bool:
        return isinstance(x, np.ndarray)

    def namespace(self, x: Any) -> Any:
        return xp_numpy

    def is_floating(self, x: Any) -> bool:
        return x.dtype.kind == "f" or _is_bfloat16(x.dtype)

    def mantissa(self, x: Any) -> int:
        return 7 if _is_bfloat16(x.dtype) else int(np.finfo(x.dtype).nmant)

    def why_not_writeable(self, x: Any) -> str | None:
        return None if x.flags.writeable else "a read-only numpy.ndarray"

    def native_keep(
        self, fn: str, x: Any, shape: tuple[int, ...], p: float, generator: object
    ) -> Any:
        if isinstance(generator, np.random.Generator):
            return generator.random(shape) >= p
        return super().native_keep(fn, x, shape, p, generator)

    def apply_keep(self, x: Any, keep: Any, scale: float, inplace: bool) -> Any:
        out = x if inplace else np.empty_like(x)
        with np.errstate(all="ignore"):
            np.multiply(x, np.asarray(scale, dtype=x.dtype), out=out)
        _fill_dropped(out, keep, 0)
        return out

    def apply_alpha(
        self, x: Any, keep: Any, consts: tuple[float, float, float], inplace: bool
    ) -> Any:
        a, b_keep, b_drop = (np.asarray(c, dtype=x.dtype) for c in consts)
        out = x if inplace else np.empty_like(x)
        with np.errstate(all="ignore"):
            np.multiply(x, a, out=out)
            np.add(out, b_keep, out=out)
        _fill_dropped(out, keep, b_drop)
        return out

    def zeros(self, x: Any, inplace: bool) -> Any:
        if not inplace:
            return np.zeros_like(x)
        x[...] = 0
        return x


def _fill_dropped(out: np.ndarray[Any, Any], keep: np.ndarray[Any, Any], value: Any) -> None:
    """Write ``value`` where ``keep`` (broadcast to ``out``) is False."""
    if keep.all():
        return
    np.copyto(out, value, where=~keep)
