"""Pickling and copying: a Generator, the options object and every layer pickle, deep-copy and
resume: the copy continues the stream exactly where the original stood."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

import spatial_dropout as sd
from spatial_dropout._variants import VARIANTS

from conftest import PLAIN, require

X = np.ones((2, 16, 3, 3), dtype=np.float32)


@pytest.mark.parametrize("clone", ["pickle", "deepcopy", "copy"])
def test_generator_resumes_its_stream(clone):
    g = sd.Generator(12, counter=5)
    sd.dropout2d(X, 0.5, generator=g)
    twin = {
        "pickle": lambda: pickle.loads(pickle.dumps(g)),
        "deepcopy": lambda: copy.deepcopy(g),
        "copy": lambda: copy.copy(g),
    }[clone]()
    assert (twin.seed, twin.counter) == (12, 6)
    np.testing.assert_array_equal(
        sd.dropout2d(X, 0.5, generator=twin), sd.dropout2d(X, 0.5, generator=g)
    )
    assert twin.counter == g.counter == 7
    sd.dropout2d(X, 0.5, generator=twin)
    assert g.counter == 7  # independent after the copy


def test_options_pickle_and_copy():
    opts = sd.DropoutOptions(p=0.3, training=True, inplace=False)
    assert pickle.loads(pickle.dumps(opts)) == opts == copy.deepcopy(opts)


@pytest.mark.parametrize("name", PLAIN)
def test_neutral_layers_pickle_and_resume(name):
    layer = getattr(sd, VARIANTS[name].layer)(0.4, generator=3)
    layer(X)
    twin = pickle.loads(pickle.dumps(layer))
    assert repr(twin) == repr(layer)
    assert twin.generator.counter == layer.generator.counter == 1
    np.testing.assert_array_equal(twin(X), layer(X))
    deep = copy.deepcopy(layer.eval())
    assert deep(X) is X


@pytest.mark.parametrize("name", PLAIN)
def test_torch_modules_pickle_and_resume(name):
    torch = require("torch")
    from spatial_dropout import torch as sdt

    module = getattr(sdt, VARIANTS[name].layer)(0.4, generator=3)
    x = torch.ones(2, 16, 3, 3)
    module(x)
    twin = pickle.loads(pickle.dumps(module))
    assert torch.equal(twin(x), module(x))
    assert copy.deepcopy(module).generator.counter == module.generator.counter == 2


@pytest.mark.parametrize("name", PLAIN)
def test_flax_and_equinox_layers_copy(name):
    jax = require("jax")
    nnx = require("flax.nnx")
    from spatial_dropout import equinox as sde
    from spatial_dropout import flax as sdf

    x = jax.numpy.ones((2, 3, 3, 16))
    layer = getattr(sdf, VARIANTS[name].layer)(0.4, rngs=nnx.Rngs(dropout=1))
    twin = copy.deepcopy(layer)
    np.testing.assert_array_equal(np.asarray(twin(x)), np.asarray(layer(x)))
    eqx_layer = getattr(sde, VARIANTS[name].layer)(0.4)
    key = jax.random.key(2)
    again = pickle.loads(pickle.dumps(eqx_layer))
    np.testing.assert_array_equal(np.asarray(again(x, key=key)), np.asarray(eqx_layer(x, key=key)))
