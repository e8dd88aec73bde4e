"""The array-API reference path: plain functions, written once against the array API standard.

They are the oracle that every fast path is tested against, and what a backend calls
explicitly where its fast path declines. Nothing here knows a framework.
"""

from __future__ import annotations

import math
from typing import Any

import array_api_compat as compat

from .._random._philox import random_words, word
from .._scale import Transform, keeps_nothing


def namespace(x: Any) -> Any:
    """The array-API namespace of ``x`` (array-api-compat's wrapper where one is needed)."""
    return compat.array_namespace(x)


def mantissa(xp: Any, dtype: Any) -> int:
    """Explicit mantissa bits of a real floating dtype (52, 23, 10, 7).

    -1 for another float format, 0 for anything else.
    """
    if not xp.isdtype(dtype, "real floating"):
        return 0
    m = round(-math.log2(float(xp.finfo(dtype).eps)))
    return m if m in (7, 10, 23, 52) else -1


def keep_mask(
    xp: Any, shape: tuple[int, ...], threshold: int, seed: int, counter: int, *,
    device: Any = None, word_dtype: Any = None,
) -> Any:  # fmt: skip
    """The portable keep mask of ``shape``.

    Entry ``i`` is kept iff word ``i`` of ``(seed, counter)`` is at least ``threshold``.
    ``word_dtype`` is ``uint32``, or ``int64`` where ``uint32`` lacks
    arithmetic (PyTorch).
    """
    if keeps_nothing(threshold):
        return xp.zeros(shape, dtype=xp.bool, device=device)
    words = random_words(
        xp, math.prod(shape), seed, counter, dtype=word_dtype or xp.uint32, device=device
    )
    return xp.reshape(words >= word(xp, threshold, words), shape)


def apply(xp: Any, x: Any, keep: Any, t: Transform, inplace: bool) -> Any:
    """Apply ``t`` under ``keep`` (which broadcasts to ``x``).

    Kept: ``x * a`` (``+ b_keep`` for alpha); dropped: exactly ``b_drop`` (``+0.0`` for
    inverted dropout).
    """
    device = compat.device(x)
    kept = x * t.a + t.b_keep if t.alpha else x * t.a
    dropped = xp.full((), t.b_drop, dtype=x.dtype, device=device)
    return store(x, xp.where(keep, kept, dropped), inplace)


def zeros(xp: Any, x: Any, inplace: bool) -> Any:
    """All ``+0.0``: ``p == 1``."""
    return store(x, xp.zeros_like(x), inplace)


def full(xp: Any, x: Any, shape: tuple[int, ...], value: bool) -> Any:
    """A boolean mask of ``shape`` on ``x``'s device, all ``value``."""
    return xp.full(shape, value, dtype=xp.bool, device=compat.device(x))


def store(x: Any, result: Any, inplace: bool) -> Any:
    """``result``, or ``x`` with ``result`` written into it."""
    if not inplace:
        return result
    x[...] = result
    return x
