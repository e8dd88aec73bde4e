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
from typing import Any, Literal

from .. import _validation as v
from .._random._source import Native, Portable, Source
from .._scale import Transform, drop_threshold, keeps_nothing
from .._shapes import mask_box, may_overlap
from ._contract import MAX_ENTRIES

_MASK32 = 0xFFFFFFFF


def _is_dtensor(x: Any) -> bool:
    tensor = sys.modules.get("torch.distributed.tensor")
    return tensor is not None and isinstance(x, tensor.DTensor)


def _torch() -> Any:
    import torch

    return torch


class TorchBackend:
    """``torch.Tensor`` on any device: torch's default generator for ``generator=None``."""

    name = "torch.Tensor"
    default_stream: Literal["global", "native"] = "native"
    max_entries = MAX_ENTRIES

    @staticmethod
    def matches(x: object) -> bool:
        torch = sys.modules.get("torch")  # no torch imported: no tensor can exist
        return torch is not None and isinstance(x, torch.Tensor)

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

    def can_advance(self, x: Any) -> bool:
        return True

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

    def is_mask(self, x: Any, mask: object) -> bool:
        torch = _torch()
        return isinstance(mask, torch.Tensor) and mask.dtype == torch.bool

    def mask(self, fn: str, x: Any, shape: tuple[int, ...], p: float, source: Source) -> Any:
        from ._torch_ops import native_noise, portable_mask

        if isinstance(source, Native):  # torch's generators, exactly as F.dropout2d draws
            return native_noise(fn, x, shape, p, source.generator) != 0
        if not isinstance(source, Portable):
            v.bad_generator(fn, source, self.name)
        threshold = drop_threshold(p)
        if keeps_nothing(threshold):
            return x.new_zeros(shape, dtype=_torch().bool)
        return portable_mask(fn, x, shape, threshold, source)

    def mask_region(
        self, fn: str, x: Any, shape: tuple[int, ...], starts: tuple[Any, ...],
        box: tuple[int, ...], p: float, source: Source,
    ) -> Any:  # fmt: skip
        from ._torch_ops import portable_mask_region

        if not isinstance(source, Portable):
            v.bad_generator(fn, source, self.name)
        threshold = drop_threshold(p)
        if keeps_nothing(threshold):
            return x.new_zeros(box, dtype=_torch().bool)
        return portable_mask_region(fn, x, shape, starts, box, threshold, source)

    def dropout(
        self, fn: str, x: Any, shape: tuple[int, ...], p: float, source: Source, t: Transform,
        inplace: bool,
    ) -> Any:  # fmt: skip
        if _is_dtensor(x):
            return self._dtensor(fn, x, shape, p, source, t, inplace)
        if isinstance(source, Native) and not t.alpha:
            # the kernel takes bernoulli_'s 0/1 noise as the mask: no op to make booleans
            from ._torch_ops import native_noise, scaled_mask

            return scaled_mask(x, native_noise(fn, x, shape, p, source.generator), t.a, inplace)
        return self.apply(x, self.mask(fn, x, shape, p, source), t, inplace)

    def _dtensor(
        self, fn: str, x: Any, shape: tuple[int, ...], p: float, source: Source, t: Transform,
        inplace: bool,
    ) -> Any:  # fmt: skip
        """A ``DTensor``: each rank computes its own shard's part, with no communication."""
        from torch.distributed.tensor import DTensor, Partial
        from torch.distributed.tensor._utils import compute_local_shape_and_global_offset

        if not isinstance(source, Portable):
            v.dtensor_needs_portable(fn)
        if any(isinstance(placement, Partial) for placement in x.placements):
            v.dtensor_partial(fn, x.placements)
        local = x.to_local()
        _, offset = compute_local_shape_and_global_offset(x.shape, x.device_mesh, x.placements)
        at, box = mask_box(shape, tuple(int(o) for o in offset), tuple(local.shape))
        keep = self.mask_region(fn, local, shape, at, box, p, source)
        out = self.apply(local, keep, t, inplace)
        if inplace:
            return x
        return DTensor.from_local(out, x.device_mesh, x.placements, run_check=False,
                                  shape=x.shape, stride=x.stride())  # fmt: skip

    def apply(self, x: Any, keep: Any, t: Transform, inplace: bool) -> Any:
        if t.alpha:
            out = x.mul_(t.a) if inplace else x * t.a
            return out.add_(t.b_keep).masked_fill_(~keep, t.b_drop)
        from ._torch_ops import scaled_mask

        return scaled_mask(x, keep, t.a, inplace)

    def zeros(self, x: Any, inplace: bool) -> Any:
        # Through a multiply, as PyTorch does at p == 1, so that autograd sees a zero gradient;
        # then a fill, since x * 0 is NaN where x is inf.
        out = x.mul_(0.0) if inplace else x * 0.0
        return out.fill_(0.0)

    def full(self, x: Any, shape: tuple[int, ...], value: bool) -> Any:
        return x.new_full(shape, value, dtype=_torch().bool)
