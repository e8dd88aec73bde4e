"""Where a call's random bits come from: the ``generator`` argument, resolved once per call.

The engine (``_plan.py``) turns ``generator=`` (and JAX's ``key=``) into one of three small values
before anything else happens; backends receive what the engine draws from it and never sort
generators themselves:

- :class:`Portable`: the portable Philox stream, ``(seed, counter)``; from an ``int`` seed (a
  fresh ``Generator(seed)``), a ``Generator``, or ``None`` where the input's framework has no
  generator of its own (NumPy, Dask, array-API libraries: the global ``Generator``).
- :class:`Native`: a framework's own generator, drawn exactly as that framework draws; ``None``
  inside means the framework's default one (torch's, for ``generator=None`` on a tensor).
- :class:`Key`: a JAX key's data words (traced under ``jit``), on the portable stream 0.

A portable draw hands the backend a :class:`Stream`: the Philox key and counter words.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._generator import Generator, default_generator
from ._philox import key_and_stream


@dataclass(frozen=True)
class Stream:
    """One call's Philox key and counter words, ``(lo, hi)`` each: ints, or traced uint32 arrays.

    >>> Stream.of(2**32 + 5, 7)
    Stream(key=(5, 1), counter=(7, 0))
    >>> Stream.of(2**32 + 5, 7).ints()
    (4294967301, 7)
    """

    key: tuple[Any, Any]
    counter: tuple[Any, Any]

    @staticmethod
    def of(seed: int, counter: int) -> Stream:
        """The words of a 64-bit seed and call counter."""
        return Stream(*key_and_stream(seed, counter))

    def ints(self) -> tuple[int, int]:
        """``(seed, counter)`` as Python ints (only for a stream of ints)."""
        (k0, k1), (c0, c1) = self.key, self.counter
        return int(k0) | int(k1) << 32, int(c0) | int(c1) << 32


@dataclass(frozen=True)
class Portable:
    """The portable stream of an ``int`` seed (counter 0) or of a ``Generator``.

    A backend may also pass its own seed object (torch: a 0-d integer tensor, counter 0) that it
    handles itself; ``take`` is for ``int`` and ``Generator``.
    """

    stream: int | Generator | Any

    def take(self, *, locked: bool = True) -> tuple[int, int]:
        """``(seed, counter)`` of this call; a ``Generator`` advances by one, atomically.

        ``locked=False`` is for ``torch.compile``, which cannot trace a lock (a compiled graph
        replays this side effect after the graph, on the calling thread).
        """
        g = self.stream
        if isinstance(g, Generator):
            return g.next_stream() if locked else g._advance()
        return int(g), 0


@dataclass(frozen=True)
class Native:
    """A framework's own generator (``None``: the framework's default generator)."""

    generator: Any = None


@dataclass(frozen=True)
class Key:
    """A JAX key's uint32 data (maybe traced): its last two words are the Philox key (lo, hi)."""

    data: Any

    def stream(self) -> Stream:
        """The key's words on the portable stream 0."""
        return Stream((self.data[-1], self.data[-2]), (0, 0))


Source = Portable | Native | Key
GLOBAL = Portable(default_generator)  # generator=None where the framework has no generator
DEFAULT = Native()
