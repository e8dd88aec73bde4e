"""The backend contract: what every backend implements, in full.

A backend answers a few questions about an array (detection, float format, size, writability)
and draws and applies masks from a resolved :data:`~spatial_dropout._random._source.Source`.
The engine (``_functional._run``) has validated every argument before it calls a backend, and
asks for a mask only when one is drawn.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

from .._random._philox import MAX_ENTRIES
from .._random._source import Source
from .._scale import Transform

__all__ = ["MAX_ENTRIES", "Backend"]


class Backend(Protocol):
    """One framework's arrays.

    Attributes
    ----------
    name : str
        The array type as users write it (``numpy.ndarray``), for error messages.
    default_stream : {"global", "native"}
        What ``generator=None`` draws from: the library's global ``Generator``, or the
        framework's own default (torch's generator; JAX has none and asks for a key).
    max_entries : int
        The largest portable mask this backend can index without wrapping around.
    """

    name: str
    default_stream: Literal["global", "native"]
    max_entries: int

    @staticmethod
    def matches(x: object) -> bool:
        """Whether ``x`` is this backend's array (never imports a framework)."""

    def mantissa(self, x: Any) -> int:
        """Explicit mantissa bits of ``x``'s dtype (52, 23, 10, 7).

        -1 for another float format (float8), 0 if not floating.
        """

    def size(self, x: Any) -> int:
        """Number of entries."""

    def why_not_writeable(self, x: Any) -> str | None:
        """``None`` if ``x`` can be written in place, else what it is, for the message."""

    def can_advance(self, x: Any) -> bool:
        """Whether a stateful ``Generator`` may advance here (not inside a JAX trace)."""

    def native_source(self, generator: object) -> Source | None:
        """The source for this framework's own generator object, or None if it is not one."""

    def is_mask(self, x: Any, mask: object) -> bool:
        """Whether ``mask`` is a boolean array that ``apply`` can use with ``x``."""

    def mask(self, fn: str, x: Any, shape: tuple[int, ...], p: float, source: Source) -> Any:
        """The boolean keep mask of ``shape`` on ``x``'s device (``0 < p < 1``)."""

    def mask_region(
        self, fn: str, x: Any, shape: tuple[int, ...], starts: tuple[Any, ...],
        box: tuple[int, ...], p: float, source: Source,
    ) -> Any:  # fmt: skip
        """The ``box`` at ``starts`` of the portable keep mask of ``shape`` (``offset=``).

        ``starts`` may hold traced integers; ``source`` is portable (``Portable`` or ``Key``).
        """

    def dropout(
        self, fn: str, x: Any, shape: tuple[int, ...], p: float, source: Source, t: Transform,
        inplace: bool,
    ) -> Any:  # fmt: skip
        """Draw a mask of ``shape`` and apply ``t``: fused into one pass where it can be."""

    def apply(self, x: Any, keep: Any, t: Transform, inplace: bool) -> Any:
        """Apply ``t`` under a boolean ``keep`` that broadcasts to ``x``."""

    def zeros(self, x: Any, inplace: bool) -> Any:
        """All ``+0.0`` (``p == 1``); a zero gradient where the framework has autograd."""

    def full(self, x: Any, shape: tuple[int, ...], value: bool) -> Any:
        """A boolean mask of ``shape`` on ``x``'s device, all ``value``."""
