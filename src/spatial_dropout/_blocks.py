"""DropBlock (Ghiasi, Lin, Le, NeurIPS 2018) as variant descriptions.

Its parameters, seed rate, seed grid, growth and scale; the engine and the backends know
nothing of it.

The seed grid is ``(N, C or 1, S_k - b_k + 1, ...)`` in logical (channels-first) order whatever
``data_format``; a dropped seed at ``i`` drops the block ``[i, i + b)`` on every spatial axis,
so every block lies inside the map. The rate of a seed is the paper's
``gamma = p * prod(S) / (prod(b) * prod(S - b + 1))``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from . import _validation as v
from ._scale import Transform, drop_threshold

Params = Mapping[str, Any]  # as _variants' aliases, which import this module
Shape = tuple[int, ...]
WindowAny = Callable[[Any, Shape], Any]

NORMALIZE = ("expected", "batch", None)


def _spatial(shape: Shape, n: int, fmt: str) -> Shape:
    return shape[-n - 1 : -1] if fmt == "channels_last" else shape[-n:]


def _logical(shape: Shape, n: int, fmt: str) -> Shape:
    """``shape`` in channels-first order: ``(N, C, *S)`` or ``(C, *S)``."""
    if fmt == "channels_first":
        return shape
    return (*shape[: len(shape) - n - 1], shape[-1], *shape[-n - 1 : -1])


def params(n: int) -> Callable[[str, Shape, Params], Params]:
    """The check of ``drop_block{n}d``'s arguments for an input of ``shape``."""

    def check(fn: str, shape: Shape, given: Params) -> Params:
        rank = len(shape)
        if rank not in (n + 1, n + 2):
            must = f"of rank {n + 2} (N, C, *spatial) or {n + 1} (C, *spatial)"
            v.bad_param(fn, "input", must, f"shape {shape} (rank {rank})")
        fmt = v.check_data_format(fn, given.get("data_format", "channels_first"))
        b = given.get("block_size")
        sizes = (b,) * n if isinstance(b, int) and not isinstance(b, bool) else b
        if (
            not isinstance(sizes, (tuple, list))
            or len(sizes) != n
            or not all(isinstance(k, int) and not isinstance(k, bool) for k in sizes)
        ):
            v.bad_param(fn, "block_size", f"a positive int or {n} of them", b, TypeError)
        if not all(k >= 1 for k in sizes):
            v.bad_param(fn, "block_size", f"a positive int or {n} of them", b)
        spatial = _spatial(shape, n, fmt)
        block = tuple(max(1, min(k, s)) for k, s in zip(sizes, spatial, strict=True))
        normalize = given.get("normalize", "expected")
        if normalize not in NORMALIZE:
            v.bad_param(fn, "normalize", "'expected', 'batch' or None", normalize)
        share = v.check_bool(fn, "share_channels", given.get("share_channels", False))
        if normalize == "batch" and given.get("split"):
            must = "'expected' or None for a part of a larger array (offset=, global_shape=)"
            v.bad_param(fn, "normalize", must, normalize)
        return {
            "block_size": block,
            "share_channels": share,
            "normalize": normalize,
            "data_format": fmt,
            "n": n,
            "input_shape": shape,
        }

    return check


def seeds(shape: Shape, fmt: str, p: Params) -> Shape:
    """The seed grid, logical order: ``(N, C or 1, S - b + 1, ...)``."""
    n, block = p["n"], p["block_size"]
    logical = _logical(shape, n, fmt)
    lead = logical[: len(logical) - n]
    if p["share_channels"]:
        lead = (*lead[:-1], 1)
    return (*lead, *(s - b + 1 for s, b in zip(logical[-n:], block, strict=True)))


def rate(prob: float, shape: Shape, p: Params) -> float:
    """The paper's seed rate: each dropped entry of the map in expectation ``p``."""
    spatial = _spatial(shape, p["n"], p["data_format"])
    block = p["block_size"]
    positions = math.prod([s - b + 1 for s, b in zip(spatial, block, strict=True)])
    if positions == 0:
        return prob
    return min(1.0, float(prob * math.prod(spatial) / (math.prod(block) * positions)))


def grow(keep: Any, shape: Shape, p: Params, window_any: WindowAny) -> Any:
    """Kept seeds -> the kept entries of the map (input's layout; 1 where channels share)."""
    import array_api_compat as compat

    n = p["n"]
    lead = keep.ndim - n
    kept = ~window_any(~keep, (1,) * lead + tuple(p["block_size"]))
    if p["data_format"] == "channels_first":
        return kept
    xp = compat.array_namespace(kept)
    axes = (*range(lead - 1), *range(lead, lead + n), lead - 1)  # channels last
    return xp.permute_dims(kept, axes)


