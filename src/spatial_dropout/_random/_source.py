"""Where a call's random bits come from: the ``generator`` argument, resolved once per call.

Every public function turns ``generator=`` (and JAX's ``key=``) into one of three small values
at its very top, under its own name, before anything else happens; backends receive that value
and never sort generators themselves:

- :class:`Portable`: the portable Philox stream, ``(seed, counter)``; from an ``int`` seed (a
  fresh ``Generator(seed)``), a ``Generator``, or ``None`` where the input's framework has no
  generator of its own (NumPy, Dask, array-API libraries: the global ``Generator``).
- :class:`Native`: a framework's own generator, drawn exactly as that framework draws; ``None``
  inside means the framework's default one (torch's, for ``generator=None`` on a tensor).
- :class:`Key`: a JAX key's data words (traced under ``jit``), on the portable stream 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import _validation as v
from ._generator import Generator, default_generator

if TYPE_CHECKING:
    from .._backends import Backend


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


Source = Portable | Native | Key
_GLOBAL = Portable(default_generator)  # generator=None where the framework has no generator
_DEFAULT = Native()


def resolve(fn: str, generator: object, key: object, backend: Backend, x: object) -> Source:
    """Turn ``generator``/``key`` into a :data:`Source` for ``backend``, or raise naming ``fn``.

    Runs on every call, also where no mask is drawn (eval, ``p`` of 0 or 1), so that a bad
    generator is never accepted silently.
    """
    if key is not None:
        if generator is not None:
            v.generator_and_key(fn)
        generator = key
    if generator is None:
        return _GLOBAL if backend.default_stream == "global" else _DEFAULT
    if isinstance(generator, Generator):
        if not backend.can_advance(x):
            v.generator_under_trace(fn)
        return Portable(generator)
    if isinstance(generator, int) and not isinstance(generator, bool):
        return Portable(v.check_seed(fn, generator))
    native = backend.native_source(generator)
    if native is None:
        v.bad_generator(fn, generator, backend.name)
    return native
