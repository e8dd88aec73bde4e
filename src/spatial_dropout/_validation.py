"""Every user-facing error message, in one place. Nothing here touches the input.

Each check or raiser takes ``fn``, the public name the user called (``dropout2d``,
``Dropout2d``, ``manual_seed``...), so that every message starts with it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from numbers import Real
from typing import Any, NoReturn

DATA_FORMATS = ("channels_first", "channels_last")
SUPPORTED = "numpy.ndarray, torch.Tensor, jax.Array, dask.array.Array, or any array-API array"
_MASK64 = 2**64 - 1


def type_name(obj: object) -> str:
    """``list``, ``numpy.ndarray``, ``torch.Tensor``: the type as users write it."""
    cls = type(obj)
    public = [part for part in cls.__module__.split(".") if not part.startswith("_")]
    if public in ([], ["builtins"]):
        return cls.__name__
    return ".".join([*public[:2], cls.__name__])


def check_p(fn: str, p: object) -> float:
    """``p`` as a float in ``[0, 1]``."""
    if type(p) is float and 0.0 <= p <= 1.0:  # the common case, without the ABC check
        return p
    if isinstance(p, bool) or not isinstance(p, Real):
        msg = f"{fn}(): `p` must be a real number in [0, 1]; got {p!r} ({type_name(p)})"
        raise TypeError(msg)
    try:
        value = float(p)
    except OverflowError:  # 10**400, a huge Fraction: far outside [0, 1]
        value = math.inf
    if math.isnan(value) or not 0.0 <= value <= 1.0:
        msg = f"{fn}(): `p` must be a probability in [0, 1]; got {p!r}"
        raise ValueError(msg)
    return value


def check_bool(fn: str, name: str, value: object) -> bool:
    """``value`` if it is a Python bool (not ``1``, not ``numpy.bool_``)."""
    if value is True or value is False:
        return value
    msg = f"{fn}(): `{name}` must be a bool; got {value!r} ({type_name(value)})"
    raise TypeError(msg)


def check_data_format(fn: str, data_format: object) -> str:
    """``'channels_first'`` or ``'channels_last'``."""
    if type(data_format) is str and data_format in DATA_FORMATS:
        return data_format
    msg = f"{fn}(): `data_format` must be 'channels_first' or 'channels_last'; got {data_format!r}"
    raise ValueError(msg)


def check_choice(fn: str, name: str, value: object, choices: Iterable[str]) -> str:
    """``value`` if it is one of ``choices`` (strings)."""
    allowed = tuple(choices)
    if type(value) is str and value in allowed:
        return value
    msg = f"{fn}(): `{name}` must be one of {', '.join(allowed)}; got {value!r}"
    raise ValueError(msg)


def check_seed(fn: str, seed: object, name: str = "seed") -> int:
    """An integer seed (or counter) in ``[0, 2**64)``."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        msg = f"{fn}(): `{name}` must be an int in [0, 2**64); got {seed!r} ({type_name(seed)})"
        raise TypeError(msg)
    if not 0 <= seed <= _MASK64:
        msg = f"{fn}(): `{name}` must be in [0, 2**64); got {seed}"
        raise ValueError(msg)
    return int(seed)


