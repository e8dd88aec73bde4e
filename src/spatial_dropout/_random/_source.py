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

_MASK32 = 0xFFFFFFFF


@dataclass(frozen=True)
class Stream:
    """One call's Philox key and counter words, ``(lo, hi)`` each: ints, or traced uint32 arrays.

    ``ints`` is ``(seed, counter)`` as Python ints where they are known (not a traced key).

    >>> Stream.of(2**32 + 5, 7)
    Stream(key=(5, 1), counter=(7, 0), ints=(4294967301, 7))
    """

    key: tuple[Any, Any]
    counter: tuple[Any, Any]
    ints: tuple[int, int] = (0, 0)

    @staticmethod
    def of(seed: int, counter: int) -> Stream:
        """The words of a 64-bit seed and call counter."""
        return Stream(
            (seed & _MASK32, seed >> 32), (counter & _MASK32, counter >> 32), (seed, counter)
        )


@dataclass(frozen=True)
class Portable:
    """The portable stream of an ``int`` seed (counter 0) or of a ``Generator``.

    A backend may also pass its own seed object (torch: a 0-d integer tensor, counter 0) that it
    takes itself (``Backend.take``); ``draw`` is for ``int`` and ``Generator``.
    """

    stream: int | Generator | Any

    def draw(self) -> Stream:
        """The call's :class:`Stream` (a ``Generator`` advances by one, atomically)."""
        g = self.stream
        return Stream.of(*(g.next_stream() if isinstance(g, Generator) else (int(g), 0)))


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
