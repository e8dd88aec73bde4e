"""``Generator``: a seed and a call counter for the portable Philox stream; the global stream."""

from __future__ import annotations

import os
import sys
import threading
import weakref
from typing import Any

import numpy as np

from .._validation import check_seed

_MASK64 = 2**64 - 1
_live: weakref.WeakSet[Generator] = weakref.WeakSet()  # every Generator, for fork (below)
_live_lock = threading.Lock()


class Generator:
    """A reproducible source of dropout masks, the same on every backend and device.

    Each dropout call that draws a mask takes the next value of the generator's call counter; the
    mask entry with logical index ``i`` is then a pure function of ``(seed, counter, i)``
    (Philox4x32-10), so the same calls on the same shapes give the same masks on NumPy, PyTorch
    (CPU or CUDA), JAX and Dask, whatever the memory layout. Thread-safe: concurrent calls
    always receive distinct counters.

    Parameters
    ----------
    seed : int, optional
        An integer in ``[0, 2**64)``. ``None`` draws one from the operating system.
    counter : int, default 0
        The call counter to start from (``Generator(s, counter=k)`` continues a stream).

    Examples
    --------
    >>> import numpy as np, spatial_dropout as sd
    >>> x = np.ones((2, 4, 3, 3), dtype=np.float32)
    >>> a = sd.dropout2d(x, 0.5, generator=sd.Generator(7))
    >>> b = sd.dropout2d(x, 0.5, generator=sd.Generator(7))
    >>> bool((a == b).all())
    True
    """

    __slots__ = ("__weakref__", "_forks", "_lock", "_state", "_tensor")

    def __init__(self, seed: int | None = None, *, counter: int = 0) -> None:
        # (seed, counter) in one uint64 array, so that a torch tensor can share its memory: a
        # compiled graph then advances the counter in place, with no recompile (torch_state).
        self._state = np.array(
            [_seed("Generator", seed), _seed("Generator", counter, "counter")], dtype=np.uint64
        )
        self._tensor: Any = None
        self._forks = 0
        self._lock = threading.Lock()
        with _live_lock:
            _live.add(self)
        if "torch" in sys.modules:
            self.torch_state()

    @property
    def _seed(self) -> int:
        return int(self._state[0])

    @property
    def _counter(self) -> int:
        return int(self._state[1])

    def torch_state(self) -> Any:
        """``(seed, counter)`` as a CPU int64 ``torch.Tensor`` sharing this generator's memory.

        ``torch.compile`` treats it as a graph input: an op in the graph reads and advances it,
        so a counter that changes every step never recompiles (a Python int would).
        """
        if self._tensor is None:
            import torch

            self._tensor = torch.from_numpy(self._state.view(np.int64))
        return self._tensor

    @property
    def seed(self) -> int:
        """The 64-bit seed.

        >>> import spatial_dropout as sd
        >>> sd.Generator(9).seed
        9
        """
        return self._seed

    @property
    def counter(self) -> int:
        """How many mask-drawing calls this generator has served.

        >>> import numpy as np, spatial_dropout as sd
        >>> g = sd.Generator(0); _ = sd.dropout(np.ones(3), generator=g); g.counter
        1
        """
        return self._counter

    def manual_seed(self, seed: int) -> Generator:
        """Restart the stream from ``seed`` with the counter at 0; returns ``self``.

        >>> import spatial_dropout as sd
        >>> sd.Generator(1, counter=5).manual_seed(2)
        Generator(seed=2, counter=0)
        """
        seed = _seed("Generator.manual_seed", seed)
        with self._lock:
            self._state[:] = (seed, 0)
            self._forks = 0
        return self

    def next_stream(self) -> tuple[int, int]:
        """Reserve one call: return ``(seed, counter)`` and advance the counter, atomically.

        >>> import spatial_dropout as sd
        >>> g = sd.Generator(7)
        >>> g.next_stream(), g.next_stream(), g.counter
        ((7, 0), (7, 1), 2)
        """
        with self._lock:
            return self._advance()

    def _advance(self) -> tuple[int, int]:
        # Unlocked: for torch.compile, which cannot trace a lock (a compiled graph runs its
        # Python side effects, this one included, after the graph, on the calling thread).
        seed, counter = self._seed, self._counter
        self._state[1] = (counter + 1) & _MASK64
        return seed, counter

    def __fx_create_arg__(self, tracer: Any) -> Any:
        """``torch.fx``: record this generator as an attribute of the traced module.

        As FX records a tensor constant: the traced module then draws from this very
        generator, advancing it on every call (a copy would replay one mask forever).
        """
        root = tracer.root
        name = next(
            f"_spatial_dropout_generator{i}"
            for i in range(len(vars(root)) + 1)
            if getattr(root, f"_spatial_dropout_generator{i}", self) is self
        )
        setattr(root, name, self)
        return tracer.create_node("get_attr", name, (), {})

    def __getstate__(self) -> tuple[int, int]:
        return self._seed, self._counter

    def __setstate__(self, state: tuple[int, int]) -> None:
        self.__init__(state[0], counter=state[1])  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"Generator(seed={self._seed}, counter={self._counter})"

    # fork support: a child never replays its parent's stream (see _after_fork_in_child)
    def _before_fork(self) -> None:
        self._lock.acquire()

    def _after_fork_in_parent(self) -> None:
        self._forks += 1
        self._lock.release()

    def _after_fork_in_child(self) -> None:
        # A fresh lock (the inherited one is held); a seed derived from the parent's
        # (seed, counter, fork number): distinct from the parent's and from every sibling's,
        # yet reproducible when the parent was seeded with manual_seed.
        self._lock = threading.Lock()
        self._state[:] = (_derive_seed(self._seed, self._counter, self._forks), 0)
        self._forks = 0


