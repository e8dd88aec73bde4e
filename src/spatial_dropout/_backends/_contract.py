"""The defaults of the backend contract (``_plan.Backend``): what a backend may leave out.

A backend must recognise its arrays, answer for their dtype and writability, draw keep masks
(portable words at logical indices, or its framework's own generator) and apply a transform
under a mask. Everything else has a default here that a backend may override: a fused
draw-and-apply, a window maximum for grown masks, how a ``Generator`` is taken.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._random._philox import MAX_ENTRIES
from .._random._source import Portable, Source, Stream
from .._scale import Transform
from .._variants import Shape, WindowAny
from . import _reference as ref

if TYPE_CHECKING:
    from .._plan import Plan

__all__ = ["MAX_ENTRIES", "Defaults"]


class Defaults:
    """What a backend gets unless it offers its own: array-API code and "declined"."""

    max_entries: int = MAX_ENTRIES
    """The largest portable mask this backend can index without wrapping around."""
    window_any: WindowAny | None = None
    """A window maximum for grown masks; None: the engine's array-API one."""
    check_generator: Callable[[str, Any], None] | None = None
    """``(fn, x)``: raises where a stateful ``Generator`` may not advance (a JAX trace)."""
    take: Callable[[str, Portable], Stream | Any] | None = None
    """``(fn, source) -> stream``: how a portable draw is taken; None: ``source.stream()``."""

    def check_input(self, fn: str, x: Any) -> None:
        """Raise, naming ``fn``, for an array of this type that the backend cannot take."""

    @property
    def remember(self) -> bool:
        """Whether the engine may remember a call's decisions (not while a compiler traces)."""
        return True

    def size(self, x: Any) -> int:
        """Number of entries."""
        return math.prod(int(d) for d in x.shape)

    def native_source(self, generator: object) -> Source | None:
        """The source for this framework's own generator object; None: not one."""
        return None

    def native_keep(
        self, fn: str, x: Any, shape: Shape, rate: float, generator: Any, drops: bool = False
    ) -> Any:
        """Unreachable without ``native_source``: the engine never hands this backend one."""
        raise NotImplementedError

    def fused(self, x: Any, plan: Plan, drawn: Stream | Any, t: Transform | None) -> Any:
        """Draw and apply in one pass, or None to decline (then: ``apply(x, keep, t)``).

        ``t`` is None where the transform depends on the mask (a grown one).
        """
        return None

    def is_mask(self, x: Any, mask: object) -> bool:
        """Whether ``mask`` is a boolean array that ``apply`` can use with ``x``."""
        match: Any = getattr(self, "matches")  # noqa: B009 (the Protocol's static method)
        if not match(mask):
            return False
        return bool(ref.namespace(x).isdtype(mask.dtype, "bool"))  # type: ignore[attr-defined]

    def zeros(self, x: Any, inplace: bool) -> Any:
        """All ``+0.0`` (``p == 1``); a zero gradient where the framework has autograd."""
        return ref.zeros(ref.namespace(x), x, inplace)

    def full(self, x: Any, shape: Shape, value: bool) -> Any:
        """A boolean mask of ``shape`` on ``x``'s device, all ``value``."""
        return ref.full(ref.namespace(x), x, shape, value)
