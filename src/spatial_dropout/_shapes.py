"""Which axes share one mask entry: the seed's rank table, stated once for every dropout."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from . import _validation as v


def cached_mask_shape(
    shape: tuple[int, ...], spatial_dims: int | None, data_format: str
) -> tuple[int, ...]:
    try:
        return _cached(shape, spatial_dims, data_format)
    except TypeError:  # symbolic sizes (make_fx, compile) do not hash
        return _mask_shape(shape, spatial_dims, data_format)


@functools.lru_cache(maxsize=1024)
def _cached(shape: tuple[int, ...], spatial_dims: int | None, data_format: str) -> tuple[int, ...]:
    return _mask_shape(shape, spatial_dims, data_format)


def mask_shape(
    shape: Sequence[int], spatial_dims: int | None, data_format: str = "channels_first"
) -> tuple[int, ...]:
    """Return the shape of the keep mask for an input of ``shape``; 1 marks a shared axis.

    Rank ``n`` reads its first (``channels_last``: last) dim as channels, rank ``n + 1`` is
    ``(C, *spatial)``, rank ``n + 2`` is ``(N, C, *spatial)``; every other rank is element-wise.

    Parameters
    ----------
    shape : sequence of int
        The input's shape.
    spatial_dims : int or None
        ``n`` of ``dropoutNd`` (1, 2, 3); ``None`` for element-wise dropout.
    data_format : {"channels_first", "channels_last"}
        Where the channel axis is.

    Returns
    -------
    tuple of int
        The mask's shape, of the same rank.

    Raises
    ------
    TypeError, ValueError
        ``shape`` is not a sequence of integers, or ``data_format`` is unknown.

    Examples
    --------
    >>> mask_shape((8, 3, 32, 32), 2)
    (8, 3, 1, 1)
    >>> mask_shape((3, 32, 32), 2)
    (3, 1, 1)
    >>> mask_shape((8, 32, 32, 3), 2, "channels_last")
    (8, 1, 1, 3)
    >>> mask_shape((5,), 2)
    (5,)
    """
    if type(shape) is not tuple:
        shape = tuple(int(d) for d in shape)
    if spatial_dims not in (None, 1, 2, 3):
        v.check_choice("mask_shape", "spatial_dims", spatial_dims, ("None", "1", "2", "3"))
    return cached_mask_shape(shape, spatial_dims, v.check_data_format("mask_shape", data_format))


def mask_box(
    mask: tuple[int, ...], starts: tuple[Any, ...], shape: tuple[int, ...]
) -> tuple[tuple[Any, ...], tuple[int, ...]]:
    """Where a shard of ``shape`` at ``starts`` reads the larger array's ``mask``: ``(at, box)``.

    An axis the mask shares (1) is read at 0 with length 1; any other at the shard's own place.

    >>> mask_box((8, 4, 1, 1), (2, 1, 0, 0), (3, 2, 5, 5))
    ((2, 1, 0, 0), (3, 2, 1, 1))
    """
    at = tuple(0 if m == 1 else o for m, o in zip(mask, starts, strict=True))
    box = tuple(1 if m == 1 else n for m, n in zip(mask, shape, strict=True))
    return at, box


def _mask_shape(
    shape: tuple[int, ...], spatial_dims: int | None, data_format: str
) -> tuple[int, ...]:
    rank = len(shape)
    if spatial_dims is None or rank not in (spatial_dims, spatial_dims + 1, spatial_dims + 2):
        return shape
    kept = 2 if rank == spatial_dims + 2 else 1  # (N, C) or just (C,) keep their own entries
    if data_format == "channels_first":
        return shape[:kept] + (1,) * (rank - kept)
    # channels_last: the batch axis (if any) stays first, the channel axis is last.
    batch = shape[:1] if kept == 2 else ()
    return batch + (1,) * (rank - kept) + shape[-1:]


def feature_mask_shape(shape: Sequence[int]) -> tuple[int, ...]:
    """Mask shape of ``feature_alpha_dropout``, as PyTorch: ``(N, C, 1, ...)`` for rank >= 2.

    >>> feature_mask_shape((4, 6, 5))
    (4, 6, 1)
    >>> feature_mask_shape((7,))
    (7,)
    """
    shape = tuple(int(d) for d in shape)
    if len(shape) < 2:
        return shape
    return shape[:2] + (1,) * (len(shape) - 2)


def may_overlap(shape: Sequence[int], strides: Sequence[int], itemsize: int = 1) -> bool:
    """Whether two elements of an array of ``shape`` and ``strides`` may share memory.

    A conservative test: with the strides sorted by size, each must step past everything the
    smaller ones span. False for every ordinary layout (C, Fortran, transposed, sliced, negative
    steps); True for broadcast (stride 0) and ``as_strided`` views that overlap.

    >>> may_overlap((4, 4), (32, 8), 8), may_overlap((4, 4), (0, 8), 8)
    (False, True)
    >>> may_overlap((3, 6), (8, 8), 8)  # as_strided: row i + 1 starts inside row i
    True
    """
    extent = itemsize
    for stride, n in sorted((abs(st), n) for st, n in zip(strides, shape, strict=True) if n > 1):
        if stride < extent:
            return True
        extent = stride * (n - 1) + extent
    return False
