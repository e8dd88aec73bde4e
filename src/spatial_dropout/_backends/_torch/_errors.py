"""Torch's own errors: tracing, ``vmap``, checkpoint recomputes, DTensor, layers."""

from __future__ import annotations

from typing import NoReturn

from ..._validation import type_name


def is_dropout_module(fn: str, name: str) -> NoReturn:
    """``replace_dropout`` on a dropout module itself."""
    msg = (
        f"{fn}(): `model` is itself a dropout module; wrap it in a container, or build "
        f"spatial_dropout.torch.{name} directly"
    )
    raise TypeError(msg)


def not_scriptable(name: str) -> NoReturn:
    """``torch.jit.script`` of a model holding one of our layers (``__prepare_scriptable__``).

    TorchScript cannot compile it: the engine is Python.
    """
    msg = (
        f"torch.jit.script cannot compile spatial_dropout.torch.{name}: the library runs in "
        "Python, which TorchScript does not take.\n    Use torch.export.export(model, args) "
        "(the exported program draws a fresh mask on every call) or torch.compile; TorchScript "
        "is deprecated in PyTorch."
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


def not_dense(fn: str, x: object) -> NoReturn:
    """A sparse, mkldnn or nested tensor: a mask is drawn and applied by logical index."""
    kind = "nested" if getattr(x, "is_nested", False) else str(getattr(x, "layout", "?"))
    msg = (
        f"{fn}(): `input` must be a dense (torch.strided) tensor; got a {kind} tensor.\n    "
        "Convert it with .to_dense() (or drop a sparse tensor's stored values: "
        "sd.dropout(t.values(), p), then rebuild it with the same indices)."
    )
    raise TypeError(msg)


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
