"""DropBlock 1d/2d/3d on every backend, against an oracle written here in NumPy loops.

The oracle draws the seed grid as element-wise dropout's reference mask of that grid at the
paper's rate (conftest's ``reference_mask``, the array-API reference on array-api-strict), drops
``[i, i + b)`` for every dropped seed by slicing, and scales as ``normalize`` says.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import spatial_dropout as sd

from conftest import Backend, bits, reference_mask, require


def _gamma(p: float, spatial: tuple[int, ...], block: tuple[int, ...]) -> float:
    positions = math.prod(s - b + 1 for s, b in zip(spatial, block, strict=True))
    return min(1.0, p * math.prod(spatial) / (math.prod(block) * positions))


def oracle(data, p, block_size, seed, *, n, share=False, normalize="expected", fmt="cf"):
    """What ``drop_block{n}d(data, p, block_size, generator=seed, ...)`` must return."""
    x = data if fmt == "cf" else np.moveaxis(data, -1, -n - 1)  # logical (.., C, *S)
    spatial = x.shape[-n:]
    sizes = (block_size,) * n if isinstance(block_size, int) else tuple(block_size)
    block = tuple(max(1, min(b, s)) for b, s in zip(sizes, spatial, strict=True))
    lead = x.shape[:-n]
    grid_lead = (*lead[:-1], 1) if share else lead
    grid = (*grid_lead, *(s - b + 1 for s, b in zip(spatial, block, strict=True)))
    gamma = _gamma(p, spatial, block)
    seeds = reference_mask("dropout", grid, gamma, seed)  # True: kept seed
    keep = np.ones((*grid_lead, *spatial), dtype=bool)
    for index in zip(*np.nonzero(~seeds), strict=True):
        head, where = index[: len(grid_lead)], index[len(grid_lead) :]
        keep[(*head, *(slice(i, i + b) for i, b in zip(where, block, strict=True)))] = False
    keep = np.broadcast_to(keep, x.shape)
    wide = np.float64 if x.dtype == np.float64 else np.float32
    if normalize is None:
        scale = np.ones((), dtype=wide)
    elif normalize == "batch":
        count = int(keep.sum())
        scale = np.asarray(x.size / count if count else 0.0, dtype=wide)
    else:
        g = round(gamma * 2**32) / 2**32
        covering = np.ones(())
        for k, (s, b) in enumerate(zip(spatial, block, strict=True)):
            i = np.arange(s)
            along = np.minimum(i, s - b) - np.maximum(0, i - b + 1) + 1
            covering = covering * along.reshape((-1,) + (1,) * (n - k - 1))
        scale = (1.0 / (1.0 - g) ** covering).astype(wide)
    out = np.where(keep, (x.astype(wide) * scale).astype(x.dtype), np.zeros((), x.dtype))
    return out if fmt == "cf" else np.moveaxis(out, -n - 1, -1)


CASES = [
    (1, (2, 3, 17), 5),
    (1, (4, 9), 3),  # unbatched (C, L)
    (2, (2, 3, 9, 8), 3),
    (2, (2, 3, 9, 8), (2, 4)),
    (2, (3, 6, 5), 2),  # unbatched (C, H, W)
    (2, (2, 2, 4, 4), 7),  # clamped to the map: one block, the whole map
    (2, (1, 2, 4, 9), 7),  # clamped per axis on a non-square map: (4, 7) blocks
    (3, (2, 2, 5, 6, 4), 3),
]


@pytest.mark.parametrize(("n", "shape", "block"), CASES)
@pytest.mark.parametrize("normalize", ["expected", "batch", None])
def test_drop_block_equals_the_oracle(backend: Backend, n, shape, block, normalize):
    data = np.random.default_rng(0).standard_normal(shape).astype(np.float32) + 3
    x = backend.asarray(data)
    f = getattr(sd, f"drop_block{n}d")
    for seed in (0, 1):
        got = backend.to_numpy(
            backend.call(f, x, 0.3, block, True, False, normalize=normalize, generator=seed)
        )
        want = oracle(data, 0.3, block, seed, n=n, normalize=normalize)
        np.testing.assert_array_equal(got == 0, want == 0)  # the same entries dropped
        np.testing.assert_allclose(got, want, rtol=3e-7, atol=0)
    np.testing.assert_array_equal(backend.to_numpy(x), data)


@pytest.mark.parametrize("share", [False, True])
def test_channels_last_is_the_transposed_channels_first_call(backend: Backend, share):
    data = np.random.default_rng(1).standard_normal((2, 3, 9, 8)).astype(np.float32)
    nhwc = np.ascontiguousarray(np.moveaxis(data, 1, -1))
    a = backend.to_numpy(
        backend.call(
            sd.drop_block2d,
            backend.asarray(data),
            0.3,
            3,
            True,
            False,
            share_channels=share,
            generator=4,
        )
    )
    b = backend.to_numpy(
        backend.call(
            sd.drop_block2d,
            backend.asarray(nhwc),
            0.3,
            3,
            True,
            False,
            share_channels=share,
            generator=4,
            data_format="channels_last",
        )
    )
    np.testing.assert_array_equal(bits(np.moveaxis(a, 1, -1)), bits(b))
    want = oracle(data, 0.3, 3, 4, n=2, share=share)
    np.testing.assert_allclose(a, want, rtol=3e-7, atol=0)
    if share:  # one grid for every channel
        assert ((a == 0) == (a[:, :1] == 0)).all()


def test_seeds_are_the_elementwise_dropout_mask_of_the_grid():
    """The seed grid at rate gamma is exactly dropout's mask of that shape (dropout_mask)."""
    x = np.ones((2, 3, 9, 8), dtype=np.float32)
    grid, gamma = (2, 3, 7, 6), _gamma(0.3, (9, 8), (3, 3))
    seeds = sd.dropout_mask(np.ones(grid, np.float32), gamma, kind="dropout", generator=8)
    keep = sd.dropout_mask(x, 0.3, kind="drop_block2d", block_size=3, generator=8)
    for n, c, i, j in itertools.product(*map(range, grid)):
        if not seeds[n, c, i, j]:
            assert not keep[n, c, i : i + 3, j : j + 3].any()
    assert (~keep).sum() >= (~seeds).sum()


