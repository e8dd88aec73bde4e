"""Which axes share one mask entry, and where a shard sits in a larger array.

The seed's rank table, stated once for every dropout; ``offset=``/``global_shape=``, checked.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NoReturn

from . import _validation as v


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
    return rank_mask_shape(shape, spatial_dims, v.check_data_format("mask_shape", data_format))


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


def rank_mask_shape(
    shape: tuple[int, ...], spatial_dims: int | None, data_format: str
) -> tuple[int, ...]:
    """:func:`mask_shape` with its arguments already checked (the engine remembers it)."""
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


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _traced_int(value: object) -> bool:
    """A 0-d integer array: a traced JAX integer, a torch seed tensor, a NumPy integer."""
    shape, dtype = getattr(value, "shape", None), getattr(value, "dtype", None)
    return shape == () and dtype is not None and "int" in str(dtype) and "bool" not in str(dtype)


def check_region(
    fn: str, shape: tuple[int, ...], offset: object, global_shape: object
) -> tuple[tuple[Any, ...], tuple[int, ...]]:
    """``offset`` and ``global_shape`` as tuples: where ``input`` (of ``shape``) sits.

    Offsets may be traced integers (JAX) or 0-d integer tensors (torch.compile); those cannot be
    range-checked here.
    """
    rank = len(shape)
    if offset is None:
        starts: tuple[Any, ...] = (0,) * rank
    else:
        if isinstance(offset, (str, bytes)) or not hasattr(offset, "__len__"):
            msg = f"{fn}(): `offset` must be a sequence of {rank} integers; got {offset!r}"
            raise TypeError(msg)
        starts = tuple(offset)  # type: ignore[arg-type]
        if len(starts) != rank:
            msg = f"{fn}(): `offset` needs one entry per dim of input ({rank}); got {offset!r}"
            raise ValueError(msg)
        for o in starts:
            if not (_is_int(o) or _traced_int(o)):
                msg = f"{fn}(): `offset` entries must be integers; got {offset!r}"
                raise TypeError(msg)
            if _is_int(o) and o < 0:
                msg = f"{fn}(): `offset` entries must be non-negative; got {offset!r}"
                raise ValueError(msg)
    if global_shape is None:
        if not all(_is_int(o) for o in starts):
            msg = f"{fn}(): pass `global_shape` with traced offsets; got offset={offset!r}"
            raise ValueError(msg)
        return starts, tuple(o + n for o, n in zip(starts, shape, strict=True))
    if isinstance(global_shape, (str, bytes)) or not hasattr(global_shape, "__len__"):
        msg = f"{fn}(): `global_shape` must be a sequence of {rank} integers; got {global_shape!r}"
        raise TypeError(msg)
    full: tuple[Any, ...] = tuple(global_shape)  # type: ignore[arg-type]
    if len(full) != rank or not all(_is_int(g) and g >= 0 for g in full):
        msg = (
            f"{fn}(): `global_shape` must be {rank} non-negative integers (one per dim of "
            f"input); got {global_shape!r}"
        )
        raise ValueError(msg)
    for d, (o, n, g) in enumerate(zip(starts, shape, full, strict=True)):
        if _is_int(o) and o + n > g:
            msg = (
                f"{fn}(): input of shape {shape} at `offset` {tuple(starts)!r} does not fit in "
                f"`global_shape` {full!r} (dim {d}: {o} + {n} > {g})"
            )
            raise ValueError(msg)
    return starts, full


def region_needs_portable(fn: str) -> NoReturn:
    """``offset``/``global_shape`` with a framework's own generator."""
    msg = (
        f"{fn}(): `offset` and `global_shape` need a portable generator (an int seed, a "
        "spatial_dropout.Generator, the NumPy global stream, or a JAX key): a framework's own "
        "generator (torch's default, a torch.Generator, a numpy.random.Generator) cannot draw a "
        "slice of a larger mask. Pass the same seed on every rank."
    )
    raise ValueError(msg)
