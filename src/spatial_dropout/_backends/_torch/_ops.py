"""Torch-only pieces, imported once torch is: our dropouts as torch operators.

Four ``torch.library`` custom ops, each with a fake kernel and a vmap rule (``take_``: none):

- ``spatial_dropout::scaled_mask(x, keep, scale)``: ``x * scale`` where ``keep``, ``+0.0``
  elsewhere. Its CPU implementation is the compiled plane kernel; its backward is the same op
  on the gradient (``grad * scale`` kept, exactly ``0`` dropped, even from ``inf``/``NaN``).
- ``spatial_dropout::portable_keep(like, state, shape, threshold)``: the portable mask of
  ``state = (seed, counter)``, opaque to Inductor (which would otherwise inline Philox's integer
  DAG); its vmap rule follows ``torch.vmap``'s ``randomness``. ``portable_keep_at(like, index,
  state, threshold)`` is the same at given logical indices (``offset=``).
- ``spatial_dropout::take_(state)``: a ``Generator``'s draw inside a compiled graph. The state is
  a tensor sharing the generator's memory, so an advancing counter never recompiles.

Routing (:func:`scaled_mask`): where ``x`` is a plain CPU tensor and nothing records or
intercepts ops (no trace, no dispatch or function mode), the kernel runs directly, under an
``autograd.Function`` with the op's formula if a graph is being built (the custom op's Python
dispatch costs more per call than the Function does). Where ``torch.jit.trace``, ``make_fx``
or a mode is at work, the op runs. Everything else (functorch transforms, forward-mode AD,
tensor subclasses such as fake tensors, ``torch.compile``, CUDA, half precision, tensors under
16 KB) takes the same values as a composition of aten ops, ``where(keep, x, 0) * scale``,
which every torch subsystem differentiates, batches, fakes and compiles; its gradients are the
same map.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch.autograd import forward_ad
from torch.utils.checkpoint import checkpoint as _checkpoint

from ..._blocks import scale_table
from ..._random import random_words
from ..._random._generator import Generator, attach_torch_state
from ..._random._philox import key_and_stream, words_at
from ..._random._source import Portable, Stream
from .._numpy import _cpu
from . import _errors as v
from . import _recompute
from ._recompute import replayed

if TYPE_CHECKING:
    from ..._plan import Plan

_MASK64 = 2**64 - 1
_KERNEL_DTYPES = (torch.float32, torch.float64)
_KERNEL_BYTES = 16 << 10  # below this the aten composition costs less than the kernel's calls

attach_torch_state()  # Generators made before torch was imported: compile needs the tensor
# DropBlock's per-position scale is NumPy arithmetic on shapes: a constant in compiled graphs
torch.compiler.assume_constant_result(scale_table)  # type: ignore[no-untyped-call]


def _tracing() -> bool:
    """Inside ``torch.jit.trace``."""
    return bool(torch._C._get_tracing_state())


def _signed(value: int) -> int:
    return value - 2**64 if value >= 2**63 else value


# --------------------------------------------------------------------------- routing


def _plain(x: torch.Tensor) -> bool:
    """A dense tensor that no transform wraps: the custom ops and the kernel take it."""
    return (
        not torch.compiler.is_compiling()  # first: dynamo traces no further
        and type(x) is torch.Tensor
        and not torch._C._are_functorch_transforms_active()  # (also an unwrapped tensor)
        and not torch._C._functorch.is_functorch_wrapped_tensor(x)
        and not torch._C._functorch.is_legacy_batchedtensor(x)  # batched backward
        and forward_ad._current_level < 0
    )


def _vmap_around(x: torch.Tensor) -> Any:
    """The innermost ``torch.vmap`` when it does not batch ``x``, else None.

    A tensor made inside the vmapped function (``torch.ones_like(t)`` of an unbatched ``t``)
    reaches our draw unbatched: no op of ours sees vmap, so the draw follows its ``randomness``
    here, as ``F.dropout``'s does. (Only where vmap is the innermost transform.)
    """
    if not torch._C._are_functorch_transforms_active():
        return None
    from torch._C._functorch import TransformType, maybe_get_level
    from torch._functorch.pyfunctorch import retrieve_current_functorch_interpreter

    around = retrieve_current_functorch_interpreter()
    if around.key() != TransformType.Vmap or maybe_get_level(x) >= around.level():
        return None
    return around


def _watched() -> bool:
    """Something records or intercepts every op: a trace, a dispatch mode, a function mode."""
    return (
        _tracing()
        or torch._C._len_torch_dispatch_stack() > 0
        or torch._C._is_torch_function_mode_enabled()
    )


# --------------------------------------------------------------------------- applying a mask


_ZEROS: dict[tuple[torch.dtype, torch.device], torch.Tensor] = {}


def _zero(x: torch.Tensor, eager: bool) -> torch.Tensor | float:
    """``0`` for ``torch.where``: a cached 0-d tensor in plain eager calls, else the scalar.

    A Python scalar costs a wrap per call; fake tensors, modes and compile need the scalar.
    """
    if not eager:
        return 0.0
    key = (x.dtype, x.device)
    zero = _ZEROS.get(key)
    if zero is None:
        zero = _ZEROS[key] = torch.zeros((), dtype=x.dtype, device=x.device)
    return zero


def composite(
    x: torch.Tensor,
    keep: torch.Tensor,
    scale: float | torch.Tensor,
    inplace: bool,
    eager: bool = False,
) -> torch.Tensor:
    """The op as aten ops: exact, and differentiable, batchable and traceable everywhere.

    ``where(keep, x, 0) * scale``: kept entries are one rounded multiply, dropped ones ``0 *
    scale = +0.0`` whatever ``x`` held; the gradient is the same map. Where ``scale`` may be
    infinite (``p`` next to 1 in 16 bits, a scale tensor), ``0 * inf`` is ``NaN``: a second
    select puts dropped entries, and their gradient, back to ``+0.0``. A scale tensor (a
    variant's per-position table, always finite) takes one select after the multiply.
    """
    if keep.dtype != torch.bool:
        keep = keep.bool()  # bernoulli_'s 0/1 noise
    if isinstance(scale, torch.Tensor) and not inplace:
        product = x * scale  # 16-bit x: formed in float32, rounded once to x's dtype
        return torch.where(keep, product.to(x.dtype), _zero(x, eager))
    finite = isinstance(scale, float) and math.isfinite(scale)
    if inplace:
        if not finite:
            x.masked_fill_(~keep, 0.0)
        return x.mul_(scale).masked_fill_(~keep, 0.0)
    out = torch.where(keep, x, _zero(x, eager)).mul_(scale)
    return out if finite else torch.where(keep, out, _zero(x, eager))


def _rows(x: torch.Tensor, keep: torch.Tensor) -> int | None:
    """Planes of a C-contiguous CPU ``x`` under ``keep`` that the kernel can read, else None.

    (Attribute reads chosen for cost: ``is_cpu`` and ``nbytes`` take a fifth of ``device.type``
    and ``numel() * element_size()``.)
    """
    if (
        not (x.is_cpu and keep.is_cpu)
        or x.dtype not in _KERNEL_DTYPES
        or x.nbytes < _KERNEL_BYTES
        or not x.is_contiguous()
        or x.is_neg()
    ):
        return None
    return _cpu.planes(x.shape, keep.shape)


def _on_memory(
    x: torch.Tensor, out: torch.Tensor, keep: torch.Tensor, rows: int, scale: float
) -> None:
    """The CPU kernel (compiled where numba is) on the tensors' memory; ``out`` may be ``x``."""
    x2 = (x.detach() if x.requires_grad else x).numpy().reshape(rows, -1)
    out2 = x2 if out is x else out.numpy().reshape(rows, -1)  # fresh: no grad
    keep1 = (keep.detach() if keep.requires_grad else keep).numpy().reshape(-1)
    # a boolean mask, or bernoulli_'s 0/1 noise read as words against the threshold 1
    threshold = None if keep1.dtype == np.bool_ else 1
    s = x2.dtype.type(scale)
    k = _cpu.compiled_for(x2)
    if x2.shape[1] == 1:  # an element-wise mask
        x1 = x2.reshape(-1)
        _cpu.select(x1, x1 if out2 is x2 else out2.reshape(-1), keep1, threshold, s, k)
    else:
        _cpu.scale_rows(x2, out2, keep1, threshold, s, k, threads=torch.get_num_threads())


def _kernel(x: torch.Tensor, keep: torch.Tensor, scale: float, inplace: bool) -> torch.Tensor:
    """The op's implementation on real tensors: the plane kernel where it applies."""
    rows = _rows(x, keep)
    if rows is None:
        return composite(x, keep, scale, inplace, eager=type(x) is torch.Tensor)
    out = x if inplace else torch.empty_like(x)
    _on_memory(x, out, keep, rows, scale)
    if inplace and not x.is_inference():
        torch.autograd.graph.increment_version(x)  # for autograd's in-place checks
    return out


@torch.library.custom_op("spatial_dropout::scaled_mask", mutates_args=())
def _scaled_mask_op(x: torch.Tensor, keep: torch.Tensor, scale: float) -> torch.Tensor:
    """``x * scale`` where ``keep`` (bool, or 0/1 noise), ``+0.0`` elsewhere."""
    return _kernel(x, keep, scale, False)


@_scaled_mask_op.register_fake
def _(x: torch.Tensor, keep: torch.Tensor, scale: float) -> torch.Tensor:
    return torch.empty_like(x)


def _setup(ctx: Any, inputs: tuple[Any, ...], output: torch.Tensor) -> None:
    _, keep, scale = inputs
    ctx.save_for_backward(keep)
    ctx.scale = scale


def _backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
    (keep,) = ctx.saved_tensors
    return scaled_mask(grad, keep, ctx.scale, False), None, None


_scaled_mask_op.register_autograd(_backward, setup_context=_setup)


@_scaled_mask_op.register_vmap
def _(
    info: Any, in_dims: tuple[int | None, ...], x: torch.Tensor, keep: torch.Tensor, scale: float
) -> tuple[torch.Tensor, int]:
    x_dim, keep_dim = in_dims[0], in_dims[1]
    x = x if x_dim is None else x.movedim(x_dim, 0)
    keep = keep if keep_dim is None else keep.movedim(keep_dim, 0)
    if x_dim is None:  # only the mask is batched: one x for every entry
        x = x.expand(info.batch_size, *x.shape)
    elif keep_dim is not None and keep.dim() < x.dim():
        keep = keep.reshape(keep.shape[0], *(1,) * (x.dim() - keep.dim()), *keep.shape[1:])
    return composite(x, keep, scale, False), 0


class _ScaledMask(torch.autograd.Function):
    """The op's autograd formula without the dispatcher, under ``torch.func`` transforms.

    The custom op's Python dispatch costs tens of microseconds a call; this costs a few.
    """

    @staticmethod
    def forward(x: torch.Tensor, keep: torch.Tensor, scale: float) -> torch.Tensor:
        return _kernel(x, keep, scale, False)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: torch.Tensor) -> None:
        _setup(ctx, inputs, output)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        return _backward(ctx, grad)


