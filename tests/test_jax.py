"""JAX: explicit keys, jit, grad, vmap, sharding, and the Flax NNX layers."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from conftest import require

jax = require("jax")
jnp = jax.numpy

import spatial_dropout as sd  # noqa: E402

X = np.random.default_rng(0).standard_normal((4, 16, 3, 3)).astype(np.float32)


@pytest.mark.parametrize("seed", [0, 7, 2**32 - 1])
def test_prngkey_s_draws_the_mask_of_generator_s(seed):
    ref = sd.dropout2d(X, 0.3, generator=seed)
    for key in (jax.random.PRNGKey(seed), jax.random.key(seed)):
        out = sd.dropout2d(jnp.asarray(X), 0.3, key=key)
        np.testing.assert_array_equal(np.asarray(out), ref)
    out = sd.dropout2d(jnp.asarray(X), 0.3, generator=jax.random.key(seed))  # also as generator=
    np.testing.assert_array_equal(np.asarray(out), ref)


def test_every_function_accepts_jax_arrays():
    x = jnp.asarray(X)
    key = jax.random.key(1)
    for fn in (
        sd.dropout,
        sd.dropout1d,
        sd.dropout2d,
        sd.dropout3d,
        sd.alpha_dropout,
        sd.feature_alpha_dropout,
    ):
        y = fn(x, 0.3, True, key=key)
        assert isinstance(y, jax.Array)
        assert y.shape == x.shape
        assert y.dtype == x.dtype
        np.testing.assert_array_equal(np.asarray(y), fn(X, 0.3, True, generator=1))


def test_jit_with_key_changes_mask_with_the_key():
    f = jax.jit(lambda x, k: sd.dropout2d(x, 0.5, key=k))
    x = jnp.ones((8, 64, 2, 2))
    a, b = f(x, jax.random.key(0)), f(x, jax.random.key(1))
    assert not np.array_equal(np.asarray(a), np.asarray(b))
    np.testing.assert_array_equal(np.asarray(f(x, jax.random.key(0))), np.asarray(a))


def test_jit_with_static_p_and_training():
    f = jax.jit(sd.dropout2d, static_argnames=("p", "training"))
    x = jnp.ones((4, 32, 2, 2))
    y = f(x, p=0.25, training=True, key=jax.random.key(3))
    np.testing.assert_array_equal(
        np.asarray(y), sd.dropout2d(np.ones((4, 32, 2, 2), np.float32), 0.25, generator=3)
    )
    assert f(x, p=0.25, training=False, key=jax.random.key(3)) is not None


def test_jit_without_a_key_raises_a_clear_error():
    with pytest.raises(ValueError, match=r"needs an explicit `key`.*baked into the compiled"):
        jax.jit(lambda x: sd.dropout2d(x, 0.5))(jnp.ones((2, 3, 4, 4)))
    with pytest.raises(ValueError, match=r"needs an explicit `key`"):
        sd.dropout2d(jnp.ones((2, 3, 4, 4)), 0.5)
    with pytest.raises(ValueError, match=r"Generator cannot advance inside a traced"):
        jax.jit(lambda x: sd.dropout2d(x, 0.5, generator=sd.Generator(0)))(jnp.ones((2, 3, 4, 4)))
    with pytest.raises(TypeError, match=r"pass `generator` or `key`, not both"):
        sd.dropout2d(jnp.ones((2, 3)), 0.5, generator=1, key=jax.random.key(1))


@pytest.mark.parametrize("p", [0.3, 1.0])
@pytest.mark.parametrize("cot", [1.0, float("inf"), float("nan")])
def test_grad_is_scale_on_kept_and_exactly_zero_on_dropped(p, cot):
    key = jax.random.key(2)

    def loss(x):
        return (sd.dropout2d(x, p, key=key) * cot).sum()

    g = np.asarray(jax.grad(loss)(jnp.asarray(X)))
    keep = np.broadcast_to(sd.dropout_mask(X, p, generator=2), X.shape)
    s = np.float32(1) / np.float32(1 - p) if p < 1 else np.float32(0)
    assert (g[~keep].view(np.uint32) == 0).all()  # +0.0, never NaN
    if keep.any():
        np.testing.assert_array_equal(g[keep], np.float32(cot) * s)


def test_equinox_gives_nan_at_p_one_and_we_do_not():
    eqx = require("equinox")
    layer = eqx.nn.Dropout(p=1.0)
    g_eqx = jax.grad(lambda x: layer(x, key=jax.random.key(0)).sum())(jnp.ones(4))
    g_ours = jax.grad(lambda x: sd.dropout(x, 1.0, key=jax.random.key(0)).sum())(jnp.ones(4))
    assert np.isnan(np.asarray(g_eqx)).all() or not np.isfinite(np.asarray(g_eqx)).all()
    assert (np.asarray(g_ours) == 0).all()


def test_vmap_one_key_shares_the_mask_split_keys_do_not():
    x = jnp.ones((6, 32, 2, 2))  # vmapped over the first axis: each slice is (32, 2, 2)
    key = jax.random.key(4)
    same = jax.vmap(lambda xi: sd.dropout2d(xi, 0.5, key=key))(x)
    rows = np.asarray(same).reshape(6, -1)
    assert (rows == rows[0]).all()  # documented: one key, one mask for every element
    keys = jax.random.split(key, 6)
    split = jax.vmap(lambda xi, k: sd.dropout2d(xi, 0.5, key=k))(x, keys)
    for i in range(6):  # each element equals the unbatched call with its own key
        np.testing.assert_array_equal(
            np.asarray(split[i]), np.asarray(sd.dropout2d(x[i], 0.5, key=keys[i]))
        )
    assert len({np.asarray(split[i]).tobytes() for i in range(6)}) == 6


def test_keys_of_the_wrong_shape_are_refused():
    """A raw key is exactly a PRNGKey's two words; a three-word array is not a key."""
    x = jnp.ones((2, 3, 4, 4))
    for bad in (
        jnp.zeros(3, dtype=jnp.uint32),
        jnp.zeros((2, 2), dtype=jnp.uint32),
        jnp.zeros(2, dtype=jnp.int32),
        jax.random.split(jax.random.key(0), 2),
    ):
        with pytest.raises(TypeError, match=r"^dropout2d\(\): `key` must be a JAX PRNG key"):
            sd.dropout2d(x, 0.5, key=bad)
    with pytest.raises(ValueError, match=r"^dropout2d\(\): `key` \(an int seed\) must be in"):
        sd.dropout2d(x, 0.5, key=-1)


