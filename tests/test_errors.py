"""SPEC.md's bad-input table: a clear error naming the argument and value; nothing touched."""

from __future__ import annotations

import numpy as np
import pytest

import spatial_dropout as sd

ALL = [sd.dropout, sd.dropout1d, sd.dropout2d, sd.dropout3d, sd.alpha_dropout,
       sd.feature_alpha_dropout]  # fmt: skip


def _fresh() -> np.ndarray:
    return np.linspace(-1, 1, 2 * 3 * 4 * 4, dtype=np.float32).reshape(2, 3, 4, 4)


@pytest.mark.parametrize("fn", ALL, ids=lambda f: f.__name__)
@pytest.mark.parametrize("p", [-0.1, 1.5, float("nan"), float("inf")])
def test_p_out_of_range(fn, p):
    x = _fresh()
    with pytest.raises(
        ValueError, match=rf"{fn.__name__}\(\): `p` must be a probability in \[0, 1\]; got"
    ):
        fn(x, p, True, True)
    np.testing.assert_array_equal(x, _fresh())


@pytest.mark.parametrize("fn", ALL, ids=lambda f: f.__name__)
@pytest.mark.parametrize("p", [True, "0.5", None, [0.5]])
def test_p_wrong_type(fn, p):
    x = _fresh()
    with pytest.raises(TypeError, match=r"`p` must be a real number") as info:
        fn(x, p, True, True)
    assert repr(p) in str(info.value)
    np.testing.assert_array_equal(x, _fresh())


@pytest.mark.parametrize("fn", ALL, ids=lambda f: f.__name__)
@pytest.mark.parametrize("name", ["training", "inplace"])
@pytest.mark.parametrize("value", [1, 0, "yes", None, np.bool_(True)])
def test_flags_must_be_bool(fn, name, value):
    x = _fresh()
    kwargs = {"training": True, "inplace": False, name: value}
    with pytest.raises(TypeError, match=rf"`{name}` must be a bool; got"):
        fn(x, 0.5, **kwargs)
    np.testing.assert_array_equal(x, _fresh())


@pytest.mark.parametrize("fn", ALL, ids=lambda f: f.__name__)
@pytest.mark.parametrize("obj", [[1.0, 2.0], None, "abc", 3.0, np.float32(1.0)])
def test_not_an_array(fn, obj):
    with pytest.raises(TypeError, match=r"`input` must be an array \(numpy.ndarray, torch.Tensor"):
        fn(obj, 0.5, True)


@pytest.mark.parametrize("fn", ALL, ids=lambda f: f.__name__)
@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.uint8, np.bool_])
def test_integer_or_bool_in_training(fn, dtype):
    x = np.ones((2, 3, 4, 4), dtype=dtype)
    with pytest.raises(TypeError, match=r"needs a floating-point `input`; got dtype"):
        fn(x, 0.5, True, True)
    assert (x == 1).all()
    # but eval and p == 0 return it unchanged, as PyTorch does
    assert fn(x, 0.5, False) is x
    assert fn(x, 0.0, True) is x


def test_read_only_inplace_is_refused_and_untouched():
    x = _fresh()
    x.flags.writeable = False
    with pytest.raises(
        ValueError,
        match=r"inplace=True, but a read-only numpy.ndarray cannot be written; the input is "
        r"unchanged",
    ):
        sd.dropout2d(x, 0.5, inplace=True)
    np.testing.assert_array_equal(x, _fresh())
    y = sd.dropout2d(x, 0.5, generator=0)  # out of place still works
    assert y.flags.writeable


def test_jax_inplace_is_refused():
    from conftest import require

    jnp = require("jax.numpy")
    x = jnp.ones((2, 3, 4, 4))
    with pytest.raises(ValueError, match=r"inplace=True, but a jax.*cannot be written"):
        sd.dropout2d(x, 0.5, inplace=True, generator=0)


def test_zero_size_array_gives_empty_result():
    for shape in [(0,), (0, 3, 4, 4), (2, 0, 4, 4), (2, 3, 0, 0)]:
        y = sd.dropout2d(np.empty(shape, np.float32), 0.5)
        assert y.shape == shape


def test_bad_data_format():
    with pytest.raises(
        ValueError, match=r"`data_format` must be 'channels_first' or 'channels_last'; got 'NHWC'"
    ):
        sd.dropout2d(_fresh(), 0.5, data_format="NHWC")


def test_bad_generator_names_it():
    with pytest.raises(TypeError, match=r"`generator` must be None, an int seed.*got str"):
        sd.dropout2d(_fresh(), 0.5, generator="seed")
    with pytest.raises(ValueError, match=r"`seed` must be in \[0, 2\*\*64\); got -3"):
        sd.dropout2d(_fresh(), 0.5, generator=-3)


def test_unknown_option_key():
    with pytest.raises(TypeError, match=r"unknown option 'prob'"):
        sd.dropout2d(_fresh(), {"prob": 0.5})


def test_bad_mask_for_apply_mask():
    with pytest.raises(ValueError, match=r"`mask` of shape \(5, 1\) does not broadcast"):
        sd.apply_mask(_fresh(), np.ones((5, 1), bool), 0.5)
    with pytest.raises(ValueError, match=r"`kind` must be one of"):
        sd.dropout_mask(_fresh(), 0.5, kind="dropout4d")


def test_layer_constructor_validates():
    with pytest.raises(ValueError, match=r"Dropout2d\(\): `p` must be a probability"):
        sd.Dropout2d(2.0)
    with pytest.raises(TypeError, match=r"`inplace` must be a bool"):
        sd.Dropout2d(0.5, inplace=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"`data_format` applies only to Dropout1d/2d/3d"):
        sd.Dropout(0.5, data_format="channels_last")
