"""Dask arrays, natively: each block computes its own part of the one global mask.

A call is one ``map_blocks`` layer over the input's chunks, lazy until computed. Every block
runs the NumPy backend (compiled kernels where installed), through the backend contract, with
its own place in the whole array, so the result equals the in-memory result bit for bit,
whatever the chunking, with no communication between blocks: the mask entry of a logical index
is a pure function of ``(seed, counter, index)``. The counter is taken once, when the graph is
built.
"""

from __future__ import annotations

import hashlib
import sys
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from .._random._source import Stream
from .._scale import Transform
from .._shapes import mask_box
from .._threads import one_thread
from .._variants import Shape
from . import _reference as ref
from ._contract import Defaults

if TYPE_CHECKING:
    from .._plan import Plan


def _da() -> Any:
    import dask.array as da

    return da


def _location(block_info: dict[Any, Any], which: Any) -> tuple[int, ...]:
    return tuple(start for start, _ in block_info[which]["array-location"])


def _dropout_block(
    block: np.ndarray[Any, Any],
    *,
    shape: Shape,
    starts: tuple[int, ...],
    threshold: int,
    stream: Stream,
    t: Transform,
    block_info: dict[Any, Any] | None = None,
) -> np.ndarray[Any, Any]:
    """One block's part of the call on the whole array (runs on a worker)."""
    from ._numpy import NumPyBackend

    if block_info is None:  # dask probing with an empty array
        return block
    here = tuple(s + o for s, o in zip(starts, _location(block_info, 0), strict=True))
    at, box = mask_box(shape, here, block.shape)
    numpy = NumPyBackend()
    with one_thread():  # dask's workers are the parallelism (no nested thread pools)
        keep = numpy.portable_keep(block, shape, at, box, threshold, stream)
        out: np.ndarray[Any, Any] = numpy.apply(block, keep, t, False)
    return out


def _mask_block(
    *,
    shape: Shape,
    starts: tuple[int, ...],
    threshold: int,
    stream: Stream,
    block_info: dict[Any, Any] | None = None,
) -> np.ndarray[Any, Any]:
    """One block of a mask: the box of the global mask at its own location."""
    from ._numpy import NumPyBackend

    if block_info is None:
        return np.zeros((0,) * len(shape), dtype=bool)
    info = block_info[None]
    at = tuple(s + o for s, o in zip(starts, _location(block_info, None), strict=True))
    box = tuple(info["chunk-shape"])
    keep: np.ndarray[Any, Any] = NumPyBackend().portable_keep(
        None, shape, at, box, threshold, stream
    )
    return keep


def _grown_block(
    block: np.ndarray[Any, Any],
    *,
    variant: str,
    fn: str,
    p: float,
    fmt: str,
    options: dict[str, Any],
    full: Shape,
    stream: Stream,
    block_info: dict[Any, Any] | None = None,
) -> np.ndarray[Any, Any]:
    """One block of a grown variant (DropBlock): the engine's plan of this block as a shard.

    The block draws the seeds its part needs from their global indices and grows and crops
    them itself: a block that crosses a chunk boundary is recomputed on each side.
    """
    from .._plan import keep_mask, plan
    from .._variants import VARIANTS
    from ._numpy import NumPyBackend

    if block_info is None:  # dask probing with an empty array
        return block
    numpy = NumPyBackend()
    here = _location(block_info, 0)
    # the seed only makes the shard's plan portable: the words are the call's one draw below
    args = (p, True, False, stream.seed, None, fmt, here, full, options, fn)
    shard = plan(VARIANTS[variant], numpy, block, *args)
    if shard is None or shard.empty:
        return block
    with one_thread():  # dask's workers are the parallelism (no nested thread pools)
        keep = keep_mask(shard, numpy, block, stream)
        out: np.ndarray[Any, Any] = numpy.apply(block, keep, shard.transform(keep), False)
    return out


