"""PyTorch tensors on any device: torch's own default generator, autograd, torch.compile.

The operators live in ``_torch_ops.py`` (custom ops with backward, vmap rules and fake kernels,
or exact aten compositions); this module answers the engine's questions. The portable
generator runs on the tensor's device (int64 words: torch's uint32 has no arithmetic kernels),
or in the compiled CPU kernels; ``generator=None`` and a ``torch.Generator`` draw exactly as
``F.dropout2d`` draws. Checkpoint recomputes replay the forward's draws
(``_torch_recompute.py``).
"""

from __future__ import annotations

import math
import sys
from typing import TYPE_CHECKING, Any, Literal

from ..._random._source import Native, Portable, Source, Stream
from ..._scale import Transform
from ..._shapes import mask_box, may_overlap
from ..._variants import Shape
from .._contract import Defaults
from ._errors import dtensor_needs_portable, dtensor_partial, not_dense

if TYPE_CHECKING:
    from ..._plan import Plan


def _is_dtensor(x: Any) -> bool:
    tensor = sys.modules.get("torch.distributed.tensor")
    return tensor is not None and isinstance(x, tensor.DTensor)


def _torch() -> Any:
    import torch

    return torch


class TorchBackend(Defaults):
    """``torch.Tensor`` on any device: torch's default generator for ``generator=None``."""

    name = "torch.Tensor"
    default_stream: Literal["global", "native"] = "native"

    @property
    def remember(self) -> bool:
        """Not under ``torch.compile``: Dynamo would guard on the engine's table."""
        return not sys.modules["torch"].compiler.is_compiling()

    @staticmethod
    def matches(x: object) -> bool:
        torch = sys.modules.get("torch")  # no torch imported: no tensor can exist
        return torch is not None and isinstance(x, torch.Tensor)

    def check_input(self, fn: str, x: Any) -> None:
        if x.layout is not _torch().strided or x.is_nested:
            not_dense(fn, x)

    def mantissa(self, x: Any) -> int:
        if not x.is_floating_point():
            return 0
        torch = _torch()
        bits = {torch.float64: 52, torch.float32: 23, torch.float16: 10, torch.bfloat16: 7}
        return bits.get(x.dtype, -1)  # -1: float8 and other formats dropout does not take

    def size(self, x: Any) -> int:
        return math.prod(x.shape)  # (numel() is a tensor under torch.jit.trace)

    def why_not_writeable(self, x: Any) -> str | None:
        torch = _torch()
        if torch.is_grad_enabled():
            if x.requires_grad and x.is_leaf:
                return "a leaf torch.Tensor that requires grad"
            base = x._base
            if base is not None and base.requires_grad and base.is_leaf:
                return "a view of a leaf torch.Tensor that requires grad (a parameter)"
        if (
            not torch.compiler.is_compiling()  # dynamo cannot trace is_inference
            and x.is_inference()
            and not torch.is_inference_mode_enabled()
        ):
            return "an inference torch.Tensor outside inference mode"
        if not x.is_contiguous() and may_overlap(x.shape, x.stride()):
            return "a torch.Tensor view whose elements overlap in memory (expand, as_strided)"
        return None

    def native_source(self, generator: object) -> Source | None:
        torch = _torch()
        if isinstance(generator, torch.Generator):
            return Native(generator)
        if (
            isinstance(generator, torch.Tensor)
            and generator.dim() == 0
            and not generator.is_floating_point()
            and not generator.is_complex()
            and generator.dtype != torch.bool
        ):
            return Portable(generator)  # a seed tensor: a changing seed that never recompiles
        return None

    def native_keep(
        self, fn: str, x: Any, shape: Shape, rate: float, generator: Any, drops: bool = False
    ) -> Any:
        from ._ops import native_noise

        if drops:  # bernoulli_(rate) marks the dropped entries (torchvision's DropBlock seeds)
            return native_noise(fn, x, shape, rate, generator, drops=True) == 0
        return native_noise(fn, x, shape, rate, generator) != 0

    def is_mask(self, x: Any, mask: object) -> bool:
        torch = _torch()
        return isinstance(mask, torch.Tensor) and mask.dtype == torch.bool

    @staticmethod
    def take(fn: str, source: Portable) -> Any:
        """``(seed, counter)`` as a Stream, or an int64 state tensor inside a graph."""
        from ._ops import take

        return take(fn, source)

    def portable_keep(
        self,
        x: Any,
        shape: Shape,
        starts: tuple[Any, ...],
        box: Shape,
        threshold: int,
        stream: Any,
    ) -> Any:
        from ._ops import portable_mask, portable_mask_region

        if box == shape and all(isinstance(s, int) for s in starts):
            return portable_mask(x, shape, threshold, stream)
        return portable_mask_region(x, shape, starts, box, threshold, stream)

    def fused(self, x: Any, plan: Plan, drawn: Stream | Any, t: Transform | None) -> Any:
        if t is None:  # a grown mask: drawn, grown and applied by the engine
            return None
        if _is_dtensor(x):
            return self._dtensor(x, plan, drawn, t)
        if not t.constant or t.alpha:
            return None
        from ._ops import fused

        return fused(x, plan, drawn, t.a)

    def _dtensor(self, x: Any, plan: Plan, drawn: Any, t: Transform) -> Any:
        """A ``DTensor``: each rank computes its own shard's part, with no communication."""
        from torch.distributed.tensor import DTensor, Partial
        from torch.distributed.tensor._utils import compute_local_shape_and_global_offset

        if not plan.portable:
            dtensor_needs_portable(plan.fn)
        if any(isinstance(placement, Partial) for placement in x.placements):
            dtensor_partial(plan.fn, x.placements)
        local = x.to_local()
        _, offset = compute_local_shape_and_global_offset(x.shape, x.device_mesh, x.placements)
        here = tuple(int(o) + s for o, s in zip(offset, plan.starts, strict=True))
        at, box = mask_box(plan.shape, here, tuple(local.shape))
        if plan.keeps_nothing:
            keep = local.new_zeros(box, dtype=_torch().bool)
        else:
            keep = self.portable_keep(local, plan.shape, at, box, plan.threshold, drawn)
        out = self.apply(local, keep, t, plan.inplace)
        if plan.inplace:
            return x
        return DTensor.from_local(
            out, x.device_mesh, x.placements, run_check=False, shape=x.shape, stride=x.stride()
        )

    def apply(self, x: Any, keep: Any, t: Transform, inplace: bool) -> Any:
        if t.alpha:
            if inplace:
                return x.mul_(t.a).add_(t.b_keep).masked_fill_(~keep, t.b_drop)
            # out of place: under vmap the mask may be batched where x is not
            return (x * t.a).add_(t.b_keep).masked_fill(~keep, t.b_drop)
        from ._ops import composite, scaled_mask

        if not t.constant:  # a scale tensor: aten ops, which every torch subsystem takes
            return composite(x, keep, t.a, inplace)
        return scaled_mask(x, keep, t.a, inplace)

    def zeros(self, x: Any, inplace: bool) -> Any:
        # Through a multiply, as PyTorch does at p == 1, so that autograd sees a zero gradient;
        # then a fill, since x * 0 is NaN where x is inf.
        out = x.mul_(0.0) if inplace else x * 0.0
        return out.fill_(0.0)

    def full(self, x: Any, shape: Shape, value: bool) -> Any:
        return x.new_full(shape, value, dtype=_torch().bool)