def test_more_than_2_to_the_32_entries_raise_instead_of_wrapping():
    """JAX's logical index is uint32: a larger portable mask would repeat itself."""
    huge = jax.ShapeDtypeStruct((2**32 + 4,), jnp.float32)
    with pytest.raises(ValueError, match=r"^dropout\(\): .*at most 2\*\*32 mask entries"):
        jax.eval_shape(lambda x: sd.dropout(x, 0.5, generator=1), huge)


def test_channels_last_nhwc_equals_nchw():
    key = jax.random.key(9)
    nchw = jnp.asarray(X)
    nhwc = jnp.transpose(nchw, (0, 2, 3, 1))
    a = sd.dropout2d(nchw, 0.5, key=key)
    b = sd.dropout2d(nhwc, 0.5, key=key, data_format="channels_last")
    np.testing.assert_array_equal(np.asarray(jnp.transpose(a, (0, 2, 3, 1))), np.asarray(b))


SHARDING_SCRIPT = textwrap.dedent(
    """
    import os
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=8"
    import jax, jax.numpy as jnp, numpy as np
    from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
    import spatial_dropout as sd

    assert jax.device_count() == 8, jax.devices()
    x = np.random.default_rng(0).standard_normal((16, 8, 8, 32)).astype(np.float32)  # NHWC
    key = jax.random.key(11)
    f = jax.jit(lambda a, k: sd.dropout2d(a, 0.3, key=k, data_format="channels_last"))
    g = jax.jit(lambda a, k: sd.dropout(a, 0.3, key=k))
    ref = np.asarray(f(jnp.asarray(x), key)), np.asarray(g(jnp.asarray(x), key))
    torch_like = sd.dropout2d(np.ascontiguousarray(x.transpose(0, 3, 1, 2)), 0.3, generator=11)
    assert np.array_equal(ref[0], torch_like.transpose(0, 2, 3, 1)), "NHWC vs NCHW mask"
    meshes = {"rows (8, 1)": (8, 1), "columns (1, 8)": (1, 8), "2-D (2, 4)": (2, 4)}
    for name, grid in meshes.items():
        mesh = Mesh(np.array(jax.devices()).reshape(grid), ("b", "c"))
        sharding = NamedSharding(mesh, P("b", None, None, "c"))
        xs = jax.device_put(x, sharding)
        for fn, expected in ((f, ref[0]), (g, ref[1])):
            out = fn(xs, key)
            hlo = fn.lower(xs, key).compile().as_text()
            gathers = sum(hlo.count(op) for op in ("all-gather", "all-to-all", "all-reduce"))
            same = np.array_equal(np.asarray(out), expected)
            kept = out.sharding.is_equivalent_to(sharding, out.ndim)
            print(f"{name:<15} {fn is f and 'dropout2d' or 'dropout':<9} bit-equal={same} "
                  f"sharding-kept={kept} collectives={gathers}")
            assert same and kept and gathers == 0
    print("OK")
    """
)


