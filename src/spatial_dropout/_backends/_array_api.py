"""Any other array-API array (array-api-strict, Dask, CuPy...): the reference path as a backend.

CuPy takes this path: it is untested until a GPU check runs it.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import array_api_compat as compat

from .. import _validation as v
from .._random._philox import key_and_stream
from .._random._source import Portable, Source
from .._scale import Transform, drop_threshold
from . import _reference as ref
from ._contract import MAX_ENTRIES


class ArrayAPIBackend:
    """Arrays whose namespace array-api-compat knows, or that have ``__array_namespace__``."""

    name = "array-API"
    default_stream: Literal["global", "native"] = "global"
    max_entries = MAX_ENTRIES

    @staticmethod
    def matches(x: object) -> bool:
        if type(x).__module__ == "numpy":  # NumPy scalars are not arrays
            return False
        return hasattr(x, "__array_namespace__") or bool(compat.is_array_api_obj(x))

    def mantissa(self, x: Any) -> int:
        return ref.mantissa(ref.namespace(x), x.dtype)

    def size(self, x: Any) -> int:
        return math.prod(int(d) for d in x.shape)

    def why_not_writeable(self, x: Any) -> str | None:
        return None if compat.is_writeable_array(x) else f"a {v.type_name(x)}"

    def can_advance(self, x: Any) -> bool:
        return True

    def native_source(self, generator: object) -> Source | None:
        return None

    def is_mask(self, x: Any, mask: object) -> bool:
        if not self.matches(mask):
            return False
        xp = ref.namespace(x)
        return bool(xp.isdtype(mask.dtype, "bool"))  # type: ignore[attr-defined]

    def mask(self, fn: str, x: Any, shape: tuple[int, ...], p: float, source: Source) -> Any:
        if not isinstance(source, Portable):  # resolve() hands this backend no other kind
            v.bad_generator(fn, source, self.name)
        seed, counter = source.take()
        return ref.keep_mask(
            ref.namespace(x), shape, drop_threshold(p), seed, counter, device=compat.device(x)
        )

    def mask_region(
        self, fn: str, x: Any, shape: tuple[int, ...], starts: tuple[Any, ...],
        box: tuple[int, ...], p: float, source: Source,
    ) -> Any:  # fmt: skip
        if not isinstance(source, Portable):
            v.bad_generator(fn, source, self.name)
        seed, counter = source.take()
        xp = ref.namespace(x)
        key, stream = key_and_stream(seed, counter)
        return ref.keep_mask_region(xp, shape, starts, box, drop_threshold(p), key, stream,
                                    dtype=xp.uint64, device=compat.device(x))  # fmt: skip

    def dropout(
        self, fn: str, x: Any, shape: tuple[int, ...], p: float, source: Source, t: Transform,
        inplace: bool,
    ) -> Any:  # fmt: skip
        return self.apply(x, self.mask(fn, x, shape, p, source), t, inplace)

    def apply(self, x: Any, keep: Any, t: Transform, inplace: bool) -> Any:
        return ref.apply(ref.namespace(x), x, keep, t, inplace)

    def zeros(self, x: Any, inplace: bool) -> Any:
        return ref.zeros(ref.namespace(x), x, inplace)

    def full(self, x: Any, shape: tuple[int, ...], value: bool) -> Any:
        return ref.full(ref.namespace(x), x, shape, value)
