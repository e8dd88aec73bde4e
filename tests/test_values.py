"""Values on every backend: PyTorch's rounding of kept entries, exact +0.0 for dropped ones,
the edge cases of p, in place; compared with the reference path on array-api-strict."""

from __future__ import annotations

import numpy as np
import pytest

import spatial_dropout as sd
from spatial_dropout._variants import VARIANTS

from conftest import PLAIN, Backend, bits, expected, reference_mask, require

PS = [0.1, 0.3, 0.5, 0.9, 1 / 3, 0.123456789]
CHANNEL = [name for name in PLAIN if VARIANTS[name].channel]


def _expected_scale(p: float, dtype: np.dtype) -> np.generic:
    """The oracle, as SPEC.md states it, written independently of _scale.py."""
    if dtype == np.float64:
        return np.float64(1.0) / np.float64(1.0 - p)
    s32 = np.float32(1) / np.float32(1.0 - p)
    return np.asarray(s32).astype(dtype)[()]


def _dtype(name: str) -> np.dtype:
    if name == "bfloat16":
        return np.dtype(require("ml_dtypes").bfloat16)
    return np.dtype(name)


def _data(shape: tuple[int, ...], dtype: str = "float32") -> np.ndarray:
    x = np.random.default_rng(1).standard_normal(shape) * 10
    flat = x.reshape(-1)
    flat[::7], flat[::11], flat[::13] = np.inf, np.nan, -0.0
    return x.astype(_dtype(dtype))


@pytest.mark.parametrize("dtype_name", ["float16", "float32", "float64", "bfloat16"])
@pytest.mark.parametrize("p", PS)
def test_kept_values_follow_pytorch_rounding(dtype_name, p):
    """The scale SPEC.md states, against the library (NumPy), written without _scale.py."""
    dtype = _dtype(dtype_name)
    x = (np.random.default_rng(1).standard_normal((8, 16, 3, 3)) * 10).astype(dtype)
    keep = reference_mask("dropout2d", x.shape, p, 4)
    y = sd.dropout2d(x, p, generator=sd.Generator(4))
    s = _expected_scale(p, dtype)
    want = (x.astype(np.float32) * np.float32(s)).astype(dtype) if dtype.itemsize == 2 else x * s
    want = np.where(keep, want, np.zeros((), dtype))
    assert y.dtype == dtype
    np.testing.assert_array_equal(bits(y), bits(want))


@pytest.mark.parametrize("kind", PLAIN)
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("p", [0.2, 0.5])
def test_every_variant_equals_the_reference(backend: Backend, kind, dtype, p):
    if dtype not in backend.dtypes:
        pytest.skip(f"{backend.name} has no {dtype}")
    data = _data((3, 8, 4, 5), dtype)
    out = backend.call(getattr(sd, kind), backend.asarray(data), p, True, generator=11)
    got = backend.to_numpy(out)
    assert got.dtype == data.dtype
    assert got.shape == data.shape
    np.testing.assert_array_equal(bits(got), bits(expected(kind, data, p, 11)))


@pytest.mark.parametrize("kind", CHANNEL)
def test_channels_last_equals_the_reference(backend: Backend, kind):
    data = _data((2, 5, 4, 6))
    out = backend.call(
        getattr(sd, kind), backend.asarray(data), 0.4, generator=3, data_format="channels_last"
    )
    want = expected(kind, data, 0.4, 3, data_format="channels_last")
    np.testing.assert_array_equal(bits(backend.to_numpy(out)), bits(want))


@pytest.mark.parametrize("special", [np.inf, -np.inf, np.nan, -1.5, -0.0])
def test_dropped_entries_are_positive_zero(backend: Backend, special):
    data = np.full((4, 32, 2, 2), special, dtype=np.float32)
    got = backend.to_numpy(backend.call(sd.dropout2d, backend.asarray(data), 0.5, generator=0))
    dropped = ~reference_mask("dropout2d", data.shape, 0.5, 0)
    assert dropped.any()
    zeros = got.reshape(4, 32, 4)[dropped.reshape(4, 32)]
    assert (zeros.view(np.uint32) == 0).all()  # +0.0 bit pattern, no -0.0, no NaN


