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
from typing import Any, NamedTuple

from ._generator import Generator, default_generator

_MASK32 = 0xFFFFFFFF


class Stream(NamedTuple):
    """One call's Philox stream: a 64-bit seed and call counter, or a JAX key's (traced) words.

    >>> Stream(2**32 + 5, 7).key, Stream(2**32 + 5, 7).counter_words
    ((5, 1), (7, 0))
    """

    seed: int
    counter: int
    traced_key: tuple[Any, Any] | None = None
    """A JAX key's ``(lo, hi)`` key words (maybe traced); ``seed`` is then unused."""

    @property
    def key(self) -> tuple[Any, Any]:
        """Philox's key words ``(lo, hi)``."""
        if self.traced_key is not None:
            return self.traced_key
        return self.seed & _MASK32, self.seed >> 32

    @property
    def counter_words(self) -> tuple[int, int]:
        """The call counter's words ``(lo, hi)``."""
        return self.counter & _MASK32, self.counter >> 32


class Portable(NamedTuple):
    """The portable stream of an ``int`` seed (counter 0) or of a ``Generator``.

    A backend may also pass its own seed object (torch: a 0-d integer tensor, counter 0) that it
    takes itself (``Backend.take``); ``draw`` is for ``int`` and ``Generator``.
    """

    stream: int | Generator | Any

    def draw(self) -> Stream:
        """The call's :class:`Stream` (a ``Generator`` advances by one, atomically)."""
        g = self.stream
        return Stream(*g.next_stream()) if isinstance(g, Generator) else Stream(int(g), 0)


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
        return Stream(0, 0, (self.data[-1], self.data[-2]))


Source = Portable | Native | Key
GLOBAL = Portable(default_generator)  # generator=None where the framework has no generator
DEFAULT = Native()