def region(
    full: Shape, fmt: str, p: Params, starts: tuple[int, ...], shape: Shape
) -> tuple[tuple[int, ...], Shape, tuple[slice, ...]]:
    """The seeds a shard at ``starts`` needs, and where it lies in what they grow into.

    Along a spatial axis the shard ``[o, o + n)`` is covered by the seeds ``[max(0, o - b + 1),
    min(o + n, S - b + 1))``; they grow into ``[lo, hi + b - 1)``, which holds the shard at
    ``o - lo``. The batch and channel axes read the shard's own seeds (a shared channel: 0).
    """
    n, block = p["n"], p["block_size"]
    logical_starts = _logical(starts, n, fmt)
    logical_shape = _logical(shape, n, fmt)
    logical_full = _logical(full, n, fmt)
    lead = len(full) - n
    at: list[int] = list(logical_starts[:lead])
    box: list[int] = list(logical_shape[:lead])
    if p["share_channels"]:
        at[-1], box[-1] = 0, 1
    crop: list[slice] = [slice(None)] * lead
    for o, size, s, b in zip(
        logical_starts[lead:], logical_shape[lead:], logical_full[lead:], block, strict=True
    ):
        lo, hi = max(0, o - b + 1), min(o + size, s - b + 1)
        at.append(lo)
        box.append(hi - lo)
        crop.append(slice(o - lo, o - lo + size))
    if fmt == "channels_last":  # the grown mask is in the input's layout
        crop = [*crop[: lead - 1], *crop[lead:], crop[lead - 1]]
    return tuple(at), tuple(box), tuple(crop)


def transform(prob: float, mant: int, keep: Any, p: Params) -> Transform:
    """Kept ``x * s``: ``s`` 1, ``numel / count(kept)`` or ``1 / P(kept)`` per position."""
    normalize = p["normalize"]
    if normalize is None:
        return Transform(1.0)
    import array_api_compat as compat

    xp, device = compat.array_namespace(keep), compat.device(keep)
    dtype = xp.float64 if mant == 52 else xp.float32  # 16-bit products are formed in float32
    if normalize == "batch":
        # the exact count, divided in float64 (JAX without x64: float32) and rounded once
        wide = xp.float64
        if compat.is_jax_namespace(xp) and xp.asarray(0.0).dtype != xp.float64:
            wide = xp.float32
        numel = float(math.prod(p["input_shape"]))
        share = numel / math.prod(keep.shape)  # entries of the input per mask entry
        count = xp.astype(xp.count_nonzero(keep), wide) * share
        safe = xp.where(count > 0, count, xp.ones_like(count))
        scale = xp.asarray(numel, dtype=wide, device=device) / safe
        return Transform(xp.astype(scale, dtype))
    return Transform(xp.asarray(scale_table(prob, mant, p), dtype=dtype, device=device))


def scale_table(prob: float, mant: int, p: Params) -> np.ndarray[Any, Any]:
    """``normalize="expected"``'s scale per position, rounded to the product's dtype once.

    A pure function of the shapes and ``prob`` (float64, holding float32 values below float64
    inputs): a constant to compilers (the torch wing marks it so for Dynamo).
    """
    table = expected_scale(p["input_shape"], prob, p)
    if "starts" in p:  # a shard: its part of the whole map's table
        where = tuple(
            slice(o, o + size) if t > 1 else slice(None)
            for o, size, t in zip(p["starts"], p["local_shape"], table.shape, strict=True)
        )
        table = table[where]
    single = mant != 52  # 16-bit products are formed in float32
    rounded = table.astype(np.float32).astype(np.float64) if single else table
    # a position kept with a chance below the dtype's smallest normal would scale by inf, and
    # a dropped entry's gradient by 0 * inf: the largest finite scale instead (never kept anyway)
    finite: np.ndarray[Any, Any] = np.minimum(
        rounded, np.finfo(np.float32 if single else np.float64).max
    )
    return finite


def expected_scale(shape: Shape, prob: float, p: Params) -> np.ndarray[Any, Any]:
    """``1 / P(kept)`` per spatial position, from the shapes and ``prob`` alone (float64).

    An entry is kept when none of the seeds whose block covers it is dropped:
    ``P = (1 - gamma) ** covering``, ``gamma`` as the 32-bit draw rounds it. Shaped to broadcast
    against the input's layout.
    """
    n, fmt, block = p["n"], p["data_format"], p["block_size"]
    spatial = _spatial(shape, n, fmt)
    gamma = drop_threshold(rate(prob, shape, p)) / 2**32
    covering = np.ones((), dtype=np.float64)
    for k, (s, b) in enumerate(zip(spatial, block, strict=True)):
        i = np.arange(s)
        along = np.minimum(i, s - b) - np.maximum(0, i - b + 1) + 1  # seeds covering i
        covering = covering * along.reshape((-1,) + (1,) * (n - k - 1))
    kept = (1.0 - gamma) ** covering
    table = np.where(kept > 0, 1.0 / np.where(kept > 0, kept, 1.0), 0.0)  # 0: never kept
    lead = len(shape) - n - (1 if fmt == "channels_last" else 0)
    tail = (1,) if fmt == "channels_last" else ()
    shaped: np.ndarray[Any, Any] = table.reshape((1,) * lead + table.shape + tail)
    return shaped
