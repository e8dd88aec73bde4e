"""JAX arrays and tracers: explicit keys, jit, grad, vmap and sharding.

JAX has no global random state, so a key (or a seed) is required. A key's data is the Philox
key: ``key=jax.random.PRNGKey(s)`` draws the same mask as ``generator=s`` on every backend. The
mask is computed element by element from an iota over the mask's shape, so under ``jit`` it is
traced (never baked in) and, with sharded data, computed where the data lives.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import array_api_compat as compat

from .. import _validation as v
from .._random._philox import words_at
from .._random._source import Key, Portable, Source
from .._scale import Transform, drop_threshold, keeps_nothing
from . import _reference as ref

_MASK32 = 0xFFFFFFFF


def _jax() -> Any:
    import jax

    return jax


class JaxBackend:
    """``jax.Array`` and tracers: a key (or an int seed) is required to draw a mask."""

    name = "jax.Array"
    default_stream: Literal["global", "native"] = "native"  # JAX has none: a key is needed
    max_entries = 2**32  # the logical index is a uint32 array

    @staticmethod
    def matches(x: object) -> bool:
        return bool(compat.is_jax_array(x))

    def mantissa(self, x: Any) -> int:
        import jax.numpy as jnp

        if not jnp.issubdtype(x.dtype, jnp.floating):
            return 0
        m = int(jnp.finfo(x.dtype).nmant)  # type: ignore[no-untyped-call]
        return m if m in (7, 10, 23, 52) else -1  # -1: float8 and other small formats

    def size(self, x: Any) -> int:
        return math.prod(x.shape)

    def why_not_writeable(self, x: Any) -> str | None:
        return "a jax.Array (immutable)"

    def can_advance(self, x: Any) -> bool:
        return not isinstance(x, _jax().core.Tracer)

    def native_source(self, generator: object) -> Source | None:
        words = _key_words(generator)
        return None if words is None else Key(words)

    def is_mask(self, x: Any, mask: object) -> bool:
        return self.matches(mask) and mask.dtype == bool  # type: ignore[attr-defined]

    def mask(self, fn: str, x: Any, shape: tuple[int, ...], p: float, source: Source) -> Any:
        if isinstance(source, Key):
            return self._keep(shape, p, source.words, (0, 0))
        if not isinstance(source, Portable):  # generator=None: JAX has no global stream
            v.needs_key(fn, not self.can_advance(x))
        seed, counter = source.take()
        key, stream = (seed & _MASK32, seed >> 32), (counter & _MASK32, counter >> 32)
        return self._keep(shape, p, key, stream)

    def _keep(self, shape: tuple[int, ...], p: float, key: Any, stream: tuple[int, int]) -> Any:
        import jax.numpy as jnp

        threshold = drop_threshold(p)
        if keeps_nothing(threshold):
            return jnp.zeros(shape, dtype=bool)
        index = jnp.arange(math.prod(shape), dtype=jnp.uint32).reshape(shape)
        words = words_at(jnp, index, key, stream)
        return words >= jnp.uint32(threshold)

    def dropout(
        self, fn: str, x: Any, shape: tuple[int, ...], p: float, source: Source, t: Transform,
        inplace: bool,
    ) -> Any:  # fmt: skip
        return self.apply(x, self.mask(fn, x, shape, p, source), t, inplace)

    def apply(self, x: Any, keep: Any, t: Transform, inplace: bool) -> Any:
        import jax.numpy as jnp

        return ref.apply(jnp, x, keep, t, inplace)

    def zeros(self, x: Any, inplace: bool) -> Any:
        import jax.numpy as jnp

        return jnp.zeros_like(x)

    def full(self, x: Any, shape: tuple[int, ...], value: bool) -> Any:
        import jax.numpy as jnp

        return jnp.full(shape, value, dtype=bool)


def _key_words(key: object) -> tuple[Any, Any] | None:
    """``(lo, hi)`` uint32 words of a typed ``jax.random.key`` or a raw ``PRNGKey``, or None."""
    jax = _jax()
    if not compat.is_jax_array(key):
        return None
    arr: Any = key
    words = 2  # a raw key is exactly a PRNGKey's two words; a typed key's impl may hold more
    if jax.dtypes.issubdtype(arr.dtype, jax.dtypes.prng_key):
        if arr.shape != ():
            return None
        arr = jax.random.key_data(arr)
        words = max(2, arr.shape[-1]) if arr.ndim == 1 else 2
    if arr.dtype != jax.numpy.uint32 or arr.shape != (words,):
        return None
    # PRNGKey(s) holds (s >> 32, s & 0xFFFFFFFF): read it as the 64-bit seed s
    return arr[-1], arr[-2]
