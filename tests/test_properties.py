"""Hypothesis properties over shapes, dtypes, p and data formats."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import spatial_dropout as sd
from spatial_dropout import mask_shape

FUNCS = {None: sd.dropout, 1: sd.dropout1d, 2: sd.dropout2d, 3: sd.dropout3d}
DTYPES = [np.float16, np.float32, np.float64]

shapes = st.lists(st.integers(0, 5), min_size=0, max_size=6).map(tuple)
probs = st.one_of(st.sampled_from([0.0, 1.0, 0.5]), st.floats(0.0, 1.0))


@settings(deadline=None, max_examples=200)
@given(
    shape=shapes,
    n=st.sampled_from([None, 1, 2, 3]),
    fmt=st.sampled_from(["channels_first", "channels_last"]),
    dtype=st.sampled_from(DTYPES),
    p=probs,
    seed=st.integers(0, 2**64 - 1),
    inplace=st.booleans(),
)
def test_output_is_mask_times_scale(shape, n, fmt, dtype, p, seed, inplace):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    original = x.copy()
    kwargs = {} if n is None else {"data_format": fmt}
    if n is None:
        fmt = "channels_first"
    y = FUNCS[n](x, p, True, inplace, generator=sd.Generator(seed), **kwargs)
    assert y.shape == x.shape
    assert y.dtype == x.dtype
    assert type(y) is np.ndarray
    assert (y is x) == (inplace or p == 0.0 or x.size == 0)
    if p == 0.0 or x.size == 0:
        np.testing.assert_array_equal(y, original)
        return
    kind = "dropout" if n is None else f"dropout{n}d"
    keep = sd.dropout_mask(original, p, kind=kind, data_format=fmt, generator=sd.Generator(seed))
    assert keep.shape == mask_shape(shape, n, fmt)
    expected = sd.apply_mask(original, keep, p) if p < 1 else np.zeros_like(original)
    np.testing.assert_array_equal(_bits(y), _bits(expected))
    dropped = ~np.broadcast_to(keep, shape)
    assert (_bits(y[dropped]) == 0).all()  # exactly +0.0


def _bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a).reshape(-1).view(np.uint8)


@settings(deadline=None, max_examples=100)
@given(seed=st.integers(0, 2**64 - 1), counter=st.integers(0, 2**64 - 1),
       n=st.integers(1, 64), start=st.integers(0, 2**33))  # fmt: skip
def test_mask_entry_depends_only_on_seed_counter_and_index(seed, counter, n, start):
    from spatial_dropout._random import random_words

    whole = random_words(np, n + 5, seed, counter, start=start)
    np.testing.assert_array_equal(
        random_words(np, n, seed, counter, start=start + 5)[:n], whole[5:][:n]
    )
