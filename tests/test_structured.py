"""The structured family so far: ``dropout(..., shared_axes=)`` and ``drop_path``, on every
backend. Both are mask rules of the variant registry: their oracle is element-wise dropout's
reference mask of the shared shape, and each other (``drop_path`` is ``dropout`` with every
other axis shared, bit for bit)."""

from __future__ import annotations

import numpy as np
import pytest

import spatial_dropout as sd

from conftest import Backend, bits, require

DATA = np.random.default_rng(0).standard_normal((6, 5, 4, 3)).astype(np.float32) + 2


@pytest.mark.parametrize("axes", [(2, 3), (-2, -1), [3, 2]])
def test_shared_axes_2_3_is_dropout2d(backend: Backend, axes):
    x = backend.asarray(DATA)
    for seed in (0, 1, 2**63 + 5):
        a = backend.call(sd.dropout, x, 0.5, True, False, shared_axes=axes, generator=seed)
        b = backend.call(sd.dropout2d, x, 0.5, True, False, generator=seed)
        np.testing.assert_array_equal(bits(backend.to_numpy(a)), bits(backend.to_numpy(b)))
    np.testing.assert_array_equal(backend.to_numpy(x), DATA)


@pytest.mark.parametrize("axes", [(0,), (1,), (0, 2), (1, 2, 3), (0, 1, 2, 3)])
def test_shared_axes_share_one_entry_along_each_axis(backend: Backend, axes):
    y = backend.to_numpy(
        backend.call(
            sd.dropout, backend.asarray(DATA), 0.5, True, False, shared_axes=axes, generator=7
        )
    )
    kept = y != 0
    for axis in axes:
        first = np.take(kept, [0], axis=axis)
        assert (kept == first).all(), axis  # one decision along a shared axis
    mask = sd.dropout_mask(DATA, 0.5, kind="dropout", shared_axes=axes, generator=7)
    assert mask.shape == tuple(1 if a in axes else n for a, n in enumerate(DATA.shape))
    np.testing.assert_array_equal(np.broadcast_to(mask, DATA.shape), kept)


def test_shared_axes_with_torch_generator_is_dropout2d_after_the_same_seed():
    torch = require("torch")
    x = torch.from_numpy(DATA.copy())
    torch.manual_seed(3)
    a = sd.dropout(x, 0.3, shared_axes=(2, 3))
    torch.manual_seed(3)
    b = sd.dropout2d(x, 0.3)
    torch.manual_seed(3)
    c = torch.nn.functional.dropout2d(x, 0.3)
    assert torch.equal(a, b)
    assert torch.equal(a, c)  # DATA has no inf, NaN or negative entries: the same values


def test_an_offset_along_a_shared_axis_never_changes_the_mask():
    whole = sd.dropout(DATA, 0.5, shared_axes=(2,), generator=4)
    for start in (0, 1, 3):
        part = sd.dropout(
            DATA[:, :, start:],
            0.5,
            shared_axes=(2,),
            generator=4,
            offset=(0, 0, start, 0),
            global_shape=DATA.shape,
        )
        np.testing.assert_array_equal(bits(part), bits(whole[:, :, start:]))


@pytest.mark.parametrize(
    ("axes", "error", "match"),
    [
        ((1, 1), ValueError, "distinct axes"),
        ((1, -3), ValueError, "distinct axes"),
        ((4,), ValueError, r"axes in \[-4, 4\)"),
        ((-5,), ValueError, r"axes in \[-4, 4\)"),
        ((1.0,), TypeError, "a tuple of ints"),
        ("2", TypeError, "a tuple of ints"),
        ((True,), TypeError, "a tuple of ints"),
    ],
)
def test_bad_shared_axes_name_the_function_and_the_argument(backend: Backend, axes, error, match):
    x = backend.asarray(DATA)
    with pytest.raises(error, match=rf"^dropout\(\): `shared_axes` must be {match}"):
        backend.call(sd.dropout, x, 0.5, True, False, shared_axes=axes, generator=0)
    np.testing.assert_array_equal(backend.to_numpy(x), DATA)


# --- drop_path ---------------------------------------------------------------------------------


@pytest.mark.parametrize("batch_axis", [0, 1, -1])
def test_drop_path_is_dropout_with_every_other_axis_shared(backend: Backend, batch_axis):
    x = backend.asarray(DATA)
    axis = batch_axis % DATA.ndim
    others = tuple(a for a in range(DATA.ndim) if a != axis)
    for seed in (0, 9):
        a = backend.call(sd.drop_path, x, 0.5, True, False, batch_axis=batch_axis, generator=seed)
        b = backend.call(sd.dropout, x, 0.5, True, False, shared_axes=others, generator=seed)
        got = backend.to_numpy(a)
        np.testing.assert_array_equal(bits(got), bits(backend.to_numpy(b)))
        per_sample = np.moveaxis(got != 0, axis, 0).reshape(DATA.shape[axis], -1)
        assert (per_sample.all(axis=1) | ~per_sample.any(axis=1)).all()  # whole samples


def test_drop_path_sequence_first_drops_samples_not_time_steps():
    """timm's drop_path assumes the batch is axis 0; a ``(T, B, D)`` input then loses time
    steps. ``batch_axis=1`` drops samples: every time step of a sample shares its decision."""
    x = np.ones((7, 16, 3), dtype=np.float32)
    y = sd.drop_path(x, 0.5, batch_axis=1, generator=2)
    assert (y == y[:1]).all()
    assert 0 < (y[0, :, 0] == 0).sum() < 16


