"""Recomputation never changes a mask: a checkpoint's recompute replays its forward's draws.

``torch.utils.checkpoint`` re-runs a forward to rebuild what the backward needs. It restores
torch's default generators first (``preserve_rng_state``), but nothing else: a
``spatial_dropout.Generator`` or an explicit ``torch.Generator`` would advance again and the
backward would use another mask than the forward, silently. So every draw of a mask made inside
a checkpointed forward is recorded on that checkpoint (a ``(seed, counter)`` pair, or a torch
generator's state), and the recompute replays the records in order.

Which checkpoint a call belongs to is read from the Python stack: the frames of
``checkpoint()`` (non-reentrant forward: its ``_CheckpointFrame``), of the unpack hook that
recomputes it, and of ``CheckpointFunction.forward``/``backward`` (reentrant: its ``ctx``).
A compiled graph (AOTAutograd's ``CompiledFunction``) is paired the same way, by the ``ctx`` of
its ``forward`` and ``_backward_impl``: a draw the partitioner recomputes in the backward
(``torch.utils.checkpoint`` under compile, a memory budget) replays the forward's.
Nested checkpoints work: a draw is recorded on every checkpoint forward it is inside, and a
recompute that creates new inner checkpoints records on those too. A recompute that asks for
a draw its forward did not record raises ``RuntimeError`` instead of drawing another mask.

The stack is read only where a checkpoint can be at work: saved-tensor hooks active
(non-reentrant), grad disabled (a reentrant forward) or inside a backward (a recompute).
"""

from __future__ import annotations

import inspect
import sys
import weakref
from collections.abc import Callable
from types import CodeType, FrameType
from typing import Any, TypeVar

import torch
import torch.utils.checkpoint as _ckpt

from . import _errors as v

T = TypeVar("T")

_tapes: weakref.WeakKeyDictionary[Any, list[Any]] = weakref.WeakKeyDictionary()
_positions: weakref.WeakKeyDictionary[Any, dict[Any, int]] = weakref.WeakKeyDictionary()


def _nested_code(outer: CodeType, name: str) -> CodeType:
    for const in outer.co_consts:
        if isinstance(const, CodeType) and const.co_name == name:
            return const
    v.torch_changed(f"torch.utils.checkpoint has no {name} in {outer.co_name}")


_FORWARD = inspect.unwrap(_ckpt.checkpoint).__code__  # non-reentrant: locals gen -> new_frame
_RECOMPUTE = _nested_code(_ckpt._checkpoint_hook.__init__.__code__, "unpack_hook")
_FORWARD_REENTRANT = _ckpt.CheckpointFunction.forward.__code__
_RECOMPUTE_REENTRANT = _ckpt.CheckpointFunction.backward.__code__
_CODES = (_FORWARD, _RECOMPUTE, _FORWARD_REENTRANT, _RECOMPUTE_REENTRANT)
# torch.compile's autograd Function (AOTAutograd): a forward whose backward may recompute a draw
_COMPILED = "torch/_functorch/_aot_autograd/runtime_wrappers.py"
_COMPILED_FORWARD, _COMPILED_BACKWARD = "forward", "_backward_impl"


def maybe_checkpointed() -> bool:
    """Whether a checkpoint can be at work around this call (cheap; see the module notes)."""
    if torch.compiler.is_compiling() or torch.is_inference_mode_enabled():
        return False
    return (
        not torch.is_grad_enabled()
        or torch._C._current_graph_task_id() != -1
        or torch._C._autograd._top_saved_tensors_default_hooks(True) is not None
    )


def _walk() -> tuple[list[Any], tuple[Any, Any] | None]:
    """Checkpoint forwards around this call (innermost first), and the recompute it is in.

    The recompute is ``(checkpoint key, session token)``; the forwards are those entered inside
    that recompute (or all of them, outside any recompute).
    """
    forwards: list[Any] = []
    frame: FrameType | None = sys._getframe(2)
    while frame is not None:
        code = frame.f_code
        if code.co_filename.endswith(_COMPILED) and "ctx" in frame.f_locals:
            if code.co_name == _COMPILED_FORWARD:
                forwards.append(frame.f_locals["ctx"])
            elif code.co_name == _COMPILED_BACKWARD:  # the partitioner recomputes the draw
                return forwards, (frame.f_locals["ctx"], id(frame.f_locals.get("all_args")))
        elif code in _CODES:
            local = frame.f_locals
            if code is _FORWARD:
                gen = local.get("gen")
                inner = getattr(gen, "gi_frame", None)
                ckpt = inner.f_locals.get("new_frame") if inner is not None else None
                if ckpt is not None:
                    forwards.append(ckpt)
            elif code is _FORWARD_REENTRANT:
                forwards.append(local["ctx"])
            elif code is _RECOMPUTE:
                return forwards, (local["frame"], local["gid"])
            else:  # reentrant backward: one recompute per call; its inputs tuple marks it
                return forwards, (local["ctx"], id(local.get("detached_inputs")))
        frame = frame.f_back
    return forwards, None


def replayed(
    fn: str, fresh: Callable[[], T], in_backward: Callable[[str], None] | None = None
) -> tuple[T, bool]:
    """``(fresh(), False)``, recorded on the checkpoints around this call.

    In a checkpoint's recompute, ``(what the forward got, True)`` instead, without ``fresh()``.
    ``in_backward(fn)`` is called (to raise) for a draw inside a backward that is no eager
    checkpoint's recompute: a compiled graph recomputing it, which nothing can pair with its
    forward.
    """
    if not maybe_checkpointed():
        return fresh(), False
    forwards, recompute = _walk()
    if recompute is None:
        if in_backward is not None and torch._C._current_graph_task_id() != -1:
            in_backward(fn)
        value = fresh()
    else:
        key, token = recompute
        tape = _tapes.get(key, [])
        seen = _positions.setdefault(key, {})
        i = seen.get(token, 0)
        if i >= len(tape):
            v.recompute_mismatch(fn, len(tape))
        seen[token] = i + 1
        value = tape[i]
    for key in forwards:
        _tapes.setdefault(key, []).append(value)
    return value, recompute is not None
