"""Hypothesis properties on every backend: shapes (zero-size dims, ranks 0-6), dtypes, p,
data formats, in place; each result equals the reference path on array-api-strict."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import spatial_dropout as sd
from spatial_dropout import mask_shape
from spatial_dropout._variants import VARIANTS

from conftest import PLAIN, Backend, bits, expected

shapes = st.lists(st.integers(0, 5), min_size=0, max_size=6).map(tuple)
probs = st.one_of(st.sampled_from([0.0, 1.0, 0.5, 1 - 2**-40, 5e-324]), st.floats(0.0, 1.0))
SETTINGS = settings(
    deadline=None, max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@SETTINGS
@given(
    shape=shapes,
    kind=st.sampled_from(PLAIN),
    fmt=st.sampled_from(["channels_first", "channels_last"]),
    dtype=st.sampled_from(["float16", "float32", "float64"]),
    p=probs,
    seed=st.integers(0, 2**64 - 1),
    inplace=st.booleans(),
)
def test_output_is_the_reference(backend: Backend, shape, kind, fmt, dtype, p, seed, inplace):
    if dtype not in backend.dtypes or (inplace and not backend.writable):
        return
    variant = VARIANTS[kind]
    if kind == "drop_path" and not shape:
        return  # a 0-d input has no batch axis: refused (tests/test_structured.py)
    if variant.transform(0.5, 23, None).alpha and dtype == "float16" and 0.99 < p < 1:
        return  # alpha's float16 constants overflow to inf/NaN there, as PyTorch's do
    fmt = fmt if variant.channel else "channels_first"
    kwargs = {"data_format": fmt} if variant.channel else {}
    data = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    x = backend.asarray(data)
    y = backend.call(getattr(sd, kind), x, p, True, inplace, generator=seed, **kwargs)
    got = backend.to_numpy(y)
    assert got.shape == data.shape
    assert got.dtype == data.dtype
    if (inplace or p == 0.0 or data.size == 0) and backend.name != "jax:jit":
        assert y is x  # (a jitted function returns new arrays)
    if p == 0.0 or data.size == 0:
        np.testing.assert_array_equal(bits(got), bits(data))
        return
    np.testing.assert_array_equal(bits(got), bits(expected(kind, data, p, seed, 0, fmt)))
    keep = backend.call(
        sd.dropout_mask,
        x if not inplace else backend.asarray(data),
        p,
        kind=kind,
        generator=seed,
        **kwargs,
    )
    assert tuple(backend.to_numpy(keep).shape) == variant.mask_shape(
        shape, fmt, variant.params(kind, shape, {}) if variant.params else {}
    )


@pytest.mark.parametrize("n", [None, 1, 2, 3])
@settings(deadline=None, max_examples=100)
@given(shape=shapes, fmt=st.sampled_from(["channels_first", "channels_last"]))
def test_mask_shape_broadcasts_and_keeps_the_batch_and_channels(n, shape, fmt):
    m = mask_shape(shape, n, fmt)
    assert len(m) == len(shape)
    assert np.broadcast_shapes(m, shape) == shape
    assert all(a in (1, b) for a, b in zip(m, shape, strict=True))


@settings(deadline=None, max_examples=100)
@given(
    seed=st.integers(0, 2**64 - 1),
    counter=st.integers(0, 2**64 - 1),
    n=st.integers(1, 64),
    start=st.integers(0, 2**33),
)
def test_mask_entry_depends_only_on_seed_counter_and_index(seed, counter, n, start):
    from spatial_dropout._random import random_words

    whole = random_words(np, n + 5, seed, counter, start=start)
    np.testing.assert_array_equal(
        random_words(np, n, seed, counter, start=start + 5)[:n], whole[5:][:n]
    )


LAYOUTS = ["contiguous", "transposed", "sliced", "negative", "broadcast", "overlapping"]


def _layout(data: np.ndarray, layout: str) -> np.ndarray:
    """``data``'s values (or, for the last two, values derived from it) in another layout."""
    if layout == "transposed" and data.ndim:
        axes = tuple(reversed(range(data.ndim)))
        return np.ascontiguousarray(data.transpose(axes)).transpose(axes)
    if layout == "sliced":
        return np.repeat(data, 2, axis=-1)[..., ::2] if data.ndim else data.copy()
    if layout == "negative":
        return np.ascontiguousarray(data[::-1])[::-1] if data.ndim else data.copy()
    if layout == "broadcast":  # read-only, every row the same
        return np.broadcast_to(data[:1], data.shape) if data.ndim and data.shape[0] else data
    if layout == "overlapping":  # a writable view whose rows share memory
        if data.ndim < 2 or data.shape[0] < 2 or data.shape[1] < 2:
            return data.copy()
        base = data.reshape(-1).copy()
        return np.lib.stride_tricks.as_strided(base, data.shape, (data.itemsize, *data.strides[1:]))
    return data.copy()


