"""Dask arrays, natively: each block computes its own part of the one global mask.

A call is one ``map_blocks`` layer over the input's chunks, lazy until computed. Every block
runs the NumPy path (compiled kernels where installed) with its own ``offset`` in the whole
array, so the result equals the in-memory result bit for bit, whatever the chunking, with no
communication between blocks: the mask entry of a logical index is a pure function of
``(seed, counter, index)``. The counter is taken once, when the graph is built.
"""

from __future__ import annotations

import hashlib
import math
import sys
from typing import Any, Literal

import numpy as np

from .. import _validation as v
from .._random._source import Portable, Source
from .._scale import Transform, drop_threshold, keeps_nothing
from .._shapes import mask_box
from . import _reference as ref
from ._contract import MAX_ENTRIES


def _da() -> Any:
    import dask.array as da

    return da


def _location(block_info: dict[Any, Any], which: Any) -> tuple[int, ...]:
    return tuple(start for start, _ in block_info[which]["array-location"])


def _source(stream: tuple[int, int]) -> Portable:
    from .._random import Generator

    return Portable(Generator(stream[0], counter=stream[1]))  # a throwaway: it may advance


def _dropout_block(
    block: np.ndarray[Any, Any], *, mask: tuple[int, ...], p: float, stream: tuple[int, int],
    t: Transform, block_info: dict[Any, Any] | None = None,
) -> np.ndarray[Any, Any]:  # fmt: skip
    """One block's part of the call on the whole array (runs on a worker)."""
    from . import _cpu
    from ._numpy import NumPyBackend

    if block_info is None:  # dask probing with an empty array
        return block
    starts, box = mask_box(mask, _location(block_info, 0), block.shape)
    backend = NumPyBackend()
    keep = backend.mask_region("dropout", block, mask, starts, box, p, _source(stream))
    # one thread a block: dask's workers are the parallelism (no nested thread pools)
    out: np.ndarray[Any, Any] = backend._apply(block, keep, t, False, _cpu.compiled_for(block),
                                               threads=1)  # fmt: skip
    return out


def _mask_block(
    *, mask: tuple[int, ...], starts: tuple[int, ...], p: float, stream: tuple[int, int],
    block_info: dict[Any, Any] | None = None,
) -> np.ndarray[Any, Any]:  # fmt: skip
    """One block of a mask: the box of the global mask at its own location."""
    from ._numpy import NumPyBackend

    if block_info is None:
        return np.zeros((0,) * len(mask), dtype=bool)
    info = block_info[None]
    at = tuple(s + o for s, o in zip(starts, _location(block_info, None), strict=True))
    box = tuple(info["chunk-shape"])
    keep: np.ndarray[Any, Any] = NumPyBackend().mask_region(
        "dropout_mask", None, mask, at, box, p, _source(stream)
    )
    return keep


def _name(fn: str, *parts: object) -> str:
    """A deterministic graph name, without Dask tokenizing (pickling) every argument."""
    return f"{fn}-{hashlib.sha1(repr(parts).encode()).hexdigest()}"


class DaskBackend:
    """``dask.array.Array``: the global stream for ``generator=None``, as NumPy."""

    name = "dask.array.Array"
    default_stream: Literal["global", "native"] = "global"
    max_entries = MAX_ENTRIES

    @staticmethod
    def matches(x: object) -> bool:
        da = sys.modules.get("dask.array")
        return da is not None and isinstance(x, da.Array)

    def mantissa(self, x: Any) -> int:
        return ref.mantissa(np, x.dtype)

    def size(self, x: Any) -> int:
        return math.prod(int(d) for d in x.shape)

    def why_not_writeable(self, x: Any) -> str | None:
        return None  # dask arrays take x[...] = y, lazily

    def can_advance(self, x: Any) -> bool:
        return True

    def native_source(self, generator: object) -> Source | None:
        return None

    def is_mask(self, x: Any, mask: object) -> bool:
        return self.matches(mask) and mask.dtype == np.bool_  # type: ignore[attr-defined]

    def _stream(self, fn: str, source: Source) -> tuple[int, int]:
        if not isinstance(source, Portable):
            v.bad_generator(fn, source, self.name)
        return source.take()

    def mask(self, fn: str, x: Any, shape: tuple[int, ...], p: float, source: Source) -> Any:
        box = shape
        return self.mask_region(fn, x, shape, (0,) * len(shape), box, p, source)

    def mask_region(
        self, fn: str, x: Any, shape: tuple[int, ...], starts: tuple[Any, ...],
        box: tuple[int, ...], p: float, source: Source,
    ) -> Any:  # fmt: skip
        stream = self._stream(fn, source)
        chunks = tuple((1,) if b == 1 else c for b, c in zip(box, x.chunks, strict=True))
        threshold = drop_threshold(p)
        if keeps_nothing(threshold):
            return _da().zeros(box, chunks=chunks, dtype=bool)
        at = tuple(int(s) for s in starts)
        return _da().map_blocks(
            _mask_block, chunks=chunks, dtype=bool, meta=np.array((), dtype=bool), mask=shape,
            starts=at, p=p, stream=stream, name=_name(fn, shape, at, chunks, p, stream),
        )  # fmt: skip

    def dropout(
        self, fn: str, x: Any, shape: tuple[int, ...], p: float, source: Source, t: Transform,
        inplace: bool,
    ) -> Any:  # fmt: skip
        stream = self._stream(fn, source)
        out = x.map_blocks(
            _dropout_block, dtype=x.dtype, meta=np.array((), dtype=x.dtype), mask=shape, p=p,
            stream=stream, t=t, name=_name(fn, x.name, shape, p, stream, t),
        )  # fmt: skip
        if not inplace:
            return out
        x[...] = out
        return x

    def apply(self, x: Any, keep: Any, t: Transform, inplace: bool) -> Any:
        return ref.apply(ref.namespace(x), x, keep, t, inplace)

    def zeros(self, x: Any, inplace: bool) -> Any:
        return ref.zeros(ref.namespace(x), x, inplace)

    def full(self, x: Any, shape: tuple[int, ...], value: bool) -> Any:
        chunks = tuple((1,) if m == 1 else c for m, c in zip(shape, x.chunks, strict=False))
        return _da().full(shape, value, dtype=bool, chunks=chunks)
