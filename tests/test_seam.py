"""The proof of the seam: a variant described inside a test runs on every backend, unchanged.

``block`` below is DropBlock-like: a parameter (``block_size``), a seed rate computed from ``p``,
a seed grid smaller than the input, a mask grown from it by a window maximum, and a scale that
depends on the grown mask (an array on the input's device: never read back to the host). Nothing
in the engine or the backends knows it; the expected values come from plain NumPy loops here.
"""

from __future__ import annotations

import numpy as np
import pytest

from spatial_dropout import _validation as v
from spatial_dropout._functional import _run as run
from spatial_dropout._scale import Transform
from spatial_dropout._variants import Variant

from conftest import Backend, reference_mask, require


def _params(fn, shape, given):
    b = given.get("block_size")
    if isinstance(b, bool) or not isinstance(b, int) or b < 1:
        v.check_choice(fn, "block_size", repr(b), ("a positive int",))
    return {"block_size": min(b, *shape[2:])}


def _seeds(shape, fmt, params):
    b = params["block_size"]
    return (*shape[:2], shape[2] - b + 1, shape[3] - b + 1)


def _rate(p, shape, params):
    b, (h, w) = params["block_size"], shape[2:]
    return p * h * w / (b * b * (h - b + 1) * (w - b + 1))


def _grow(keep, shape, params, window_any):
    b = params["block_size"]
    return ~window_any(~keep, (1, 1, b, b))


def _batch_scale(p, mant, keep, params):
    import array_api_compat as compat

    xp = compat.array_namespace(keep)
    dtype = xp.float64 if mant == 52 else xp.float32
    count = xp.astype(xp.count_nonzero(keep), dtype)
    numel = xp.asarray(float(np.prod(keep.shape)), dtype=dtype, device=compat.device(keep))
    return Transform(numel / (count + xp.astype(count == 0, dtype)))


BLOCK = Variant("block", "Block", _seeds, _batch_scale, params=_params, rate=_rate, grow=_grow)
SHAPE, P, B = (2, 3, 9, 8), 0.3, 3


def _expected(x: np.ndarray, seed: int) -> np.ndarray:
    rate = _rate(P, SHAPE, {"block_size": B})
    seeds = reference_mask("dropout", _seeds(SHAPE, "", {"block_size": B}), rate, seed)
    keep = np.ones(SHAPE, dtype=bool)
    for n, c, i, j in zip(*np.nonzero(~seeds), strict=True):
        keep[n, c, i : i + B, j : j + B] = False
    scale = keep.size / max(1, keep.sum())
    return np.where(keep, x * np.float32(scale), np.float32(0))


def test_a_variant_described_in_a_test_runs_on_every_backend(backend: Backend):
    data = np.random.default_rng(0).standard_normal(SHAPE).astype(np.float32) + 3
    x = backend.asarray(data)
    for seed in (0, 1, 2):
        got = backend.to_numpy(
            backend.call(
                lambda a, s=seed: run(BLOCK, a, P, True, False, s, None, params={"block_size": B}),
                x,
            )
        )
        want = _expected(data, seed)
        np.testing.assert_array_equal(got == 0, want == 0)  # the same blocks dropped
        np.testing.assert_allclose(got, want, rtol=2e-7)
        assert (want == 0).any()
        assert (want != 0).any()
    np.testing.assert_array_equal(backend.to_numpy(x), data)  # out of place: untouched


def test_the_described_variant_traces_once_under_jit_and_never_syncs():
    """Ten keys, ten masks, one compile: the seed rate is static, the scale a traced array
    (``float()`` of it would fail inside ``jit``, so nothing reads it back)."""
    jax = require("jax")
    x = jax.numpy.ones(SHAPE, dtype=jax.numpy.float32)
    f = jax.jit(lambda a, k: run(BLOCK, a, P, True, False, None, k, params={"block_size": B}))
    masks = {np.asarray(f(x, jax.random.key(i)) == 0).tobytes() for i in range(10)}
    assert len(masks) == 10
    assert f._cache_size() == 1


def test_the_described_variant_traces_on_fake_tensors():
    """torch: the whole call traces with fake tensors, where a host sync (``.item()``, a
    ``float()`` of the scale) raises."""
    torch = require("torch")
    from torch.fx.experimental.proxy_tensor import make_fx

    def f(a):
        return run(BLOCK, a, P, True, False, 5, None, params={"block_size": B})

    x = torch.ones(SHAPE)
    graph = make_fx(f, tracing_mode="fake")(x)
    torch.testing.assert_close(graph(x), f(x), rtol=0, atol=0)


def test_the_described_variant_checks_its_parameters():
    x = np.ones(SHAPE, dtype=np.float32)
    with pytest.raises(ValueError, match=r"^block\(\): `block_size` must be one of a positive"):
        run(BLOCK, x, P, True, False, 0, None, params={"block_size": 0})
