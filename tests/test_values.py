"""Values: PyTorch's rounding of kept entries, exact +0.0 for dropped ones, the edge cases of p."""

from __future__ import annotations

import numpy as np
import pytest

import spatial_dropout as sd

PS = [0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 1 / 3, 0.123456789]


def _expected_scale(p: float, dtype: np.dtype) -> np.generic:
    """The oracle, as SPEC.md states it, written independently of _scale.py."""
    if dtype == np.float64:
        return np.float64(1.0) / np.float64(1.0 - p)
    s32 = np.float32(1) / np.float32(1.0 - p)
    return np.asarray(s32).astype(dtype)[()]


def _dtype(name: str) -> np.dtype:
    if name == "bfloat16":
        from conftest import require

        return np.dtype(require("ml_dtypes").bfloat16)
    return np.dtype(name)


@pytest.mark.parametrize("dtype_name", ["float16", "float32", "float64", "bfloat16"])
@pytest.mark.parametrize("p", PS)
def test_kept_values_bit_exact(dtype_name, p):
    dtype = _dtype(dtype_name)
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((8, 16, 3, 3)) * 10).astype(dtype)
    keep = sd.dropout_mask(x, p, generator=sd.Generator(4))
    y = sd.dropout2d(x, p, generator=sd.Generator(4))
    s = _expected_scale(p, dtype)
    expected = (
        (x.astype(np.float32) * np.float32(s)).astype(dtype) if dtype.itemsize == 2 else x * s
    )
    expected = np.where(keep, expected, np.zeros((), dtype))
    assert y.dtype == dtype
    np.testing.assert_array_equal(y.view(np.uint8), expected.view(np.uint8))


@pytest.mark.parametrize("special", [np.inf, -np.inf, np.nan, -1.5, -0.0])
def test_dropped_entries_are_positive_zero(special):
    x = np.full((4, 32, 2, 2), special, dtype=np.float32)
    y = sd.dropout2d(x, 0.5, generator=sd.Generator(0))
    dropped = ~sd.dropout_mask(x, 0.5, generator=sd.Generator(0))
    assert dropped.any()
    zeros = y.reshape(4, 32, 4)[dropped.reshape(4, 32)]
    assert (zeros.view(np.uint32) == 0).all()  # +0.0 bit pattern, no -0.0, no NaN


def test_reference_path_agrees_bit_for_bit_with_numpy_kernel(backend):
    rng = np.random.default_rng(2)
    data = rng.standard_normal((3, 8, 4, 4)).astype(np.float32)
    data[0, 0, 0, 0] = np.inf
    data[1, 2, 0, 0] = np.nan
    out = backend.to_numpy(sd.dropout2d(backend.asarray(data), 0.4, generator=sd.Generator(11)))
    ref = sd.dropout2d(data, 0.4, generator=sd.Generator(11))
    np.testing.assert_array_equal(out.view(np.uint32), ref.view(np.uint32))


@pytest.mark.parametrize("fn", [sd.dropout, sd.dropout1d, sd.dropout2d, sd.dropout3d])
def test_eval_and_p_zero_return_the_input_itself(fn):
    x = np.arange(24.0).reshape(2, 3, 4)
    assert fn(x, 0.5, training=False) is x
    assert fn(x, 0.0) is x
    assert fn(x, 0.0, inplace=True) is x
    np.testing.assert_array_equal(x, np.arange(24.0).reshape(2, 3, 4))


@pytest.mark.parametrize("fn", [sd.dropout, sd.dropout2d, sd.alpha_dropout,
                                sd.feature_alpha_dropout])  # fmt: skip
def test_p_one_gives_zeros_without_inf_or_nan(fn):
    x = np.array([[[np.inf, np.nan], [-1.0, 2.0]]], dtype=np.float32)
    y = fn(x, 1.0, True)
    assert y is not x
    assert (y.view(np.uint32) == 0).all()
    z = fn(x, 1.0, True, True)
    assert z is x
    assert (x.view(np.uint32) == 0).all()


