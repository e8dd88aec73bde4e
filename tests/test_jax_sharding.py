"""JAX sharding on four host CPU devices, in a fresh process (the device count is fixed at import).

Eager and jitted calls on ``NamedSharding``s of a 2 x 2 mesh (batch, channels, spatial dims,
both mesh axes on one dim; explicit and auto axis types) keep the sharding and give the
unsharded result bit for bit; the ``shard_map`` recipe (offset from ``jax.lax.axis_index``)
gives the global mask.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from conftest import require

require("jax")

SCRIPT = textwrap.dedent(
    """
    import jax, jax.numpy as jnp, numpy as np
    from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
    import spatial_dropout as sd

    assert len(jax.devices()) == 4, jax.devices()
    X = np.random.default_rng(0).standard_normal((8, 6, 4, 4)).astype(np.float32)
    key = jax.random.PRNGKey(3)
    meshes = {
        "explicit": jax.make_mesh((2, 2), ("a", "b")),
        "auto": Mesh(np.array(jax.devices()).reshape(2, 2), ("a", "b")),
    }
    specs = [P("a"), P("a", "b"), P(None, "a"), P(None, None, "a", "b"), P(("a", "b"))]
    checked = 0
    for fn in (sd.dropout, sd.dropout2d, sd.feature_alpha_dropout):
        want = np.asarray(fn(jnp.asarray(X), 0.4, True, key=key))
        for mesh_name, mesh in meshes.items():
            for spec in specs:
                xs = jax.device_put(X, NamedSharding(mesh, spec))
                for mode in ("eager", "jit"):
                    call = lambda a: fn(a, 0.4, True, key=key)
                    y = (call if mode == "eager" else jax.jit(call))(xs)
                    where = (fn.__name__, mesh_name, spec, mode)
                    assert np.array_equal(np.asarray(y), want, equal_nan=True), where
                    assert y.sharding.is_equivalent_to(xs.sharding, 4), (where, y.sharding)
                    checked += 1

    # channels_last: the mask follows the logical (n, c) index
    want = np.asarray(sd.dropout2d(jnp.asarray(X), 0.4, key=key))
    nhwc = NamedSharding(meshes["auto"], P("a", None, None, "b"))
    xl = jax.device_put(np.moveaxis(X, 1, -1), nhwc)
    y = jax.jit(lambda a: sd.dropout2d(a, 0.4, key=key, data_format="channels_last"))(xl)
    assert np.array_equal(np.moveaxis(np.asarray(y), -1, 1), want)

    # the shard_map recipe: each device draws its rows of the global mask
    from jax import shard_map

    def local(xl, k):
        o = jax.lax.axis_index("a") * xl.shape[0]
        return sd.dropout2d(xl, 0.4, key=k, offset=(o, 0, 0, 0), global_shape=X.shape)

    mesh = meshes["auto"]
    xs = jax.device_put(X, NamedSharding(mesh, P("a")))
    g = jax.jit(shard_map(local, mesh=mesh, in_specs=(P("a"), P()), out_specs=P("a")))
    assert np.array_equal(np.asarray(g(xs, key)), want)
    print(f"ok: {checked} sharded calls equal the unsharded result, sharding kept; shard_map ok")
    """
)


def test_sharded_calls_keep_the_sharding_and_give_the_unsharded_result():
    env = {
        **os.environ,
        "XLA_FLAGS": "--xla_force_host_platform_device_count=4",
        "JAX_PLATFORMS": "cpu",
    }
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "ok: 60 sharded calls" in done.stdout, done.stdout
