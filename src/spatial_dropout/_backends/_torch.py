"""PyTorch tensors on any device: torch's own default generator, autograd, torch.compile.

The kernels are ``x * s`` followed by ``masked_fill_`` of the dropped entries: both are
differentiable, so autograd gives ``grad * s`` on kept entries and exactly ``0`` on dropped ones,
even for an ``inf`` or ``NaN`` incoming gradient, with no custom autograd function. The portable
generator runs in int64 words (torch's uint32 has no arithmetic kernels) on the tensor's device.
"""

from __future__ import annotations

import math
import sys
from typing import Any

from .._random import Generator, random_words
from .._scale import drop_threshold
from ._array_api import ArrayAPIBackend

_MASK32 = 0xFFFFFFFF


def _torch() -> Any:
    import torch

    return torch


_REGISTERED: list[Any] = []


def _register_op() -> bool:
    """Register ``spatial_dropout::portable_keep``: the portable mask as a custom op.

    Opaque to torch.compile, whose Inductor would otherwise inline Philox's integer DAG into
    one loop and take exponential time doing so; exact under it, since it runs these very ops.
    Dynamo runs this function once at trace time and keeps its constant result (see below), so
    a first call under torch.compile registers the op instead of tracing the registration.
    """
    if _REGISTERED:
        return True
    torch = _torch()
    schema = "(Tensor like, int n, int[] key, int[] stream, int threshold) -> Tensor"

    @torch.library.custom_op("spatial_dropout::portable_keep", mutates_args=(), schema=schema)  # type: ignore[untyped-decorator]
    def portable_keep(like: Any, n: int, key: list[int], stream: list[int], threshold: int) -> Any:
        import array_api_compat.torch as xp

        seed, ctr = key[0] | (key[1] << 32), stream[0] | (stream[1] << 32)
        words = random_words(xp, n, seed, ctr, dtype=torch.int64, device=like.device)
        return words >= threshold

    @portable_keep.register_fake  # type: ignore[untyped-decorator]
    def _(like: Any, n: int, key: list[int], stream: list[int], threshold: int) -> Any:
        return like.new_empty((n,), dtype=torch.bool)

    _REGISTERED.append(portable_keep)
    return True


# what torch._dynamo.assume_constant_result does, without importing torch here
_register_op._dynamo_marked_constant = True  # type: ignore[attr-defined]


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
        _register_op()
        op = _torch().ops.spatial_dropout.portable_keep
        keep = op(x, math.prod(shape), key, ctr, threshold)
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
        # F.dropout2d: noise = empty((N, C, 1, 1), like input).bernoulli_(1 - p); same draw.
        noise = x.new_empty(shape).bernoulli_(1 - p, generator=generator)
        return noise != 0

    def apply_keep(self, x: Any, keep: Any, scale: float, inplace: bool) -> Any:
        out = x.mul_(scale) if inplace else x * scale
        return out.masked_fill_(~keep, 0.0)

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