def test_empty_input_gives_empty_result():
    x = np.empty((0, 3, 4, 4), dtype=np.float32)
    y = sd.dropout2d(x, 0.5)
    assert y.shape == (0, 3, 4, 4)


def test_inplace_writes_through_a_view_and_returns_it():
    base = np.ones((4, 8, 3, 3), dtype=np.float32)
    view = base[::2]  # non-contiguous
    out = sd.dropout2d(view, 0.5, inplace=True, generator=sd.Generator(1))
    assert out is view
    expected = sd.dropout2d(np.ones((2, 8, 3, 3), np.float32), 0.5, generator=sd.Generator(1))
    np.testing.assert_array_equal(base[::2], expected)
    np.testing.assert_array_equal(base[1::2], 1.0)  # the other rows are untouched


def test_inplace_equals_out_of_place(writable_backend):
    data = np.random.default_rng(3).standard_normal((2, 5, 3, 3))
    x = writable_backend.asarray(data)
    y = sd.dropout2d(x, 0.3, generator=sd.Generator(2))
    z = sd.dropout2d(x, 0.3, inplace=True, generator=sd.Generator(2))
    assert z is x
    np.testing.assert_array_equal(writable_backend.to_numpy(y), writable_backend.to_numpy(x))


def test_non_contiguous_and_fortran_inputs():
    data = np.random.default_rng(4).standard_normal((3, 6, 5, 5))
    ref = sd.dropout2d(data, 0.5, generator=sd.Generator(8))
    fortran = np.asfortranarray(data)
    np.testing.assert_array_equal(sd.dropout2d(fortran, 0.5, generator=sd.Generator(8)), ref)
    strided = np.repeat(data, 2, axis=3)[..., ::2]
    np.testing.assert_array_equal(sd.dropout2d(strided, 0.5, generator=sd.Generator(8)), ref)


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_alpha_dropout_follows_pytorch_definition(p):
    alpha = 1.7580993408473766
    a = 1.0 / np.sqrt((alpha**2 * p + 1) * (1 - p))
    x = np.random.default_rng(5).standard_normal((4, 64, 3))
    keep = sd.dropout_mask(x, p, kind="feature_alpha_dropout", generator=sd.Generator(6))
    y = sd.feature_alpha_dropout(x, p, True, generator=sd.Generator(6))
    expected = np.where(keep, x * a + alpha * a * p, alpha * a * (p - 1))
    np.testing.assert_allclose(y, expected, rtol=1e-15, atol=1e-15)
    assert np.isfinite(sd.alpha_dropout(np.full(100, np.inf), p, True, generator=0)).any()


def test_alpha_dropout_keeps_mean_and_variance_of_standard_normal():
    x = np.random.default_rng(7).standard_normal(2_000_000)
    y = sd.alpha_dropout(x, 0.3, True, generator=sd.Generator(1))
    # n = 2e6: the sample mean's sd is ~7e-4 and the variance's ~1.5e-3; 8 sd is < 1e-15 odds
    assert abs(y.mean()) < 8 * 7.1e-4
    assert abs(y.var() - 1.0) < 8 * 1.6e-3


def test_apply_mask_is_the_forward_and_the_backward():
    x = np.random.default_rng(8).standard_normal((2, 4, 3, 3)).astype(np.float32)
    mask = sd.dropout_mask(x, 0.25, generator=sd.Generator(3))
    y = sd.apply_mask(x, mask, 0.25)
    np.testing.assert_array_equal(y, sd.dropout2d(x, 0.25, generator=sd.Generator(3)))
    grad = np.full_like(x, np.inf)
    dx = sd.apply_mask(grad, mask, 0.25)
    assert (dx[np.broadcast_to(~mask, x.shape)] == 0).all()
    assert np.isinf(dx[np.broadcast_to(mask, x.shape)]).all()