def test_expected_normalisation_keeps_the_mean():
    """E[y] = x at every position: the mean of many calls is within 6 standard errors of 1
    (a failure chance far below 1e-6 for a correct implementation)."""
    x = np.ones((1, 1, 7, 7))
    runs = np.stack([sd.drop_block2d(x, 0.3, 3, generator=s)[0, 0] for s in range(4000)])
    sem = runs.std(axis=0, ddof=1) / math.sqrt(len(runs))
    assert (np.abs(runs.mean(axis=0) - 1) < 6 * sem + 1e-12).all()


def test_p_one_drops_everything_and_takes_one_draw(backend: Backend):
    data = np.array([[[np.inf, np.nan, -1.0, 2.0]]], dtype=np.float32)
    g = sd.Generator(2)
    y = (
        backend.to_numpy(
            backend.call(sd.drop_block1d, backend.asarray(data), 1.0, 2, True, False, generator=g)
        )
        if backend.name != "jax:jit"
        else None
    )
    if y is not None:
        assert (bits(y) == 0).all()
        assert g.counter == 1


def test_dropped_entries_are_positive_zero_and_gradients_exact():
    torch = require("torch")
    x = torch.tensor([[[np.inf, np.nan, -1.0, 2.0, 3.0, 4.0]]], requires_grad=True)
    y = sd.drop_block1d(x, 0.5, 2, generator=3)
    y.backward(torch.full_like(y, np.inf))
    dropped = (y == 0).detach()
    assert dropped.any()
    assert (y.detach()[dropped].view(torch.int32) == 0).all()
    assert (x.grad[dropped].view(torch.int32) == 0).all()


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"block_size": 0}, ValueError, "`block_size` must be a positive int or 2 of them"),
        ({"block_size": 2.0}, TypeError, "`block_size` must be a positive int or 2 of them"),
        ({"block_size": True}, TypeError, "`block_size`"),
        ({"block_size": (3, 3, 3)}, TypeError, "`block_size` must be a positive int or 2"),
        ({"block_size": 3, "normalize": "mean"}, ValueError, "`normalize` must be"),
        ({"block_size": 3, "share_channels": 1}, TypeError, "`share_channels` must be a bool"),
    ],
)
def test_bad_arguments_name_the_function(backend: Backend, kwargs, error, match):
    data = np.ones((2, 3, 5, 5), dtype=np.float32)
    x = backend.asarray(data)
    kwargs = dict(kwargs)
    block = kwargs.pop("block_size")
    with pytest.raises(error, match=rf"^drop_block2d\(\): {match}"):
        backend.call(sd.drop_block2d, x, 0.3, block, True, False, generator=0, **kwargs)
    np.testing.assert_array_equal(backend.to_numpy(x), data)
    with pytest.raises(ValueError, match=r"^drop_block2d\(\): `input` must be of rank 4"):
        sd.drop_block2d(np.ones((2, 3, 4, 5, 5)), 0.3, 3, generator=0)


