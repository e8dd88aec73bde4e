"""JAX arrays and tracers: explicit keys, jit, grad, vmap and sharding.

JAX has no global random state, so a key (or a seed) is required. A key's data is the Philox
key: ``key=jax.random.PRNGKey(s)`` draws the same mask as ``generator=s`` on every backend. The
mask is computed element by element from an iota over the mask's shape, so under ``jit`` it is
traced (never baked in) and, with sharded data, computed where the data lives.
"""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING, Any, Literal

import array_api_compat as compat
import numpy as np

from ..._random._philox import words_at
from ..._random._source import Key, Source, Stream
from ..._scale import Transform
from ..._variants import Shape
from .. import _reference as ref
from .._contract import Defaults
from ._errors import generator_under_trace, needs_key

if TYPE_CHECKING:
    from ..._plan import Plan


def _jax() -> Any:
    import jax

    return jax


class JaxBackend(Defaults):
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

    @staticmethod
    def check_generator(fn: str, x: Any) -> None:
        if isinstance(x, _jax().core.Tracer):  # its first mask would be baked in
            generator_under_trace(fn)

    def native_source(self, generator: object) -> Source | None:
        data = _key_data(generator)
        return None if data is None else Key(data)

    def native_keep(
        self, fn: str, x: Any, shape: Shape, rate: float, generator: Any, drops: bool = False
    ) -> Any:
        needs_key(fn, isinstance(x, _jax().core.Tracer))  # generator=None: JAX has no stream

    def is_mask(self, x: Any, mask: object) -> bool:
        return self.matches(mask) and mask.dtype == bool  # type: ignore[attr-defined]

    def portable_keep(
        self,
        x: Any,
        shape: Shape,
        starts: tuple[Any, ...],
        box: Shape,
        threshold: int,
        stream: Stream,
    ) -> Any:
        import jax.numpy as jnp

        if box == shape and all(isinstance(s, int) for s in starts):
            return _compiled_keep()(*_words(stream), shape=shape, threshold=threshold)
        return ref.keep_mask_region(
            jnp, shape, starts, box, threshold, stream.key, stream.counter_words, dtype=jnp.uint32
        )

    def fused(self, x: Any, plan: Plan, drawn: Stream | Any, t: Transform | None) -> Any:
        """Mask and multiply as one compiled function (one compile for a new shape)."""
        if (
            t is None
            or not plan.portable
            or plan.keeps_nothing
            or not plan.whole
            or not t.constant
            or t.alpha
            or x.size == 0
        ):
            return None
        return _compiled_dropout()(
            x, *_words(drawn), shape=plan.shape, threshold=plan.threshold, a=t.a
        )

    def apply(self, x: Any, keep: Any, t: Transform, inplace: bool) -> Any:
        import jax.numpy as jnp

        if not t.alpha:
            if not t.constant:  # an array scale: traced, never a compile per value
                return ref.apply(jnp, x, keep, t, inplace)
            return _compiled_apply()(x, keep, a=t.a)
        if x.size == 0:
            return ref.apply(jnp, x, keep, t, inplace)
        dropped = jnp.full((), t.b_drop, dtype=x.dtype)
        return jnp.where(keep, _rounded_product(t.a)(x) + t.b_keep, dropped)

    def zeros(self, x: Any, inplace: bool) -> Any:
        import jax.numpy as jnp

        return jnp.zeros_like(x)

    def full(self, x: Any, shape: Shape, value: bool) -> Any:
        import jax.numpy as jnp

        return jnp.full(shape, value, dtype=bool)


def _words(stream: Stream) -> tuple[Any, Any, Any, Any]:
    """The stream's four words as uint32 operands: jit arguments, so a new key never recompiles."""
    return tuple(
        np.uint32(w) if isinstance(w, int) else w for w in (*stream.key, *stream.counter_words)
    )