class _ScaledMaskEager(torch.autograd.Function):
    """The same with ``forward(ctx, ...)``, for calls outside ``torch.func`` transforms.

    A ``setup_context`` Function binds its arguments with ``inspect.signature`` on every call
    (``Function.apply``): about 10 us of a forward+backward on a 400 KB tensor.
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, keep: torch.Tensor, scale: float) -> torch.Tensor:
        out = _kernel(x, keep, scale, False)
        _setup(ctx, (x, keep, scale), out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        return _backward(ctx, grad)


def scaled_mask(x: torch.Tensor, keep: torch.Tensor, scale: float, inplace: bool) -> torch.Tensor:
    """Route one application of a mask: direct kernel, custom op, or aten composition.

    Below 16 KB the composition is used: there the kernel's and the Function's Python cost more
    than two aten ops (the bench's (1, 8, 4, 4) torch row times this path).
    """
    plain = _plain(x)
    if not plain or not x.is_cpu or x.nbytes < _KERNEL_BYTES:
        return composite(x, keep, scale, inplace, plain and not _watched())
    watched = _watched()
    if not (x.requires_grad and torch.is_grad_enabled()):
        if watched:
            return composite(x, keep, scale, inplace)
        return _kernel(x, keep, scale, inplace)
    if watched:
        out: torch.Tensor = _scaled_mask_op(x, keep, scale)
    elif torch._C._are_functorch_transforms_active():
        out = _ScaledMask.apply(x, keep, scale)  # type: ignore[no-untyped-call]
    else:
        out = _ScaledMaskEager.apply(x, keep, scale)  # type: ignore[no-untyped-call]
    return x.copy_(out) if inplace else out  # copy_ refuses a leaf's view before writing


# --------------------------------------------------------------------------- drawing a mask


def _portable_keep(
    device: torch.device, shape: list[int], seed: int, counter: int, threshold: int
) -> torch.Tensor:
    n = math.prod(shape)
    if device.type == "cpu":
        words = _cpu.words(n, seed, counter, _cpu.compiled_for())
        return torch.from_numpy(words >= threshold).reshape(shape)
    import array_api_compat.torch as xp

    words = random_words(xp, n, seed, counter, dtype=torch.int64, device=device)
    result: torch.Tensor = (words >= threshold).reshape(shape)
    return result


@torch.library.custom_op("spatial_dropout::portable_keep", mutates_args=())
def _portable_keep_op(
    like: torch.Tensor, state: torch.Tensor, shape: list[int], threshold: int
) -> torch.Tensor:
    """The portable keep mask of ``state = (seed, counter)`` on ``like``'s device."""
    seed, counter = (int(w) & _MASK64 for w in state.tolist())
    return _portable_keep(like.device, list(shape), seed, counter, threshold)


@_portable_keep_op.register_fake
def _(like: torch.Tensor, state: torch.Tensor, shape: list[int], threshold: int) -> torch.Tensor:
    return like.new_empty(shape, dtype=torch.bool)


@_portable_keep_op.register_vmap
def _(
    info: Any,
    in_dims: tuple[int | None, ...],
    like: torch.Tensor,
    state: torch.Tensor,
    shape: list[int],
    threshold: int,
) -> tuple[torch.Tensor, int | None]:
    if in_dims[1] is not None:
        v.batched_seed("spatial_dropout")
    if info.randomness == "error":
        v.random_under_vmap("spatial_dropout")
    if info.randomness == "same":
        return _portable_keep_op(like, state, shape, threshold), None
    # "different": entry b of the batch gets entry b of one mask drawn for (batch, *shape)
    return _portable_keep_op(like, state, [info.batch_size, *shape], threshold), 0


@torch.library.custom_op("spatial_dropout::portable_keep_at", mutates_args=())
def _portable_keep_at_op(
    like: torch.Tensor, index: torch.Tensor, state: torch.Tensor, threshold: int
) -> torch.Tensor:
    """The portable keep mask at the logical indices ``index`` (int64): ``offset=`` calls."""
    import array_api_compat.torch as xp

    seed, counter = (int(w) & _MASK64 for w in state.tolist())
    words = words_at(xp, index, *key_and_stream(seed, counter))
    result: torch.Tensor = words >= threshold
    return result


@_portable_keep_at_op.register_fake
def _(like: torch.Tensor, index: torch.Tensor, state: torch.Tensor, threshold: int) -> Any:
    return torch.empty_like(index, dtype=torch.bool)


@_portable_keep_at_op.register_vmap
def _(
    info: Any,
    in_dims: tuple[int | None, ...],
    like: torch.Tensor,
    index: torch.Tensor,
    state: torch.Tensor,
    threshold: int,
) -> tuple[torch.Tensor, None]:
    if in_dims[1] is not None or in_dims[2] is not None:
        v.batched_seed("spatial_dropout")
    if info.randomness != "same":  # a slice of one global mask: one mask for the whole batch
        v.random_under_vmap("spatial_dropout")
    return _portable_keep_at_op(like, index, state, threshold), None


@torch.library.custom_op(
    "spatial_dropout::take_",
    mutates_args=("state",),
    tags=(torch.Tag.nondeterministic_seeded,),  # a draw: partitioners never recompute it
)
def _take_op(state: torch.Tensor) -> torch.Tensor:
    """A ``Generator``'s draw in a compiled graph: ``(seed, counter)``, counter advanced."""

    def fresh() -> torch.Tensor:
        taken = state.clone()
        state[1] += 1
        return taken

    taken, _ = replayed("spatial_dropout", fresh, in_backward=v.compiled_recompute)
    return taken.clone()


@_take_op.register_fake
def _(state: torch.Tensor) -> torch.Tensor:
    return torch.empty_like(state)


def take(fn: str, source: Portable) -> Stream | torch.Tensor:
    """The call's stream: a :class:`Stream` of ints, or an int64 ``(seed, counter)`` tensor.

    A seed tensor, and a ``Generator`` under ``torch.compile`` (its counter tensor, advanced by
    ``take_`` in the graph), give a tensor, so that nothing recompiles. Eager draws of a
    ``Generator`` are replayed by checkpoint recomputes.
    """
    stream = source.stream
    if isinstance(stream, torch.Tensor):  # a 0-d integer seed tensor: counter 0
        seed_t = stream.detach().reshape(()).to(device="cpu", dtype=torch.int64)
        return torch.stack([seed_t, torch.zeros_like(seed_t)])
    if not isinstance(stream, Generator):
        return Stream(stream, 0)
    if _tracing():
        v.generator_under_jit_trace(fn)
    if not torch.compiler.is_compiling():
        taken, _ = replayed(fn, stream.next_stream)
        return Stream(*taken)
    if stream._tensor is None:
        return Stream(*stream._advance())  # no tensor attached: correct, but recompiles
    state: torch.Tensor = _take_op(stream._tensor)
    return state


def _state(drawn: Stream | torch.Tensor) -> torch.Tensor:
    if isinstance(drawn, torch.Tensor):
        return drawn
    seed, counter = drawn.seed, drawn.counter
    return torch.tensor([_signed(seed), _signed(counter)], dtype=torch.int64)


def portable_mask(
    x: torch.Tensor, shape: tuple[int, ...], threshold: int, drawn: Stream | torch.Tensor
) -> torch.Tensor:
    """The portable mask for ``x``: taken once, checkpoint-safe, compile-friendly."""
    dims = list(shape)
    x = x.detach()  # only its device and vmap's batching matter: the mask has no gradient
    if isinstance(drawn, Stream) and _plain(x) and not _watched():
        return _portable_keep(x.device, dims, drawn.seed, drawn.counter, threshold)
    around = _vmap_around(x)
    if around is not None:  # as the op's vmap rule, for an input vmap does not batch
        if around.randomness() == "error":
            v.random_under_vmap("spatial_dropout")
        if around.randomness() == "different":
            stacked = _portable_keep_op(x, _state(drawn), [around.batch_size(), *dims], threshold)
            batched: torch.Tensor = torch._C._functorch._add_batch_dim(stacked, 0, around.level())
            return batched
    keep: torch.Tensor = _portable_keep_op(x, _state(drawn), dims, threshold)
    return keep


def portable_mask_region(
    x: torch.Tensor,
    shape: tuple[int, ...],
    starts: tuple[Any, ...],
    box: tuple[int, ...],
    threshold: int,
    drawn: Stream | torch.Tensor,
) -> torch.Tensor:
    """The box at ``starts`` of the portable mask of ``shape`` (offsets may be tensors)."""
    import array_api_compat.torch as xp

    from .._reference import region_index

    around = _vmap_around(x)
    if around is not None and around.randomness() != "same":  # as portable_keep_at's rule
        v.random_under_vmap("spatial_dropout")
    index = region_index(xp, shape, starts, box, dtype=torch.int64, device=x.device)
    keep: torch.Tensor = _portable_keep_at_op(x.detach(), index, _state(drawn), threshold)
    return keep


def fused(x: torch.Tensor, plan: Plan, drawn: Stream | torch.Tensor, scale: float) -> Any:
    """Draw and apply inverted dropout in one call here, or None to decline.

    A framework generator's draw reaches the kernel as ``bernoulli_``'s 0/1 noise (no op to
    make booleans); a portable one as its boolean mask.
    """
    if not plan.portable:
        noise = native_noise(plan.fn, x, plan.shape, plan.rate, plan.generator)
        return scaled_mask(x, noise, scale, plan.inplace)
    if plan.keeps_nothing or not plan.whole:
        return None
    keep = portable_mask(x, plan.shape, plan.threshold, drawn)
    return scaled_mask(x, keep, scale, plan.inplace)


def _default_generator(device: torch.device) -> torch.Generator | None:
    if device.type == "cpu":
        return torch.default_generator
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        gen: torch.Generator = torch.cuda.default_generators[index]
        return gen
    return None  # other devices: checkpoint's preserve_rng_state restores their default


def native_noise(
    fn: str,
    x: torch.Tensor,
    shape: tuple[int, ...],
    p: float,
    generator: Any,
    drops: bool = False,
) -> torch.Tensor:
    """``F.dropout2d``'s draw (``empty(shape).bernoulli_(1 - p)``), replayed on recompute.

    ``drops``: ``bernoulli_(p)`` instead, 1 where dropped (torchvision's DropBlock seeds).
    """
    gen = generator
    if _recompute.maybe_checkpointed():  # (compiled graphs handle their random ops)
        drawn_from = generator if generator is not None else _default_generator(x.device)
        if drawn_from is not None:
            state, replay = replayed(fn, drawn_from.get_state)
            if replay:
                gen = torch.Generator(device=x.device)
                gen.set_state(state)
    q = p if drops else 1 - p
    if _vmap_around(x) is not None:  # out of place: vmap's randomness applies (in place, on
        return torch.bernoulli(x.new_full(shape, q), generator=gen)  # an unbatched tensor, no)
    if (
        torch.compiler.is_compiling()
        and generator is None
        and x.requires_grad
        and torch.is_grad_enabled()  # (an inference graph recomputes nothing)
    ):
        # In a checkpointed region: the partitioner replays a recomputed random op from the
        # forward's saved RNG state (functionalized RNG), at any memory budget. A draw outside
        # one is recomputed from the advanced state: another mask (F.dropout's, too).
        noise: torch.Tensor = _checkpoint(_bernoulli, x.detach(), shape, q, use_reentrant=False)
        return noise
    return x.new_empty(shape).bernoulli_(q, generator=gen)  # one line: jit.trace compares


def _bernoulli(like: torch.Tensor, shape: tuple[int, ...], q: float) -> torch.Tensor:
    return like.new_empty(shape).bernoulli_(q)
