"""PyTorch tensors on any device: torch's own default generator, autograd, torch.compile.

The kernel (``_torch_ops.py``) is ``x * s`` followed by zeros over the dropped entries, inside an
``autograd.Function`` whose backward is the same map of the gradient: ``grad * s`` on kept
entries and exactly ``0`` on dropped ones, even for an ``inf`` or ``NaN`` incoming gradient. The
portable generator runs in int64 words (torch's uint32 has no arithmetic kernels) on the
tensor's device.
"""

from __future__ import annotations

import math
import sys
from typing import Any

from .._random import Generator
from .._scale import drop_threshold
from ._array_api import ArrayAPIBackend

_MASK32 = 0xFFFFFFFF


def _torch() -> Any:
    import torch

    return torch


class TorchBackend(ArrayAPIBackend):
    name = "torch.Tensor"

    @staticmethod
    def matches(x: object) -> bool:
        torch = sys.modules.get("torch")  # no torch imported: no tensor can exist
        return torch is not None and isinstance(x, torch.Tensor)

    def namespace(self, x: Any) -> Any:
        import array_api_compat.torch as xp

        return xp

    def is_floating(self, x: Any) -> bool:
        return bool(x.is_floating_point())

    def mantissa(self, x: Any) -> int:
        return {64: 52, 32: 23}.get(x.dtype.itemsize * 8, 7 if x.dtype == _torch().bfloat16 else 10)

    def size(self, x: Any) -> int:
        return int(x.numel())

    def why_not_writeable(self, x: Any) -> str | None:
        torch = _torch()
        if x.requires_grad and x.is_leaf and torch.is_grad_enabled():
            return "a leaf torch.Tensor that requires grad"
        if x.is_inference() and not torch.is_inference_mode_enabled():
            return "an inference torch.Tensor outside inference mode"
        return None

    def word_dtype(self, xp: Any) -> Any:
        return xp.int64

    def keep_mask(
        self, fn: str, x: Any, shape: tuple[int, ...], p: float, generator: object
    ) -> Any:
        if generator is None:  # torch's default generator, exactly as F.dropout2d draws
            return self._bernoulli(x, shape, p, None)
        return super().keep_mask(fn, x, shape, p, generator)

    def portable_keep(
        self, x: Any, shape: tuple[int, ...], p: float, seed: int, stream: int
    ) -> Any:
        threshold = drop_threshold(p)
        if threshold > _MASK32:
            return x.new_zeros(shape, dtype=_torch().bool)
        key, ctr = [seed & _MASK32, seed >> 32], [stream & _MASK32, stream >> 32]
        from ._torch_ops import portable_keep

        keep = portable_keep(x, math.prod(shape), key, ctr, threshold)
        return keep.reshape(shape)

    def next_stream(self, generator: Generator) -> tuple[int, int]:
        if _torch().compiler.is_compiling():
            return generator._advance()
        return generator.next_stream()

    def native_keep(
        self, fn: str, x: Any, shape: tuple[int, ...], p: float, generator: object
    ) -> Any:
        if isinstance(generator, _torch().Generator):
            return self._bernoulli(x, shape, p, generator)
        return super().native_keep(fn, x, shape, p, generator)

    def _bernoulli(self, x: Any, shape: tuple[int, ...], p: float, generator: Any) -> Any:
        return self._noise(x, shape, p, generator) != 0

    def _noise(self, x: Any, shape: tuple[int, ...], p: float, generator: Any) -> Any:
        # F.dropout2d: noise = empty((N, C, 1, 1), like input).bernoulli_(1 - p); same draw.
        return x.new_empty(shape).bernoulli_(1 - p, generator=generator)

    def fused(
        self, fn: str, x: Any, shape: tuple[int, ...], p: float, generator: object,
        scale: float, inplace: bool,
    ) -> Any:  # fmt: skip
        """Torch's own generators: the kernel takes ``bernoulli_``'s 0/1 noise as the mask,
        without a separate op to turn it into booleans."""
        if generator is not None and not isinstance(generator, _torch().Generator):
            return None
        from ._torch_ops import scaled_mask

        return scaled_mask(x, self._noise(x, shape, p, generator), scale, inplace)

    def apply_keep(self, x: Any, keep: Any, scale: float, inplace: bool) -> Any:
        from ._torch_ops import scaled_mask

        return scaled_mask(x, keep, scale, inplace)

    def apply_alpha(
        self, x: Any, keep: Any, consts: tuple[float, float, float], inplace: bool
    ) -> Any:
        a, b_keep, b_drop = consts
        out = x.mul_(a) if inplace else x * a
        return out.add_(b_keep).masked_fill_(~keep, b_drop)

    def zeros(self, x: Any, inplace: bool) -> Any:
        # Through a multiply, as PyTorch does at p == 1, so that autograd sees a zero gradient;
        # then a fill, since x * 0 is NaN where x is inf.
        out = x.mul_(0.0) if inplace else x * 0.0
        return out.fill_(0.0)
