"""Any other array-API array (array-api-strict, CuPy...): the reference path as a backend.

CuPy takes this path: it is untested until a GPU check runs it.
"""

from __future__ import annotations

from typing import Any, Literal

import array_api_compat as compat

from .. import _validation as v
from .._random._source import Stream
from .._scale import Transform
from .._variants import Shape
from . import _reference as ref
from ._contract import Defaults


class ArrayAPIBackend(Defaults):
    """Arrays whose namespace array-api-compat knows, or that have ``__array_namespace__``."""

    name = "array-API"
    default_stream: Literal["global", "native"] = "global"

    @staticmethod
    def matches(x: object) -> bool:
        if type(x).__module__ == "numpy":  # NumPy scalars are not arrays
            return False
        return hasattr(x, "__array_namespace__") or bool(compat.is_array_api_obj(x))

    def mantissa(self, x: Any) -> int:
        return ref.mantissa(ref.namespace(x), x.dtype)

    def why_not_writeable(self, x: Any) -> str | None:
        return None if compat.is_writeable_array(x) else f"a {v.type_name(x)}"

    def portable_keep(
        self,
        x: Any,
        shape: Shape,
        starts: tuple[Any, ...],
        box: Shape,
        threshold: int,
        stream: Stream,
    ) -> Any:
        xp, device = ref.namespace(x), compat.device(x)
        if box == shape:
            return ref.keep_mask(xp, shape, threshold, stream.seed, stream.counter, device=device)
        return ref.keep_mask_region(
            xp,
            shape,
            starts,
            box,
            threshold,
            stream.key,
            stream.counter_words,
            dtype=xp.uint64,
            device=device,
        )

    def apply(self, x: Any, keep: Any, t: Transform, inplace: bool) -> Any:
        return ref.apply(ref.namespace(x), x, keep, t, inplace)
