"""Torch-only pieces, imported once torch is: the portable mask op and the autograd function.

Kept apart so that importing spatial_dropout never imports torch.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .._random import random_words
from . import _cpu


@torch.library.custom_op(
    "spatial_dropout::portable_keep",
    mutates_args=(),
    schema="(Tensor like, int n, int[] key, int[] stream, int threshold) -> Tensor",
)
def portable_keep(
    like: torch.Tensor, n: int, key: list[int], stream: list[int], threshold: int
) -> torch.Tensor:
    """The portable mask as an opaque op.

    Inductor would otherwise inline Philox's integer DAG into one loop and take exponential
    time doing so. Exact under compile: it runs these ops.
    """
    import array_api_compat.torch as xp

    seed, ctr = key[0] | (key[1] << 32), stream[0] | (stream[1] << 32)
    words = random_words(xp, n, seed, ctr, dtype=torch.int64, device=like.device)
    result: torch.Tensor = words >= threshold
    return result


@portable_keep.register_fake
def _(like: torch.Tensor, n: int, key: list[int], stream: list[int], threshold: int) -> Any:
    return like.new_empty((n,), dtype=torch.bool)


def _rows(x: torch.Tensor, keep: torch.Tensor) -> int | None:
    """Planes of a C-contiguous CPU ``x`` under ``keep`` (see ``_cpu.planes``), else None."""
    if x.device.type != "cpu" or not x.is_contiguous() or torch.compiler.is_compiling():
        return None  # (fake tensors under compile have no memory to run a kernel on)
    return _cpu.planes(tuple(x.shape), tuple(keep.shape))


_NUMPY_DTYPES = (torch.float32, torch.float64)


def _kernel(x: torch.Tensor, keep: torch.Tensor, scale: float, inplace: bool) -> torch.Tensor:
    """``x * scale`` where ``keep``, ``+0.0`` elsewhere.

    ``keep`` is boolean, or the 0/1 noise of ``bernoulli_``. On the CPU (float32, float64) the NumPy
    backend's kernel runs on the tensors' memory (a broadcast ``masked_fill_`` costs several times
    the multiply, ``index_fill_`` about half of it); elsewhere a multiply, then a fill.
    """
    rows = _rows(x, keep)
    if rows is not None and x.dtype in _NUMPY_DTYPES:
        out = x if inplace else torch.empty_like(x)
        _on_memory(x, out, keep, rows, scale)
        if inplace and not x.is_inference():
            torch.autograd.graph.increment_version(x)  # for autograd's in-place checks
        return out
    drop = keep == 0
    out = x.mul_(scale) if inplace else x * scale
    if rows is not None:
        dropped = torch.nonzero(drop.reshape(-1)).reshape(-1)
        if dropped.numel():
            out.view(rows, -1).index_fill_(0, dropped, 0.0)
        return out
    return out.masked_fill_(drop, 0.0)


def _on_memory(
    x: torch.Tensor, out: torch.Tensor, keep: torch.Tensor, rows: int, scale: float
) -> None:
    """The CPU kernel (compiled where numba is) on the tensors' memory; ``out`` may be ``x``."""
    x2 = (x.detach() if x.requires_grad else x).numpy().reshape(rows, -1)
    out2 = x2 if out is x else out.numpy().reshape(rows, -1)  # a fresh tensor: no grad
    keep1 = keep.reshape(-1).numpy()
    if keep1.dtype != np.bool_:
        keep1 = keep1 != 0  # bernoulli_'s noise: a NumPy compare costs less than torch's
    s = np.asarray(scale, dtype=x2.dtype)
    k = _cpu.compiled_for(x2)
    if x2.shape[1] == 1:  # an element-wise mask
        x1 = x2.reshape(-1)
        _cpu.select(x1, x1 if out2 is x2 else out2.reshape(-1), keep1, None, s, k)
    else:
        _cpu.scale_rows(x2, out2, keep1, None, s, k, threads=torch.get_num_threads())


class ScaledMask(torch.autograd.Function):
    """``y = x * s`` where ``keep``, ``+0.0`` elsewhere.

    The gradient is the same map of the incoming gradient, so a dropped entry gets exactly 0 even
    from an ``inf`` or ``NaN``.
    """

    @staticmethod
    def forward(
        ctx: Any, x: torch.Tensor, keep: torch.Tensor, scale: float, inplace: bool
    ) -> torch.Tensor:
        ctx.save_for_backward(keep)
        ctx.scale = scale
        if inplace:
            ctx.mark_dirty(x)
        return _kernel(x, keep, scale, inplace)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[Any, None, None, None]:
        (keep,) = ctx.saved_tensors
        return (
            scaled_mask(grad, keep, ctx.scale, False),
            None,
            None,
            None,
        )  # Function only if create_graph


def scaled_mask(x: torch.Tensor, keep: torch.Tensor, scale: float, inplace: bool) -> torch.Tensor:
    if not (x.requires_grad and torch.is_grad_enabled()) and not torch.compiler.is_compiling():
        return _kernel(x, keep, scale, inplace)  # no graph to record: skip Function.apply
    out: torch.Tensor = ScaledMask.apply(x, keep, scale, inplace)  # type: ignore[no-untyped-call]
    return out
