"""The array-API reference path: plain functions, written once against the array API standard.

They are the oracle that every fast path is tested against, and what a backend calls
explicitly where its fast path declines. Nothing here knows a framework.
"""

from __future__ import annotations

import math
from typing import Any

import array_api_compat as compat

from .._random._philox import random_words, word, words_at
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
    xp: Any,
    shape: tuple[int, ...],
    threshold: int,
    seed: int,
    counter: int,
    *,
    device: Any = None,
    word_dtype: Any = None,
) -> Any:
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


def region_index(
    xp: Any,
    global_shape: tuple[int, ...],
    starts: tuple[Any, ...],
    box: tuple[int, ...],
    *,
    dtype: Any,
    device: Any = None,
) -> Any:
    """Flat (C-order) indices, in an array of ``global_shape``, of the box at ``starts``.

    ``starts`` may hold traced integers or 0-d integer arrays; ``box`` is static.
    """
    index = xp.zeros(box, dtype=dtype, device=device)
    stride = 1
    for d in range(len(box) - 1, -1, -1):
        if global_shape[d] != 1:
            start = starts[d]
            if not isinstance(start, int):
                start = xp.astype(xp.asarray(start, device=device), dtype)
            along = (xp.arange(box[d], dtype=dtype, device=device) + start) * word(
                xp, stride, index
            )
            index = index + xp.reshape(along, (1,) * d + (box[d],) + (1,) * (len(box) - d - 1))
        stride *= global_shape[d]
    return index


def keep_mask_region(
    xp: Any,
    global_shape: tuple[int, ...],
    starts: tuple[Any, ...],
    box: tuple[int, ...],
    threshold: int,
    key: tuple[Any, Any],
    stream: tuple[Any, Any],
    *,
    dtype: Any,
    device: Any = None,
) -> Any:
    """The box at ``starts`` of the portable keep mask of ``global_shape``.

    Bit for bit ``keep_mask(global_shape)[starts[0]:starts[0] + box[0], ...]``: entry ``i`` of the
    global mask is word ``i`` of the stream, whoever computes it. ``key`` is ``(seed_lo,
    seed_hi)`` (ints, or a JAX key's words), ``stream`` the counter's ``(lo, hi)``.
    """
    if keeps_nothing(threshold):
        return xp.zeros(box, dtype=xp.bool, device=device)
    index = region_index(xp, global_shape, starts, box, dtype=dtype, device=device)
    words = words_at(xp, index, key, stream)
    return words >= word(xp, threshold, words)


def apply(xp: Any, x: Any, keep: Any, t: Transform, inplace: bool) -> Any:
    """Apply ``t`` under ``keep`` (which broadcasts to ``x``).

    Kept: ``x * a`` (``+ b_keep`` for alpha); dropped: exactly ``b_drop`` (``+0.0`` for
    inverted dropout).
    """
    device = compat.device(x)
    kept = x * t.a + t.b_keep if t.alpha else x * t.a
    if not t.constant:  # a float32 scale of a 16-bit input: the product rounded to its dtype
        kept = xp.astype(kept, x.dtype)
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