def test_sharded_input_gives_the_unsharded_result_bit_for_bit():
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=8"}
    out = subprocess.run(
        [sys.executable, "-c", SHARDING_SCRIPT], capture_output=True, text=True, env=env
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.strip().endswith("OK")


def test_flax_nnx_layer_in_an_nhwc_model_matches_the_torch_port():
    nnx = require("flax.nnx")
    from spatial_dropout.flax import Dropout2d

    class Block(nnx.Module):
        def __init__(self, rngs):
            self.drop = Dropout2d(0.3, rngs=rngs)

        def __call__(self, x):
            return self.drop(x)

    model = Block(nnx.Rngs(dropout=0))
    x = jnp.ones((4, 3, 3, 16))
    y1 = nnx.jit(lambda m, a: m(a))(model, x)
    y2 = nnx.jit(lambda m, a: m(a))(model, x)
    assert not np.array_equal(np.asarray(y1), np.asarray(y2))  # the stream advances
    model.drop.set_view(deterministic=True)
    assert model(x) is x
    # the same key drawn explicitly equals the NCHW NumPy/torch mask of generator=seed
    key = jax.random.PRNGKey(21)
    y = Dropout2d(0.3)(x, rngs=key)
    ref = sd.dropout2d(np.ones((4, 16, 3, 3), np.float32), 0.3, generator=21).transpose(0, 2, 3, 1)
    np.testing.assert_array_equal(np.asarray(y), ref)


def test_equinox_layers_under_jit_and_grad():
    require("equinox")
    from spatial_dropout.equinox import Dropout, Dropout2d

    layer = Dropout2d(0.3)
    x = jnp.ones((4, 3, 3, 16))
    key = jax.random.PRNGKey(21)
    y = jax.jit(lambda a, k: layer(a, key=k))(x, key)
    ref = sd.dropout2d(np.ones((4, 16, 3, 3), np.float32), 0.3, generator=21).transpose(0, 2, 3, 1)
    np.testing.assert_array_equal(np.asarray(y), ref)
    assert layer(x, inference=True) is x
    with pytest.raises(ValueError, match="a `key` is required"):
        layer(x)
    g = jax.grad(lambda a: Dropout(1.0)(a, key=key).sum())(jnp.ones(4))
    assert (np.asarray(g) == 0).all()  # no NaN at p == 1


def test_eager_calls_compile_the_mask_once_per_shape():
    """Eager calls ran Philox op by op (5.6 ms a call, 0.8 s the first); mask and multiply are
    one compiled function per shape, dtype and p, reused for every key and counter."""
    from spatial_dropout._backends._jax import _compiled_dropout

    x = jnp.ones((3, 40, 2, 2))
    g = sd.Generator(4)
    sd.dropout2d(x, 0.37, generator=g)
    size = _compiled_dropout()._cache_size()
    assert size >= 1  # the call above went through it
    for i in range(4):
        sd.dropout2d(x, 0.37, generator=g)
        sd.dropout2d(x, 0.37, key=jax.random.key(i))
        sd.dropout2d(x, 0.37, key=jax.random.PRNGKey(i))
    assert _compiled_dropout()._cache_size() <= size + 1  # the key's data: one more signature
    np.testing.assert_array_equal(
        np.asarray(sd.dropout2d(x, 0.37, generator=sd.Generator(4, counter=2))),
        sd.dropout2d(
            np.ones((3, 40, 2, 2), np.float32), 0.37, generator=sd.Generator(4, counter=2)
        ),
    )


@pytest.mark.parametrize("fn", [sd.alpha_dropout, sd.feature_alpha_dropout])
def test_alpha_variants_are_exact_under_jit_vmap_and_grad(fn):
    """XLA contracted x * a + b into one fused multiply-add under jit: 22% of the entries
    differed in their last bits from NumPy, PyTorch and eager JAX."""
    data = np.random.default_rng(3).standard_normal((8, 6, 500)).astype(np.float32)
    keys = jax.random.split(jax.random.key(5), 8)
    eager = np.stack(
        [np.asarray(fn(jnp.asarray(data[i]), 0.3, True, key=keys[i])) for i in range(8)]
    )
    batched = jax.jit(jax.vmap(lambda x, k: fn(x, 0.3, True, key=k)))(jnp.asarray(data), keys)
    np.testing.assert_array_equal(np.asarray(batched).view(np.uint32), eager.view(np.uint32))
    jitted = jax.jit(lambda x: fn(x, 0.3, True, generator=9))(jnp.asarray(data))
    want = fn(data, 0.3, True, generator=9)
    np.testing.assert_array_equal(np.asarray(jitted).view(np.uint32), want.view(np.uint32))
    grad = jax.jit(jax.grad(lambda x: fn(x, 0.3, True, generator=9).sum()))(jnp.asarray(data))
    kept = sd.dropout_mask(data, 0.3, kind=fn.__name__, generator=9)
    a = np.float32(sd._scale.alpha_transform(0.3, 23).a)
    np.testing.assert_array_equal(
        np.asarray(grad), np.broadcast_to(np.where(kept, a, 0), data.shape)
    )


def test_channels_last_mask_is_computed_once_under_jit():
    """Fused into the loop over the data, the mask's Philox rounds ran once per element when
    the mask varies along the innermost axis (17-33 ms against ~1 ms on (32, 56, 56, 64)); a
    conditional's result is computed once. The compiled program must keep it, with one copy of
    Philox (its other branch is a constant: two copies doubled the compile time)."""

    def compiled(fmt: str, shape: tuple[int, ...]) -> str:
        f = jax.jit(lambda x, k: sd.dropout2d(x, 0.5, key=k, data_format=fmt))
        return f.lower(jnp.ones(shape), jax.random.key(0)).compile().as_text()

    last, first = compiled("channels_last", (2, 4, 4, 8)), compiled("channels_first", (2, 8, 4, 4))
    assert "conditional" in last
    assert "conditional" not in first  # innermost axes broadcast: the fused loop is fast as is
    # Philox's 32-bit multiplies (about 80), once in each program
    assert last.count(" multiply(") <= 1.2 * first.count(" multiply(")
    g = jax.jit(lambda x, k: sd.dropout(x, 0.5, key=k))  # element-wise: nothing to hoist
    assert "conditional" not in g.lower(jnp.ones((2, 8)), jax.random.key(0)).compile().as_text()
