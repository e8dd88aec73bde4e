"""JAX arrays and tracers: explicit keys, jit, grad, vmap and sharding.

JAX has no global random state, so a key (or a seed) is required. A key's data is the Philox
key: ``key=jax.random.PRNGKey(s)`` draws the same mask as ``generator=s`` on every backend. The
mask is computed element by element from an iota over the mask's shape, so under ``jit`` it is
traced (never baked in) and, with sharded data, computed where the data lives.
"""

from __future__ import annotations

import math
from typing import Any

import array_api_compat as compat

from .. import _validation as v
from .._random import Generator
from .._random._philox import words_at
from .._scale import drop_threshold
from ._array_api import ArrayAPIBackend

_MASK32 = 0xFFFFFFFF


def _jax() -> Any:
    import jax

    return jax


class JaxBackend(ArrayAPIBackend):
    name = "jax.Array"

    @staticmethod
    def matches(x: object) -> bool:
        return bool(compat.is_jax_array(x))

    def namespace(self, x: Any) -> Any:
        import jax.numpy as jnp

        return jnp

    def is_floating(self, x: Any) -> bool:
        import jax.numpy as jnp

        return bool(jnp.issubdtype(x.dtype, jnp.floating))

    def mantissa(self, x: Any) -> int:
        import jax.numpy as jnp

        return int(jnp.finfo(x.dtype).nmant)  # type: ignore[no-untyped-call]

    def size(self, x: Any) -> int:
        return math.prod(x.shape)

    def why_not_writeable(self, x: Any) -> str | None:
        return "a jax.Array (immutable)"

    def keep_mask(
        self, fn: str, x: Any, shape: tuple[int, ...], p: float, generator: object
    ) -> Any:
        jax = _jax()
        traced = isinstance(x, jax.core.Tracer)
        if generator is None:
            raise ValueError(
                f"{fn}(): a jax.Array needs an explicit `key` (JAX has no global random state)"
                + (
                    "; under jax.jit a mask drawn without one would be baked into the compiled "
                    "function"
                    if traced
                    else ""
                )
                + ".\n    Pass key=jax.random.key(0), or an int seed as generator=."
            )
        if isinstance(generator, Generator):
            if traced:
                raise ValueError(
                    f"{fn}(): a spatial_dropout.Generator cannot advance inside a traced JAX "
                    "function (jit, vmap, grad): its first mask would be baked in.\n    Pass "
                    "key=jax.random.key(seed) (the same mask as generator=seed elsewhere)."
                )
            return super().keep_mask(fn, x, shape, p, generator)
        if isinstance(generator, int) and not isinstance(generator, bool):
            return super().keep_mask(fn, x, shape, p, generator)
        key = _key_words(generator)
        if key is None:
            v.bad_generator(fn, generator, self.name)
        return self._keep(shape, p, key, (0, 0))

    def portable_keep(
        self, x: Any, shape: tuple[int, ...], p: float, seed: int, stream: int
    ) -> Any:
        key = (seed & _MASK32, seed >> 32)
        return self._keep(shape, p, key, (stream & _MASK32, stream >> 32))

    def _keep(self, shape: tuple[int, ...], p: float, key: Any, stream: tuple[int, int]) -> Any:
        import jax.numpy as jnp

        threshold = drop_threshold(p)
        if threshold > _MASK32:
            return jnp.zeros(shape, dtype=bool)
        index = jnp.arange(math.prod(shape), dtype=jnp.uint32).reshape(shape)
        words = words_at(jnp, index, key, stream)
        return words >= jnp.uint32(threshold)


def _key_words(key: object) -> tuple[Any, Any] | None:
    """``(lo, hi)`` uint32 words of a typed ``jax.random.key`` or a raw ``PRNGKey``, or None."""
    jax = _jax()
    if not compat.is_jax_array(key):
        return None
    arr: Any = key
    if jax.dtypes.issubdtype(arr.dtype, jax.dtypes.prng_key):
        if arr.shape != ():
            return None
        arr = jax.random.key_data(arr)
    if arr.dtype != jax.numpy.uint32 or arr.ndim != 1 or arr.shape[0] < 2:
        return None
    # PRNGKey(s) holds (s >> 32, s & 0xFFFFFFFF): read it as the 64-bit seed s
    return arr[-1], arr[-2]