def test_layers_in_every_module():
    x = np.random.default_rng(2).standard_normal((2, 3, 9, 8)).astype(np.float32)
    layer = sd.DropBlock2d(0.3, 3, generator=5)
    np.testing.assert_array_equal(layer(x), sd.drop_block2d(x, 0.3, 3, generator=5))
    assert layer.eval()(x) is x
    torch = require("torch")
    from spatial_dropout import torch as sdt

    t = torch.from_numpy(x)
    module = sdt.DropBlock2d(0.3, 3, generator=5)
    np.testing.assert_array_equal(module(t).numpy(), sd.drop_block2d(x, 0.3, 3, generator=5))
    jax = require("jax")
    require("equinox")
    require("flax")
    from flax import nnx

    from spatial_dropout import equinox as sde
    from spatial_dropout import flax as sdf

    nhwc = jax.numpy.asarray(np.moveaxis(x, 1, -1))
    key = jax.random.key(3)
    want = np.asarray(sd.drop_block2d(nhwc, 0.3, 3, key=key, data_format="channels_last"))
    np.testing.assert_array_equal(np.asarray(sde.DropBlock2d(0.3, 3)(nhwc, key=key)), want)
    flax_layer = sdf.DropBlock2d(0.3, 3, rngs=nnx.Rngs(dropout=0))
    np.testing.assert_array_equal(np.asarray(flax_layer(nhwc, rngs=key)), want)


def test_one_compile_for_many_masks_under_jit():
    jax = require("jax")
    x = jax.numpy.ones((2, 3, 9, 8))
    f = jax.jit(lambda a, k: sd.drop_block2d(a, 0.3, 3, key=k, normalize="batch"))
    masks = {np.asarray(f(x, jax.random.key(i)) == 0).tobytes() for i in range(8)}
    assert len(masks) == 8
    assert f._cache_size() == 1