@settings(deadline=None, max_examples=300)
@given(
    shape=shapes,
    kind=st.sampled_from(PLAIN),
    layout=st.sampled_from(LAYOUTS),
    dtype=st.sampled_from(["float16", "float32", "float64", "bfloat16", "int32", "bool"]),
    p=probs,
    generator=st.sampled_from(["int", "Generator", "global", "numpy"]),
    inplace=st.booleans(),
)
def test_numpy_layouts_dtypes_and_generators(shape, kind, layout, dtype, p, generator, inplace):
    """Every NumPy layout gives the contiguous result bit for bit; what cannot be done (in place
    on read-only or overlapping memory, a non-floating dtype) is refused with nothing written."""
    if dtype == "bfloat16":
        dt = np.dtype(pytest.importorskip("ml_dtypes").bfloat16)
    else:
        dt = np.dtype(dtype)
    variant = VARIANTS[kind]
    if kind == "drop_path" and not shape:
        return  # a 0-d input has no batch axis: refused (tests/test_structured.py)
    if variant.transform(0.5, 23, None).alpha and dtype in ("float16", "bfloat16") and 0.99 < p < 1:
        return  # alpha's 16-bit constants overflow there, as PyTorch's do
    x = _layout(np.random.default_rng(0).standard_normal(shape).astype(dt), layout)
    original = x.copy()

    def call(a: np.ndarray, inplace: bool) -> np.ndarray:
        g = {
            "int": 5,
            "Generator": sd.Generator(5),
            "global": None,
            "numpy": np.random.default_rng(5),
        }[generator]
        if generator == "global":
            sd.manual_seed(5)
        return getattr(sd, kind)(a, p, True, inplace, generator=g)

    floating = dtype.startswith(("float", "bfloat"))
    overlap = layout == "overlapping" and x.ndim >= 2 and x.shape[0] >= 2 and x.shape[1] >= 2
    draws = p > 0 and x.size > 0
    if draws and not floating:
        with pytest.raises(TypeError, match=rf"^{kind}\(\): .*floating-point"):
            call(x, inplace)
        np.testing.assert_array_equal(bits(x), bits(original))
        return
    if draws and inplace and (overlap or not x.flags.writeable):
        with pytest.raises(ValueError, match=rf"^{kind}\(\): inplace=True, but"):
            call(x, inplace)
        np.testing.assert_array_equal(bits(x), bits(original))
        return
    want = call(original.copy(), False)
    got = call(x, inplace)
    np.testing.assert_array_equal(bits(got), bits(want))
    assert (got is x) == (inplace or not draws)


TORCH_LAYOUTS = ["contiguous", "transposed", "sliced", "channels_last", "expanded"]


@settings(deadline=None, max_examples=150)
@given(
    shape=st.lists(st.integers(1, 5), min_size=1, max_size=5).map(tuple),
    kind=st.sampled_from(PLAIN),
    layout=st.sampled_from(TORCH_LAYOUTS),
    dtype=st.sampled_from(["float16", "bfloat16", "float32", "float64"]),
    p=probs,
    inplace=st.booleans(),
)
def test_torch_layouts_give_the_reference(shape, kind, layout, dtype, p, inplace):
    """Non-contiguous tensors (transposed, sliced, channels_last, expanded) give the contiguous
    result bit for bit; in place writes through the view, or is refused where torch refuses."""
    torch = pytest.importorskip("torch")
    dt = getattr(torch, dtype)
    base = torch.from_numpy(np.random.default_rng(1).standard_normal(shape).astype(np.float32))
    x = base.to(dt)
    if layout == "transposed":
        x = x.transpose(0, -1).contiguous().transpose(0, -1)
    elif layout == "sliced":
        x = torch.repeat_interleave(x, 2, dim=-1)[..., ::2]
    elif layout == "channels_last" and x.ndim == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    elif layout == "expanded":  # every row the same memory: torch refuses to write it
        x = x[:1].expand(shape)
    original = x.clone()
    variant = VARIANTS[kind]
    kwargs = {"data_format": "channels_first"} if variant.channel else {}
    want = getattr(sd, kind)(original.clone(), p, True, generator=7, **kwargs)
    draws = p > 0 and x.numel() > 0
    if inplace and draws and layout == "expanded" and shape[0] > 1:
        with pytest.raises(
            ValueError,
            match=rf"^{kind}\(\): inplace=True, but a torch.Tensor "
            r"view whose elements overlap",
        ):
            getattr(sd, kind)(x, p, True, True, generator=7, **kwargs)
        assert torch.equal(x, original)
        return
    got = getattr(sd, kind)(x, p, True, inplace, generator=7, **kwargs)
    assert (got is x) == (inplace or not draws)
    assert got.dtype == original.dtype
    as_bits = {2: torch.int16, 4: torch.int32, 8: torch.int64}[got.element_size()]
    assert torch.equal(got.contiguous().view(as_bits), want.contiguous().view(as_bits))
