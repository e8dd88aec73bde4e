"""``offset=`` and ``global_shape=``: a shard's result is the whole array's result, sliced.

On every backend, for every variant: shards along the batch, the channels and the spatial dims
(NCHW and NHWC), put together, equal the single call on the whole array bit for bit, and a
``Generator`` advances by one call per shard call, as the one call would. Plus traced offsets
under ``jax.jit`` and tensor offsets under ``torch.compile`` (no recompiles), Dask's blockwise
path, and the errors.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import spatial_dropout as sd

from conftest import PLAIN, Backend, Kind, bits, require

FULL = (6, 8, 4, 5)
DATA = np.random.default_rng(0).standard_normal(FULL).astype(np.float32)
DATA[0, 0, 0, 0], DATA[1, 1, 1, 1] = np.inf, np.nan  # dropped specials must stay +0.0
# (slice of the whole array, its offset): batch, channels, spatial, and all at once
SHARDS = [
    ((slice(2, 5),), (2, 0, 0, 0)),
    ((slice(None), slice(3, 8)), (0, 3, 0, 0)),
    ((slice(None), slice(None), slice(1, 3), slice(2, 5)), (0, 0, 1, 2)),
    ((slice(1, 4), slice(2, 6), slice(0, 3), slice(1, 4)), (1, 2, 0, 1)),
]


def _call(backend: Backend, fn, x, **kwargs):
    kw = {"generator": 9, **kwargs} if backend.kind is not Kind.JAX_JIT else kwargs
    if backend.kind in (Kind.JAX, Kind.JAX_JIT):
        import jax

        kw = {"key": jax.random.PRNGKey(9), **kwargs}
    return backend.call(fn, x, 0.4, True, **kw)


@pytest.mark.parametrize(("index", "offset"), SHARDS)
@pytest.mark.parametrize("kind", PLAIN)
def test_a_shard_is_the_whole_arrays_result_sliced(backend: Backend, kind, index, offset):
    fn = getattr(sd, kind)
    whole = backend.to_numpy(_call(backend, fn, backend.asarray(DATA)))
    part = DATA[index]
    got = backend.to_numpy(
        _call(backend, fn, backend.asarray(part), offset=offset, global_shape=FULL)
    )
    np.testing.assert_array_equal(bits(got), bits(whole[index]))


@pytest.mark.parametrize("kind", ["dropout1d", "dropout2d", "dropout3d"])
def test_channels_last_shards(kind):
    data = np.moveaxis(DATA, 1, -1)  # (N, H, W, C)
    fn = getattr(sd, kind)
    whole = fn(data, 0.4, generator=3, data_format="channels_last")
    index, offset = (slice(1, 4), slice(None), slice(None), slice(2, 7)), (1, 0, 0, 2)
    got = fn(
        data[index],
        0.4,
        generator=3,
        data_format="channels_last",
        offset=offset,
        global_shape=data.shape,
    )
    np.testing.assert_array_equal(bits(got), bits(whole[index]))


def test_shards_put_together_and_the_generator_advances_once_a_call():
    whole = sd.dropout2d(DATA, 0.5, generator=sd.Generator(4))
    parts = []
    for start in range(0, 6, 2):
        g = sd.Generator(4)
        parts.append(
            sd.dropout2d(
                DATA[start : start + 2],
                0.5,
                generator=g,
                offset=(start, 0, 0, 0),
                global_shape=FULL,
            )
        )
        assert g.counter == 1
    np.testing.assert_array_equal(bits(np.concatenate(parts)), bits(whole))
    assert 0 < (whole == 0).mean() < 1


def test_dropout_mask_takes_offsets():
    whole = sd.dropout_mask(DATA, 0.5, generator=2)
    part = sd.dropout_mask(DATA[2:5, 1:6], 0.5, generator=2, offset=(2, 1, 0, 0), global_shape=FULL)
    np.testing.assert_array_equal(part, whole[2:5, 1:6])


def test_the_rank_table_is_read_from_the_global_shape():
    data = DATA[0]  # (8, 4, 5): as a whole, dropout2d's (C, H, W)
    whole = sd.dropout2d(data, 0.5, generator=1)
    got = sd.dropout2d(data[:, :2], 0.5, generator=1, offset=(0, 0, 0), global_shape=data.shape)
    np.testing.assert_array_equal(bits(got), bits(whole[:, :2]))


def test_default_global_shape_is_offset_plus_shape():
    whole = sd.dropout2d(DATA, 0.5, generator=6)
    got = sd.dropout2d(DATA[3:], 0.5, generator=6, offset=(3, 0, 0, 0))
    np.testing.assert_array_equal(bits(got), bits(whole[3:]))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"offset": (1, 0, 0)}, ValueError, "`offset` needs one entry per dim"),
        ({"offset": (-1, 0, 0, 0)}, ValueError, "`offset` entries must be non-negative"),
        ({"offset": (0.5, 0, 0, 0)}, TypeError, "`offset` entries must be integers"),
        ({"offset": "0000"}, TypeError, "`offset` must be a sequence"),
        ({"offset": (5, 0, 0, 0), "global_shape": FULL}, ValueError, "does not fit"),
        ({"global_shape": (6, 8, 4)}, ValueError, "`global_shape` must be 4 non-negative"),
        ({"global_shape": 6}, TypeError, "`global_shape` must be a sequence"),
    ],
)
def test_bad_regions_are_named_and_leave_the_input_alone(kwargs, error, match):
    x = DATA[:3].copy()
    before = x.copy()
    with pytest.raises(error, match=match):
        sd.dropout2d(x, 0.5, inplace=True, generator=1, **kwargs)
    with pytest.raises(error, match=match):
        sd.dropout2d(x, 0.5, training=False, generator=1, **kwargs)  # checked in eval too
    np.testing.assert_array_equal(bits(x), bits(before))


def test_native_generators_need_a_portable_one():
    with pytest.raises(ValueError, match="need a portable generator"):
        sd.dropout2d(DATA, 0.5, generator=np.random.default_rng(0), offset=(0, 0, 0, 0))
    torch = require("torch")
    with pytest.raises(ValueError, match="need a portable generator"):
        sd.dropout2d(torch.from_numpy(DATA), 0.5, offset=(0, 0, 0, 0))


def test_traced_offsets_under_jax_jit_compile_once():
    jax = require("jax")
    jnp = jax.numpy
    key = jax.random.PRNGKey(5)
    whole = np.asarray(sd.dropout2d(jnp.asarray(DATA), 0.4, key=key))
    traces = []

    @jax.jit
    def shard(x, o):
        traces.append(1)
        return sd.dropout2d(x, 0.4, key=key, offset=(o, 0, 0, 0), global_shape=FULL)

    for o in range(0, 6, 2):
        np.testing.assert_array_equal(
            bits(np.asarray(shard(jnp.asarray(DATA[o : o + 2]), o))), bits(whole[o : o + 2])
        )
    assert len(traces) == 1


@pytest.mark.filterwarnings("ignore::UserWarning")  # Dynamo's tracing notes
def test_tensor_offsets_under_torch_compile_compile_once():
    torch = require("torch")
    from torch._dynamo.utils import counters

    torch._dynamo.reset()
    counters.clear()
    x = torch.from_numpy(DATA)
    whole = sd.dropout2d(x, 0.4, generator=5)
    f = torch.compile(
        lambda a, o: sd.dropout2d(a, 0.4, generator=5, offset=(o, 0, 0, 0), global_shape=FULL),
        fullgraph=True,
    )
    for o in range(0, 6, 2):
        assert torch.equal(f(x[o : o + 2], torch.tensor(o)).isnan(), whole[o : o + 2].isnan())
        np.testing.assert_array_equal(
            bits(f(x[o : o + 2], torch.tensor(o)).numpy()), bits(whole[o : o + 2].numpy())
        )
    assert counters["stats"]["unique_graphs"] == 1


@pytest.mark.parametrize("chunks", [(2, 4, 4, 5), (3, 8, 2, 5), (1, 3, 4, 2)])
@pytest.mark.parametrize("kind", PLAIN)
def test_dask_is_one_blockwise_layer_with_the_inputs_chunks(kind, chunks):
    da = require("dask.array")
    x = da.from_array(DATA, chunks=chunks)
    y = getattr(sd, kind)(x, 0.4, True, generator=8)
    assert y.chunks == x.chunks
    assert len(y.__dask_graph__().layers) == len(x.__dask_graph__().layers) + 1
    assert len(dict(y.__dask_graph__())) == 2 * x.npartitions
    want = getattr(sd, kind)(DATA, 0.4, True, generator=8)
    np.testing.assert_array_equal(bits(y.compute(scheduler="sync")), bits(want))


def test_dask_mask_is_lazy_and_exact():
    da = require("dask.array")
    x = da.from_array(DATA, chunks=(2, 3, 4, 5))
    mask = sd.dropout_mask(x, 0.5, generator=3)
    assert isinstance(mask, da.Array)
    np.testing.assert_array_equal(mask.compute(), sd.dropout_mask(DATA, 0.5, generator=3))


def test_dask_on_a_local_cluster_of_two_worker_processes():
    distributed = require("distributed")
    da = require("dask.array")
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        x = da.from_array(DATA, chunks=(2, 4, 4, 5))
        y = client.persist(sd.dropout2d(x, 0.4, generator=sd.Generator(12)))
        distributed.wait(y)
        held = client.who_has(distributed.futures_of(y))
        workers = {w for ws in held.values() for w in ws}
        got = y.compute()
    np.testing.assert_array_equal(bits(got), bits(sd.dropout2d(DATA, 0.4, generator=12)))
    assert len(workers) == 2


def test_every_shard_combination_covers_the_whole():
    """The four quarters of a 2-D split (batch x channels) tile the whole result."""
    whole = sd.dropout(DATA, 0.5, generator=7)
    got = np.empty_like(DATA)
    for (a, b), (c, d) in itertools.product([(0, 3), (3, 6)], [(0, 5), (5, 8)]):
        got[a:b, c:d] = sd.dropout(
            DATA[a:b, c:d], 0.5, generator=7, offset=(a, c, 0, 0), global_shape=FULL
        )
    np.testing.assert_array_equal(bits(got), bits(whole))


def test_the_ddp_recipe_with_simulated_ranks():
    """docs/distributed.md's recipe: rank r's local batch is rows r*b .. r*b+b-1 of the global."""
    world, b = 3, 2
    whole = sd.dropout2d(DATA, 0.5, generator=sd.Generator(21))
    for rank in range(world):
        x = DATA[rank * b : rank * b + b]
        y = sd.dropout2d(
            x,
            0.5,
            generator=sd.Generator(21),
            offset=(rank * x.shape[0], 0, 0, 0),
            global_shape=(world * x.shape[0], *x.shape[1:]),
        )
        np.testing.assert_array_equal(bits(y), bits(whole[rank * b : rank * b + b]))