def _torchvision_drop_block2d(torch, x, p, b, eps=1e-6):
    """torchvision 0.28's ``ops.drop_block2d`` (training, not in place), written out."""
    n, c, h, w = x.shape
    b = min(b, w, h)
    gamma = (p * h * w) / ((b**2) * ((h - b + 1) * (w - b + 1)))
    noise = torch.empty((n, c, h - b + 1, w - b + 1), dtype=x.dtype, device=x.device)
    noise.bernoulli_(gamma)
    noise = torch.nn.functional.pad(noise, [b // 2] * 4, value=0)
    noise = torch.nn.functional.max_pool2d(noise, stride=(1, 1), kernel_size=(b, b), padding=b // 2)
    noise = 1 - noise
    scale = noise.numel() / (eps + noise.sum())
    return x * noise * scale


@pytest.mark.parametrize(("shape", "b"), [((2, 3, 9, 8), 3), ((4, 2, 7, 7), 5), ((1, 8, 6, 9), 1)])
def test_torch_generator_drops_what_torchvision_drops(shape, b):
    """With ``generator=None`` the seeds are drawn as torchvision draws them (``bernoulli_`` of
    the seed grid at gamma after the same ``manual_seed``): the same positions dropped, kept
    values within 2 ulps (one multiply here, two there)."""
    torch = require("torch")
    x = torch.from_numpy(np.random.default_rng(3).standard_normal(shape).astype(np.float32) + 4)
    for seed in range(5):
        torch.manual_seed(seed)
        theirs = _torchvision_drop_block2d(torch, x, 0.3, b)
        torch.manual_seed(seed)
        ours = sd.drop_block2d(x, 0.3, b, normalize="batch")
        assert torch.equal(ours == 0, theirs == 0)
        torch.testing.assert_close(ours, theirs, rtol=2.5e-7, atol=0)


@pytest.mark.parametrize("fmt", ["channels_first", "channels_last"])
@pytest.mark.parametrize(("share", "normalize"), [(False, "expected"), (True, None)])
def test_a_tiling_with_offsets_reassembles_the_whole(backend: Backend, fmt, share, normalize):
    """Shards of the batch, the channels and the map, each computed alone with its offset, put
    together are the call on the whole, bit for bit (a shard draws the seeds of its halo)."""
    data = np.random.default_rng(5).standard_normal((3, 2, 11, 9)).astype(np.float32)
    if fmt == "channels_last":
        data = np.ascontiguousarray(np.moveaxis(data, 1, -1))
    kw = {"data_format": fmt, "share_channels": share, "normalize": normalize}
    whole = backend.to_numpy(
        backend.call(
            sd.drop_block2d, backend.asarray(data), 0.3, (3, 4), True, False, generator=6, **kw
        )
    )
    got = np.full_like(data, np.nan)
    spatial = (1, 2) if fmt == "channels_last" else (2, 3)
    channel = 3 if fmt == "channels_last" else 1
    cuts = {0: (0, 2, 3), channel: (0, 1, 2), spatial[0]: (0, 5, 6, 11), spatial[1]: (0, 4, 9)}
    axes = sorted(cuts)
    for bounds in itertools.product(*(zip(cuts[a][:-1], cuts[a][1:], strict=True) for a in axes)):
        index = [slice(None)] * 4
        offset = [0, 0, 0, 0]
        for a, (lo, hi) in zip(axes, bounds, strict=True):
            index[a], offset[a] = slice(lo, hi), lo
        part = backend.asarray(np.ascontiguousarray(data[tuple(index)]))
        got[tuple(index)] = backend.to_numpy(
            backend.call(
                sd.drop_block2d,
                part,
                0.3,
                (3, 4),
                True,
                False,
                generator=6,
                offset=tuple(offset),
                global_shape=data.shape,
                **kw,
            )
        )
    np.testing.assert_array_equal(bits(got), bits(whole))


def test_batch_normalisation_refuses_a_shard():
    x = np.ones((2, 3, 8, 8), dtype=np.float32)
    with pytest.raises(ValueError, match=r"^drop_block2d\(\): `normalize` must be 'expected' or"):
        sd.drop_block2d(
            x,
            0.3,
            3,
            normalize="batch",
            generator=0,
            offset=(2, 0, 0, 0),
            global_shape=(4, 3, 8, 8),
        )


def test_batch_normalisation_in_float16_and_when_everything_is_dropped():
    """The count is exact (no float16 sum overflows to give all zeros), and a batch whose every
    seed is dropped gives exact zeros, never NaN."""
    x = np.ones((8, 64, 32, 32), dtype=np.float16)
    y = sd.drop_block2d(x, 0.1, 7, normalize="batch", generator=0)
    kept = y != 0
    assert np.isfinite(y).all()
    assert kept.any()
    scale = np.float16(np.float32(x.size / kept.sum()))
    assert (y[kept] == scale).all()
    z = sd.drop_block2d(
        np.ones((2, 1, 3, 3), np.float32), 1 - 2**-40, 3, normalize="batch", generator=0
    )
    assert (bits(z) == 0).all()


@pytest.mark.parametrize("chunks", [(2, 3, 5, 6), (1, 1, 4, 4), (4, 3, 13, 17)])
@pytest.mark.parametrize(
    "kwargs",
    [{}, {"share_channels": True}, {"normalize": None}, {"data_format": "channels_last"}],
)
def test_dask_is_one_layer_over_the_chunks_and_equals_numpy(chunks, kwargs):
    """Blocks that cross a chunk boundary are recomputed on each side: no halo, no overlap."""
    da = require("dask.array")
    x = np.random.default_rng(0).standard_normal((4, 3, 13, 17)).astype(np.float32)
    if kwargs.get("data_format") == "channels_last":
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
        chunks = (chunks[0], chunks[2], chunks[3], chunks[1])
    lazy = da.from_array(x, chunks=chunks)
    out = sd.drop_block2d(lazy, 0.3, (3, 4), generator=5, **kwargs)
    assert len(out.dask.layers) == len(lazy.dask.layers) + 1
    assert out.chunks == lazy.chunks
    np.testing.assert_array_equal(
        out.compute(), sd.drop_block2d(x, 0.3, (3, 4), generator=5, **kwargs)
    )