@pytest.mark.parametrize("kind", PLAIN)
def test_eval_and_p_zero_return_the_input_itself(backend: Backend, kind):
    fn = getattr(sd, kind)
    x = backend.asarray(np.arange(24.0).reshape(2, 3, 4))
    assert backend.call(lambda a: fn(a, 0.5, training=False) is a, x)
    assert backend.call(lambda a: fn(a, 0.0, True) is a, x)
    np.testing.assert_array_equal(backend.to_numpy(x), np.arange(24.0).reshape(2, 3, 4))


@pytest.mark.parametrize("kind", PLAIN)
def test_p_one_gives_zeros_without_inf_or_nan(backend: Backend, kind):
    data = np.array([[[np.inf, np.nan], [-1.0, 2.0]]], dtype=np.float32)
    x = backend.asarray(data)
    y = backend.to_numpy(backend.call(getattr(sd, kind), x, 1.0, True, generator=1))
    assert (y.view(np.uint32) == 0).all()
    if backend.writable:
        z = getattr(sd, kind)(x, 1.0, True, True)
        assert z is x
        assert (backend.to_numpy(x).view(np.uint32) == 0).all()


@pytest.mark.parametrize("dtype", ["float16", "float32"])
@pytest.mark.parametrize("p", [1 - 1e-12, 1 - 2**-33])
def test_p_rounding_to_one_gives_exact_zeros_in_every_dtype(backend: Backend, dtype, p):
    """``p`` that rounds to 1 in 32 bits keeps nothing; in float16 its scale is ``inf``, and
    ``0 * inf`` must not leak ``NaN`` (torch's composition did, found by the property test)."""
    if dtype not in backend.dtypes:
        pytest.skip(f"{backend.name} has no {dtype}")
    data = np.array([[[np.inf, np.nan], [-1.0, 2.0]]], dtype=dtype)
    for kind in ("dropout", "dropout2d"):
        y = backend.to_numpy(
            backend.call(getattr(sd, kind), backend.asarray(data), p, True, generator=3)
        )
        assert (bits(y) == 0).all(), (kind, y)
    mask = backend.call(sd.dropout_mask, backend.asarray(data), 1.0, kind="dropout", generator=0)
    y = backend.to_numpy(backend.call(sd.apply_mask, backend.asarray(data), mask, 1.0))
    assert (bits(y) == 0).all(), ("apply_mask", y)


def test_p_rounding_to_one_gives_exact_zero_gradients_on_torch():
    torch = require("torch")
    for inplace in (False, True):
        x = torch.tensor([np.inf, np.nan, -1.0, 2.0], dtype=torch.float16, requires_grad=True)
        y = sd.dropout(x * 1, 1 - 1e-12, True, inplace, generator=3)
        y.backward(torch.full_like(y, np.inf))
        assert (y.detach().view(torch.int16) == 0).all()
        assert (x.grad.view(torch.int16) == 0).all(), inplace


@pytest.mark.parametrize("shape", [(0,), (0, 3, 4, 4), (2, 0, 4, 4), (2, 3, 0, 0)])
def test_empty_input_gives_empty_result(backend: Backend, shape):
    x = backend.asarray(np.empty(shape, np.float32))
    y = backend.call(sd.dropout2d, x, 0.5, generator=0)
    assert tuple(backend.to_numpy(y).shape) == shape


@pytest.mark.parametrize("kind", PLAIN)
def test_inplace_equals_out_of_place(writable_backend: Backend, kind):
    data = _data((2, 5, 3, 3), "float64")
    fn = getattr(sd, kind)
    y = writable_backend.to_numpy(fn(writable_backend.asarray(data), 0.3, True, generator=2))
    x = writable_backend.asarray(data)
    z = fn(x, 0.3, True, True, generator=2)
    assert z is x
    np.testing.assert_array_equal(bits(writable_backend.to_numpy(x)), bits(y))
    np.testing.assert_array_equal(bits(y), bits(expected(kind, data, 0.3, 2)))