def _keep_words(
    k0: Any, k1: Any, s0: Any, s1: Any, *, shape: tuple[int, ...], threshold: int
) -> Any:
    """The keep mask of ``shape`` from the Philox key words ``(k0, k1)`` and stream ``(s0, s1)``.

    ``PRNGKey(s)`` holds ``(s >> 32, s & 0xFFFFFFFF)``: its key words are ``(data[-1], data[-2])``,
    the 64-bit seed ``s``.
    """
    import jax.numpy as jnp

    def keep(key: Any) -> Any:
        index = jnp.arange(math.prod(shape), dtype=jnp.uint32).reshape(shape)
        words = words_at(jnp, index, (key[0], key[1]), (s0, s1))
        return words >= jnp.uint32(threshold)

    if 1 not in shape or shape[-1] == 1:
        return keep((k0, k1))
    # A mask that broadcasts along an axis before its innermost one (channels_last): XLA fuses
    # its Philox rounds into the loop over the data and recomputes them for every element: 33
    # ms against 0.86 ms for (32, 56, 56, 64). (Where the innermost axes broadcast, channels
    # first, the fused loop runs as fast without it: 0.92-1.18 ms either way on (32, 64, 56,
    # 56), and compiles in 160 ms, not 230.) A conditional's result is computed once. Its
    # predicate is always true, but data-dependent, so XLA cannot fold the conditional away;
    # the other branch is a cheap constant, not a second copy of Philox to compile.
    key = jnp.stack([jnp.asarray(k0, dtype=jnp.uint32), jnp.asarray(k1, dtype=jnp.uint32)])
    predicate = (key[0] | jnp.uint32(1)) != jnp.uint32(0)
    return _jax().lax.cond(predicate, keep, lambda _: jnp.zeros(shape, dtype=bool), key)


@functools.cache
def _compiled_keep() -> Any:
    """The mask as one compiled function per shape and threshold.

    The key and counter words are its arguments, so a new key or counter reuses it. Eager calls
    ran Philox op by op: 5.6 ms a call on (4, 512, 7, 7) and 0.8 s for the first; now 0.13 ms
    (the jitted call: 0.12 ms) and 0.22 s. Under an outer jit it inlines.
    """
    return _jax().jit(_keep_words, static_argnames=("shape", "threshold"))


@functools.lru_cache(maxsize=256)
def _rounded_product(a: float) -> Any:
    """``x * a``, rounded before any add that follows.

    Under jit XLA contracts ``x * a + b`` into one fused multiply-add: one rounding where NumPy,
    PyTorch and eager JAX round twice (the last bits of 22% of alpha dropout's entries
    differed). A conditional's result is stored, so it is rounded; both branches are the same,
    and a data-dependent predicate keeps XLA from folding the conditional away. Under ``vmap``
    the predicate would be batched and the conditional become a select, so the batching rule
    runs the same conditional on the whole batch; ``custom_jvp`` gives the derivative ``a``.
    """
    jax = _jax()
    from jax import custom_batching

    def times(x: Any) -> Any:
        return x * a

    @custom_batching.custom_vmap
    def rounded(x: Any) -> Any:
        return jax.lax.cond(_data_dependent(x), times, times, x)

    @rounded.def_vmap
    def _batched(axis_size: int, in_batched: Any, x: Any) -> tuple[Any, Any]:
        return rounded(x), in_batched[0]

    def _jvp(primals: Any, tangents: Any) -> tuple[Any, Any]:
        return rounded(primals[0]), tangents[0] * a

    product = jax.custom_jvp(rounded)
    product.defjvp(_jvp)
    return product


def _data_dependent(x: Any) -> Any:
    """A boolean XLA cannot fold: one entry against another, or (sharded) a reduction."""
    import jax.numpy as jnp

    sharding = getattr(getattr(_jax(), "typeof", lambda _: None)(x), "sharding", None)
    if any(axis is not None for axis in getattr(sharding, "spec", ())):
        return jnp.any(x != x)  # explicit sharding refuses a one-entry slice of a sharded dim
    flat = x.reshape(-1)
    return flat[0] != flat[-1]


def _apply_inverted(x: Any, keep: Any, *, a: float) -> Any:
    import jax.numpy as jnp

    return ref.apply(jnp, x, keep, Transform(a), False)


@functools.cache
def _compiled_apply() -> Any:
    """Inverted dropout's multiply and select as one compiled call (exact: one rounding)."""
    return _jax().jit(_apply_inverted, static_argnames=("a",))


def _dropout_words(
    x: Any,
    k0: Any,
    k1: Any,
    s0: Any,
    s1: Any,
    *,
    shape: tuple[int, ...],
    threshold: int,
    a: float,
) -> Any:
    return _apply_inverted(x, _keep_words(k0, k1, s0, s1, shape=shape, threshold=threshold), a=a)


@functools.cache
def _compiled_dropout() -> Any:
    """Mask and multiply as one compiled function: one XLA compile for a new shape, not two.

    The first eager call of a new shape took 300-360 ms as two compiles (the mask's, then the
    multiply's); see the bench's "JAX eager" rows for what it takes now.
    """
    return _jax().jit(_dropout_words, static_argnames=("shape", "threshold", "a"))


def _key_data(key: object) -> Any:
    """The uint32 data of a typed ``jax.random.key`` or a raw ``PRNGKey``, or None."""
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
    return arr