def _seed(fn: str, value: object, name: str = "seed") -> int:
    if value is None and name == "seed":
        return int.from_bytes(os.urandom(8), "little")
    return check_seed(fn, value, name)


def _derive_seed(seed: int, counter: int, fork: int) -> int:
    import numpy as np

    from ._philox import philox4x32

    def word(v: int) -> np.ndarray:
        return np.array([v & 0xFFFFFFFF], dtype=np.uint32)

    tag = 0x666F726B  # "fork": keeps derived seeds off the counters of ordinary calls
    out = philox4x32(
        np, (word(counter), word(counter >> 32), word(fork), word(tag)), (seed, seed >> 32)
    )
    return int(out[0][0]) | (int(out[1][0]) << 32)


default_generator = Generator()


def attach_torch_state() -> None:
    """Give every live Generator its torch tensor (see ``Generator.torch_state``)."""
    with _live_lock:
        live = list(_live)
    for g in live:
        g.torch_state()


def manual_seed(seed: int) -> Generator:
    """Seed the global stream that NumPy and array-API inputs draw from when ``generator=None``.

    The global stream is itself a :class:`Generator`: after ``manual_seed(s)``, a NumPy, Dask or
    array-API call with ``generator=None`` draws exactly the mask of ``generator=Generator(s)``.
    PyTorch inputs follow ``torch.manual_seed`` instead (as ``F.dropout2d`` does), and JAX inputs
    need an explicit key.

    Parameters
    ----------
    seed : int
        An integer in ``[0, 2**64)``.

    Returns
    -------
    Generator
        The global generator, restarted at counter 0.

    Raises
    ------
    TypeError, ValueError
        ``seed`` is not an int in ``[0, 2**64)``.

    Examples
    --------
    >>> import numpy as np, spatial_dropout as sd
    >>> x = np.ones((4, 8, 2, 2))
    >>> _ = sd.manual_seed(0); a = sd.dropout2d(x)
    >>> _ = sd.manual_seed(0); b = sd.dropout2d(x)
    >>> bool((a == b).all())
    True
    """
    return default_generator.manual_seed(check_seed("manual_seed", seed))


# Every Generator is fork-safe: its lock is taken across fork (a child never inherits a held
# one), and in the child it continues from a derived seed, never replaying the parent's masks.
_forking: list[Generator] = []


def _before_fork() -> None:
    _live_lock.acquire()
    _forking[:] = list(_live)
    for g in _forking:
        g._before_fork()


def _after_fork_in_parent() -> None:
    for g in _forking:
        g._after_fork_in_parent()
    _forking.clear()
    _live_lock.release()


def _after_fork_in_child() -> None:
    global _live_lock
    for g in _forking:
        g._after_fork_in_child()
    _forking.clear()
    _live_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_before_fork,
        after_in_parent=_after_fork_in_parent,
        after_in_child=_after_fork_in_child,
    )