def check_threads(fn: str, n: object) -> int:
    """A thread count: an int >= 1."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        msg = f"{fn}(): `n` must be an int >= 1; got {n!r}"
        raise ValueError(msg)
    return n


def check_env(name: str, value: str) -> int:
    """An environment variable that must hold an integer >= 1."""
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        msg = f"${name} must be an integer >= 1; got {value!r}"
        raise ValueError(msg)
    return n


def not_an_array(fn: str, obj: object) -> NoReturn:
    """``input`` is not an array of a supported library."""
    hint = ""
    if type_name(obj) == "numpy.matrix":
        hint = "\n    numpy.matrix is not supported: use numpy.asarray(x)."
    elif type_name(obj).startswith("numpy."):  # a NumPy scalar
        hint = "\n    Use numpy.asarray(x) for a 0-d array."
    elif isinstance(obj, (list, tuple)):
        hint = "\n    Convert it first, for example with numpy.asarray(x)."
    msg = f"{fn}(): `input` must be an array ({SUPPORTED}); got {type_name(obj)}{hint}"
    raise TypeError(msg)


def not_floating(fn: str, dtype: Any, other_float: bool = False) -> NoReturn:
    """Dropout in training needs a float16, bfloat16, float32 or float64 dtype."""
    if other_float:
        msg = (
            f"{fn}(): dropout in training with 0 < p takes float16, bfloat16, float32 or float64 "
            f"`input`; got dtype {dtype}\n    Cast it first, for example x.astype(numpy.float32)."
        )
        raise TypeError(msg)
    msg = (
        f"{fn}(): dropout in training with 0 < p needs a floating-point `input`; got dtype {dtype}"
        "\n    Cast it first, for example x.astype(numpy.float32)."
    )
    raise TypeError(msg)


def not_writeable(fn: str, what: str) -> NoReturn:
    """``inplace=True`` on an array that cannot be written."""
    msg = (
        f"{fn}(): inplace=True, but {what} cannot be written; the input is unchanged."
        "\n    Use inplace=False."
    )
    raise ValueError(msg)


def bad_generator(fn: str, generator: object, backend: str) -> NoReturn:
    """A ``generator`` of a kind that this input's framework cannot use."""
    msg = (
        f"{fn}(): `generator` must be None, an int seed, a spatial_dropout.Generator, or the "
        f"native generator of the input's framework; got {type_name(generator)} for an input "
        f"of type {backend}"
    )
    raise TypeError(msg)


def generator_and_key(fn: str) -> NoReturn:
    """Both ``generator`` and ``key`` were given."""
    msg = f"{fn}(): pass `generator` or `key`, not both"
    raise TypeError(msg)


def generator_under_trace(fn: str) -> NoReturn:
    """A stateful ``Generator`` inside a traced JAX function."""
    msg = (
        f"{fn}(): a spatial_dropout.Generator cannot advance inside a traced JAX function (jit, "
        "vmap, grad): its first mask would be baked in.\n    Pass key=jax.random.key(seed) (the "
        "same mask as generator=seed elsewhere)."
    )
    raise ValueError(msg)


def needs_key(fn: str, traced: bool) -> NoReturn:
    """A JAX array without a key."""
    baked = (
        "; under jax.jit a mask drawn without one would be baked into the compiled function"
        if traced
        else ""
    )
    msg = (
        f"{fn}(): a jax.Array needs an explicit `key` (JAX has no global random state){baked}."
        "\n    Pass key=jax.random.key(0), or an int seed as generator=."
    )
    raise ValueError(msg)


def too_many_entries(fn: str, n: int, limit: int) -> NoReturn:
    """A portable mask beyond the Philox counter's range."""
    msg = (
        f"{fn}(): the portable generator supports at most 2**{limit.bit_length() - 1} mask "
        f"entries; got {n}"
    )
    raise ValueError(msg)


def bad_mask(fn: str, mask_shape: tuple[int, ...], input_shape: tuple[int, ...]) -> NoReturn:
    """``apply_mask``'s mask does not broadcast to the input."""
    msg = (
        f"{fn}(): `mask` of shape {mask_shape} does not broadcast to `input` of shape {input_shape}"
    )
    raise ValueError(msg)


def bad_mask_type(fn: str, mask: object) -> NoReturn:
    """``apply_mask``'s mask is not a boolean array of the input's library."""
    what = type_name(mask)
    dtype = getattr(mask, "dtype", None)
    got = f"{what} of dtype {dtype}" if dtype is not None else what
    msg = f"{fn}(): `mask` must be a boolean array of the input's library; got {got}"
    raise TypeError(msg)


def unknown_option(fn: str, name: object, accepted: Iterable[str]) -> NoReturn:
    """A key of the options mapping that is not an option."""
    msg = f"{fn}(): unknown option {name!r} in the options mapping; accepted: {', '.join(accepted)}"
    raise TypeError(msg)


def not_for_variant(fn: str, name: str, which: str) -> NoReturn:
    """A layer argument that this variant does not take."""
    msg = f"{fn}(): `{name}` applies only to {which}"
    raise ValueError(msg)


def bad_rngs(fn: str, rngs: object) -> NoReturn:
    """Flax: ``rngs`` of the wrong type."""
    msg = f"{fn}(): `rngs` must be nnx.Rngs, nnx.RngStream or None; got {type_name(rngs)}"
    raise TypeError(msg)