def test_inplace_writes_through_a_view_and_returns_it():
    base = np.ones((4, 8, 3, 3), dtype=np.float32)
    view = base[::2]  # non-contiguous
    out = sd.dropout2d(view, 0.5, inplace=True, generator=sd.Generator(1))
    assert out is view
    np.testing.assert_array_equal(base[::2], expected("dropout2d", np.ones_like(view), 0.5, 1))
    np.testing.assert_array_equal(base[1::2], 1.0)  # the other rows are untouched


@pytest.mark.parametrize("layout", ["fortran", "strided", "negative", "transposed"])
def test_layouts_give_the_reference_result(layout):
    data = _data((3, 6, 5, 5), "float64")
    x = {
        "fortran": lambda: np.asfortranarray(data),
        "strided": lambda: np.repeat(data, 2, axis=3)[..., ::2],
        "negative": lambda: data[::-1].copy()[::-1],
        "transposed": lambda: np.ascontiguousarray(data.transpose(3, 2, 1, 0)).transpose(
            3, 2, 1, 0
        ),
    }[layout]()
    want = expected("dropout2d", data, 0.5, 8)
    np.testing.assert_array_equal(bits(sd.dropout2d(x, 0.5, generator=sd.Generator(8))), bits(want))


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_alpha_dropout_follows_pytorch_definition(p):
    alpha = 1.7580993408473766
    a = 1.0 / np.sqrt((alpha**2 * p + 1) * (1 - p))
    x = np.random.default_rng(5).standard_normal((4, 64, 3))
    keep = reference_mask("feature_alpha_dropout", x.shape, p, 6)
    y = sd.feature_alpha_dropout(x, p, True, generator=sd.Generator(6))
    want = np.where(keep, x * a + alpha * a * p, alpha * a * (p - 1))
    np.testing.assert_allclose(y, want, rtol=1e-15, atol=1e-15)
    assert np.isfinite(sd.alpha_dropout(np.full(100, np.inf), p, True, generator=0)).any()


def test_alpha_dropout_keeps_mean_and_variance_of_standard_normal():
    x = np.random.default_rng(7).standard_normal(2_000_000)
    y = sd.alpha_dropout(x, 0.3, True, generator=sd.Generator(1))
    # n = 2e6: the sample mean's sd is ~7e-4 and the variance's ~1.5e-3; 8 sd is < 1e-15 odds
    assert abs(y.mean()) < 8 * 7.1e-4
    assert abs(y.var() - 1.0) < 8 * 1.6e-3


def test_apply_mask_is_the_forward_and_the_backward(backend: Backend):
    data = _data((2, 4, 3, 3))
    x = backend.asarray(data)
    mask = backend.call(sd.dropout_mask, x, 0.25, generator=3)
    y = backend.call(lambda a, m: sd.apply_mask(a, m, 0.25), x, mask)
    np.testing.assert_array_equal(
        bits(backend.to_numpy(y)), bits(expected("dropout2d", data, 0.25, 3))
    )
    grad = backend.asarray(np.full_like(data, np.inf))
    dx = backend.to_numpy(backend.call(lambda a, m: sd.apply_mask(a, m, 0.25), grad, mask))
    keep = np.broadcast_to(reference_mask("dropout2d", data.shape, 0.25, 3), data.shape)
    assert (bits(dx[~keep]) == 0).all()
    assert np.isinf(dx[keep]).all()


TRAILING = [
    ((4, 4, 4, 4), (4, 4)),
    ((4, 4, 4, 4), (4, 1)),
    ((3, 4, 5), (1, 5)),
    ((2, 3, 4, 4), (3, 1, 1)),
]


@pytest.mark.parametrize(("shape", "mshape"), TRAILING)
def test_apply_mask_broadcasts_from_the_trailing_axes(backend: Backend, shape, mshape):
    """A lower-rank mask lines up with the trailing axes, as NumPy broadcasts (a (4, 4) mask on
    (4, 4, 4, 4) once lined up with the leading ones)."""
    data = _data(shape)
    keep = np.random.default_rng(2).random(mshape) < 0.5
    mask = backend.asarray(keep)
    got = backend.to_numpy(
        backend.call(lambda a, m: sd.apply_mask(a, m, 0.5), backend.asarray(data), mask)
    )
    want = np.where(np.broadcast_to(keep, shape), data * np.float32(2), np.float32(0))
    np.testing.assert_array_equal(bits(got), bits(want))