def test_drop_path_batch_mode_and_scale_by_keep(backend: Backend):
    x = backend.asarray(DATA)
    seen = set()
    for seed in range(12):
        y = backend.to_numpy(
            backend.call(sd.drop_path, x, 0.5, True, False, mode="batch", generator=seed)
        )
        assert (y == 0).all() or (y == DATA * np.float32(2)).all()
        seen.add(bool((y == 0).all()))
        z = backend.to_numpy(
            backend.call(sd.drop_path, x, 0.5, True, False, scale_by_keep=False, generator=seed)
        )
        assert ((z == 0) | (z == DATA)).all()
    assert seen == {True, False}  # 12 fair draws, both outcomes: fails with chance 2**-11


def test_drop_path_with_torch_generator_equals_timms_formula():
    """timm's ``drop_path`` (and torchvision's ``stochastic_depth`` in row mode), written out:
    ``x.new_empty((B, 1, ...)).bernoulli_(keep).div_(keep)``, then ``x * noise``."""
    torch = require("torch")
    x = torch.from_numpy(DATA.copy())
    for p in (0.1, 0.5):
        keep = 1 - p
        torch.manual_seed(11)
        noise = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep).div_(keep)
        theirs = x * noise
        torch.manual_seed(11)
        ours = sd.drop_path(x, p)
        assert torch.equal(ours, theirs)


def test_drop_path_p_one_and_gradients():
    torch = require("torch")
    x = torch.tensor(DATA, requires_grad=True)
    y = sd.drop_path(x * 1, 1.0, generator=0)
    assert (y == 0).all()
    y = sd.drop_path(x, 0.5, generator=5)
    y.backward(torch.ones_like(y))
    kept = (y != 0).detach()
    assert torch.equal(x.grad, torch.where(kept, 2.0, 0.0))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"mode": "rows"}, ValueError, "`mode` must be one of row, batch"),
        ({"batch_axis": 4}, ValueError, r"`batch_axis` must be an int in \[-4, 4\)"),
        ({"batch_axis": 1.0}, ValueError, r"`batch_axis` must be an int in \[-4, 4\)"),
        ({"scale_by_keep": 1}, TypeError, "`scale_by_keep` must be a bool"),
    ],
)
def test_bad_drop_path_arguments_name_the_function(backend: Backend, kwargs, error, match):
    x = backend.asarray(DATA)
    with pytest.raises(error, match=rf"^drop_path\(\): {match}"):
        backend.call(sd.drop_path, x, 0.5, True, False, generator=0, **kwargs)
    np.testing.assert_array_equal(backend.to_numpy(x), DATA)
    with pytest.raises(ValueError, match=r"^drop_path\(\): `batch_axis`"):
        sd.drop_path(np.ones((), dtype=np.float32), 0.5, generator=0)  # 0-d: no batch axis


def test_dropout_mask_takes_each_kinds_own_options():
    mask = sd.dropout_mask(DATA, 0.5, kind="drop_path", batch_axis=1, generator=1)
    assert mask.shape == (1, 5, 1, 1)
    with pytest.raises(TypeError, match=r"^dropout_mask\(\): unknown option 'mode'"):
        sd.dropout_mask(DATA, 0.5, kind="dropout2d", mode="row")


# --- layers ------------------------------------------------------------------------------------


def test_drop_path_layers_in_every_module():
    layer = sd.DropPath(0.5, batch_axis=1, generator=3)
    y = layer(DATA)
    np.testing.assert_array_equal(y, sd.drop_path(DATA, 0.5, batch_axis=1, generator=3))
    assert layer.eval()(DATA) is DATA
    with pytest.raises(ValueError, match=r"^DropPath\(\): `mode` must be one of"):
        sd.DropPath(0.5, mode="all")


def test_torch_drop_path_module_and_replace_dropout_of_the_peers():
    torch = require("torch")
    from spatial_dropout import torch as sdt

    module = sdt.DropPath(0.25, generator=4)
    x = torch.from_numpy(DATA.copy())
    assert torch.equal(module(x), sd.drop_path(x, 0.25, generator=4))
    assert module.eval()(x) is x

    # timm's DropPath and torchvision's StochasticDepth, by class and module name
    timm_like = type("DropPath", (torch.nn.Module,), {"__module__": "timm.layers.drop"})
    tv_like = type("StochasticDepth", (torch.nn.Module,), {"__module__": "torchvision.ops"})
    a, b = timm_like(), tv_like()
    a.drop_prob, a.scale_by_keep = 0.2, False
    b.p, b.mode = 0.3, "batch"
    model = sdt.replace_dropout(torch.nn.Sequential(a, torch.nn.Sequential(b)).eval())
    assert isinstance(model[0], sdt.DropPath)
    assert (model[0].p, model[0].scale_by_keep, model[0].training) == (0.2, False, False)
    assert (model[1][0].p, model[1][0].mode) == (0.3, "batch")


def test_jax_layers_draw_drop_path():
    jax = require("jax")
    require("flax")
    require("equinox")
    from flax import nnx

    from spatial_dropout import equinox as sde
    from spatial_dropout import flax as sdf

    x = jax.numpy.asarray(DATA)
    key = jax.random.key(6)
    want = np.asarray(sd.drop_path(x, 0.5, batch_axis=1, key=key))
    got = sde.DropPath(0.5, batch_axis=1)(x, key=key)
    np.testing.assert_array_equal(np.asarray(got), want)
    flax_layer = sdf.DropPath(0.5, batch_axis=1, rngs=nnx.Rngs(dropout=0))
    y = np.asarray(flax_layer(x, rngs=key))
    np.testing.assert_array_equal(y, want)