def no_randomness(fn: str, what: str) -> NoReturn:
    """A layer in training mode that was given nothing to draw its mask from."""
    msg = f"{fn}(): {what}"
    raise ValueError(msg)


def is_dropout_module(fn: str, name: str) -> NoReturn:
    """``replace_dropout`` on a dropout module itself."""
    msg = (
        f"{fn}(): `model` is itself a dropout module; wrap it in a container, or build "
        f"spatial_dropout.torch.{name} directly"
    )
    raise TypeError(msg)


def recompute_mismatch(fn: str, recorded: int) -> NoReturn:
    """A checkpoint's recompute asks for a mask its forward did not draw."""
    msg = (
        f"{fn}(): a checkpoint recompute asked for mask number {recorded + 1}, but the "
        f"checkpointed forward drew {recorded}; the backward would use another mask than the "
        "forward.\n    The recomputed function must draw the same masks in the same order (or "
        "pass an int seed, which needs no record)."
    )
    raise RuntimeError(msg)


def generator_under_jit_trace(fn: str) -> NoReturn:
    """A stateful generator under ``torch.jit.trace``, which would record one counter."""
    msg = (
        f"{fn}(): torch.jit.trace would record this call's generator counter as a constant, so "
        "the traced module would replay one mask forever.\n    Use generator=None (torch's "
        "stream, recorded as a random op) or torch.compile, which advances the generator."
    )
    raise RuntimeError(msg)


def random_under_vmap(fn: str) -> NoReturn:
    """A mask drawn under ``torch.vmap(randomness="error")``, as torch's own dropout refuses."""
    msg = (
        f"{fn}(): vmap: called random operation while in randomness error mode. Pass "
        "randomness='same' (one mask for every batch entry) or 'different' (a mask each) to "
        "torch.vmap."
    )
    raise RuntimeError(msg)


def batched_seed(fn: str) -> NoReturn:
    """A seed tensor that vmap batches."""
    msg = f"{fn}(): the generator's seed cannot be batched by torch.vmap; pass one seed."
    raise ValueError(msg)


def torch_changed(what: str) -> NoReturn:
    """A torch release moved what checkpoint-safety reads (tested against the pinned torch)."""
    msg = (
        f"spatial_dropout cannot keep masks exact under checkpointing with this torch: {what}. "
        "Install a torch release spatial_dropout supports."
    )
    raise ImportError(msg)


def compiled_recompute(fn: str) -> NoReturn:
    """A compiled backward re-runs a ``Generator``'s draw (activation checkpointing)."""
    msg = (
        f"{fn}(): a compiled backward is recomputing a spatial_dropout.Generator's draw "
        "(torch.utils.checkpoint under torch.compile); it would read the advanced counter and "
        "use another mask than the forward.\n    Inside a compiled checkpoint pass an int seed "
        "or a seed tensor (generator=torch.tensor(step)), or generator=None (torch's stream)."
    )
    raise RuntimeError(msg)


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


def bad_data_parallel(fn: str, value: object) -> NoReturn:
    """A layer's ``data_parallel`` that is neither a bool nor a process group."""
    msg = (
        f"{fn}(): `data_parallel` must be True, False or a torch.distributed ProcessGroup; got "
        f"{value!r} ({type_name(value)})"
    )
    raise TypeError(msg)


def dtensor_needs_portable(fn: str) -> NoReturn:
    """A DTensor with torch's generator: a shard's part of the mask needs the portable stream."""
    msg = (
        f"{fn}(): a DTensor needs a portable generator (an int seed or a "
        "spatial_dropout.Generator, the same on every rank): each rank computes its shard's "
        "part of the whole tensor's mask, which the portable stream addresses by position and "
        "torch's generator, drawing in sequence, cannot."
    )
    raise ValueError(msg)


def dtensor_partial(fn: str, placements: object) -> NoReturn:
    """A DTensor with a ``Partial`` placement: dropout of partial sums is not dropout."""
    msg = (
        f"{fn}(): a DTensor with a Partial placement ({placements}) holds partial sums; "
        "dropout of each is not dropout of their sum (alpha dropout adds a constant). "
        "Redistribute to Replicate or Shard first."
    )
    raise ValueError(msg)
