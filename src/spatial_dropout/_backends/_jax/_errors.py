"""JAX's own errors: a key is needed, a ``Generator`` cannot advance under a trace."""

from __future__ import annotations

from typing import NoReturn


def generator_under_trace(fn: str) -> NoReturn:
    """A stateful ``Generator`` inside a traced JAX function."""
    msg = (
        f"{fn}(): a spatial_dropout.Generator cannot advance inside a traced JAX function (jit, "
        "vmap, grad): its first mask would be baked in.\n    Pass key=jax.random.key(seed) (the "
        "same mask as generator=seed elsewhere)."
    )
    raise ValueError(msg)


def needs_key(fn: str, traced: bool) -> NoReturn:
    """A JAX array without a key."""
    baked = (
        "; under jax.jit a mask drawn without one would be baked into the compiled function"
        if traced
        else ""
    )
    msg = (
        f"{fn}(): a jax.Array needs an explicit `key` (JAX has no global random state){baked}."
        "\n    Pass key=jax.random.key(0), or an int seed as generator=."
    )
    raise ValueError(msg)