def _name(fn: str, *parts: object) -> str:
    """A deterministic graph name, without Dask tokenizing (pickling) every argument."""
    return f"{fn}-{hashlib.sha1(repr(parts).encode()).hexdigest()}"


class DaskBackend(Defaults):
    """``dask.array.Array``: the global stream for ``generator=None``, as NumPy."""

    name = "dask.array.Array"
    default_stream: Literal["global", "native"] = "global"

    @staticmethod
    def matches(x: object) -> bool:
        da = sys.modules.get("dask.array")
        return da is not None and isinstance(x, da.Array)

    def mantissa(self, x: Any) -> int:
        return ref.mantissa(np, x.dtype)

    def why_not_writeable(self, x: Any) -> str | None:
        return None  # dask arrays take x[...] = y, lazily

    def is_mask(self, x: Any, mask: object) -> bool:
        return self.matches(mask) and mask.dtype == np.bool_  # type: ignore[attr-defined]

    def portable_keep(
        self,
        x: Any,
        shape: Shape,
        starts: tuple[Any, ...],
        box: Shape,
        threshold: int,
        stream: Stream,
    ) -> Any:
        # the input's chunks where the mask spans its axis; one chunk where it is shorter (a
        # seed grid that grows into the input's shape)
        chunks = tuple(
            c if b == n else (b,) for b, n, c in zip(box, x.shape, x.chunks, strict=True)
        )
        at = tuple(int(s) for s in starts)
        return _da().map_blocks(
            _mask_block,
            chunks=chunks,
            dtype=bool,
            meta=np.array((), dtype=bool),
            shape=shape,
            starts=at,
            threshold=threshold,
            stream=stream,
            name=_name("mask", shape, at, chunks, threshold, stream),
        )

    def fused(self, x: Any, plan: Plan, drawn: Stream | Any, t: Transform | None) -> Any:
        """One ``map_blocks`` layer: each block draws its part of the mask and applies it."""
        if not plan.portable or plan.keeps_nothing:
            return None
        if t is None:
            out = self._grown(x, plan, drawn)
            if out is None:
                return None
        elif not t.constant:
            return None
        else:
            at = tuple(int(s) for s in plan.starts)
            out = x.map_blocks(
                _dropout_block,
                dtype=x.dtype,
                meta=np.array((), dtype=x.dtype),
                shape=plan.shape,
                starts=at,
                threshold=plan.threshold,
                stream=drawn,
                t=t,
                name=_name(plan.fn, x.name, plan.shape, at, plan.threshold, drawn, t),
            )
        if not plan.inplace:
            return out
        x[...] = out
        return x

    def _grown(self, x: Any, plan: Plan, drawn: Stream) -> Any:
        """A grown mask's layer, where each block can be planned as a shard; else None.

        (Not for a part of a larger array, nor where the transform reads the whole mask:
        ``normalize="batch"`` counts every kept entry.)
        """
        variant = plan.variant
        fmt = plan.params.get("data_format", "channels_first")
        options = {name: plan.params[name] for name in variant.options}
        if not plan.whole or variant.region is None or variant.params is None:
            return None
        try:
            variant.params(plan.fn, tuple(x.shape), {**options, "data_format": fmt, "split": True})
        except ValueError:
            return None
        full = tuple(x.shape)
        return x.map_blocks(
            _grown_block,
            dtype=x.dtype,
            meta=np.array((), dtype=x.dtype),
            variant=variant.name,
            fn=plan.fn,
            p=plan.p,
            fmt=fmt,
            options=options,
            full=full,
            stream=drawn,
            name=_name(plan.fn, x.name, full, plan.p, fmt, sorted(options.items()), drawn),
        )

    def apply(self, x: Any, keep: Any, t: Transform, inplace: bool) -> Any:
        return ref.apply(ref.namespace(x), x, keep, t, inplace)

    def full(self, x: Any, shape: Shape, value: bool) -> Any:
        chunks = tuple((1,) if m == 1 else c for m, c in zip(shape, x.chunks, strict=False))
        return _da().full(shape, value, dtype=bool, chunks=chunks)
